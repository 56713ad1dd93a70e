package apt

import (
	"context"
	"strings"
	"testing"
)

// TestOnlySources: a mirror of source packages reads the Sources index
// alone: no Packages index is fetched, and an architecture the suite does
// not have does not matter.
func TestOnlySources(t *testing.T) {
	r := threePackages(t)
	r.addSource("hello", "2.10")
	r.publish()
	srv := serve(t, r.root)
	src := source(srv)
	src.OnlySources, src.Arch = true, []string{"source"}
	md, err := src.Metadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Packages) != 0 || len(md.Sources) != 1 || md.Sources[0].Name != "hello" {
		t.Fatalf("only sources: %d packages, sources %+v", len(md.Packages), md.Sources)
	}
	sawSources := false
	for _, req := range srv.requests() {
		if strings.Contains(req, "/binary-") {
			t.Errorf("a Packages index was fetched: %s", req)
		}
		sawSources = sawSources || strings.Contains(req, "/source/")
	}
	if !sawSources {
		t.Error("no Sources index was fetched")
	}
}
