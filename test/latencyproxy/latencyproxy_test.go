package latencyproxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func TestDepth(t *testing.T) {
	at := func(a, b int) Span {
		base := time.Unix(0, 0)
		return Span{Start: base.Add(time.Duration(a) * time.Millisecond), End: base.Add(time.Duration(b) * time.Millisecond)}
	}
	for _, tc := range []struct {
		name  string
		spans []Span
		want  int
	}{
		{"none", nil, 0},
		{"one", []Span{at(0, 50)}, 1},
		{"three in a row", []Span{at(0, 50), at(50, 100), at(101, 150)}, 3},
		{"three at once", []Span{at(0, 50), at(1, 51), at(2, 52)}, 1},
		{"a list, then 16 reads at once, then one more", append(append([]Span{at(0, 50)}, func() (s []Span) {
			for i := range 16 {
				s = append(s, at(51+i, 101+i))
			}
			return s
		}()...), at(120, 170)), 3},
	} {
		if got := Depth(tc.spans); got != tc.want {
			t.Errorf("%s: depth %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestProxyDelaysAndRecords(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok "+r.URL.Path) }))
	defer target.Close()
	p, err := Start(target.URL, 40*time.Millisecond, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	get := func() {
		resp, err := http.Get(p.URL() + "/x")
		if err != nil {
			t.Error(err)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "ok /x" {
			t.Errorf("answer %q", b)
		}
	}
	start := time.Now()
	get()
	get()
	if took := time.Since(start); took < 80*time.Millisecond {
		t.Errorf("two sequential calls took %v, want at least 2×40ms", took)
	}
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(get)
	}
	wg.Wait()
	if n := len(p.Spans()); n != 7 {
		t.Fatalf("%d spans", n)
	}
	if d := Depth(p.Spans()); d < 3 || d > 4 {
		t.Errorf("depth %d, want 3 (two in a row, then five at once)", d)
	}
}
