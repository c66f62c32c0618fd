package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/superviber/blue-operator/mcpserver/store"
	"github.com/superviber/blue-operator/test/dynamotest"
	"github.com/superviber/blue-operator/test/s3test"
)

func TestCreateGetUpdate(t *testing.T) {
	fixed := time.Date(2026, 11, 25, 2, 44, 0, 0, time.UTC)
	now := fixed
	e := newEnv(t, func(o *store.Options) { o.Now = func() time.Time { return now } })
	d := rfc("0001", "Cache Invalidation", "draft", "# Cache\n")
	d.Number = 1
	d.Attrs = map[string]string{"source_spike": "2026-11-20T1000Z"}
	if err := e.st.Create(e.ctx, d); err != nil {
		t.Fatal(err)
	}
	if d.Version != 1 || !d.CreatedAt.Equal(fixed) || !d.UpdatedAt.Equal(fixed) {
		t.Fatalf("after create: version %d created %v updated %v", d.Version, d.CreatedAt, d.UpdatedAt)
	}
	got, err := e.st.Get(e.ctx, "rfc", "0001")
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != d.Title || got.Slug != "cache-invalidation" || got.Status != "draft" || got.Number != 1 ||
		string(got.Body) != "# Cache\n" || got.Version != 1 || !maps.Equal(got.Attrs, d.Attrs) ||
		!got.CreatedAt.Equal(fixed) || got.DeletedAt != nil {
		t.Fatalf("get: %+v", got)
	}
	if x := e.objects(t, "rfcs/"); len(x) != 1 || x["rfcs/0001-cache-invalidation.md"] != "# Cache\n" {
		t.Fatalf("export after create: %v", x)
	}

	now = fixed.Add(time.Hour)
	got.Status, got.Body, got.Title, got.Slug = "accepted", []byte("# Cache v2\n"), "Cache Invalidation Rules", "cache-invalidation-rules"
	got.Attrs = nil
	if err := e.st.Update(e.ctx, got); err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || !got.UpdatedAt.Equal(now) || !got.CreatedAt.Equal(fixed) {
		t.Fatalf("after update: %+v", got)
	}
	again, err := e.st.Get(e.ctx, "rfc", "0001")
	if err != nil {
		t.Fatal(err)
	}
	if again.Version != 2 || again.Status != "accepted" || string(again.Body) != "# Cache v2\n" ||
		again.Title != "Cache Invalidation Rules" || len(again.Attrs) != 0 || again.Number != 1 {
		t.Fatalf("get after update: %+v", again)
	}
	// The export follows the slug; the superseded revision stays, as history.
	if x := e.objects(t, "rfcs/"); len(x) != 1 || x["rfcs/0001-cache-invalidation-rules.md"] != "# Cache v2\n" {
		t.Fatalf("export after rename: %v", x)
	}
	revs := e.objects(t, ".revisions/rfcs/0001/")
	if len(revs) != 2 {
		t.Fatalf("revisions: %v", revs)
	}
	hist, err := e.st.Revisions(e.ctx, "rfc", "0001")
	if err != nil || len(hist) != 2 || hist[0].Version != 2 || hist[1].Version != 1 ||
		hist[0].Title != "Cache Invalidation Rules" || hist[1].Status != "draft" || hist[0].Size != int64(len("# Cache v2\n")) {
		t.Fatalf("history: %+v %v", hist, err)
	}
	if !hist[0].At.Equal(now) || !hist[1].At.Equal(fixed) {
		t.Errorf("history times: %v %v", hist[0].At, hist[1].At)
	}
	for v, want := range map[int64]string{1: "# Cache\n", 2: "# Cache v2\n"} {
		if b, err := e.st.BodyAt(e.ctx, "rfc", "0001", v); err != nil || string(b) != want {
			t.Fatalf("body at v%d: %q %v", v, b, err)
		}
	}
	// The old title is free again; the new one is taken.
	if err := e.st.Create(e.ctx, rfc("0002", "cache invalidation", "draft", "x")); err != nil {
		t.Fatalf("old title not released: %v", err)
	}
	if err := e.st.Create(e.ctx, rfc("0003", "CACHE INVALIDATION RULES", "draft", "x")); !errors.Is(err, store.ErrExists) {
		t.Fatalf("new title not claimed: %v", err)
	}
	if _, err := e.st.Get(e.ctx, "rfc", "0404"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	if _, err := e.st.Get(e.ctx, "spike", "0001"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("same id, other kind: %v", err)
	}
}

func TestCreateExistingIDAndInvalidInput(t *testing.T) {
	e := newEnv(t)
	if err := e.st.Create(e.ctx, rfc("0001", "One", "draft", "a")); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Create(e.ctx, rfc("0001", "Another", "draft", "b")); !errors.Is(err, store.ErrExists) {
		t.Fatalf("same id: %v", err)
	}
	got, err := e.st.Get(e.ctx, "rfc", "0001")
	if err != nil || got.Title != "One" || string(got.Body) != "a" {
		t.Fatalf("first doc changed: %+v %v", got, err)
	}
	// The loser's title was not left claimed.
	if err := e.st.Create(e.ctx, rfc("0002", "Another", "draft", "b")); err != nil {
		t.Fatalf("title of a failed create stayed claimed: %v", err)
	}
	for _, d := range []*store.Document{
		{Kind: "RFC", ID: "1", Title: "t", Status: "draft"},
		{Kind: "rfc", ID: "a/b", Title: "t", Status: "draft"},
		{Kind: "rfc", ID: "x#y", Title: "t", Status: "draft"},
		{Kind: "rfc", ID: "9", Title: "  ", Status: "draft"},
		{Kind: "rfc", ID: "9", Title: "t", Status: ""},
		{Kind: "rfc", ID: "9", Title: "t", Status: "draft", Slug: "../x"},
	} {
		if err := e.st.Create(e.ctx, d); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("create %+v: got %v, want ErrInvalid", d, err)
		}
	}
}

func TestListFilterAndPagination(t *testing.T) {
	e := newEnv(t)
	statuses := []string{"draft", "accepted", "implemented"}
	want := map[string][]string{}
	var all []string
	for i := 1; i <= 23; i++ {
		id := fmt.Sprintf("%04d", i)
		st := statuses[i%3]
		if err := e.st.Create(e.ctx, rfc(id, "RFC number "+id, st, "body "+id)); err != nil {
			t.Fatal(err)
		}
		want[st] = append(want[st], id)
		all = append(all, id)
	}
	// Another kind in the same table must not leak into rfc listings.
	if err := e.st.Create(e.ctx, &store.Document{Kind: "spike", ID: "2026-11-25T0244Z", Title: "RFC number 0001", Status: "draft"}); err != nil {
		t.Fatal(err)
	}

	pageAll := func(o store.ListOptions) []string {
		t.Helper()
		var ids []string
		for pages := 0; ; pages++ {
			if pages > 30 {
				t.Fatal("pagination does not end")
			}
			docs, next, err := e.st.List(e.ctx, "rfc", o)
			if err != nil {
				t.Fatal(err)
			}
			if len(docs) > o.Limit && o.Limit > 0 {
				t.Fatalf("page of %d over limit %d", len(docs), o.Limit)
			}
			for _, d := range docs {
				if d.Body != nil {
					t.Fatalf("list loaded a body for %s", d.ID)
				}
				if o.Status != "" && d.Status != o.Status {
					t.Fatalf("status filter %q returned %s in %q", o.Status, d.ID, d.Status)
				}
				ids = append(ids, d.ID)
			}
			if next == "" {
				return ids
			}
			o.PageToken = next
		}
	}
	if got := pageAll(store.ListOptions{Limit: 5}); !slices.Equal(got, all) {
		t.Fatalf("all, pages of 5:\n got %v\nwant %v", got, all)
	}
	if got := pageAll(store.ListOptions{}); !slices.Equal(got, all) {
		t.Fatalf("all, default page: %v", got)
	}
	for _, st := range statuses {
		if got := pageAll(store.ListOptions{Status: st, Limit: 3}); !slices.Equal(got, want[st]) {
			t.Fatalf("status %s: got %v want %v", st, got, want[st])
		}
	}
	// An exact multiple of the page size ends without an empty extra page.
	docs, next, err := e.st.List(e.ctx, "rfc", store.ListOptions{Limit: 23})
	if err != nil || len(docs) != 23 || next != "" {
		t.Fatalf("limit 23: %d docs, next %q, %v", len(docs), next, err)
	}
	if _, _, err := e.st.List(e.ctx, "rfc", store.ListOptions{Limit: 1001}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("limit over max: %v", err)
	}

	// Soft-deleted docs leave the default listing, and filters combine.
	d7, _ := e.st.Get(e.ctx, "rfc", "0007")
	d8, _ := e.st.Get(e.ctx, "rfc", "0008")
	for _, d := range []*store.Document{d7, d8} {
		if err := e.st.Delete(e.ctx, "rfc", d.ID, d.Version); err != nil {
			t.Fatal(err)
		}
	}
	without := slices.DeleteFunc(slices.Clone(all), func(id string) bool { return id == "0007" || id == "0008" })
	if got := pageAll(store.ListOptions{Limit: 4}); !slices.Equal(got, without) {
		t.Fatalf("live after delete: %v", got)
	}
	if got := pageAll(store.ListOptions{Limit: 4, IncludeDeleted: true}); !slices.Equal(got, all) {
		t.Fatalf("include deleted: %v", got)
	}
	if got := pageAll(store.ListOptions{Limit: 1, OnlyDeleted: true}); !slices.Equal(got, []string{"0007", "0008"}) {
		t.Fatalf("only deleted: %v", got)
	}
	if got := pageAll(store.ListOptions{Status: statuses[7%3], OnlyDeleted: true}); !slices.Equal(got, []string{"0007"}) {
		t.Fatalf("only deleted with status: %v", got)
	}
}

func TestPageTokensAreBoundToTheirListing(t *testing.T) {
	e := newEnv(t)
	for i := 1; i <= 3; i++ {
		if err := e.st.Create(e.ctx, rfc(fmt.Sprintf("%04d", i), fmt.Sprint("t", i), "draft", "")); err != nil {
			t.Fatal(err)
		}
		if err := e.st.Create(e.ctx, &store.Document{Kind: "adr", ID: fmt.Sprintf("%04d", i), Title: fmt.Sprint("a", i), Status: "accepted"}); err != nil {
			t.Fatal(err)
		}
	}
	_, next, err := e.st.List(e.ctx, "rfc", store.ListOptions{Limit: 1})
	if err != nil || next == "" {
		t.Fatalf("first page: %q %v", next, err)
	}
	for name, o := range map[string]store.ListOptions{
		"other status":  {Limit: 1, Status: "accepted", PageToken: next},
		"deleted":       {Limit: 1, OnlyDeleted: true, PageToken: next},
		"garbage":       {Limit: 1, PageToken: "not-a-token"},
		"tampered kind": {Limit: 1, PageToken: strings.Replace(next, next[:4], "AAAA", 1)},
	} {
		if _, _, err := e.st.List(e.ctx, "rfc", o); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
	if _, _, err := e.st.List(e.ctx, "adr", store.ListOptions{Limit: 1, PageToken: next}); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("rfc token used for adrs: %v", err)
	}
	docs, _, err := e.st.List(e.ctx, "rfc", store.ListOptions{Limit: 5, PageToken: next})
	if err != nil || len(docs) != 2 || docs[0].ID != "0002" || docs[0].Kind != "rfc" {
		t.Fatalf("second page: %+v %v", docs, err)
	}
}

func TestConcurrentNumbersAndCreates(t *testing.T) {
	e := newEnv(t)
	const n = 50
	var wg sync.WaitGroup
	nums := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			num, err := e.st.NextNumber(e.ctx, "rfc")
			if err != nil {
				errs[i] = err
				return
			}
			nums[i] = num
			d := rfc(fmt.Sprintf("%04d", num), fmt.Sprintf("Proposal from writer %d", i), "draft", fmt.Sprintf("body %d", i))
			d.Number = num
			errs[i] = e.st.Create(e.ctx, d)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	sorted := slices.Sorted(slices.Values(nums))
	for i, v := range sorted {
		if v != i+1 {
			t.Fatalf("numbers not 1..%d: %v", n, sorted)
		}
	}
	docs, next, err := e.st.List(e.ctx, "rfc", store.ListOptions{Limit: 100})
	if err != nil || next != "" || len(docs) != n {
		t.Fatalf("list: %d docs, next %q, %v", len(docs), next, err)
	}
	for i, d := range docs {
		if d.Number != i+1 || d.ID != fmt.Sprintf("%04d", i+1) || d.Version != 1 {
			t.Fatalf("doc %d: %+v", i, d)
		}
		w := slices.Index(nums, d.Number)
		body, err := e.st.Body(e.ctx, &d)
		if err != nil || string(body) != fmt.Sprintf("body %d", w) || d.Title != fmt.Sprintf("Proposal from writer %d", w) {
			t.Fatalf("doc %s: title %q body %q err %v (writer %d)", d.ID, d.Title, body, err, w)
		}
	}
	if next, err := e.st.NextNumber(e.ctx, "rfc"); err != nil || next != n+1 {
		t.Fatalf("number after %d: %d %v", n, next, err)
	}
	if first, err := e.st.NextNumber(e.ctx, "adr"); err != nil || first != 1 {
		t.Fatalf("counters are per kind: adr got %d %v", first, err)
	}
}

func TestDuplicateTitles(t *testing.T) {
	e := newEnv(t)
	if err := e.st.Create(e.ctx, rfc("0001", "Use Postgres", "draft", "a")); err != nil {
		t.Fatal(err)
	}
	err := e.st.Create(e.ctx, rfc("0002", "  use   POSTGRES ", "draft", "b"))
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate title: %v", err)
	}
	if _, err := e.st.Get(e.ctx, "rfc", "0002"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("loser visible: %v", err)
	}
	// Titles are per kind.
	if err := e.st.Create(e.ctx, &store.Document{Kind: "adr", ID: "0001", Title: "Use Postgres", Status: "accepted"}); err != nil {
		t.Fatalf("same title, other kind: %v", err)
	}
	// Renaming onto a taken title fails and changes nothing.
	if err := e.st.Create(e.ctx, rfc("0002", "Use SQLite", "draft", "b")); err != nil {
		t.Fatal(err)
	}
	d2, _ := e.st.Get(e.ctx, "rfc", "0002")
	d2.Title, d2.Body = "USE POSTGRES", []byte("renamed")
	if err := e.st.Update(e.ctx, d2); !errors.Is(err, store.ErrExists) {
		t.Fatalf("rename onto a taken title: %v", err)
	}
	if got, _ := e.st.Get(e.ctx, "rfc", "0002"); got.Title != "Use SQLite" || got.Version != 1 || string(got.Body) != "b" {
		t.Fatalf("failed rename changed the doc: %+v", got)
	}
	// A case-only rename of one's own title is fine.
	d2, _ = e.st.Get(e.ctx, "rfc", "0002")
	d2.Title = "use sqlite"
	if err := e.st.Update(e.ctx, d2); err != nil {
		t.Fatalf("case-only rename: %v", err)
	}
	// Soft delete frees the title; restore fails while it is taken.
	d1, _ := e.st.Get(e.ctx, "rfc", "0001")
	if err := e.st.Delete(e.ctx, "rfc", "0001", d1.Version); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Create(e.ctx, rfc("0003", "Use Postgres", "draft", "c")); err != nil {
		t.Fatalf("title of a deleted doc not free: %v", err)
	}
	if err := e.st.Restore(e.ctx, "rfc", "0001", d1.Version+1); !errors.Is(err, store.ErrExists) {
		t.Fatalf("restore onto a taken title: %v", err)
	}
	if got, _ := e.st.Get(e.ctx, "rfc", "0001"); got.DeletedAt == nil || got.Version != d1.Version+1 {
		t.Fatalf("failed restore changed the doc: %+v", got)
	}
}

func TestConcurrentCreatesOfOneTitle(t *testing.T) {
	e := newEnv(t)
	const n = 12
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.st.Create(e.ctx, rfc(fmt.Sprintf("%04d", i+1), "Same Title", "draft", fmt.Sprint(i)))
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrExists):
			t.Fatalf("unexpected error: %v", err)
		}
	}
	docs, _, err := e.st.List(e.ctx, "rfc", store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if won != 1 || len(docs) != 1 {
		t.Fatalf("%d creates won, %d docs listed; want exactly 1", won, len(docs))
	}

	// Racing renames of different docs onto one free title: at most one wins.
	for i := 0; i < n; i++ {
		_ = e.st.Create(e.ctx, rfc(fmt.Sprintf("%04d", 100+i), fmt.Sprint("Other ", i), "draft", ""))
	}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := e.st.Get(e.ctx, "rfc", fmt.Sprintf("%04d", 100+i))
			if err == nil {
				d.Title = "Contested"
				err = e.st.Update(e.ctx, d)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	won = 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrExists) && !errors.Is(err, store.ErrConflict):
			t.Fatalf("unexpected error: %v", err)
		}
	}
	docs, _, err = e.st.List(e.ctx, "rfc", store.ListOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	titled := 0
	for _, d := range docs {
		if d.Title == "Contested" {
			titled++
		}
	}
	if won != 1 || titled != 1 {
		t.Fatalf("%d renames won, %d docs titled Contested; want 1 and 1", won, titled)
	}
}

func TestStaleVersionConflicts(t *testing.T) {
	e := newEnv(t)
	if err := e.st.Create(e.ctx, rfc("0001", "Versioned", "draft", "v1")); err != nil {
		t.Fatal(err)
	}
	a, _ := e.st.Get(e.ctx, "rfc", "0001")
	b, _ := e.st.Get(e.ctx, "rfc", "0001")
	a.Body, a.Status = []byte("v2 by a"), "accepted"
	if err := e.st.Update(e.ctx, a); err != nil {
		t.Fatal(err)
	}
	b.Body, b.Title, b.Status = []byte("v2 by b"), "Renamed by b", "superseded"
	if err := e.st.Update(e.ctx, b); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale update: %v", err)
	}
	if b.Version != 1 {
		t.Fatalf("failed update bumped the caller's version to %d", b.Version)
	}
	got, _ := e.st.Get(e.ctx, "rfc", "0001")
	if got.Version != 2 || string(got.Body) != "v2 by a" || got.Title != "Versioned" || got.Status != "accepted" {
		t.Fatalf("stored doc changed by a stale update: %+v", got)
	}
	if err := e.st.Delete(e.ctx, "rfc", "0001", 1); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale delete: %v", err)
	}
	// The stale writer's title was not left claimed.
	if err := e.st.Create(e.ctx, rfc("0002", "Renamed by b", "draft", "")); err != nil {
		t.Fatalf("title claimed by a failed update: %v", err)
	}

	// Racing writers at one version: exactly one wins.
	const n = 10
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := *got
			d.Body = []byte(fmt.Sprint("racer ", i))
			errs[i] = e.st.Update(e.ctx, &d)
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		if err == nil {
			if won >= 0 {
				t.Fatal("two racing updates at one version succeeded")
			}
			won = i
		} else if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("racer %d: %v", i, err)
		}
	}
	final, _ := e.st.Get(e.ctx, "rfc", "0001")
	if won < 0 || final.Version != 3 || string(final.Body) != fmt.Sprint("racer ", won) {
		t.Fatalf("after race: winner %d, %+v", won, final)
	}
	if x := e.objects(t, "rfcs/"); x["rfcs/0001-versioned.md"] != fmt.Sprint("racer ", won) {
		t.Fatalf("export after race: %v", x)
	}
}

func TestSoftDeleteRestorePurge(t *testing.T) {
	e := newEnv(t)
	if err := e.st.Create(e.ctx, rfc("0001", "Keep", "draft", "keep")); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Create(e.ctx, rfc("0002", "Drop", "draft", "drop")); err != nil {
		t.Fatal(err)
	}
	// Another component's item in the document's partition goes with Purge.
	if _, err := e.ddb.PutItem(e.ctx, &dynamodb.PutItemInput{TableName: aws.String(e.table), Item: map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "RFC#0002"}, "SK": &types.AttributeValueMemberS{Value: "TASK#0"},
	}}); err != nil {
		t.Fatal(err)
	}
	ids := func(o store.ListOptions) []string {
		docs, _, err := e.st.List(e.ctx, "rfc", o)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range docs {
			out = append(out, d.ID)
		}
		return out
	}

	if err := e.st.Delete(e.ctx, "rfc", "0002", 1); err != nil {
		t.Fatal(err)
	}
	if got := ids(store.ListOptions{}); !slices.Equal(got, []string{"0001"}) {
		t.Fatalf("after delete: %v", got)
	}
	del, err := e.st.Get(e.ctx, "rfc", "0002")
	if err != nil || del.DeletedAt == nil || del.Version != 2 || string(del.Body) != "drop" {
		t.Fatalf("get deleted: %+v %v", del, err)
	}
	if _, ok := e.objects(t, "rfcs/")["rfcs/0002-drop.md"]; ok {
		t.Fatal("export of a deleted doc still there")
	}
	if err := e.st.Update(e.ctx, del); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of a deleted doc: %v", err)
	}
	if err := e.st.Delete(e.ctx, "rfc", "0002", 2); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if err := e.st.Restore(e.ctx, "rfc", "0001", 1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("restore of a live doc: %v", err)
	}
	if err := e.st.Restore(e.ctx, "rfc", "0002", 1); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale restore: %v", err)
	}

	if err := e.st.Restore(e.ctx, "rfc", "0002", 2); err != nil {
		t.Fatal(err)
	}
	if got := ids(store.ListOptions{}); !slices.Equal(got, []string{"0001", "0002"}) {
		t.Fatalf("after restore: %v", got)
	}
	res, err := e.st.Get(e.ctx, "rfc", "0002")
	if err != nil || res.DeletedAt != nil || res.Version != 3 || string(res.Body) != "drop" {
		t.Fatalf("get restored: %+v %v", res, err)
	}
	if e.objects(t, "rfcs/")["rfcs/0002-drop.md"] != "drop" {
		t.Fatal("export not back after restore")
	}
	if err := e.st.Create(e.ctx, rfc("0003", "drop", "draft", "")); !errors.Is(err, store.ErrExists) {
		t.Fatalf("restored title not claimed again: %v", err)
	}

	if err := e.st.Purge(e.ctx, "rfc", "0002"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Get(e.ctx, "rfc", "0002"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get purged: %v", err)
	}
	if got := ids(store.ListOptions{IncludeDeleted: true}); !slices.Equal(got, []string{"0001"}) {
		t.Fatalf("after purge: %v", got)
	}
	if x := e.objects(t, ""); len(x) != 2 { // 0001's export and revision only
		t.Fatalf("objects after purge: %v", keys(x))
	}
	part, err := e.ddb.Query(e.ctx, &dynamodb.QueryInput{
		TableName: aws.String(e.table), KeyConditionExpression: aws.String("PK = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: "RFC#0002"}},
	})
	if err != nil || len(part.Items) != 0 {
		t.Fatalf("partition after purge: %d items, %v", len(part.Items), err)
	}
	if err := e.st.Create(e.ctx, rfc("0004", "Drop", "draft", "")); err != nil {
		t.Fatalf("title of a purged doc: %v", err)
	}
	if err := e.st.Purge(e.ctx, "rfc", "0002"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("purge twice: %v", err)
	}
	if err := e.st.Create(e.ctx, rfc("0002", "Reborn", "draft", "new")); err != nil {
		t.Fatalf("id of a purged doc: %v", err)
	}
}

func TestPurgeIsResumable(t *testing.T) {
	e := newEnv(t)
	if err := e.st.Create(e.ctx, rfc("0001", "Half Purged", "draft", "x")); err != nil {
		t.Fatal(err)
	}
	// The final index delete fails: the doc is already invisible.
	heal := e.failDDB(t, func(op string, _ []byte) bool { return op == "DeleteItem" })
	if err := e.st.Purge(e.ctx, "rfc", "0001"); err == nil {
		t.Fatal("purge succeeded despite failing deletes")
	}
	if _, err := e.st.Get(e.ctx, "rfc", "0001"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("half-purged doc visible to Get: %v", err)
	}
	if docs, _, _ := e.st.List(e.ctx, "rfc", store.ListOptions{IncludeDeleted: true}); len(docs) != 0 {
		t.Fatalf("half-purged doc listed: %+v", docs)
	}
	if err := e.st.Create(e.ctx, rfc("0001", "Other", "draft", "")); !errors.Is(err, store.ErrExists) {
		t.Fatalf("create over a half-purged doc: %v", err)
	}
	heal()
	if err := e.st.Purge(e.ctx, "rfc", "0001"); err != nil {
		t.Fatalf("purge again: %v", err)
	}
	if x := e.objects(t, ""); len(x) != 0 {
		t.Fatalf("objects left: %v", keys(x))
	}
	if err := e.st.Create(e.ctx, rfc("0001", "Half Purged", "draft", "y")); err != nil {
		t.Fatalf("id and title after purge: %v", err)
	}
}

func TestEveryObjectIsWrittenWithTheClientKey(t *testing.T) {
	e := newEnv(t)
	d := rfc("0001", "Encrypted", "draft", "secret plan")
	if err := e.st.Create(e.ctx, d); err != nil {
		t.Fatal(err)
	}
	d.Body, d.Slug = []byte("secret plan v2"), "encrypted-v2"
	if err := e.st.Update(e.ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Delete(e.ctx, "rfc", "0001", d.Version); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Restore(e.ctx, "rfc", "0001", d.Version+1); err != nil {
		t.Fatal(err)
	}
	var writes int
	for _, w := range s3Srv.Writes() {
		if w.Bucket != e.bucket {
			continue
		}
		writes++
		if w.SSE != "aws:kms" || w.KMSKeyID != clientKMSKey || w.AccessKeyID != clientAKID {
			t.Errorf("write of %s: sse %q key %q signer %q", w.Key, w.SSE, w.KMSKeyID, w.AccessKeyID)
		}
		if strings.HasPrefix(w.Key, ".revisions/") != (w.IfNoneMatch == "*") {
			t.Errorf("write of %s: If-None-Match %q (revisions must be create-only, exports not)", w.Key, w.IfNoneMatch)
		}
	}
	if writes != 5 { // 2 revisions + export, export renamed, export restored
		t.Fatalf("%d object writes, want 5", writes)
	}
	objs, err := s3Srv.Objects(e.bucket, "")
	if err != nil || len(objs) != 3 { // both revisions (the history) and the export
		t.Fatalf("objects: %+v %v", objs, err)
	}
	for _, o := range objs {
		if o.Write.SSE != "aws:kms" || o.Write.KMSKeyID != clientKMSKey {
			t.Errorf("stored %s: %+v", o.Key, o.Write)
		}
	}
}

func TestIndexWriteFailureLeavesNoHalfDocument(t *testing.T) {
	e := newEnv(t)
	num, err := e.st.NextNumber(e.ctx, "rfc")
	if err != nil {
		t.Fatal(err)
	}
	d := rfc(fmt.Sprintf("%04d", num), "Half Written", "draft", "new content")
	d.Number = num

	heal := e.failDDB(t, isCommit)
	if err := e.st.Create(e.ctx, d); err == nil {
		t.Fatal("create succeeded with a failing index write")
	}
	// The body did reach S3, yet nothing of the document is visible.
	var bodyWritten bool
	for _, w := range s3Srv.Writes() {
		bodyWritten = bodyWritten || (w.Bucket == e.bucket && strings.HasPrefix(w.Key, ".revisions/rfcs/0001/"))
	}
	if !bodyWritten {
		t.Fatal("the fault did not come after the S3 write")
	}
	if _, err := e.st.Get(e.ctx, "rfc", "0001"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get after failed create: %v", err)
	}
	if docs, _, err := e.st.List(e.ctx, "rfc", store.ListOptions{IncludeDeleted: true}); err != nil || len(docs) != 0 {
		t.Fatalf("list after failed create: %+v %v", docs, err)
	}
	if x := e.objects(t, "rfcs/"); len(x) != 0 {
		t.Fatalf("export of an uncommitted doc: %v", x)
	}
	// A retry with the same number succeeds: the number is not lost.
	heal()
	d.Body = []byte("new content")
	if err := e.st.Create(e.ctx, d); err != nil {
		t.Fatalf("retry: %v", err)
	}
	got, err := e.st.Get(e.ctx, "rfc", "0001")
	if err != nil || string(got.Body) != "new content" || got.Number != 1 {
		t.Fatalf("after retry: %+v %v", got, err)
	}

	// The same for an update: the old version stays what everyone sees.
	upd := *got
	upd.Body, upd.Status, upd.Title = []byte("half-written update"), "accepted", "Half Written Renamed"
	e.failDDB(t, isCommit)
	if err := e.st.Update(e.ctx, &upd); err == nil {
		t.Fatal("update succeeded with a failing index write")
	}
	now, err := e.st.Get(e.ctx, "rfc", "0001")
	if err != nil || now.Version != 1 || string(now.Body) != "new content" || now.Status != "draft" || now.Title != "Half Written" {
		t.Fatalf("after failed update: %+v %v", now, err)
	}
	docs, _, err := e.st.List(e.ctx, "rfc", store.ListOptions{Status: "accepted"})
	if err != nil || len(docs) != 0 {
		t.Fatalf("failed update listed under its new status: %+v %v", docs, err)
	}
	if x := e.objects(t, "rfcs/"); len(x) != 1 || x["rfcs/0001-half-written.md"] != "new content" {
		t.Fatalf("export after failed update: %v", x)
	}
	heal()
	if err := e.st.Update(e.ctx, &upd); err != nil {
		t.Fatalf("retry update: %v", err)
	}
	if got, _ := e.st.Get(e.ctx, "rfc", "0001"); got.Version != 2 || string(got.Body) != "half-written update" || got.Title != "Half Written Renamed" {
		t.Fatalf("after retried update: %+v", got)
	}
}

func TestAbandonedCreateDoesNotHoldItsTitle(t *testing.T) {
	e := newEnv(t)
	// A commit that fails with an unknown outcome (here: access denied) leaves
	// its pending index item and title claim behind, as a crash would.
	heal := e.failDDB(t, isCommit)
	if err := e.st.Create(e.ctx, rfc("0001", "Orphaned Title", "draft", "x")); err == nil {
		t.Fatal("create succeeded")
	}
	heal()
	if err := e.st.Create(e.ctx, rfc("0002", "orphaned title", "draft", "y")); err != nil {
		t.Fatalf("abandoned claim blocked another doc: %v", err)
	}
	if err := e.st.Create(e.ctx, rfc("0001", "Orphaned Title", "draft", "x")); !errors.Is(err, store.ErrExists) {
		t.Fatalf("retry of the abandoned create should now find the title taken: %v", err)
	}
	if err := e.st.Create(e.ctx, rfc("0001", "Something Else", "draft", "x")); err != nil {
		t.Fatalf("retry with a free title: %v", err)
	}
}

func TestUnicodeAndLargeBodiesRoundTrip(t *testing.T) {
	e := newEnv(t)
	line := "| **Status** | Draft | Ünïcødé — 日本語の文書 — emoji 🚀🧪 — RTL עברית — NUL-free\n"
	var b bytes.Buffer
	for b.Len() < 200<<10 {
		b.WriteString(line)
	}
	body := b.Bytes()
	d := &store.Document{Kind: "spike", ID: "2026-11-25T0244Z", Slug: "unicode-spike", Title: "Ünïcødé Spike 🚀", Status: "in-progress", Body: body,
		Attrs: map[string]string{"outcome": "décision-made ✓"}}
	if err := e.st.Create(e.ctx, d); err != nil {
		t.Fatal(err)
	}
	// A fresh store (empty cache) reads it back from S3.
	cold := store.New(e.s3, e.ddb, store.Options{Bucket: e.bucket, Table: e.table, KMSKeyID: clientKMSKey})
	got, err := cold.Get(e.ctx, "spike", "2026-11-25T0244Z")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Body, body) || got.Title != d.Title || got.Attrs["outcome"] != "décision-made ✓" {
		t.Fatalf("round trip: %d bytes (want %d), title %q, attrs %v", len(got.Body), len(body), got.Title, got.Attrs)
	}
	if x := e.objects(t, "spikes/"); x["spikes/2026-11-25T0244Z-unicode-spike.md"] != string(body) {
		t.Fatalf("export: %v", keys(x))
	}
	if err := e.st.Create(e.ctx, &store.Document{Kind: "spike", ID: "2026-11-25T0300Z", Title: "ünïcødé spike 🚀", Status: "in-progress"}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("unicode titles compare case-insensitively: %v", err)
	}
}

func TestBodyOfAStaleListedDocument(t *testing.T) {
	e := newEnv(t)
	if err := e.st.Create(e.ctx, rfc("0001", "Listed", "draft", "v1")); err != nil {
		t.Fatal(err)
	}
	docs, _, err := e.st.List(e.ctx, "rfc", store.ListOptions{})
	if err != nil || len(docs) != 1 {
		t.Fatal(docs, err)
	}
	listed := docs[0]
	if b, err := e.st.Body(e.ctx, &listed); err != nil || string(b) != "v1" {
		t.Fatalf("body: %q %v", b, err)
	}
	cur, _ := e.st.Get(e.ctx, "rfc", "0001")
	cur.Body, cur.Status = []byte("v2"), "accepted"
	if err := e.st.Update(e.ctx, cur); err != nil {
		t.Fatal(err)
	}
	// The listed revision is kept as history: Body reads the version listed.
	stale := docs[0]
	cold := store.New(e.s3, e.ddb, store.Options{Bucket: e.bucket, Table: e.table, KMSKeyID: clientKMSKey})
	b, err := cold.Body(e.ctx, &stale)
	if err != nil || string(b) != "v1" || stale.Version != 1 {
		t.Fatalf("stale body: %q %+v %v", b, stale, err)
	}
	// Once the revision is gone (purged from the bucket by hand, say), Body
	// refreshes the document to the latest committed version.
	for key := range e.objects(t, ".revisions/rfcs/0001/") {
		if strings.Contains(key, "/v1-") {
			if _, err := e.s3.DeleteObject(e.ctx, &s3.DeleteObjectInput{Bucket: &e.bucket, Key: &key}); err != nil {
				t.Fatal(err)
			}
		}
	}
	colder := store.New(e.s3, e.ddb, store.Options{Bucket: e.bucket, Table: e.table, KMSKeyID: clientKMSKey})
	b, err = colder.Body(e.ctx, &stale)
	if err != nil || string(b) != "v2" || stale.Version != 2 || stale.Status != "accepted" || stale.Body != nil {
		t.Fatalf("stale body after its revision went: %q %+v %v", b, stale, err)
	}
}

func TestOperationsAndCredentialsUsed(t *testing.T) {
	e := newEnv(t, func(o *store.Options) { o.BodyCacheBytes = -1 })
	ddbSrv.ResetCalls()
	n, err := e.st.NextNumber(e.ctx, "rfc")
	if err != nil {
		t.Fatal(err)
	}
	d := rfc(fmt.Sprintf("%04d", n), "Policy", "draft", "v1")
	steps := []func() error{
		func() error { return e.st.Create(e.ctx, d) },
		func() error { _, err := e.st.Get(e.ctx, "rfc", d.ID); return err },
		func() error { _, _, err := e.st.GetByTitleOrID(e.ctx, "rfc", "1", d.ID); return err },
		func() error { d.Title, d.Body = "Policy 2", []byte("v2"); return e.st.Update(e.ctx, d) },
		func() error {
			docs, _, err := e.st.List(e.ctx, "rfc", store.ListOptions{Status: "draft"})
			if err == nil && len(docs) == 1 {
				_, err = e.st.Body(e.ctx, &docs[0])
			}
			return err
		},
		func() error { return e.st.Delete(e.ctx, "rfc", d.ID, d.Version) },
		func() error { return e.st.Restore(e.ctx, "rfc", d.ID, d.Version+1) },
		func() error { return e.st.Purge(e.ctx, "rfc", d.ID) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	ops := map[string]bool{}
	for _, c := range ddbSrv.Calls() {
		if c.Table != e.table {
			continue
		}
		ops[c.Op] = true
		if c.AccessKeyID != clientAKID {
			t.Errorf("%s signed by %q", c.Op, c.AccessKeyID)
		}
		if c.Index != "" && c.Index != store.IndexByKind && c.Index != store.IndexByKindStatus {
			t.Errorf("%s on unknown index %q", c.Op, c.Index)
		}
	}
	for _, c := range s3Srv.Calls() {
		if c.Bucket != e.bucket {
			continue
		}
		ops[c.IAMAction] = true
		if c.AccessKeyID != clientAKID {
			t.Errorf("%s signed by %q", c.Op, c.AccessKeyID)
		}
	}
	// The IAM policy shipped for the client's role must grant exactly these.
	want := []string{
		"dynamodb:BatchGetItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem",
		"s3:DeleteObject", "s3:GetObject", "s3:ListBucket", "s3:PutObject",
	}
	if got := slices.Sorted(maps.Keys(ops)); !slices.Equal(got, want) {
		t.Fatalf("operations used:\n got %v\nwant %v", got, want)
	}
}

func keys(m map[string]string) []string {
	k := slices.Collect(maps.Keys(m))
	sort.Strings(k)
	return k
}

// TestTitleRaceIsDecidedAtTheIndex holds one creator's commit until a second
// creator of the same title has finished: the second must abort the first
// (whose commit then fails) rather than both committing.
func TestTitleRaceIsDecidedAtTheIndex(t *testing.T) {
	e := newEnv(t)
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	ddbSrv.SetFault(func(r dynamotest.Request) *dynamotest.Fault {
		if isCommit(r.Op, r.Body) && strings.Contains(string(r.Body), e.table) && strings.Contains(string(r.Body), `"RFC#0001"`) {
			once.Do(func() { close(held) })
			<-release
		}
		return nil
	})
	t.Cleanup(func() { ddbSrv.SetFault(nil) })

	first := make(chan error, 1)
	go func() { first <- e.st.Create(e.ctx, rfc("0001", "Race", "draft", "first")) }()
	select {
	case <-held:
	case err := <-first:
		t.Fatalf("first create finished before its commit was held: %v", err)
	}
	if err := e.st.Create(e.ctx, rfc("0002", "race", "draft", "second")); err != nil {
		t.Fatalf("second create: %v", err)
	}
	close(release)
	if err := <-first; !errors.Is(err, store.ErrExists) {
		t.Fatalf("first create, aborted while in flight: got %v, want ErrExists", err)
	}
	docs, _, err := e.st.List(e.ctx, "rfc", store.ListOptions{})
	if err != nil || len(docs) != 1 || docs[0].ID != "0002" {
		t.Fatalf("listed: %+v %v", docs, err)
	}
	if _, err := e.st.Get(e.ctx, "rfc", "0001"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("aborted create visible: %v", err)
	}
}

func TestBodyWriteFailureLeavesNothing(t *testing.T) {
	e := newEnv(t)
	s3Srv.SetFault(func(c s3test.Call) *s3test.Fault {
		if c.Bucket == e.bucket && c.Op == "s3:PutObject" {
			return &s3test.Fault{Status: 403, Code: "AccessDenied", Message: "injected"}
		}
		return nil
	})
	t.Cleanup(func() { s3Srv.SetFault(nil) })
	if err := e.st.Create(e.ctx, rfc("0001", "No Body", "draft", "x")); err == nil {
		t.Fatal("create succeeded without its body")
	}
	if _, err := e.st.Get(e.ctx, "rfc", "0001"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get: %v", err)
	}
	s3Srv.SetFault(nil)
	// The failed create released its id and title.
	if err := e.st.Create(e.ctx, rfc("0002", "No Body", "draft", "y")); err != nil {
		t.Fatalf("title held by a failed create: %v", err)
	}
	if err := e.st.Create(e.ctx, rfc("0001", "Other", "draft", "z")); err != nil {
		t.Fatalf("id held by a failed create: %v", err)
	}
}

func TestUpdateWithoutBodyKeepsIt(t *testing.T) {
	e := newEnv(t)
	if err := e.st.Create(e.ctx, rfc("0001", "Status Only", "draft", "the body")); err != nil {
		t.Fatal(err)
	}
	docs, _, err := e.st.List(e.ctx, "rfc", store.ListOptions{})
	if err != nil || len(docs) != 1 || docs[0].Body != nil {
		t.Fatal(docs, err)
	}
	d := docs[0]
	d.Status = "accepted"
	if err := e.st.Update(e.ctx, &d); err != nil {
		t.Fatal(err)
	}
	got, err := e.st.Get(e.ctx, "rfc", "0001")
	if err != nil || got.Status != "accepted" || got.Version != 2 || string(got.Body) != "the body" {
		t.Fatalf("after status-only update: %+v %v", got, err)
	}
	if revs := e.objects(t, ".revisions/"); len(revs) != 1 {
		t.Fatalf("revisions: %v", keys(revs))
	}
	// An empty, non-nil body does replace it.
	got.Body = []byte{}
	if err := e.st.Update(e.ctx, got); err != nil {
		t.Fatal(err)
	}
	if again, _ := e.st.Get(e.ctx, "rfc", "0001"); len(again.Body) != 0 || again.Version != 3 {
		t.Fatalf("after emptying: %+v", again)
	}
	if x := e.objects(t, "rfcs/"); len(x) != 1 || x["rfcs/0001-status-only.md"] != "" {
		t.Fatalf("export: %v", x)
	}
}

func TestGetByTitle(t *testing.T) {
	e := newEnv(t)
	if err := e.st.Create(e.ctx, rfc("0001", "Find  Me", "draft", "found")); err != nil {
		t.Fatal(err)
	}
	d, err := e.st.GetByTitle(e.ctx, "rfc", " find me ")
	if err != nil || d.ID != "0001" || string(d.Body) != "found" {
		t.Fatalf("by title: %+v %v", d, err)
	}
	if _, err := e.st.GetByTitle(e.ctx, "adr", "Find Me"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("other kind: %v", err)
	}
	d.Title = "Found Me"
	if err := e.st.Update(e.ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.GetByTitle(e.ctx, "rfc", "Find Me"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("old title after rename: %v", err)
	}
	if got, err := e.st.GetByTitle(e.ctx, "rfc", "FOUND ME"); err != nil || got.ID != "0001" {
		t.Fatalf("new title: %+v %v", got, err)
	}
	if err := e.st.Delete(e.ctx, "rfc", "0001", d.Version); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.GetByTitle(e.ctx, "rfc", "Found Me"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted doc by title: %v", err)
	}
}

// A reference that is both a title and a number ("1") is answered in one
// request: the live document with that title when there is one, else the
// document with that id, live or not.
func TestGetByTitleOrID(t *testing.T) {
	e := newEnv(t)
	for _, d := range []*store.Document{rfc("0001", "First", "draft", "one"), rfc("0002", "1", "draft", "titled one")} {
		if err := e.st.Create(e.ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	batches := func() int { return ddbSrv.Count(e.table, "BatchGetItem") }
	cases := []struct {
		name, title, id string
		setup           func(t *testing.T)
		wantID          string
		wantByTitle     bool
		wantErr         error
	}{
		{name: "the title wins over the number", title: "1", id: "0001", wantID: "0002", wantByTitle: true},
		{name: "a title nobody has: the number", title: "2", id: "0002", wantID: "0002"},
		{name: "the document is its own title", title: " first ", id: "0001", wantID: "0001", wantByTitle: true},
		{name: "neither", title: "9", id: "0009", wantErr: store.ErrNotFound},
		{name: "another kind", title: "1", id: "0001", wantErr: store.ErrNotFound, setup: nil},
		{name: "the title's owner deleted: the number", title: "1", id: "0001", wantID: "0001", setup: func(t *testing.T) {
			if err := e.st.Delete(e.ctx, "rfc", "0002", 1); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "a deleted number is still found (as Get)", title: "1", id: "0002", wantID: "0002"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.setup != nil {
				c.setup(t)
			}
			kind := "rfc"
			if c.name == "another kind" {
				kind = "adr"
			}
			before := batches()
			d, byTitle, err := e.st.GetByTitleOrID(e.ctx, kind, c.title, c.id)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err %v, want %v", err, c.wantErr)
				}
				return
			}
			if err != nil || d.ID != c.wantID || byTitle != c.wantByTitle || len(d.Body) == 0 {
				t.Fatalf("got %+v by title %v, %v; want %s by title %v", d, byTitle, err, c.wantID, c.wantByTitle)
			}
			if n := batches() - before; n != 1 {
				t.Errorf("%d BatchGetItem requests, want 1", n)
			}
		})
	}
	if _, _, err := e.st.GetByTitleOrID(e.ctx, "rfc", "", "0001"); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("empty title: %v", err)
	}
}

// Every Create and Update is a revision, newest first; Delete and Restore
// change whether the document is live and add none; a status-only update
// is a revision that shares its body with the one before.
func TestHistory(t *testing.T) {
	e := newEnv(t)
	d := rfc("0001", "History", "draft", "one")
	if err := e.st.Create(e.ctx, d); err != nil {
		t.Fatal(err)
	}
	d.Body = []byte("two")
	if err := e.st.Update(e.ctx, d); err != nil {
		t.Fatal(err)
	}
	d.Body, d.Status = nil, "accepted"
	if err := e.st.Update(e.ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := e.st.Delete(e.ctx, "rfc", "0001", d.Version); err != nil {
		t.Fatal(err)
	}
	// Soft-deleted documents keep their history.
	if h, err := e.st.Revisions(e.ctx, "rfc", "0001"); err != nil || len(h) != 3 {
		t.Fatalf("history while deleted: %+v %v", h, err)
	}
	if err := e.st.Restore(e.ctx, "rfc", "0001", d.Version+1); err != nil {
		t.Fatal(err)
	}
	cur, err := e.st.Get(e.ctx, "rfc", "0001")
	if err != nil {
		t.Fatal(err)
	}
	cur.Body = []byte("four")
	if err := e.st.Update(e.ctx, cur); err != nil {
		t.Fatal(err)
	}
	h, err := e.st.Revisions(e.ctx, "rfc", "0001")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range h {
		got = append(got, fmt.Sprintf("v%d %s", r.Version, r.Status))
	}
	if want := []string{"v6 accepted", "v3 accepted", "v2 draft", "v1 draft"}; !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	for v, want := range map[int64]string{1: "one", 2: "two", 3: "two", 6: "four"} {
		if b, err := e.st.BodyAt(e.ctx, "rfc", "0001", v); err != nil || string(b) != want {
			t.Errorf("body at v%d: %q %v, want %q", v, b, err, want)
		}
	}
	for _, v := range []int64{0, 4, 5, 7} {
		if _, err := e.st.BodyAt(e.ctx, "rfc", "0001", v); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("body at v%d: %v, want ErrNotFound", v, err)
		}
	}
	if _, err := e.st.Revisions(e.ctx, "rfc", "0404"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("history of a missing document: %v", err)
	}
	// Purge takes the history with it.
	if err := e.st.Purge(e.ctx, "rfc", "0001"); err != nil {
		t.Fatal(err)
	}
	if revs := e.objects(t, ".revisions/rfcs/0001/"); len(revs) != 0 {
		t.Fatalf("revisions left after purge: %v", keys(revs))
	}
}
