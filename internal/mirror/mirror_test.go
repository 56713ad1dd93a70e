package mirror

import (
	"context"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/pkgfmt/rpm"
	"github.com/enmei-project/enmei/internal/publish"
	"github.com/enmei-project/enmei/internal/store"
)

// fakes hold one repository; the refusals below happen before any network.
type fakeStore struct{ repo store.Repo }

func (f *fakeStore) Repo(ctx context.Context, id string) (store.Repo, error) {
	if id != f.repo.ID {
		return store.Repo{}, errs.E(errs.NotFound, "no repository %q", id)
	}
	return f.repo, nil
}

func (f *fakeStore) SetMirror(ctx context.Context, id string, m *store.Mirror) error {
	f.repo.Mirror = m
	return nil
}

type fakePublisher struct{ current []store.Package }

func (f *fakePublisher) Current(ctx context.Context, repoID string) ([]store.Package, error) {
	return f.current, nil
}

func (f *fakePublisher) Publish(ctx context.Context, repoID string, paths []string, opts publish.Options) (publish.Result, error) {
	panic("a refused sync published")
}

func (f *fakePublisher) CurrentUpstream(ctx context.Context, repoID string) (map[string]string, error) {
	return nil, nil
}

func (f *fakePublisher) SetUpstream(ctx context.Context, repoID string, docs []rpm.Extra) (store.Publication, error) {
	panic("a refused sync published")
}

func TestChangedDocs(t *testing.T) {
	had := map[string]string{
		"group":      "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", // sha256("test")
		"updateinfo": "0000",
	}
	got := changedDocs(had, []rpm.Extra{{Type: "group", XML: []byte("test")}, {Type: "modules", XML: []byte("x")}})
	if strings.Join(got, ",") != "modules,updateinfo" {
		t.Errorf("changedDocs = %v, want modules (new) and updateinfo (gone)", got)
	}
}

func TestRefusalsBeforeAnyDownload(t *testing.T) {
	for _, c := range []struct {
		name string
		repo store.Repo
		cur  []store.Package
		o    Options
		want string
	}{
		{"never synced", store.Repo{ID: "r", Format: "rpm"}, nil, Options{}, "give the upstream with --from URL"},
		{"frozen", store.Repo{ID: "r", Format: "rpm", Mirror: &store.Mirror{URL: "http://up/", Frozen: "alma-9-final"}}, nil, Options{}, "frozen at alma-9-final"},
		{"the vendor's own", store.Repo{ID: "r", Format: "rpm"}, []store.Package{{ID: "p"}}, Options{From: "http://up/"}, "holds the vendor's own packages"},
		{"not a key", store.Repo{ID: "r", Format: "rpm"}, nil, Options{From: "http://up/", Key: []byte("not a key")}, "not an armored OpenPGP public key"},
		{"maven", store.Repo{ID: "r", Format: "maven"}, nil, Options{From: "http://up/"}, "only rpm and deb repositories"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := &fakeStore{repo: c.repo}
			_, err := Sync(t.Context(), st, &fakePublisher{current: c.cur}, "r", c.o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Sync = %v, want an error containing %q", err, c.want)
			}
			if c.repo.Mirror == nil && st.repo.Mirror != nil {
				t.Errorf("a refused sync recorded a mirror: %+v", st.repo.Mirror)
			}
		})
	}
}
