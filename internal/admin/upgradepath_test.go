package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestProductUpgradePath: the HA-cluster guide's rule set with
// --previous-minors, listed, replaced, refused when malformed, removed.
func TestProductUpgradePath(t *testing.T) {
	data := t.TempDir()
	run := func(args ...string) (int, string, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := Main(context.Background(), append([]string{"--data", data}, args...), func(string) string { return "" }, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	mustRun := func(args ...string) string {
		t.Helper()
		code, out, errOut := run(args...)
		if code != 0 {
			t.Fatalf("enmeid %v: exit %d\n%s", args, code, errOut)
		}
		return out
	}
	mustRun("product", "add", "ha", "--name", "HA cluster", "--format", "rpm")
	mustRun("product", "add", "spring", "--name", "Spring", "--format", "maven")

	_, _, errOut := run("product", "upgrade-path", "ha", "--package", "lifekeeper", "--to", "9.6", "--previous-minors", "2", "--via", "9.4",
		"--note", "a new licence is needed from 8.1")
	if want := "upgrade path set: lifekeeper of ha reaches 9.6 directly from 9.4, 9.5; older versions update to 9.4 first (a new licence is needed from 8.1)\n"; errOut != want {
		t.Errorf("set: %q, want %q", errOut, want)
	}
	mustRun("product", "upgrade-path", "ha", "--package", "lifekeeper", "--to", "9.10", "--from", "9.9,9.8")
	mustRun("product", "upgrade-path", "ha", "--package", "agent-kit", "--to", "2.0", "--from", "1.9")

	type rule struct {
		Product, Package, To, Via, Note string
		From                            []string
	}
	list := func() []rule {
		t.Helper()
		var rs []rule
		if err := json.Unmarshal([]byte(mustRun("--json", "product", "upgrade-path", "ha", "--list")), &rs); err != nil {
			t.Fatal(err)
		}
		return rs
	}
	want := []rule{
		{Product: "ha", Package: "agent-kit", To: "2.0", From: []string{"1.9"}},
		{Product: "ha", Package: "lifekeeper", To: "9.6", From: []string{"9.4", "9.5"}, Via: "9.4", Note: "a new licence is needed from 8.1"},
		{Product: "ha", Package: "lifekeeper", To: "9.10", From: []string{"9.8", "9.9"}},
	}
	if got := list(); !reflect.DeepEqual(got, want) {
		t.Errorf("--list --json =\n %+v\nwant\n %+v", got, want)
	}
	out := mustRun("product", "upgrade-path", "ha", "--list")
	if !strings.Contains(out, "lifekeeper  9.6   9.4,9.5  9.4          a new licence is needed from 8.1\n") ||
		!strings.Contains(out, "agent-kit   2.0   1.9      (reinstall)  -\n") {
		t.Errorf("--list:\n%s", out)
	}

	// The same package and line again replaces the rule.
	mustRun("product", "upgrade-path", "ha", "--package", "lifekeeper", "--to", "9.6", "--from", "9.5")
	want[1] = rule{Product: "ha", Package: "lifekeeper", To: "9.6", From: []string{"9.5"}}
	if got := list(); !reflect.DeepEqual(got, want) {
		t.Errorf("after replacing:\n %+v\nwant\n %+v", got, want)
	}

	for _, args := range [][]string{
		{"--package", "lifekeeper", "--to", "9.6", "--from", "9.7"},                           // from newer than to
		{"--package", "lifekeeper", "--to", "9.6", "--from", "9.4,9.5", "--via", "9.3"},       // via not a from line
		{"--package", "lifekeeper", "--to", "9.6", "--from", "9.4", "--previous-minors", "2"}, // both
		{"--package", "lifekeeper", "--to", "9.1", "--previous-minors", "2"},                  // too few minors
		{"--package", "lifekeeper", "--to", "v9", "--from", "8"},                              // not a line
		{"--package", "life keeper", "--to", "9.6", "--from", "9.5"},                          // not a name
		{"--package", "lifekeeper", "--to", "9.6"},                                            // no from
		{"--package", "lifekeeper", "--to", "9.6", "--from", "9.5", "--note", "two\nlines"},   // note
		{"--list", "--package", "lifekeeper"},                                                 // list with a rule flag
		{"--remove", "--package", "lifekeeper", "--to", "9.6", "--from", "9.5"},               // remove with a rule flag
		{"--from", "9.5"}, // no package or line
	} {
		if code, _, errOut := run(append([]string{"product", "upgrade-path", "ha"}, args...)...); code != 2 {
			t.Errorf("upgrade-path %v: exit %d, want 2\n%s", args, code, errOut)
		}
	}
	if code, _, errOut := run("product", "upgrade-path", "spring", "--package", "spring-core", "--to", "5.3", "--from", "5.2"); code != 1 ||
		!strings.Contains(errOut, "product spring delivers maven, not rpm or deb packages") {
		t.Errorf("a maven product: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := run("product", "upgrade-path", "nope", "--list"); code != 1 || !strings.Contains(errOut, `no product "nope"`) {
		t.Errorf("unknown product: exit %d\n%s", code, errOut)
	}

	mustRun("product", "upgrade-path", "ha", "--remove", "--package", "lifekeeper", "--to", "9.10")
	if got := list(); !reflect.DeepEqual(got, want[:2]) {
		t.Errorf("after removing:\n %+v\nwant\n %+v", got, want[:2])
	}
	if code, _, errOut := run("product", "upgrade-path", "ha", "--remove", "--package", "lifekeeper", "--to", "9.10"); code != 1 ||
		!strings.Contains(errOut, "product ha has no upgrade path of lifekeeper to 9.10") {
		t.Errorf("removing again: exit %d\n%s", code, errOut)
	}
}
