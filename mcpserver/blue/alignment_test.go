package blue

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestTierSplit(t *testing.T) {
	for _, tc := range []struct{ n, core, adj, wild int }{
		{1, 1, 0, 0}, {2, 2, 0, 0}, {3, 1, 1, 1}, {5, 1, 3, 1}, {6, 2, 3, 1}, {12, 4, 5, 3}, {20, 6, 9, 5},
	} {
		c, a, w := TierSplit(tc.n)
		if c != tc.core || a != tc.adj || w != tc.wild || c+a+w != tc.n {
			t.Errorf("TierSplit(%d) = %d,%d,%d, want %d,%d,%d", tc.n, c, a, w, tc.core, tc.adj, tc.wild)
		}
	}
}

func TestSamplePanel(t *testing.T) {
	pool := []PoolExpert{
		{"Risk Manager", TierCore, 0.9}, {"Value Analyst", TierCore, 0.8}, {"Quant", TierCore, 0.7},
		{"Economist", TierAdjacent, 0.6}, {"Lawyer", TierAdjacent, 0.5},
		{"Poet", TierWildcard, 0.2}, {"Never", TierWildcard, 0},
	}
	for seed := range uint64(50) {
		rnd := rand.New(rand.NewPCG(seed, 1))
		panel := SamplePanel(pool, 5, rnd)
		if len(panel) != 5 {
			t.Fatalf("seed %d: %d experts", seed, len(panel))
		}
		roles := map[string]bool{}
		tiers := map[string]int{}
		for _, e := range panel {
			if roles[e.Role] {
				t.Fatalf("seed %d: %s drawn twice", seed, e.Role)
			}
			roles[e.Role] = true
			tiers[e.Tier]++
		}
		// 5 → 1 core, 3 adjacent, 1 wildcard; the pool has only 2
		// adjacent, so the shortfall is filled from the rest.
		if tiers[TierCore] < 1 || tiers[TierAdjacent] != 2 || tiers[TierWildcard] < 1 {
			t.Errorf("seed %d: tiers %v", seed, tiers)
		}
	}
	// A zero-relevance expert is drawn only when every weight left is zero.
	for seed := range uint64(50) {
		panel := SamplePanel(pool, 6, rand.New(rand.NewPCG(seed, 2)))
		if slices.ContainsFunc(panel, func(e PoolExpert) bool { return e.Role == "Never" }) {
			t.Errorf("seed %d: drew the zero-relevance expert over a relevant one: %v", seed, panel)
		}
	}
	if got := SamplePanel(pool, 20, rand.New(rand.NewPCG(1, 1))); len(got) != len(pool) {
		t.Errorf("a panel larger than the pool has %d experts, want the whole pool", len(got))
	}
	agents := NamePanel(pool)
	if agents[0].Name != "Muffin" || agents[0].Slug() != "muffin" || agents[6].Name != "Croissant" || agents[0].Emoji != AgentEmoji {
		t.Errorf("names %+v", agents)
	}
	if many := NamePanel(make([]PoolExpert, 22)); many[21].Name != "Pastry22" {
		t.Errorf("22nd name %q", many[21].Name)
	}
}

func TestDisplayIDs(t *testing.T) {
	if got := DisplayID(Perspective, 1, 2); got != "P0102" {
		t.Errorf("DisplayID = %q", got)
	}
	for _, tc := range []struct {
		id          string
		ok          bool
		typ         byte
		round, seqn int
	}{
		{"P0102", true, 'P', 1, 2}, {"T9999", true, 'T', 99, 99}, {"C0000", true, 'C', 0, 0},
		{"X0101", false, 0, 0, 0}, {"P01", false, 0, 0, 0}, {"P01023", false, 0, 0, 0}, {"P0a02", false, 0, 0, 0}, {"p0102", false, 0, 0, 0}, {"", false, 0, 0, 0},
	} {
		typ, r, s, ok := ParseDisplayID(tc.id)
		if ok != tc.ok || typ != tc.typ || r != tc.round || s != tc.seqn {
			t.Errorf("ParseDisplayID(%q) = %c,%d,%d,%v", tc.id, typ, r, s, ok)
		}
	}
}

func TestRefCheck(t *testing.T) {
	for _, tc := range []struct {
		src         byte
		typ, target string
		codes       []string
	}{
		{Perspective, "support", "T0001", nil},
		{Perspective, "resolve", "T0001", nil},
		{Perspective, "resolve", "P0001", []string{"invalid_ref_target"}},
		{Claim, "address", "R0101", []string{"invalid_ref_target"}},
		{Perspective, "refine", "P0001", nil},
		{Perspective, "refine", "C0001", []string{"invalid_ref_target"}},
		{Perspective, "agree", "P0001", []string{"invalid_ref_type"}},
		{Perspective, "support", "P1", []string{"invalid_display_id"}},
		{Perspective, "nope", "P1", []string{"invalid_ref_type", "invalid_display_id"}},
	} {
		var codes []string
		for _, e := range RefCheck("perspectives[0].references[0]", tc.src, tc.typ, tc.target) {
			codes = append(codes, e.Code)
			if !strings.HasPrefix(e.Field, "perspectives[0].references[0]") {
				t.Errorf("field %q", e.Field)
			}
		}
		if !slices.Equal(codes, tc.codes) {
			t.Errorf("%c %s→%s: %v, want %v", tc.src, tc.typ, tc.target, codes, tc.codes)
		}
	}
}

func TestCanConverge(t *testing.T) {
	for _, tc := range []struct {
		name     string
		last     *Convergence
		can      bool
		blockers []string
	}{
		{"no rounds", nil, false, []string{"no rounds registered"}},
		{"converged", &Convergence{0, 0, 3, 3}, true, nil},
		{"open tension", &Convergence{1, 0, 3, 3}, false, []string{"velocity=1 (open_tensions=1, new_perspectives=0)"}},
		{"new perspectives and two of three", &Convergence{0, 2, 2, 3}, false, []string{"velocity=2 (open_tensions=0, new_perspectives=2)", "converge_percent=67% (2/3)"}},
		{"no panel", &Convergence{0, 0, 0, 0}, false, []string{"converge_percent=0% (0/0)"}},
	} {
		can, blockers := CanConverge(tc.last)
		if can != tc.can || !slices.Equal(blockers, tc.blockers) {
			t.Errorf("%s: %v %q, want %v %q", tc.name, can, blockers, tc.can, tc.blockers)
		}
	}
}
