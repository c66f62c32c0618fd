package tools

import (
	"strings"
	"testing"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
)

func TestParseResourceURI(t *testing.T) {
	for _, tc := range []struct {
		uri      string
		ok       bool
		kind, id string
		plan     bool
	}{
		{"blue://docs/rfcs/0001", true, "rfc", "0001", false},
		{"blue://docs/rfcs/0001/plan", true, "rfc", "0001", true},
		{"blue://docs/spikes/2026-11-25T0244Z-cache", true, "spike", "2026-11-25T0244Z-cache", false},
		{"blue://docs/spikes/x/plan", false, "", "", false}, // only RFCs have plans
		{"blue://docs/rfcs/../adrs/0001", false, "", "", false},
		{"blue://docs/rfcs/0001?x=1", false, "", "", false},
		{"blue://docs/rfcs/0001#top", false, "", "", false},
		{"blue://user@docs/rfcs/0001", false, "", "", false},
		{"blue://docs/rfcs/", false, "", "", false},
		{"blue://docs/rfcs/a/b", false, "", "", false},
		{"blue://docs/nope/0001", false, "", "", false},
		{"blue://state/current-rfc", false, "", "", false},
		{"file:///etc/passwd", false, "", "", false},
		{"blue://docs/rfcs/%2e%2e", false, "", "", false},
	} {
		k, id, plan, ok := parseResourceURI(tc.uri)
		if ok != tc.ok || k.Name != tc.kind || id != tc.id || plan != tc.plan {
			t.Errorf("%s: %q %q %v %v", tc.uri, k.Name, id, plan, ok)
		}
	}
}

// Resource URIs come from the client: none panics the parser, and every
// one it accepts names a kind and an id the store accepts, and is the very
// URI the server would give that document.
func FuzzResourceURI(f *testing.F) {
	for _, s := range []string{"blue://docs/rfcs/0001", "blue://docs/rfcs/0001/plan", "blue://docs/adrs/..", "blue://docs/rfcs/0001%2Fplan", "blue://DOCS/rfcs/1", "blue:docs/rfcs/1", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		k, id, plan, ok := parseResourceURI(uri)
		if !ok {
			return
		}
		if _, known := blue.KindByName(k.Name); !known || !store.ValidID(id) || strings.Contains(id, "/") {
			t.Fatalf("%q accepted as %s %q", uri, k.Name, id)
		}
		want := URI(k.Name, id)
		if plan {
			want = planURI(id)
		}
		if k2, id2, plan2, ok2 := parseResourceURI(want); !ok2 || k2.Name != k.Name || id2 != id || plan2 != plan {
			t.Fatalf("%q: the canonical URI %q does not read back", uri, want)
		}
	})
}

// Page cursors come from the client: none panics, and one that decodes
// names a kind that exists.
func FuzzResourceCursor(f *testing.F) {
	for _, s := range []string{"", resourceCursor{Kind: 1, Token: "x"}.encode(), "e30", "eyJrIjotMX0", "!!"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := decodeResourceCursor(s)
		if err != nil {
			return
		}
		if c.Kind < 0 || c.Kind >= len(blue.Kinds) {
			t.Fatalf("%q decoded to kind %d", s, c.Kind)
		}
	})
}
