// Package latencyproxy is a reverse proxy that stands for the network
// between Superviber's cluster and a client's AWS account: every request
// waits a latency (with jitter) before it is forwarded, as a cross-account
// round trip of 50–100 ms does. It records when each request started and
// ended, so a benchmark can tell how many round trips a tool call made one
// after another (Depth), which is what a user waits for, as opposed to how
// many it made in all.
package latencyproxy

import (
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"sync"
	"time"
)

// Span is one proxied request: when it reached the proxy and when its
// answer left.
type Span struct {
	Start, End time.Time
}

// Proxy delays and forwards requests to one target. Safe for concurrent use.
type Proxy struct {
	url     string
	srv     *http.Server
	ln      net.Listener
	latency time.Duration
	jitter  time.Duration

	mu    sync.Mutex
	spans []Span
}

// Start serves a proxy to target on a loopback port. Each request waits
// latency plus a uniform random part of jitter (half before it is
// forwarded, half before the answer, as the two legs of a round trip).
func Start(target string, latency, jitter time.Duration) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{url: "http://" + ln.Addr().String(), ln: ln, latency: latency, jitter: jitter}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		d := p.latency
		if p.jitter > 0 {
			d += time.Duration(rand.Int64N(int64(p.jitter)))
		}
		time.Sleep(d / 2)
		rp.ServeHTTP(&delayed{ResponseWriter: w, wait: d - d/2}, r)
		p.mu.Lock()
		p.spans = append(p.spans, Span{Start: start, End: time.Now()})
		p.mu.Unlock()
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// delayed holds the answer's header for the return leg of the round trip.
type delayed struct {
	http.ResponseWriter
	wait   time.Duration
	waited bool
}

func (d *delayed) WriteHeader(code int) {
	if !d.waited {
		d.waited = true
		time.Sleep(d.wait)
	}
	d.ResponseWriter.WriteHeader(code)
}

func (d *delayed) Write(b []byte) (int, error) {
	if !d.waited {
		d.WriteHeader(http.StatusOK)
	}
	return d.ResponseWriter.Write(b)
}

// URL is the proxy's base URL.
func (p *Proxy) URL() string { return p.url }

// Close stops the proxy.
func (p *Proxy) Close() error { return p.srv.Close() }

// Spans returns the requests recorded since the last Reset.
func (p *Proxy) Spans() []Span {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Span(nil), p.spans...)
}

// Reset forgets the recorded requests.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.spans = nil
}

// Depth is the number of round trips that ran one after another: the
// longest chain of spans each of which started after the previous one
// ended. Spans that overlap (parallel requests) count once.
func Depth(spans []Span) int {
	s := append([]Span(nil), spans...)
	sort.Slice(s, func(i, j int) bool { return s[i].Start.Before(s[j].Start) })
	// best[i]: the longest chain ending with span i.
	best := make([]int, len(s))
	out := 0
	for i := range s {
		best[i] = 1
		for j := 0; j < i; j++ {
			if !s[j].End.After(s[i].Start) && best[j]+1 > best[i] {
				best[i] = best[j] + 1
			}
		}
		out = max(out, best[i])
	}
	return out
}
