package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/superviber/blue-operator/test/world"
)

// An engineer's whole week, through the tenant's MCP endpoint, once with
// the go-sdk client and once with the official TypeScript SDK: a spike that
// recommends an RFC; the RFC written section by section (one stale write
// refused), accepted, planned, worked and completed, closing the spike; an
// old revision read back; an ADR superseded by another; a PRD blocked until
// its criteria are ticked; a post-mortem closed with an action turned into
// an RFC; a runbook published and archived; an alignment dialogue with two
// rounds and a final verdict; search finding what was written. The steps
// and what each answer must hold are data (testdata/week.json), so both
// clients run the same week and are checked the same way.

// weekStep is one step of testdata/week.json.
type weekStep struct {
	Name   string            `json:"name"`
	Tool   string            `json:"tool"`
	Args   map[string]any    `json:"args"`
	Save   map[string]string `json:"save"`
	Expect struct {
		Error    bool           `json:"error"`
		Contains []string       `json:"contains"`
		Absent   []string       `json:"absent"`
		Fields   map[string]any `json:"fields"`
		Empty    []string       `json:"empty"`
	} `json:"expect"`
}

// weekAnswer is what a client got for a step.
type weekAnswer struct {
	Name  string `json:"name"`
	Error bool   `json:"error"`
	Text  string `json:"text"`
}

func readWeek(t *testing.T) (path string, steps []weekStep) {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("testdata", "week.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var w struct {
		Steps []weekStep `json:"steps"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		t.Fatalf("week.json: %v", err)
	}
	return path, w.Steps
}

func TestEngineersWeekGoSDK(t *testing.T) {
	t.Parallel()
	_, steps := readWeek(t)
	w := world.Start(t)
	tn := newTenant(t, w, "week-go", 161616161616)
	srv := w.Serve(t, tn, world.ServerOptions{})
	s := connect(t, srv.URL, tn.Token)

	saved := map[string]any{}
	var answers []weekAnswer
	for _, st := range steps {
		text, isErr, err := world.CallTool(context.Background(), s, st.Tool, substitute(st.Args, saved).(map[string]any))
		if err != nil {
			t.Fatalf("%s: %v", st.Name, err)
		}
		answers = append(answers, weekAnswer{Name: st.Name, Error: isErr, Text: text})
		if isErr != st.Expect.Error {
			break
		}
		if !isErr {
			var body any
			if err := json.Unmarshal([]byte(text), &body); err != nil {
				t.Fatalf("%s: %v: %s", st.Name, err, text)
			}
			for name, path := range st.Save {
				saved[name] = jsonAt(body, path)
			}
		}
	}
	checkWeek(t, steps, answers)
}

func TestEngineersWeekTypeScriptSDK(t *testing.T) {
	t.Parallel()
	node, script := tsClient(t, "ts-week.mjs")
	path, steps := readWeek(t)
	w := world.Start(t)
	tn := newTenant(t, w, "week-ts", 171717171717)
	srv := w.Serve(t, tn, world.ServerOptions{})

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Env = append(os.Environ(), "BLUE_URL="+srv.URL, "BLUE_TOKEN="+tn.Token, "BLUE_WEEK="+path)
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var res struct {
		Error string       `json:"error"`
		Steps []weekAnswer `json:"steps"`
	}
	if err := json.Unmarshal(lastLine(stdout.Bytes()), &res); err != nil || res.Error != "" || runErr != nil {
		t.Fatalf("node client (exit %v): %v %s\nstdout: %s\nstderr: %s", runErr, err, res.Error, stdout.String(), stderr.String())
	}
	checkWeek(t, steps, res.Steps)
}

// checkWeek checks every step's answer against what week.json expects.
func checkWeek(t *testing.T, steps []weekStep, answers []weekAnswer) {
	t.Helper()
	for i, st := range steps {
		if i >= len(answers) {
			t.Fatalf("the week stopped before step %q", st.Name)
		}
		a := answers[i]
		if a.Name != st.Name {
			t.Fatalf("answer %d is for %q, want %q", i, a.Name, st.Name)
		}
		if a.Error != st.Expect.Error {
			t.Fatalf("%s (%s): tool error %v, want %v: %s", st.Name, st.Tool, a.Error, st.Expect.Error, a.Text)
		}
		for _, s := range st.Expect.Contains {
			if !strings.Contains(a.Text, s) {
				t.Errorf("%s: answer lacks %q: %s", st.Name, s, a.Text)
			}
		}
		for _, s := range st.Expect.Absent {
			if strings.Contains(a.Text, s) {
				t.Errorf("%s: answer has %q: %s", st.Name, s, a.Text)
			}
		}
		if a.Error {
			continue
		}
		var body any
		if err := json.Unmarshal([]byte(a.Text), &body); err != nil {
			t.Fatalf("%s: %v", st.Name, err)
		}
		if status := jsonAt(body, "status"); st.Expect.Fields["status"] == nil && status != "success" {
			t.Errorf("%s: status %v: %s", st.Name, status, a.Text)
		}
		for path, want := range st.Expect.Fields {
			if got := jsonAt(body, path); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: %s = %#v, want %#v", st.Name, path, got, want)
			}
		}
		for _, path := range st.Expect.Empty {
			switch v := jsonAt(body, path).(type) {
			case nil:
			case []any:
				if len(v) != 0 {
					t.Errorf("%s: %s = %v, want it empty", st.Name, path, v)
				}
			default:
				t.Errorf("%s: %s = %v, want it empty", st.Name, path, v)
			}
		}
	}
}

// jsonAt reads a dotted path ("document.version", "agents.0.name").
func jsonAt(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// substitute puts saved values in place of "$name" strings.
func substitute(v any, saved map[string]any) any {
	switch x := v.(type) {
	case string:
		if val, ok := saved[strings.TrimPrefix(x, "$")]; ok && strings.HasPrefix(x, "$") {
			return val
		}
		return x
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = substitute(e, saved)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = substitute(e, saved)
		}
		return out
	case nil:
		return map[string]any{}
	}
	return v // numbers and booleans
}
