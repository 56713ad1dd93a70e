package mirror

import (
	"slices"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/store"
)

// TestSourceRepos: a source repository mirrors sources only: --arch is
// refused for it, an rpm one reads the upstream's src packages, a deb one
// the Sources indexes alone.
func TestSourceRepos(t *testing.T) {
	for _, arch := range []string{"src", "source"} {
		st := &fakeStore{repo: store.Repo{ID: "r", Format: "rpm", Arch: arch}}
		_, err := Sync(t.Context(), st, &fakePublisher{}, "r", Options{From: "http://up/", Arch: []string{"x86_64"}})
		if err == nil || !strings.Contains(err.Error(), "sync it without --arch") {
			t.Errorf("--arch x86_64 for a source repository (%s): %v", arch, err)
		}
	}
	src, err := newSource("rpm", &store.Mirror{URL: "http://up/", Arch: []string{"src"}}, nil, 1, true)
	if err != nil || !slices.Equal(src.(*rpmSource).src.Arch, []string{"src"}) {
		t.Errorf("rpm source upstream: %+v, %v", src, err)
	}
	src, err = newSource("deb", &store.Mirror{URL: "http://up/", Arch: []string{"source"}, Suite: "bookworm", Components: []string{"main"}}, nil, 1, true)
	if d := src.(*debSource).src; err != nil || !d.OnlySources || d.Arch != nil {
		t.Errorf("deb source upstream: %+v, %v", d, err)
	}
	src, _ = newSource("deb", &store.Mirror{URL: "http://up/", Arch: []string{"amd64"}}, nil, 1, false)
	if d := src.(*debSource).src; d.OnlySources || !slices.Equal(d.Arch, []string{"amd64"}) {
		t.Errorf("deb binary upstream: %+v", d)
	}
}
