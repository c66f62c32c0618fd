package tools

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
)

// restoreWindow is how long a soft-deleted document can be restored.
const restoreWindow = 7 * 24 * time.Hour

// stalledAfter marks in-progress work nobody touched for this long.
const stalledAfter = 14 * 24 * time.Hour

// ListIn are every _list tool's parameters.
type ListIn struct {
	Common
	Status    string `json:"status,omitempty" jsonschema:"only documents in this status"`
	Limit     int    `json:"limit,omitempty" jsonschema:"page size, 1 to 100 (default 20)"`
	PageToken string `json:"page_token,omitempty" jsonschema:"next_page_token from the previous page"`
}

func (s *Service) list(name string) func(context.Context, Store, ListIn) (Result, error) {
	return func(ctx context.Context, st Store, in ListIn) (Result, error) {
		return s.listFiltered(ctx, st, name, in, nil)
	}
}

func (s *Service) listFiltered(ctx context.Context, st Store, name string, in ListIn, keep func(*store.Document) bool) (Result, error) {
	k := kind(name)
	if in.Status != "" && !k.HasStatus(in.Status) {
		return Result{}, fmt.Errorf("status %q is not %s status; use one of: %s", in.Status, k.Article(), strings.Join(k.Statuses, ", "))
	}
	limit := in.Limit
	switch {
	case limit == 0:
		limit = 20
	case limit < 0 || limit > 100:
		return Result{}, fmt.Errorf("limit must be between 1 and 100, got %d", limit)
	}
	docs, next, err := st.List(ctx, k.Name, store.ListOptions{Status: in.Status, Limit: limit, PageToken: in.PageToken})
	if err != nil {
		return Result{}, storeErr("list "+k.Name, err)
	}
	r := Result{Status: "success", NextPageToken: next, Documents: []DocView{}}
	if keep != nil {
		docs = slices.DeleteFunc(docs, func(d store.Document) bool { return !keep(&d) })
	}
	if k.Name == "adr" {
		// Blue's ADR list has each one's summary, from its body.
		bodies, err := readBodies(ctx, st, docs)
		if err != nil {
			return Result{}, err
		}
		for i := range docs {
			docs[i].Body = bodies[i]
		}
	}
	items := []map[string]any{}
	for i := range docs {
		d := &docs[i]
		r.Documents = append(r.Documents, *view(d, nil))
		item, err := blueListItem(ctx, st, k, d)
		if err != nil {
			return Result{}, err
		}
		items = append(items, item)
	}
	r.Message = fmt.Sprintf("%d %s documents", len(r.Documents), k.Title)
	if next != "" {
		r.Hint = "More: call again with page_token=next_page_token."
	}
	// Blue's list answers: the documents under the kind's plural (adrs,
	// prds, audits, dialogues; rfcs as its unregistered RFC list had them)
	// and their count.
	return r.with(map[string]any{k.Plural: items, "count": len(items)}), nil
}

// blueListItem is one document as Blue's list tool for its kind answered it.
func blueListItem(ctx context.Context, st Store, k blue.Kind, d *store.Document) (map[string]any, error) {
	switch k.Name {
	case "adr":
		body, err := withBody(ctx, st, d)
		if err != nil {
			return nil, err
		}
		return map[string]any{"number": d.Number, "title": d.Title, "summary": adrFactsOf(d, body).summary}, nil
	case "prd":
		return map[string]any{"title": d.Title, "number": d.Number, "status": d.Status, "path": filePath(d)}, nil
	}
	return listItem(d), nil
}

// getKind reads any document by title (blue_audit_get, blue_dialogue_get).
func (s *Service) getKind(name string) func(context.Context, Store, TitleIn) (Result, error) {
	return func(ctx context.Context, st Store, in TitleIn) (Result, error) {
		k := kind(name)
		d, body, err := s.findWithBody(ctx, st, k, in.Title)
		if err != nil {
			return Result{}, err
		}
		r := ok(fmt.Sprintf("%s %q (%s)", k.Title, d.Title, d.Status))
		r.Document = view(d, body)
		switch k.Name {
		case "audit":
			return r.with(map[string]any{
				"id": d.ID, "title": d.Title, "doc_status": d.Status, "file_path": filePath(d), "content": string(body),
				"created_at": stamp(d.CreatedAt), "updated_at": stamp(d.UpdatedAt),
			}), nil
		case "dialogue":
			linked, err := s.linkedRFCTitle(ctx, st, d)
			if err != nil {
				return Result{}, err
			}
			return r.with(map[string]any{
				"dialogue": map[string]any{
					"id": d.ID, "number": numberOrNil(d), "title": d.Title, "status": d.Status, "file_path": filePath(d),
					"linked_rfc": linked, "created_at": stamp(d.CreatedAt),
				},
				"content": string(body),
			}), nil
		}
		return r, nil
	}
}

// linkedRFCTitle is the title of the RFC a document names (its rfc
// attribute), or nil.
func (s *Service) linkedRFCTitle(ctx context.Context, st Store, d *store.Document) (any, error) {
	id := d.Attrs[attrRFC]
	if id == "" {
		return nil, nil
	}
	rfc, err := st.Get(ctx, "rfc", id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, storeErr("get rfc", err)
	case rfc.DeletedAt != nil:
		return nil, nil
	}
	return rfc.Title, nil
}

// moveKind is a status-change tool (blue_audit_complete).
func (s *Service) moveKind(name, to string) func(context.Context, Store, TitleIn) (Result, error) {
	return func(ctx context.Context, st Store, in TitleIn) (Result, error) {
		k := kind(name)
		d, err := s.find(ctx, st, k, in.Title, store.ListOptions{})
		if err != nil {
			return Result{}, err
		}
		if err := s.setStatus(ctx, st, d, to); err != nil {
			return Result{}, err
		}
		r := ok(fmt.Sprintf("%s %q is %s", k.Title, d.Title, to))
		r.Document = view(d, nil)
		return r.with(map[string]any{"title": d.Title, "new_status": to}), nil
	}
}

func (s *Service) status(ctx context.Context, st Store, _ Common) (Result, error) {
	counts := map[string]map[string]int{}
	var active, ready, stalled, drafts []DocView
	now := s.now()
	lists, err := listKinds(ctx, st, blue.KindNames(), store.ListOptions{})
	if err != nil {
		return Result{}, err
	}
	for ki, k := range blue.Kinds {
		docs := lists[ki]
		counts[k.Name] = map[string]int{}
		for i := range docs {
			d := &docs[i]
			counts[k.Name][d.Status]++
			switch {
			case d.Status == "in-progress" && now.Sub(d.UpdatedAt) > stalledAfter:
				stalled = append(stalled, *view(d, nil))
			case d.Status == "in-progress":
				active = append(active, *view(d, nil))
			case k.Name == "rfc" && d.Status == blue.RFCAccepted:
				ready = append(ready, *view(d, nil))
			case k.Name == "rfc" && d.Status == blue.RFCDraft:
				drafts = append(drafts, *view(d, nil))
			}
		}
	}
	r := ok(fmt.Sprintf("%d active, %d ready, %d stalled", len(active), len(ready), len(stalled)))
	r.Data = map[string]any{"counts": counts, "active": active, "ready": ready, "stalled": stalled}
	r.Hint = statusHint(active, ready, stalled)
	// Blue's answer: the same lists as work items, and its draft RFCs.
	return r.with(map[string]any{
		"active": workItems(active), "ready": workItems(ready), "stalled": workItems(stalled), "drafts": workItems(drafts),
	}), nil
}

// statusHint is Blue's one-line hint of blue_status and blue_next.
func statusHint(active, ready, stalled []DocView) string {
	switch {
	case len(stalled) > 0:
		return fmt.Sprintf("'%s' has not moved for two weeks. blue_next suggests what to do next.", stalled[0].Title)
	case len(ready) > 0:
		return fmt.Sprintf("'%s' is ready to implement. Plan it with blue_rfc_plan and move it to in-progress.", ready[0].Title)
	case len(active) > 0:
		return fmt.Sprintf("%d item(s) in progress. Use blue_rfc_complete when done.", len(active))
	}
	return "Nothing in flight. Use blue_rfc_create to start something new."
}

// workItems are documents as Blue's status listed them.
func workItems(docs []DocView) []map[string]any {
	out := make([]map[string]any, 0, len(docs))
	for _, d := range docs {
		out = append(out, map[string]any{"title": d.Title, "status": d.Status, "has_worktree": false, "item_type": d.Kind})
	}
	return out
}

func (s *Service) next(ctx context.Context, st Store, c Common) (Result, error) {
	stat, err := s.status(ctx, st, c)
	if err != nil {
		return Result{}, err
	}
	var steps []string
	for _, d := range stat.Data["stalled"].([]DocView) {
		steps = append(steps, fmt.Sprintf("%s %q has not moved for two weeks: finish it or record why it stopped", d.Kind, d.Title))
	}
	for _, d := range stat.Data["active"].([]DocView) {
		if d.Kind == "rfc" {
			steps = append(steps, fmt.Sprintf("RFC %s %q is in progress: tick plan tasks, then blue_rfc_complete", d.ID, d.Title))
		} else {
			steps = append(steps, fmt.Sprintf("%s %q is in progress: complete it when done", d.Kind, d.Title))
		}
	}
	for _, d := range stat.Data["ready"].([]DocView) {
		steps = append(steps, fmt.Sprintf("RFC %s %q is accepted: start it with blue_rfc_update_status in-progress", d.ID, d.Title))
	}
	counts := stat.Data["counts"].(map[string]map[string]int)
	if n := counts["rfc"][blue.RFCDraft]; n > 0 {
		steps = append(steps, fmt.Sprintf("%d draft RFCs wait for review", n))
	}
	if len(steps) == 0 {
		steps = append(steps, "Nothing in flight: start with blue_spike_create for a question or blue_rfc_create for a proposal")
	}
	r := ok(fmt.Sprintf("%d suggestions", len(steps)))
	r.Data = map[string]any{"next": steps}
	r.Hint = stat.Hint
	return r.with(map[string]any{"recommendations": steps}), nil
}

// DeleteIn are blue_delete's parameters.
type DeleteIn struct {
	Common
	DocType   string `json:"doc_type" jsonschema:"rfc, spike, adr, decision, prd, postmortem or runbook"`
	Title     string `json:"title" jsonschema:"the document's title, slug or number"`
	DryRun    bool   `json:"dry_run,omitempty" jsonschema:"say what would happen, change nothing"`
	Force     bool   `json:"force,omitempty" jsonschema:"delete a document that is not a draft (ADR dependents still block)"`
	Permanent bool   `json:"permanent,omitempty" jsonschema:"delete for good instead of the 7-day soft delete"`
}

// DocRefIn names a document of a kind.
type DocRefIn struct {
	Common
	DocType string `json:"doc_type" jsonschema:"the document's kind"`
	Title   string `json:"title" jsonschema:"the document's title, slug or number"`
}

// DeletedListIn is blue_deleted_list's parameter.
type DeletedListIn struct {
	Common
	DocType string `json:"doc_type,omitempty" jsonschema:"only this kind"`
}

// PurgeIn is blue_purge_deleted's parameter.
type PurgeIn struct {
	Common
	Days int `json:"days,omitempty" jsonschema:"purge documents deleted at least this many days ago (default 7)"`
}

// maxPurgeDays bounds blue_purge_deleted's days: ten years.
const maxPurgeDays = 3650

var deletable = []string{"rfc", "spike", "adr", "decision", "prd", "postmortem", "runbook"}

func docKind(name string, allowed []string) (blue.Kind, error) {
	if !slices.Contains(allowed, name) {
		return blue.Kind{}, fmt.Errorf("doc_type %q is not one of: %s", name, strings.Join(allowed, ", "))
	}
	return kind(name), nil
}

// delete is Blue's blue_delete (crates/blue-mcp/src/handlers/delete.rs at
// db1da8c): a document with ADR dependents is blocked whatever force says;
// any document whose status is not draft (of every kind: an accepted ADR,
// a recorded decision, a spike in progress) needs force; dry_run only
// reports the blockers and warnings. Blue's dependents query reads its
// rfc_to_adr links from the ADR's end, so in Blue an ADR that records an
// RFC cannot be deleted; RFC 0006, which the tool implements, meant an RFC
// that an ADR records. The hosted server blocks both.
func (s *Service) delete(ctx context.Context, st Store, in DeleteIn) (Result, error) {
	k, err := docKind(in.DocType, deletable)
	if err != nil {
		return Result{}, err
	}
	d, err := s.find(ctx, st, k, in.Title, store.ListOptions{})
	if err != nil {
		return Result{}, err
	}
	deps, err := s.adrDependents(ctx, st, d)
	if err != nil {
		return Result{}, err
	}
	what := "soft-delete (restorable for 7 days)"
	if in.Permanent {
		what = "delete permanently"
	}
	files := []string{filePath(d)}
	if k.Name == "rfc" && d.Attrs[attrPlan] != "" {
		files = append(files, planFilePath(d))
	}
	// Blue compared every kind's status with "draft".
	nonDraft := d.Status != "draft"
	if in.DryRun {
		blockers, warnings := []string{}, []string{}
		if len(deps) > 0 {
			blockers = append(blockers, fmt.Sprintf("Has ADR dependents: %s. ADRs are permanent records and cannot be cascade-deleted.", strings.Join(deps, ", ")))
		}
		if nonDraft {
			warnings = append(warnings, fmt.Sprintf("Status is '%s'. Use force=true to delete non-draft documents.", d.Status))
		}
		msg := fmt.Sprintf("Would %s %s %q", what, k.Title, d.Title)
		switch {
		case len(blockers) > 0:
			msg = fmt.Sprintf("Would not %s %s %q: %s", what, k.Title, d.Title, blockers[0])
		case nonDraft:
			msg += " with force=true: " + warnings[0]
		}
		r := ok(msg)
		r.Document = view(d, nil)
		r.Document.Type = k.Name
		return r.with(map[string]any{
			"dry_run":      true,
			"would_delete": map[string]any{"primary_file": filePath(d), "companion_files": files[1:], "worktree": nil},
			"blockers":     blockers, "warnings": warnings, "can_proceed": len(blockers) == 0,
		}), nil
	}
	if len(deps) > 0 {
		return Result{
			Status:  "blocked",
			Message: fmt.Sprintf("Will not %s %s %q: it has ADR dependents (%s); ADRs are permanent architectural records and cannot be cascade-deleted", what, k.Title, d.Title, strings.Join(deps, ", ")),
			Hint:    "Mark it superseded instead of deleting it, or remove the reference between the RFC and the ADR first.",
		}.with(map[string]any{"adr_dependents": deps}), nil
	}
	if nonDraft && !in.Force {
		return Result{
			Status:  "requires_force",
			Message: fmt.Sprintf("Will not %s %s %q: it is %s, not draft", what, k.Title, d.Title, d.Status),
			Hint:    "Pass force=true to delete anyway.",
		}.with(map[string]any{"current_status": d.Status}), nil
	}
	if in.Permanent {
		if err := st.Purge(ctx, k.Name, d.ID); err != nil {
			return Result{}, storeErr("purge "+k.Name, err)
		}
	} else if err := st.Delete(ctx, k.Name, d.ID, d.Version); err != nil {
		return Result{}, storeErr("delete "+k.Name, err)
	}
	fields := map[string]any{"doc_type": k.Name, "title": d.Title, "permanent": in.Permanent, "files_deleted": files, "worktree_removed": false, "restore_command": nil}
	if in.Permanent {
		return ok(fmt.Sprintf("Deleted %s %q permanently", k.Title, d.Title)).with(fields), nil
	}
	fields["restore_command"] = fmt.Sprintf("blue_restore {\"doc_type\": %q, \"title\": %q}", k.Name, d.Title)
	return ok(fmt.Sprintf("Deleted %s %q; blue_restore brings it back within 7 days", k.Title, d.Title)).with(fields), nil
}

// adrDependents are the titles of the documents an ADR link ties d to:
// for an RFC, the ADRs that record it; for an ADR, the RFC it records.
func (s *Service) adrDependents(ctx context.Context, st Store, d *store.Document) ([]string, error) {
	switch d.Kind {
	case "rfc":
		adrs, err := listAll(ctx, st, "adr", store.ListOptions{})
		if err != nil {
			return nil, err
		}
		var out []string
		for _, a := range adrs {
			if a.Attrs[attrRFC] == d.ID {
				out = append(out, fmt.Sprintf("ADR %s %s", a.ID, a.Title))
			}
		}
		return out, nil
	case "adr":
		title, err := s.linkedRFCTitle(ctx, st, d)
		if err != nil || title == nil {
			return nil, err
		}
		return []string{fmt.Sprintf("RFC %s %s", d.Attrs[attrRFC], title)}, nil
	}
	return nil, nil
}

func (s *Service) restore(ctx context.Context, st Store, in DocRefIn) (Result, error) {
	k, err := docKind(in.DocType, deletable)
	if err != nil {
		return Result{}, err
	}
	d, err := s.find(ctx, st, k, in.Title, store.ListOptions{OnlyDeleted: true})
	if err != nil {
		return Result{}, err
	}
	if d.DeletedAt != nil && s.now().Sub(*d.DeletedAt) > restoreWindow {
		return Result{}, fmt.Errorf("%s %q was deleted on %s, more than 7 days ago: it can no longer be restored", k.Title, d.Title, d.DeletedAt.Format("2006-01-02"))
	}
	if err := st.Restore(ctx, k.Name, d.ID, d.Version); err != nil {
		return Result{}, storeErr("restore "+k.Name, err)
	}
	return ok(fmt.Sprintf("Restored %s %q", k.Title, d.Title)).with(map[string]any{
		"doc_type": k.Name, "title": d.Title, "note": "The document comes back as it was deleted, with its history.",
	}), nil
}

func (s *Service) deletedList(ctx context.Context, st Store, in DeletedListIn) (Result, error) {
	kinds := deletable
	if in.DocType != "" {
		k, err := docKind(in.DocType, deletable)
		if err != nil {
			return Result{}, err
		}
		kinds = []string{k.Name}
	}
	r := Result{Status: "success", Documents: []DocView{}}
	items := []map[string]any{}
	for _, k := range kinds {
		docs, err := listAll(ctx, st, k, store.ListOptions{OnlyDeleted: true})
		if err != nil {
			return Result{}, err
		}
		for i := range docs {
			v := view(&docs[i], nil)
			r.Documents = append(r.Documents, *v)
			items = append(items, map[string]any{"type": v.Kind, "title": v.Title, "status": v.Status, "deleted_at": v.DeletedAt})
		}
	}
	r.Message = fmt.Sprintf("%d deleted documents", len(r.Documents))
	return r.with(map[string]any{
		"count": len(items), "deleted_documents": items,
		"note": "Documents are purged 7 days after deletion (blue_purge_deleted). Use blue_restore to recover.",
	}), nil
}

func (s *Service) purgeDeleted(ctx context.Context, st Store, in PurgeIn) (Result, error) {
	days := in.Days
	if days == 0 {
		days = 7
	}
	if days < 0 || days > maxPurgeDays {
		// A huge value would overflow the cutoff into the future and purge
		// everything deleted so far, restorable or not.
		return Result{}, fmt.Errorf("argument \"days\" must be between 0 and %d, got %d", maxPurgeDays, days)
	}
	cutoff := s.now().Add(-time.Duration(days) * 24 * time.Hour)
	purged := []string{}
	for _, k := range deletable {
		docs, err := listAll(ctx, st, k, store.ListOptions{OnlyDeleted: true})
		if err != nil {
			return Result{}, err
		}
		for _, d := range docs {
			if d.DeletedAt != nil && !d.DeletedAt.After(cutoff) {
				if err := st.Purge(ctx, k, d.ID); err != nil {
					return Result{}, storeErr("purge "+k, err)
				}
				purged = append(purged, k+" "+d.Title)
			}
		}
	}
	r := ok(fmt.Sprintf("Purged %d documents deleted %d or more days ago", len(purged), days))
	r.Data = map[string]any{"purged": purged}
	return r.with(map[string]any{"purged_count": len(purged)}), nil
}
