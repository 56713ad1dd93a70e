package adminapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// metaSchemas are the official OpenAPI 3.1 schemas the document must pass
// (see testdata/README.md), by the $id each must carry.
var metaSchemas = map[string]string{
	"testdata/oas-3.1-schema-2022-10-07.json": "https://spec.openapis.org/oas/3.1/schema/2022-10-07",
	"testdata/oas-3.1-schema-2025-11-23.json": "https://spec.openapis.org/oas/3.1/schema/2025-11-23",
}

// parseJSON decodes JSON the way jsonschema wants it (numbers as json.Number).
func parseJSON(t *testing.T, data []byte) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parsing JSON: %v", err)
	}
	return v
}

// compileMeta compiles one OpenAPI meta-schema from testdata.
func compileMeta(t *testing.T, file, id string) *jsonschema.Schema {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("reading the meta-schema: %v", err)
	}
	doc := parseJSON(t, data)
	if got := doc.(map[string]any)["$id"]; got != id {
		t.Fatalf("%s has $id %v, want %s", file, got, id)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(id, doc); err != nil {
		t.Fatalf("adding %s: %v", file, err)
	}
	sch, err := c.Compile(id)
	if err != nil {
		t.Fatalf("compiling %s: %v", file, err)
	}
	return sch
}

func TestOpenAPIMatchesMetaSchema(t *testing.T) {
	files, _ := filepath.Glob("testdata/oas-3.1-schema-*.json")
	if len(files) != len(metaSchemas) {
		t.Fatalf("testdata holds meta-schemas %v, want the %d this test names", files, len(metaSchemas))
	}
	// Each mutation breaks the document in a way the meta-schema must see.
	broken := map[string]func(doc map[string]any){
		"openapi is a number": func(doc map[string]any) { doc["openapi"] = json.Number("3.1") },
		"openapi is 3.0":      func(doc map[string]any) { doc["openapi"] = "3.0.3" },
		"no info":             func(doc map[string]any) { delete(doc, "info") },
		"unknown top field":   func(doc map[string]any) { doc["endpoints"] = []any{} },
		"parameter in body": func(doc map[string]any) {
			p := dig(doc, "components", "parameters", "repo").(map[string]any)
			p["in"] = "body"
		},
		"operation without responses": func(doc map[string]any) {
			op := dig(doc, "paths", "/api/v1/admin/products", "get").(map[string]any)
			op["responses"] = "200"
		},
		"path without a slash": func(doc map[string]any) {
			paths := doc["paths"].(map[string]any)
			paths["api/v1/admin/nothing"] = map[string]any{}
		},
	}
	for file, id := range metaSchemas {
		t.Run(filepath.Base(file), func(t *testing.T) {
			meta := compileMeta(t, file, id)
			if err := meta.Validate(parseJSON(t, openapiJSON)); err != nil {
				t.Fatalf("openapi.json does not match the OpenAPI 3.1 schema:\n%v", err)
			}
			for name, mutate := range broken {
				doc := parseJSON(t, openapiJSON).(map[string]any)
				mutate(doc)
				if err := meta.Validate(doc); err == nil {
					t.Errorf("a document with %s passed the meta-schema", name)
				}
			}
		})
	}
}

// dig returns the value at a path of object keys.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// resolvePointer returns the value a local reference ("#/a/b") names.
func resolvePointer(doc any, ref string) (any, bool) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, false
	}
	v := doc
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return v, true
}

// TestOpenAPIRefsResolve: the meta-schema does not follow references, so a
// typo in one would go unseen.
func TestOpenAPIRefsResolve(t *testing.T) {
	doc := parseJSON(t, openapiJSON)
	n := 0
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				n++
				if _, ok := resolvePointer(doc, ref); !ok {
					t.Errorf("%s: $ref %q resolves to nothing", at, ref)
				}
			}
			for k, e := range v {
				walk(at+"/"+k, e)
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s/%d", at, i), e)
			}
		}
	}
	walk("#", doc)
	if n < 10 {
		t.Errorf("found only %d references; the walk is broken", n)
	}
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// docPath turns a net/http pattern path into an OpenAPI path template.
func docPath(pattern string) string {
	return regexp.MustCompile(`\{([a-z_]+)(\.\.\.)?\}`).ReplaceAllString(pattern, "{$1}")
}

// docOperations returns "METHOD path" → operation object of the document.
func docOperations(t *testing.T) map[string]map[string]any {
	t.Helper()
	doc := parseJSON(t, openapiJSON)
	out := map[string]map[string]any{}
	for path, item := range doc.(map[string]any)["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			if slices.Contains(httpMethods, method) {
				out[strings.ToUpper(method)+" "+path] = op.(map[string]any)
			}
		}
	}
	return out
}

func TestRoutesMatchDocument(t *testing.T) {
	doc := parseJSON(t, openapiJSON)
	ops := docOperations(t)
	routes := map[string]Route{}
	for _, r := range Routes() {
		key := r.Method + " " + docPath(r.Path)
		if _, dup := routes[key]; dup {
			t.Errorf("Routes lists %s twice", key)
		}
		routes[key] = r
	}
	for key, r := range routes {
		op, ok := ops[key]
		if !ok {
			t.Errorf("route %s is not in openapi.json", key)
			continue
		}
		if got := op["x-enmei-role"]; got != r.Role {
			t.Errorf("%s: openapi.json says role %v, Routes says %s", key, got, r.Role)
		}
		// Every {name} of the path is a documented path parameter, and no more.
		var want, got []string
		for _, m := range regexp.MustCompile(`\{([a-z_]+)\}`).FindAllStringSubmatch(docPath(r.Path), -1) {
			want = append(want, m[1])
		}
		params, _ := op["parameters"].([]any)
		for _, p := range params {
			pm := p.(map[string]any)
			if ref, ok := pm["$ref"].(string); ok {
				v, _ := resolvePointer(doc, ref)
				pm, _ = v.(map[string]any)
			}
			if pm["in"] == "path" {
				got = append(got, pm["name"].(string))
			}
		}
		if !slices.Equal(want, got) {
			t.Errorf("%s: path parameters %v, openapi.json declares %v", key, want, got)
		}
	}
	for key := range ops {
		if _, ok := routes[key]; !ok {
			t.Errorf("openapi.json has %s, which Routes does not list", key)
		}
	}
	if len(routes) != 10 {
		t.Errorf("Routes lists %d operations, want the 10 of the admin API", len(routes))
	}
}
