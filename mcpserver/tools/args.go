package tools

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/superviber/blue-operator/mcpserver/blue"
)

// Tool arguments are decoded here rather than by go-sdk's typed AddTool.
// The SDK unmarshals the arguments into a map, validates and re-marshals
// that map, then unmarshals it again into the input struct; each of its
// decodes allocates a 32 KiB buffer. For a small tool call that was about a
// tenth of the server's CPU and 75 KiB of garbage per call (make bench-mcp).
// The schema is the one the SDK would infer (jsonschema.For), so clients see
// the same tools/list; what it states is enforced below: the arguments are
// one object, every required property is present and not null, no property
// is unknown (names match exactly), every value has its property's type,
// a property with an enum (Blue's outcomes, statuses, doc types, ...: see
// toolEnums) has one of its values, and an object is valid against its
// schema.

// argSpec is one input type's schema and what decoding checks.
type argSpec struct {
	schema   json.RawMessage // advertised in tools/list
	props    map[string]argProp
	required []string
	names    string // the property names, for error messages
}

// argProp is what decodeArgs checks of one property beyond its Go type.
type argProp struct {
	want         string // its type, for messages: "a string"
	integer      bool   // JSON Schema integers include 1.0 and 1e2; Go's decoder doesn't
	nullable     bool   // the schema allows null (slices and pointers)
	noNullInside bool   // an array whose items may not be null
	// text: a string (or strings) of free text that lands inside a section,
	// so it may not carry a level-1 or level-2 heading (blue.StructuralLine).
	// A whole document body is tagged blue:"markdown" and is checked by its
	// tool instead.
	text bool
	// enum: the values a string property may have, and what they are
	// ("an RFC status"), for the message.
	enum *enumArg
	// object: an object property's schema, which its value must satisfy.
	object *jsonschema.Resolved
}

// enumArg is one argument's enum.
type enumArg struct {
	what   string // "an RFC status", for messages
	values []string
}

var argSpecs sync.Map // reflect.Type → *argSpec; many tools share an input type

// specFor returns In's argument spec, building it once per type.
func specFor[In any]() (*argSpec, error) {
	t := reflect.TypeFor[In]()
	if s, ok := argSpecs.Load(t); ok {
		return s.(*argSpec), nil
	}
	schema, err := jsonschema.For[In](nil)
	if err != nil {
		return nil, fmt.Errorf("input schema for %v: %w", t, err)
	}
	if schema.Type != "object" {
		return nil, fmt.Errorf("input schema for %v: type %q, want object", t, schema.Type)
	}
	raw, err := json.Marshal(schema)
	if err != nil {
		return nil, fmt.Errorf("input schema for %v: %w", t, err)
	}
	s := &argSpec{schema: raw, props: map[string]argProp{}, required: schema.Required}
	names := make([]string, 0, len(schema.Properties))
	markdown := markdownProps(t)
	for name, p := range schema.Properties {
		isString := func(p *jsonschema.Schema) bool { return p.Type == "string" || slices.Contains(p.Types, "string") }
		ap := argProp{
			want:         describeType(p),
			integer:      p.Type == "integer" || slices.Contains(p.Types, "integer"),
			nullable:     slices.Contains(p.Types, "null"),
			noNullInside: p.Items != nil && !slices.Contains(p.Items.Types, "null"),
			text:         !markdown[name] && (isString(p) || p.Items != nil && isString(p.Items)),
		}
		if p.Type == "object" || slices.Contains(p.Types, "object") {
			if ap.object, err = p.Resolve(nil); err != nil {
				return nil, fmt.Errorf("input schema for %v: property %s: %w", t, name, err)
			}
		}
		s.props[name] = ap
		names = append(names, name)
	}
	slices.Sort(names)
	s.names = strings.Join(names, ", ")
	got, _ := argSpecs.LoadOrStore(t, s)
	return got.(*argSpec), nil
}

// withEnums is s with enums on some of its properties: a top-level
// property by its name, a nested one by its path ("expert_pool.experts.tier";
// arrays are stepped through). The schema advertises them; decodeArgs
// checks a top-level one itself and a nested one through its object's
// schema.
func (s *argSpec) withEnums(enums map[string]enumArg) (*argSpec, error) {
	if len(enums) == 0 {
		return s, nil
	}
	var schema jsonschema.Schema
	if err := json.Unmarshal(s.schema, &schema); err != nil {
		return nil, err
	}
	out := &argSpec{props: maps.Clone(s.props), required: s.required, names: s.names}
	for path, e := range enums {
		parts := strings.Split(path, ".")
		top, ok := schema.Properties[parts[0]]
		if !ok {
			return nil, fmt.Errorf("enum for %q: no such argument", path)
		}
		p := top
		for _, part := range parts[1:] {
			for p.Items != nil {
				p = p.Items
			}
			if p = p.Properties[part]; p == nil {
				return nil, fmt.Errorf("enum for %q: no such property", path)
			}
		}
		for p.Items != nil {
			p = p.Items
		}
		if p.Type != "string" && !slices.Contains(p.Types, "string") {
			return nil, fmt.Errorf("enum for %q: not a string", path)
		}
		p.Enum = make([]any, len(e.values))
		for i, v := range e.values {
			p.Enum[i] = v
		}
		ap := out.props[parts[0]]
		if len(parts) == 1 {
			ap.enum = &enumArg{what: e.what, values: e.values}
		} else {
			resolved, err := top.Resolve(nil)
			if err != nil {
				return nil, fmt.Errorf("enum for %q: %w", path, err)
			}
			ap.object = resolved
		}
		out.props[parts[0]] = ap
	}
	raw, err := json.Marshal(&schema)
	if err != nil {
		return nil, err
	}
	out.schema = raw
	return out, nil
}

// markdownProps are the JSON names of t's fields tagged blue:"markdown",
// embedded structs included.
func markdownProps(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for f := range t.Fields() {
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			maps.Copy(out, markdownProps(f.Type))
			continue
		}
		if f.Tag.Get("blue") == "markdown" {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			out[name] = true
		}
	}
	return out
}

// checkText refuses free text that would start a new part of the document.
func checkText(name string, raw json.RawMessage) error {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return nil // the typed decode reports it
	}
	var texts []string
	switch x := v.(type) {
	case string:
		texts = []string{x}
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok {
				texts = append(texts, s)
			}
		}
	}
	for _, t := range texts {
		if line, bad := blue.StructuralLine(t); bad {
			return fmt.Errorf("argument %q has a line %q: a level-1 or level-2 heading (\"# \", \"## \") would start a new part of the document; use \"### \" for a subheading, or write each section on its own", name, abbreviate(line))
		}
	}
	return nil
}

func abbreviate(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

// describeType names a property's JSON type for error messages.
func describeType(p *jsonschema.Schema) string {
	typ := p.Type
	if typ == "" {
		typ = strings.Join(slices.DeleteFunc(slices.Clone(p.Types), func(t string) bool { return t == "null" }), " or ")
	}
	if typ == "array" && p.Items != nil && p.Items.Type != "" {
		return "an array of " + p.Items.Type + "s"
	}
	switch typ {
	case "":
		return "a value"
	case "array", "integer", "object":
		return "an " + typ
	default:
		return "a " + typ
	}
}

// decodeArgs decodes a tools/call's arguments into in. Its errors say which
// argument is wrong and how; they go back to the client as tool errors.
func decodeArgs[In any](spec *argSpec, args json.RawMessage, in *In) error {
	args = bytes.TrimSpace(args)
	if len(args) == 0 || bytes.Equal(args, []byte("null")) {
		args = []byte("{}")
	}
	if args[0] != '{' {
		return errors.New("arguments must be a JSON object")
	}
	var props map[string]json.RawMessage
	if err := json.Unmarshal(args, &props); err != nil {
		return fmt.Errorf("arguments are not valid JSON: %w", err)
	}
	for name, v := range props {
		p, ok := spec.props[name]
		if !ok {
			return fmt.Errorf("unknown argument %q (this tool takes: %s)", name, spec.names)
		}
		// encoding/json leaves a field alone on null, and turns a null
		// array item into a zero value; the schema refuses both.
		if !p.nullable && bytes.Equal(v, []byte("null")) {
			return fmt.Errorf("argument %q must be %s, not null", name, p.want)
		}
		// "#" may also arrive escaped as \u0023.
		if p.text && (bytes.Contains(v, []byte("#")) || bytes.Contains(v, []byte(`\u0023`))) {
			if err := checkText(name, v); err != nil {
				return err
			}
		}
		if p.enum != nil && !bytes.Equal(v, []byte("null")) {
			var str string
			if json.Unmarshal(v, &str) == nil && !slices.Contains(p.enum.values, str) {
				return fmt.Errorf("argument %q: %q is not %s; use one of: %s", name, str, p.enum.what, strings.Join(p.enum.values, ", "))
			}
		}
		if p.object != nil && !bytes.Equal(v, []byte("null")) {
			var inst any
			if json.Unmarshal(v, &inst) == nil {
				if err := p.object.Validate(inst); err != nil {
					return fmt.Errorf("argument %q: %v", name, err)
				}
			}
		}
		if p.noNullInside && len(v) > 0 && v[0] == '[' && bytes.Contains(v, []byte("null")) {
			var items []json.RawMessage
			if json.Unmarshal(v, &items) == nil && slices.ContainsFunc(items, func(i json.RawMessage) bool { return bytes.Equal(i, []byte("null")) }) {
				return fmt.Errorf("argument %q must be %s, with no null items", name, p.want)
			}
		}
	}
	for _, name := range spec.required {
		if _, ok := props[name]; !ok {
			return fmt.Errorf("argument %q is required", name)
		}
	}
	err := json.Unmarshal(args, in)
	if err != nil {
		if whole, ok := wholeIntegers(spec, props); ok {
			err = json.Unmarshal(whole, in)
		}
	}
	if err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			// The path names embedded Go structs too ("ListIn.limit"): the
			// argument is its first part that is a property.
			for part := range strings.SplitSeq(te.Field, ".") {
				if p, ok := spec.props[part]; ok {
					return fmt.Errorf("argument %q must be %s, not %s", part, p.want, te.Value)
				}
			}
		}
		return fmt.Errorf("arguments: %w", err)
	}
	return nil
}

// wholeIntegers rewrites integer arguments written as whole floats (1.0,
// 1e2) as plain integers, which the schema accepts and encoding/json
// refuses. ok is false when there was nothing to rewrite.
func wholeIntegers(spec *argSpec, props map[string]json.RawMessage) (json.RawMessage, bool) {
	changed := false
	for name, v := range props {
		if !spec.props[name].integer || !bytes.ContainsAny(v, ".eE") {
			continue
		}
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			continue
		}
		props[name] = strconv.AppendInt(nil, int64(f), 10)
		changed = true
	}
	if !changed {
		return nil, false
	}
	b, err := json.Marshal(props)
	return b, err == nil
}
