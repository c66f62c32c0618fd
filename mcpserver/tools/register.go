package tools

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/superviber/blue-operator/mcpserver/blue"
)

// add registers one tool whose handler runs against the tenant's store.
// The answer is one text item of JSON, as Blue's own server answered: no
// output schema and no structuredContent copy, which would double every
// response and validate it again (make bench-mcp measured both). Arguments
// are decoded by decodeArgs (args.go), which says why not go-sdk's AddTool.
func add[In any](r *registry, name, desc string, h func(context.Context, Store, In) (Result, error)) {
	s := r.svc
	spec, err := specFor[In]()
	if err == nil {
		spec, err = spec.withEnums(toolEnums[name])
	}
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("tool %s: %w", name, err))
		return
	}
	r.srv.AddTool(&mcp.Tool{Name: name, Description: desc, InputSchema: spec.schema}, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var in In
		if err := decodeArgs(spec, req.Params.Arguments, &in); err != nil {
			return toolError(err), nil
		}
		ctx, cancel := context.WithTimeout(ctx, s.callTimeout())
		defer cancel()
		st, err := s.Store(ctx)
		if err != nil {
			return toolError(err), nil
		}
		r, err := h(ctx, st, in)
		if err != nil && ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("%s did not finish within %v (the client's storage is not answering); nothing is lost: retry, or read the document to see whether a write landed: %w", name, s.callTimeout(), err)
		}
		if err != nil {
			// As go-sdk's AddTool: a JSON-RPC error stays one.
			if rpcErr := (*jsonrpc.Error)(nil); errors.As(err, &rpcErr) {
				return nil, rpcErr
			}
			return toolError(err), nil
		}
		noteResult(ctx, r)
		// Result.MarshalJSON called directly, not through an encoder: an
		// encoder re-scans a marshaler's output to compact it, which took
		// longer than encoding the answer (about 55 µs of a 4.7 KB RFC,
		// make bench-mcp's blue_rfc_get).
		text, err := r.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("encode result: %w", err)
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(text)}}}, nil
	})
}

// registry is what add needs: the server, the service and the errors seen.
type registry struct {
	srv  *mcp.Server
	svc  *Service
	errs []error
}

// toolError is a failed call as MCP wants it: a result with isError set and
// the message as text, which the client shows to the model.
func toolError(err error) *mcp.CallToolResult {
	var r mcp.CallToolResult
	r.SetError(err)
	return &r
}

// Names of the tools Register adds beyond Blue's own.
var hostedAdditions = []string{
	"blue_prd_criteria", "blue_prd_criterion_complete",
	"blue_adr_supersede", "blue_postmortem_close", "blue_runbook_publish", "blue_runbook_archive", "blue_dialogue_publish",
	"blue_doc_section_write", "blue_doc_body_write", "blue_doc_revisions", "blue_doc_revision_get", "blue_doc_revision_restore",
}

// Register adds every tool and the document resources to srv.
func Register(srv *mcp.Server, s *Service) error {
	r := &registry{srv: srv, svc: s}
	add(r, "blue_status", "Project overview: active, ready and stalled work, and counts by kind and status.", s.status)
	add(r, "blue_next", "Suggested next actions.", s.next)
	add(r, "blue_search", "Search titles and bodies; adr:N finds documents citing ADR N.", s.search)

	add(r, "blue_rfc_create", "Create a draft RFC.", s.rfcCreate)
	add(r, "blue_rfc_get", "Read an RFC with its plan and progress.", s.rfcGet)
	add(r, "blue_rfc_update_status", "Move an RFC through draft → accepted → in-progress → implemented (or superseded); illegal transitions are refused. Moving to in-progress answers the relevant ADRs.", s.rfcUpdateStatus)
	add(r, "blue_rfc_plan", "Write an RFC's plan tasks.", s.rfcPlan)
	add(r, "blue_rfc_task_complete", "Tick one plan task (by index or text).", s.rfcTaskComplete)
	add(r, "blue_rfc_validate", "Report an RFC's status, empty sections and plan completeness.", s.rfcValidate)
	add(r, "blue_rfc_complete", "Mark an accepted or in-progress RFC implemented once at least 70% of its plan is done (an RFC without a plan counts as done), moving accepted to in-progress first.", s.rfcComplete)

	add(r, "blue_spike_create", "Start a time-boxed spike.", s.spikeCreate)
	add(r, "blue_spike_complete", "Close a spike with an outcome; recommends-implementation needs an RFC naming the spike as its source.", s.spikeComplete)

	add(r, "blue_adr_create", "Record an architecture decision (optionally for an implemented RFC).", s.adrCreate)
	add(r, "blue_adr_get", "Read an ADR and the documents that cite it.", s.adrGet)
	add(r, "blue_adr_relevant", "ADRs whose words match a context.", s.adrRelevant)
	add(r, "blue_adr_supersede", "Mark an ADR superseded by a newer accepted ADR, linking the two both ways (hosted addition: Blue had the status but no tool).", s.adrSupersede)
	add(r, "blue_adr_audit", "The accepted ADRs' decisions, to check against the code.", s.adrAudit)

	add(r, "blue_decision_create", "Record a lightweight decision.", s.decisionCreate)

	add(r, "blue_prd_create", "Create a draft PRD from Blue's template (its placeholder acceptance criteria block completion until set with blue_prd_criteria).", s.prdCreate)
	add(r, "blue_prd_get", "Read a PRD with its acceptance criteria.", s.prdGet)
	add(r, "blue_prd_approve", "Approve a draft PRD.", s.prdApprove)
	add(r, "blue_prd_complete", "Mark an approved PRD implemented; blocked while any acceptance criterion is unticked.", s.prdComplete)
	add(r, "blue_prd_criteria", "Set a PRD's acceptance criteria (hosted addition).", s.prdCriteria)
	add(r, "blue_prd_criterion_complete", "Tick one acceptance criterion (hosted addition).", s.prdCriterionComplete)

	add(r, "blue_postmortem_create", "Open an incident post-mortem.", s.postmortemCreate)
	add(r, "blue_postmortem_close", "Close an open post-mortem (hosted addition: Blue had the status but no tool).", s.moveKind("postmortem", "closed"))
	add(r, "blue_postmortem_action_to_rfc", "Turn an action item of a post-mortem's Action Items table (by 1-based index or text) into a draft RFC, linked from the item's RFC column.", s.postmortemActionToRFC)

	add(r, "blue_runbook_create", "Create an operational runbook.", s.runbookCreate)
	add(r, "blue_runbook_update", "Append an operation or troubleshooting entry to a runbook.", s.runbookUpdate)
	add(r, "blue_runbook_publish", "Publish an active runbook (hosted addition).", s.moveKind("runbook", "published"))
	add(r, "blue_runbook_archive", "Archive an active or published runbook (hosted addition).", s.moveKind("runbook", "archived"))
	add(r, "blue_runbook_lookup", "The runbook that best matches an action phrase.", s.runbookLookup)
	add(r, "blue_runbook_actions", "Every action the runbooks register.", s.runbookActions)

	add(r, "blue_audit_create", "Start an audit.", s.auditCreate)
	add(r, "blue_audit_get", "Read an audit.", s.getKind("audit"))
	add(r, "blue_audit_complete", "Mark an audit complete.", s.moveKind("audit", "complete"))

	add(r, "blue_dialogue_create", "Create a dialogue document. Pass alignment: true with an expert_pool for a multi-agent alignment dialogue (ADR 0014, RFC 0048): the answer's JUDGE PROTOCOL says how to run it; your Claude Code runs the agents and the server keeps the record.", s.dialogueCreate)
	add(r, "blue_dialogue_get", "Read a dialogue.", s.getKind("dialogue"))
	add(r, "blue_dialogue_publish", "Publish a recorded dialogue (hosted addition).", s.moveKind("dialogue", "published"))
	add(r, "blue_dialogue_list", "List dialogues, optionally about one RFC.", s.dialogueList)
	add(r, "blue_dialogue_round_prompt", "The fully-substituted prompt for one agent and round, ready for the Task tool; from round 1 it carries the record so far (RFC 0050: fresh experts get a context brief).", s.roundPrompt)
	add(r, "blue_dialogue_sample_panel", "Draw a new panel from the expert pool for a round (RFC 0048), with roles to retain or exclude.", s.samplePanel)
	add(r, "blue_dialogue_evolve_panel", "Set a round's panel exactly: experts retained, pulled from the pool or created (RFC 0050).", s.evolvePanel)
	add(r, "blue_dialogue_round_context", "The whole record for a round in one call: experts, perspectives, tensions, recommendations, evidence, claims, verdicts and convergence (RFC 0051, 0057).", s.roundContext)
	add(r, "blue_dialogue_expert_create", "Add an expert mid-dialogue, with source created (RFC 0051).", s.expertCreate)
	add(r, "blue_dialogue_round_register", "Register a round's data in one call, written once and whole: score, summary, expert scores, perspectives, tensions, recommendations, evidence, claims, references and tension updates (RFC 0051). Every problem is reported at once and nothing is registered.", s.roundRegister)
	add(r, "blue_dialogue_verdict_register", "Register a verdict: interim, final, minority or dissent (RFC 0051). A final verdict needs the last round converged (velocity 0, 100% converge) unless force.", s.verdictRegister)
	add(r, "blue_dialogue_export", "The dialogue's whole record as JSON, with provenance (RFC 0051); the hosted server answers it rather than writing a file.", s.dialogueExport)

	for _, k := range blue.Kinds {
		if k.Name == "dialogue" {
			continue
		}
		add(r, "blue_"+k.Name+"_list", fmt.Sprintf("List %s documents, with a status filter (%s) and pagination.", k.Title, strings.Join(k.Statuses, ", ")), s.list(k.Name))
	}

	add(r, "blue_doc_section_write", "Write one section of any document: replace its text or append to it (hosted addition: in local Blue you edited the file). Name the version you read; a stale write is refused.", s.sectionWrite)
	add(r, "blue_doc_body_write", "Replace the whole text of any document; its heading and header table stay the server's (hosted addition). Name the version you read; a stale write is refused.", s.bodyWrite)
	add(r, "blue_doc_revisions", "A document's history: every version written, newest first (hosted addition: git's log in local Blue).", s.revisions)
	add(r, "blue_doc_revision_get", "Read a document as it was at an old version (hosted addition).", s.revisionGet)
	add(r, "blue_doc_revision_restore", "Bring back an old version's text as a new write; the status and header stay as they are now (hosted addition).", s.revisionRestore)

	add(r, "blue_delete", "Soft-delete a document (restorable for 7 days), or delete it permanently. A document that is not a draft needs force; one with ADR dependents cannot be deleted. dry_run reports what would happen.", s.delete)
	add(r, "blue_restore", "Undo a soft delete within 7 days.", s.restore)
	add(r, "blue_deleted_list", "List soft-deleted documents.", s.deletedList)
	add(r, "blue_purge_deleted", "Permanently delete documents soft-deleted at least N days ago.", s.purgeDeleted)

	srv.AddResourceTemplate(&mcp.ResourceTemplate{
		Name:        "blue-document",
		Title:       "Blue document",
		Description: "A Blue document's markdown: blue://docs/{plural}/{id}, e.g. blue://docs/rfcs/0001",
		URITemplate: "blue://docs/{plural}/{id}",
		MIMEType:    "text/markdown",
	}, s.readResource)
	srv.AddResourceTemplate(&mcp.ResourceTemplate{
		Name:        "blue-rfc-plan",
		Title:       "RFC plan",
		Description: "An RFC's plan as a checklist: blue://docs/rfcs/{id}/plan",
		URITemplate: "blue://docs/rfcs/{id}/plan",
		MIMEType:    "text/markdown",
	}, s.readResource)
	srv.AddReceivingMiddleware(s.resourcesMiddleware)
	return errors.Join(r.errs...)
}
