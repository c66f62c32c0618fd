package server

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The MCP transport runs stateless (go-sdk's StreamableHTTPOptions.Stateless):
// any replica can answer any request and a restart loses nothing, which is
// what makes a session survive both of the faults ToolHive users reported.
// The tier's concurrent-session limit still needs sessions, so this layer
// issues an Mcp-Session-Id on initialize and counts the ids it sees. An id
// this process did not issue (another replica's, or one from before a
// restart) is adopted when it carries this tenant's signature, and
// answered 404 when it does not. See docs/sessions.md.

const sessionHeader = "Mcp-Session-Id"

// A session id is 128 random bits and their HMAC under the tenant's session
// key ("<hex>.<hex>"): any replica holding the key can tell an id the
// tenant's server issued, before a restart or on another replica, from one a
// client made up, which is answered 404 and never counts.
const macBytes = 16

// session is one counted session.
type session struct {
	last     time.Time // the end of its last request, or its start while one runs
	inflight int
}

type sessions struct {
	mu    sync.Mutex
	limit int // 0: unlimited
	// idle ends a session nobody used for this long: a client that went away
	// without DELETE holds its slot no longer.
	idle time.Duration
	// evictAfter is how long a session must have been unused before a new
	// one may take its slot when the tier is full.
	evictAfter time.Duration
	key        []byte
	now        func() time.Time
	m          map[string]*session
	lastExpire time.Time
	onCount    func(int)
}

// errUnknownSession is an id no server of this tenant issued.
var errUnknownSession = errors.New("unknown MCP session: send initialize to start a new one")

func newSessions(limit int, idle, evictAfter time.Duration, key []byte, onCount func(int)) *sessions {
	if len(key) == 0 {
		// Without the operator's key, only this process's ids verify: a
		// client of another replica, or from before a restart, starts over.
		key = make([]byte, 32)
		_, _ = rand.Read(key)
	}
	return &sessions{limit: limit, idle: idle, evictAfter: evictAfter, key: key, now: time.Now, m: map[string]*session{}, onCount: onCount}
}

func (s *sessions) mac(random []byte) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte("blue-mcp session id\x00"))
	h.Write(random)
	return h.Sum(nil)[:macBytes]
}

func (s *sessions) newID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session id: %w", err)
	}
	return hex.EncodeToString(b) + "." + hex.EncodeToString(s.mac(b)), nil
}

// valid reports whether an id was issued under this tenant's key.
func (s *sessions) valid(id string) bool {
	r, m, found := strings.Cut(id, ".")
	if !found || len(r) != 32 || len(m) != 2*macBytes {
		return false
	}
	random, err1 := hex.DecodeString(r)
	sum, err2 := hex.DecodeString(m)
	// Only the canonical (lower-case) spelling: another spelling of a valid
	// id would be counted as a session of its own.
	return err1 == nil && err2 == nil && hex.EncodeToString(random) == r && hex.EncodeToString(sum) == m &&
		hmac.Equal(sum, s.mac(random))
}

// expire drops sessions idle longer than the timeout. Callers hold mu.
func (s *sessions) expire(force bool) {
	now := s.now()
	if !force && now.Sub(s.lastExpire) < time.Second {
		return // a scan per request would cost O(sessions) each time
	}
	s.lastExpire = now
	cutoff := now.Add(-s.idle)
	for id, ss := range s.m {
		if ss.inflight == 0 && ss.last.Before(cutoff) {
			delete(s.m, id)
		}
	}
}

// admit makes room for one more session, giving way to the least recently
// used one that has nothing in flight and has been unused for evictAfter.
// Callers hold mu.
func (s *sessions) admit() error {
	s.expire(true)
	if s.limit <= 0 || len(s.m) < s.limit {
		return nil
	}
	var lru string
	for id, ss := range s.m {
		if ss.inflight == 0 && s.now().Sub(ss.last) >= s.evictAfter && (lru == "" || ss.last.Before(s.m[lru].last)) {
			lru = id
		}
	}
	if lru == "" {
		return fmt.Errorf("this tenant's tier allows %d concurrent MCP sessions and %d are in use; close one, wait %s for one to be idle, or move to a larger tier", s.limit, len(s.m), s.evictAfter)
	}
	delete(s.m, lru)
	return nil
}

// open admits a new session, or says why not.
func (s *sessions) open() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.admit(); err != nil {
		return "", err
	}
	id, err := s.newID()
	if err != nil {
		return "", err
	}
	s.m[id] = &session{last: s.now()}
	s.count()
	return id, nil
}

// begin marks a request of a session in flight, adopting a valid id this
// process has not counted (another replica's, or one from before a
// restart, or one given way to) when there is room.
func (s *sessions) begin(id string) error {
	if !s.valid(id) {
		return errUnknownSession
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(false)
	ss, known := s.m[id]
	if !known {
		if err := s.admit(); err != nil {
			return err
		}
		ss = &session{}
		s.m[id] = ss
		s.count()
	}
	ss.inflight++
	ss.last = s.now()
	return nil
}

// end marks a request of a session done.
func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss, known := s.m[id]; known {
		ss.inflight--
		ss.last = s.now()
	}
}

func (s *sessions) close(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
	s.count()
}

func (s *sessions) count() {
	if s.onCount != nil {
		s.onCount(len(s.m))
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
		if id != "" && !s.valid(id) {
			// As the transport spec has it: 404, and the client starts over.
			http.Error(w, errUnknownSession.Error(), http.StatusNotFound)
			return
		}
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
			if err := s.begin(id); err != nil {
				writeRPCError(w, r, err.Error())
				return
			}
			defer s.end(id)
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
