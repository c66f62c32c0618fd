package tools

import (
	"context"
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
		return Result{}, fmt.Errorf("status %q is not a %s status; use one of: %s", in.Status, k.Title, strings.Join(k.Statuses, ", "))
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
	for i := range docs {
		if keep == nil || keep(&docs[i]) {
			r.Documents = append(r.Documents, *view(&docs[i], nil))
		}
	}
	r.Message = fmt.Sprintf("%d %s documents", len(r.Documents), k.Title)
	if next != "" {
		r.Hint = "More: call again with page_token=next_page_token."
	}
	return r, nil
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
		return r, nil
	}
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
		return r, nil
	}
}

func (s *Service) status(ctx context.Context, st Store, _ Common) (Result, error) {
	counts := map[string]map[string]int{}
	var active, ready, stalled []DocView
	now := s.now()
	for _, k := range blue.Kinds {
		docs, err := listAll(ctx, st, k.Name, store.ListOptions{})
		if err != nil {
			return Result{}, err
		}
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
			}
		}
	}
	r := ok(fmt.Sprintf("%d active, %d ready, %d stalled", len(active), len(ready), len(stalled)))
	r.Data = map[string]any{"counts": counts, "active": active, "ready": ready, "stalled": stalled}
	r.Hint = "blue_next suggests what to do next."
	return r, nil
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
	return r, nil
}

// DeleteIn are blue_delete's parameters.
type DeleteIn struct {
	Common
	DocType   string `json:"doc_type" jsonschema:"rfc, spike, adr, decision, prd, postmortem or runbook"`
	Title     string `json:"title" jsonschema:"the document's title, slug or number"`
	DryRun    bool   `json:"dry_run,omitempty" jsonschema:"say what would happen, change nothing"`
	Force     bool   `json:"force,omitempty" jsonschema:"delete even a document past draft or one others depend on"`
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

var deletable = []string{"rfc", "spike", "adr", "decision", "prd", "postmortem", "runbook"}

func docKind(name string, allowed []string) (blue.Kind, error) {
	if !slices.Contains(allowed, name) {
		return blue.Kind{}, fmt.Errorf("doc_type %q is not one of: %s", name, strings.Join(allowed, ", "))
	}
	return kind(name), nil
}

func (s *Service) delete(ctx context.Context, st Store, in DeleteIn) (Result, error) {
	k, err := docKind(in.DocType, deletable)
	if err != nil {
		return Result{}, err
	}
	d, err := s.find(ctx, st, k, in.Title, store.ListOptions{})
	if err != nil {
		return Result{}, err
	}
	var blockers []string
	if d.Status != k.Initial() && k.Name != "adr" && k.Name != "decision" {
		blockers = append(blockers, fmt.Sprintf("it is %s, not %s", d.Status, k.Initial()))
	}
	if k.Name == "rfc" {
		adrs, err := listAll(ctx, st, "adr", store.ListOptions{})
		if err != nil {
			return Result{}, err
		}
		for _, a := range adrs {
			if a.Attrs[attrRFC] == d.ID {
				blockers = append(blockers, fmt.Sprintf("ADR %s records it", a.ID))
			}
		}
	}
	what := "soft-delete (restorable for 7 days)"
	if in.Permanent {
		what = "delete permanently"
	}
	if len(blockers) > 0 && !in.Force {
		return Result{Status: "blocked", Message: fmt.Sprintf("Will not %s %s %q: %s", what, k.Title, d.Title, strings.Join(blockers, "; ")), Hint: "Pass force=true to delete anyway."}, nil
	}
	if in.DryRun {
		r := ok(fmt.Sprintf("Would %s %s %q", what, k.Title, d.Title))
		r.Document = view(d, nil)
		return r, nil
	}
	if in.Permanent {
		if err := st.Purge(ctx, k.Name, d.ID); err != nil {
			return Result{}, storeErr("purge "+k.Name, err)
		}
		return ok(fmt.Sprintf("Deleted %s %q permanently", k.Title, d.Title)), nil
	}
	if err := st.Delete(ctx, k.Name, d.ID, d.Version); err != nil {
		return Result{}, storeErr("delete "+k.Name, err)
	}
	r := ok(fmt.Sprintf("Deleted %s %q; blue_restore brings it back within 7 days", k.Title, d.Title))
	return r, nil
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
	return ok(fmt.Sprintf("Restored %s %q", k.Title, d.Title)), nil
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
	for _, k := range kinds {
		docs, err := listAll(ctx, st, k, store.ListOptions{OnlyDeleted: true})
		if err != nil {
			return Result{}, err
		}
		for i := range docs {
			r.Documents = append(r.Documents, *view(&docs[i], nil))
		}
	}
	r.Message = fmt.Sprintf("%d deleted documents", len(r.Documents))
	return r, nil
}

func (s *Service) purgeDeleted(ctx context.Context, st Store, in PurgeIn) (Result, error) {
	days := in.Days
	if days == 0 {
		days = 7
	}
	if days < 0 {
		return Result{}, fmt.Errorf("days must be 0 or more")
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
	return r, nil
}
