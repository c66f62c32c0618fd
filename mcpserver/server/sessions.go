package server

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// The MCP transport runs stateless (go-sdk's StreamableHTTPOptions.Stateless):
// any replica can answer any request and a restart loses nothing, which is
// what makes a session survive both of the faults ToolHive users reported.
// The tier's concurrent-session limit still needs sessions, so this layer
// issues an Mcp-Session-Id on initialize and counts the ids it sees. An id
// this process did not issue (another replica's, or one from before a
// restart) is adopted, not refused. See docs/sessions.md.

const sessionHeader = "Mcp-Session-Id"

type sessions struct {
	mu         sync.Mutex
	limit      int // 0: unlimited
	idle       time.Duration
	now        func() time.Time
	last       map[string]time.Time
	lastExpire time.Time
	onCount    func(int)
}

// maxTracked bounds the ids a process remembers, so a client sending
// made-up ids cannot grow the map without limit.
const maxTracked = 10000

func newSessions(limit int, idle time.Duration, onCount func(int)) *sessions {
	return &sessions{limit: limit, idle: idle, now: time.Now, last: map[string]time.Time{}, onCount: onCount}
}

// expire drops sessions idle longer than the timeout. Callers hold mu.
func (s *sessions) expire() {
	now := s.now()
	if now.Sub(s.lastExpire) < time.Second {
		return // a scan per request would cost O(sessions) each time
	}
	s.lastExpire = now
	cutoff := now.Add(-s.idle)
	for id, t := range s.last {
		if t.Before(cutoff) {
			delete(s.last, id)
		}
	}
}

// open admits a new session, or says why not.
func (s *sessions) open() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastExpire = time.Time{} // admission needs an exact count
	s.expire()
	if s.limit > 0 && len(s.last) >= s.limit {
		return "", fmt.Errorf("this tenant's tier allows %d concurrent MCP sessions and %d are open; close one (or wait %s for an idle one to expire) or move to a larger tier", s.limit, len(s.last), s.idle)
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session id: %w", err)
	}
	id := hex.EncodeToString(b)
	s.last[id] = s.now()
	s.count()
	return id, nil
}

// touch marks a session used, adopting one this process has not seen.
func (s *sessions) touch(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire()
	if _, known := s.last[id]; !known && len(s.last) >= maxTracked {
		return
	}
	s.last[id] = s.now()
	s.count()
}

func (s *sessions) close(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.last, id)
	s.count()
}

func (s *sessions) count() {
	if s.onCount != nil {
		s.onCount(len(s.last))
	}
}

// isInitialize peeks at a JSON-RPC body (already size-capped) to see
// whether it opens a session; the body is restored for the SDK.
func isInitialize(r *http.Request) (bool, error) {
	if r.Body == nil {
		return false, nil
	}
	b, err := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return false, err
	}
	var msg struct {
		Method string `json:"method"`
	}
	if json.Unmarshal(b, &msg) != nil {
		return false, nil // the SDK answers malformed JSON-RPC itself
	}
	// server/discover is the sessionless protocol's (2026-07-28) handshake;
	// it takes a slot as initialize does.
	return msg.Method == "initialize" || msg.Method == "server/discover", nil
}

// handler wraps the MCP handler with session accounting.
func (s *sessions) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(sessionHeader)
		if r.Method == http.MethodDelete {
			if id == "" {
				http.Error(w, "DELETE needs an Mcp-Session-Id header", http.StatusBadRequest)
				return
			}
			s.close(id)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if r.Method == http.MethodPost && id != "" {
			// Handshakes carry no session id: no need to read the body.
			s.touch(id)
		} else if r.Method == http.MethodPost {
			init, err := isInitialize(r)
			if err != nil {
				http.Error(w, "request body too large or unreadable", http.StatusRequestEntityTooLarge)
				return
			}
			if init {
				newID, err := s.open()
				if err != nil {
					writeRPCError(w, r, err.Error())
					return
				}
				w.Header().Set(sessionHeader, newID)
				// A handshake the SDK refuses must not keep the slot.
				rec := &statusRecorder{ResponseWriter: w}
				next.ServeHTTP(rec, r)
				if rec.code >= http.StatusBadRequest {
					s.close(newID)
				}
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// writeRPCError answers a JSON-RPC request with an error the client shows
// (HTTP 200 with a JSON-RPC error object, as MCP clients expect), not a hang.
func writeRPCError(w http.ResponseWriter, r *http.Request, msg string) {
	var req struct {
		ID json.RawMessage `json:"id"`
	}
	if b, err := io.ReadAll(r.Body); err == nil {
		_ = json.Unmarshal(b, &req)
	}
	if len(req.ID) == 0 {
		req.ID = json.RawMessage("null")
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"jsonrpc": "2.0",
		"id":      req.ID,
		"error":   map[string]any{"code": -32000, "message": msg},
	})
}
