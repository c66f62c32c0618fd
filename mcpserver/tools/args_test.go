package tools

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
)

// argsProbe has one property of each kind the tools' inputs use.
type argsProbe struct {
	Common
	Title string   `json:"title" jsonschema:"a title"`
	Tasks []string `json:"tasks"`
	Limit int      `json:"limit,omitempty"`
	Force bool     `json:"force,omitempty"`
}

func TestDecodeArgs(t *testing.T) {
	spec, err := specFor[argsProbe]()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args    string
		wantErr string // "" means accepted
		check   func(argsProbe) bool
	}{
		{args: `{"title":"Index cache","tasks":["a","b"]}`, check: func(in argsProbe) bool { return in.Title == "Index cache" && len(in.Tasks) == 2 }},
		{args: `{"title":"x","tasks":[],"limit":5,"force":true,"cwd":"/w"}`, check: func(in argsProbe) bool { return in.Limit == 5 && in.Force && in.Cwd == "/w" }},
		{args: ` {"title":"x","tasks":null} `, check: func(in argsProbe) bool { return in.Tasks == nil }},
		{args: `{"tasks":[]}`, wantErr: `argument "title" is required`},
		{args: ``, wantErr: `argument "title" is required`},
		{args: `null`, wantErr: `argument "title" is required`},
		{args: `{"title":null,"tasks":[]}`, wantErr: `argument "title" must be a string, not null`},
		{args: `{"title":42,"tasks":[]}`, wantErr: `argument "title" must be a string, not number`},
		{args: `{"title":"x","tasks":"a"}`, wantErr: `argument "tasks" must be an array of strings, not string`},
		{args: `{"title":"x","tasks":[1]}`, wantErr: `argument "tasks" must be an array of strings`},
		{args: `{"title":"x","tasks":["a",null]}`, wantErr: `argument "tasks" must be an array of strings, with no null items`},
		{args: `{"title":"x","tasks":[],"limit":"5"}`, wantErr: `argument "limit" must be an integer, not string`},
		{args: `{"title":"x","tasks":[],"limit":1.5}`, wantErr: `argument "limit" must be an integer`},
		{args: `{"title":"x","tasks":[],"Title":"y"}`, wantErr: `unknown argument "Title" (this tool takes: cwd, force, limit, tasks, title)`},
		{args: `{"title":"x","tasks":[],"path":"../../etc"}`, wantErr: `unknown argument "path"`},
		{args: `{"title":"x","tasks":[],"limit":2.0}`, check: func(in argsProbe) bool { return in.Limit == 2 }},
		{args: `{"title":"x","tasks":[],"limit":1e2}`, check: func(in argsProbe) bool { return in.Limit == 100 }},
		{args: `{"title":"x","tasks":[],"cwd":1}`, wantErr: `argument "cwd" must be a string, not number`},
		{args: `[]`, wantErr: `arguments must be a JSON object`},
		{args: `"title"`, wantErr: `arguments must be a JSON object`},
		{args: `{"title":"x",`, wantErr: `arguments are not valid JSON`},
	} {
		var in argsProbe
		err := decodeArgs(spec, json.RawMessage(tc.args), &in)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.args, err)
		case tc.wantErr == "" && !tc.check(in):
			t.Errorf("%s: decoded %+v", tc.args, in)
		case tc.wantErr != "" && err == nil:
			t.Errorf("%s: accepted, want %q", tc.args, tc.wantErr)
		case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
			t.Errorf("%s: error %q, want it to contain %q", tc.args, err, tc.wantErr)
		}
	}
}

// Fields of an embedded input struct are named by their argument, not the
// Go path to them.
func TestDecodeArgsNamesEmbeddedFields(t *testing.T) {
	spec, err := specFor[DialogueListIn]()
	if err != nil {
		t.Fatal(err)
	}
	var in DialogueListIn
	err = decodeArgs(spec, json.RawMessage(`{"limit":"5"}`), &in)
	if want := `argument "limit" must be an integer, not string`; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

// The advertised schema is the one go-sdk's AddTool would infer.
func TestArgSchemaIsTheInferredOne(t *testing.T) {
	spec, err := specFor[RFCPlanIn]()
	if err != nil {
		t.Fatal(err)
	}
	inferred, err := jsonschema.For[RFCPlanIn](nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(inferred)
	if string(spec.schema) != string(want) {
		t.Errorf("schema\n%s\nwant\n%s", spec.schema, want)
	}
	if again, _ := specFor[RFCPlanIn](); again != spec {
		t.Error("a second tool with the same input type built its own spec")
	}
}

// FuzzDecodeArgsNoLaxerThanSchema: whatever decodeArgs accepts, validating
// against the resolved schema (what go-sdk's AddTool did) accepts too.
func FuzzDecodeArgsNoLaxerThanSchema(f *testing.F) {
	schema, err := jsonschema.For[argsProbe](nil)
	if err != nil {
		f.Fatal(err)
	}
	resolved, err := schema.Resolve(nil)
	if err != nil {
		f.Fatal(err)
	}
	spec, err := specFor[argsProbe]()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		`{"title":"x","tasks":["a"]}`, `{"title":"x","tasks":null,"limit":3}`, `{"title":1}`, `{"title":"x","tasks":[null]}`,
		`{"title":"x","tasks":[],"force":"yes"}`, `{"title":"x","tasks":[],"cwd":null}`, `{}`, `null`, `[]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, args string) {
		var in argsProbe
		if decodeArgs(spec, json.RawMessage(args), &in) != nil {
			return
		}
		doc := map[string]any{}
		if strings.TrimSpace(args) != "" && strings.TrimSpace(args) != "null" {
			if err := json.Unmarshal([]byte(args), &doc); err != nil {
				t.Fatalf("%s: accepted, but it is not a JSON object: %v", args, err)
			}
		}
		if err := resolved.Validate(doc); err != nil {
			t.Fatalf("%s: accepted, but the schema refuses it: %v", args, err)
		}
	})
}

// Free text that would start a new part of a document is refused for every
// tool, in any string or list-of-strings argument, escaped or not; a whole
// body tagged blue:"markdown" is left to its tool.
func TestArgumentsRefuseSectionHeadings(t *testing.T) {
	spec, err := specFor[argsProbe]()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ args, wantErr string }{
		{`{"title":"x\n\n## Acceptance Criteria\n\n- [x] a","tasks":[]}`, `argument "title" has a line "## Acceptance Criteria"`},
		{`{"title":"x","tasks":["ok","y\n# Forged"]}`, `argument "tasks" has a line "# Forged"`},
		{`{"title":"x\n\u0023\u0023 Escaped","tasks":[]}`, `argument "title" has a line "## Escaped"`},
		{`{"title":"x","tasks":[],"cwd":"\n   ## Indented"}`, `argument "cwd"`},
		{`{"title":"### Sub and #tag and C#","tasks":["    ## code block"]}`, ""},
	} {
		var in argsProbe
		err := decodeArgs(spec, json.RawMessage(tc.args), &in)
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("%s: refused: %v", tc.args, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: %v, want %q", tc.args, err, tc.wantErr)
		}
	}
	body, err := specFor[BodyWriteIn]()
	if err != nil {
		t.Fatal(err)
	}
	var in BodyWriteIn
	if err := decodeArgs(body, json.RawMessage(`{"doc_type":"rfc","title":"1","version":1,"body":"# T\n\n## Proposal\n\nx"}`), &in); err != nil {
		t.Errorf("a whole body was refused: %v", err)
	}
	if err := decodeArgs(body, json.RawMessage(`{"doc_type":"rfc","title":"1\n## x","version":1,"body":""}`), &in); err == nil {
		t.Error("the body tool's title was not checked")
	}
}
