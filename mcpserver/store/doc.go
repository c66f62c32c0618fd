// Package store is a generic, revisioned document store over a client's own
// S3 bucket (markdown bodies, SSE-KMS with the client's key) and DynamoDB table
// (index and state). It knows nothing of Blue's kinds or lifecycles; the
// document tools build those on top of it. Nothing is written to local disk;
// the only state in memory is a bounded cache of immutable bodies.
//
// # Why this write protocol
//
// S3 and DynamoDB share no transaction, and the table has to work with
// single-item conditional writes only (DynamoDB's transactions are not used, so
// the tests run on dynalite, which has none). So every change has exactly one
// linearization point: a conditional write of the document's META item.
// Everything else is either written before that point and unreachable until it
// (an immutable body revision, a pending marker, a title claim) or derived
// from it afterwards (the export object, cleanup).
//
//  1. The body goes to an immutable revision object
//     `.revisions/<plural>/<id>/v<version>-<txn>.md`, written create-only
//     (If-None-Match: *) so it is never overwritten; <txn> is 128 random bits
//     per attempt. It is uploaded in parallel with steps 2–3, except that a
//     create uploads only once its pending META (step 2) is in: see Purge
//     below. (A change that keeps the body, such as a status change or
//     delete, reuses the current revision.)
//  2. Create writes a pending META (ver 0, no index keys: invisible to Get and
//     List) carrying <txn>; a rename or restore instead marks the committed
//     META with <txn> and the title it wants, conditioned on its version.
//  3. If the title is new to the document, it claims it: the claim item
//     `<KIND>#` / `TITLE#<normalized title>` (whitespace collapsed, lower-cased)
//     names the owner id and <txn>.
//  4. Commit: one conditional write of META (version check, and <txn> still
//     present when a title was claimed) that sets the new fields, the index
//     keys and the pointer to the revision written in step 1, bumps the version,
//     records its own txn (wtxn) and clears the pending marker. Readers see the
//     new state from here on.
//  5. After the commit: the derived export object `<plural>/<id>-<slug>.md` (the
//     layout a Blue CLI export reads) is written with the latest committed body,
//     then META is read again and the export redone if someone committed
//     meanwhile, so racing writers converge on the newest version; the old title
//     claim is deleted (best effort). The superseded revision stays: it is the
//     document's history.
//
// # History
//
// The commit of step 4 also appends the new revision (version, title,
// status, time, size, revision key) to the list META carries, so the history
// is exact: it lists the committed revisions and never an orphan of a failed
// attempt, and it changes atomically with the document. Revisions lists it,
// newest first, and BodyAt reads an old body; the newest MaxHistory entries
// are kept. Purge deletes every revision with the document.
//
// A reader only follows META's pointer, so it only ever sees a body that was
// fully written before the commit that made it current. A reader that raced a
// later commit and finds its revision already deleted re-reads META.
//
// # Titles are unique per kind without a transaction
//
// A claim is valid while its owner's META is committed, not deleted, and has
// that title. A claim whose owner is mid-operation (META carries the claim's
// <txn> and wants that title) is aborted by whoever needs the title: a
// conditional write removing that <txn> from the owner's META, after which the
// owner's commit (conditioned on its <txn>) fails. Any other claim is stale and
// is taken over with a compare-and-swap on the claim item. Since a document
// commits a new title only under a <txn> that the title's claim named and that
// nobody removed, two live documents of a kind never share a title. Soft
// delete releases the title; restore claims it again (ErrExists if taken).
//
// # What a crash at each step leaves behind
//
//   - during or after 1: an orphan revision object. Nothing points to it; Purge
//     of the document removes it.
//   - after 2: a pending META (invisible; the next Create of that id overwrites
//     it) or a pending marker on a committed META (ignored by readers; the next
//     write replaces or clears it).
//   - after 3: a claim whose owner never committed that title: stale by the rule
//     above, so the next claimant takes it over. The number from NextNumber is
//     not lost: a retried Create with the same id reuses it.
//   - commit answered with an error, or with a failed condition: that does not
//     mean nothing was committed. The SDK retries a write whose answer was
//     lost (a 500 or a reset connection after DynamoDB applied it), and the
//     retry of an applied commit fails its condition. So before cleaning up,
//     the writer reads META again and looks for its own commit, known by what
//     only it wrote: wtxn (the txn of the commit that wrote the current
//     version), ctxn when it claimed a title, or its new revision in the
//     history. Found: the call succeeds as if answered. Not found after a
//     failed condition: nothing was committed and nothing will be (the
//     condition names a version or txn that is gone for good), or a later
//     commit has replaced every trace of it; the revision and the claim are
//     cleaned up as before, and the call answers ErrConflict or ErrExists.
//     Not found after another error (an attempt may still be in flight), or
//     META unreadable: the outcome is unknown, so nothing is cleaned up; a
//     retry reads the truth (ErrConflict or ErrExists if it had in fact
//     committed). So no cleanup deletes a revision META or its history
//     points at, or releases a title a live document holds.
//   - a revision PUT applied by S3 whose answer was lost: the SDK's retry
//     gets 412 from If-None-Match, which the writer takes as success (the key
//     carries its own txn, so nobody else can have written it).
//   - after 4: the document is committed and consistent; the export object may
//     be stale or missing until the next write of the document or SyncExport,
//     and an old claim or revision may linger (stale, unreferenced).
//
// Purge first marks META as purging (removing its index keys and bumping the
// version, so no in-flight commit can land), then lists the other items and
// S3 objects, reads META again, deletes what it listed only if META is still
// purging, and deletes META last; a crash leaves an invisible purging META
// that a repeated Purge finishes. The second read is for two purges of one
// document side by side: when the other one has finished, the id may already
// hold a new document, which the late purge must not touch. A new document
// writes nothing under its id before its pending META (which needs the
// purging META gone), so nothing of it can be in a listing made while META
// was still purging.
//
// # Table schema (the client's Terraform must match it)
//
// One table, billing mode on demand, server-side encryption with the client's
// KMS key, point-in-time recovery recommended.
//
//	key:   PK (S, HASH), SK (S, RANGE)
//	GSI ByKind:       GSI1PK (S, HASH), GSI1SK (S, RANGE), projection ALL
//	GSI ByKindStatus: GSI2PK (S, HASH), GSI2SK (S, RANGE), projection ALL
//
// Items (<KIND> is the kind upper-cased, e.g. RFC):
//
//	document   PK=<KIND>#<id>  SK=META#
//	           kind id num slug title status attrs(M of S) ver created updated
//	           [deleted] body(revision key) size export(export key) ctxn wtxn
//	           hist(L of M: ver title status at size body)
//	           [txn ptitle] (pending marker) [purging]
//	           GSI1PK=<KIND> GSI1SK=<id> GSI2PK=<KIND>#<status> GSI2SK=<id>
//	           (index keys only on committed, non-purging documents)
//	counter    PK=<KIND>#  SK=COUNTER#<kind>   n
//	title      PK=<KIND>#  SK=TITLE#<normalized title>  owner txn at
//
// Other entities of a document (tasks, links) belong in its partition
// PK=<KIND>#<id> with their own SK prefix; Purge deletes the whole partition.
//
// List reads the GSIs, which DynamoDB keeps eventually consistent: a change can
// take a moment to show in List. Get is strongly consistent.
package store
