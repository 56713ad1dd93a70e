// Package mirror keeps a repository a verified copy of an upstream one
// (enmeid repo sync): the community's last BaseOS/AppStream or Debian
// suites, served beside the vendor's ELS repositories through the same
// entitlement check. A sync reads the upstream metadata, downloads only
// the packages the mirror does not hold yet (in parallel, resumably, each
// checked against the metadata and, for RPMs, against the distribution's
// key), and publishes them atomically like any publish, keeping the
// distribution's signatures. Anything refused leaves the mirror serving
// what it had.
package mirror

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/pkgfmt/rpm"
	"github.com/enmei-project/enmei/internal/publish"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/upstream"
	"github.com/enmei-project/enmei/internal/upstream/apt"
)

// Store is what a sync reads and records of the repository.
type Store interface {
	Repo(ctx context.Context, id string) (store.Repo, error)
	SetMirror(ctx context.Context, repoID string, m *store.Mirror) error
}

// Publisher publishes what a sync downloaded.
type Publisher interface {
	Current(ctx context.Context, repoID string) ([]store.Package, error)
	Publish(ctx context.Context, repoID string, paths []string, opts publish.Options) (publish.Result, error)
	// CurrentUpstream and SetUpstream read and replace the upstream's
	// own metadata documents (modules, groups, advisories) a mirror carries.
	CurrentUpstream(ctx context.Context, repoID string) (map[string]string, error)
	SetUpstream(ctx context.Context, repoID string, docs []rpm.Extra) (store.Publication, error)
}

// Options are a sync's: where from, with which key, and what to do.
type Options struct {
	From       string   // upstream URL; "" : the one the last sync used
	Key        []byte   // armored upstream keyring; nil : the one the last sync used
	Arch       []string // nil : the repository's architecture (and noarch/all)
	Suite      string   // APT: the suite; "" : the repository's
	Components []string // APT: nil : the repository's component
	DryRun     bool
	Freeze     string // pin the mirror after this sync (a date or snapshot name)
	Force      bool   // sync a frozen mirror anyway
	// AllowExpired: APT, take a Release past its Valid-Until (remembered);
	// nil : as the last sync did.
	AllowExpired *bool
	Parallel     int
	StageDir     string // where downloads wait (and resume) until published
	Progress     io.Writer
	Now          func() time.Time
}

// Report is what a sync did (or, on a dry run, would do).
type Report struct {
	Repo       string   `json:"repo"`
	Upstream   string   `json:"upstream"`
	Revision   string   `json:"revision"`
	Upstreams  int      `json:"upstream_packages"`
	New        []string `json:"new"` // packages not held yet
	Downloaded int      `json:"downloaded"`
	Resumed    int      `json:"resumed"`
	Refused    []string `json:"refused"` // "package: reason"
	// Metadata names the upstream documents beside the packages
	// ("group", "modules", "updateinfo") that changed since the last sync.
	Metadata    []string `json:"metadata,omitempty"`
	Publication int64    `json:"publication,omitempty"`
	DryRun      bool     `json:"dry_run"`
	Frozen      string   `json:"frozen,omitempty"`
}

// item is one upstream package in either format: for a Debian source
// package, checksum is its .dsc's.
type item struct {
	name, checksum string
	rpm            upstream.Package
	deb            apt.Package
	src            apt.SourcePackage
}

// Sync brings repoID up to date with its upstream.
func Sync(ctx context.Context, st Store, pub Publisher, repoID string, o Options) (Report, error) {
	repo, err := st.Repo(ctx, repoID)
	if err != nil {
		return Report{}, err
	}
	prev := repo.Mirror
	if prev != nil && prev.Frozen != "" && !o.Force {
		return Report{}, errs.E(errs.Invalid, "mirror %s is frozen at %s (the community's last state): pass --force to sync it anyway", repoID, prev.Frozen)
	}
	m := &store.Mirror{}
	if prev != nil {
		*m = *prev
	}
	if o.From != "" {
		m.URL = o.From
	}
	if m.URL == "" {
		return Report{}, errs.E(errs.Invalid, "repository %s has never been synced: give the upstream with --from URL", repoID)
	}
	if prev == nil {
		cur, err := pub.Current(ctx, repoID)
		if err != nil {
			return Report{}, err
		}
		if len(cur) > 0 {
			return Report{}, errs.E(errs.Invalid, "repository %s holds the vendor's own packages: add a repository of its own for the mirror (enmeid repo add) and sync that", repoID)
		}
	}
	if o.Key != nil {
		m.Key = string(o.Key)
	}
	var keyring openpgp.EntityList
	if m.Key != "" {
		if keyring, err = openpgp.ReadArmoredKeyRing(strings.NewReader(m.Key)); err != nil || len(keyring) == 0 {
			return Report{}, errs.E(errs.Invalid, "the upstream key is not an armored OpenPGP public key (%v): pass the distribution's key file with --gpgkey", err)
		}
	}
	sources := publish.IsSourceRepo(repo)
	srcArch := []string{"src"} // upstream.Source's name for source RPMs
	if repo.Format == "deb" {
		srcArch = []string{"source"}
	}
	switch {
	case sources && o.Arch != nil && !slices.Equal(o.Arch, srcArch):
		return Report{}, errs.E(errs.Invalid, "repository %s holds source packages, so it mirrors the upstream's source packages only: sync it without --arch", repoID)
	case sources:
		m.Arch = srcArch
	case o.Arch != nil:
		m.Arch = o.Arch
	case m.Arch == nil && repo.Arch != "":
		m.Arch = []string{repo.Arch}
	}
	if repo.Format == "deb" {
		if o.AllowExpired != nil {
			m.AllowExpired = *o.AllowExpired
		}
		if o.Suite != "" {
			m.Suite = o.Suite
		} else if m.Suite == "" {
			m.Suite = repo.Suite
		}
		if o.Components != nil {
			m.Components = o.Components
		} else if m.Components == nil {
			m.Components = []string{repo.Component}
		}
	}
	src, err := newSource(repo.Format, m, keyring, o.Parallel, sources)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Repo: repoID, Upstream: m.URL, DryRun: o.DryRun}
	revision, items, docs, err := src.fetch(ctx)
	if err != nil {
		return rep, fmt.Errorf("reading %s: %w", m.URL, err)
	}
	rep.Revision, rep.Upstreams = revision, len(items)

	cur, err := pub.Current(ctx, repoID)
	if err != nil {
		return rep, err
	}
	have := map[string]bool{}
	for _, p := range cur {
		have[p.Input] = true
	}
	var want []item
	for _, it := range items {
		if !have[it.checksum] {
			want = append(want, it)
			rep.New = append(rep.New, it.name)
		}
	}
	slices.Sort(rep.New)
	if docs != nil {
		had, err := pub.CurrentUpstream(ctx, repoID)
		if err != nil {
			return rep, err
		}
		rep.Metadata = changedDocs(had, docs)
	}
	if o.DryRun {
		return rep, nil
	}
	// Remember the upstream before downloading, so an interrupted sync
	// resumes with just the repository's name; the revision moves only
	// once a publication has the packages.
	if err := st.SetMirror(ctx, repoID, m); err != nil {
		return rep, err
	}
	stage := filepath.Join(o.StageDir, repoID)
	if err := os.MkdirAll(stage, 0o700); err != nil {
		return rep, fmt.Errorf("creating the download directory: %w", err)
	}
	if len(want) > 0 {
		got, staged, err := src.download(ctx, want, stage, o.Progress, &rep)
		if len(rep.Refused) > 0 {
			return rep, errs.E(errs.Invalid, "%d packages of %s were refused (%s), so %s keeps its current publication: check the upstream and its key, then sync again",
				len(rep.Refused), m.URL, rep.Refused[0], repoID)
		}
		if err != nil {
			return rep, fmt.Errorf("downloading from %s: %w (run the sync again to resume)", m.URL, err)
		}
		res, err := pub.Publish(ctx, repoID, got, publish.Options{KeepSignatures: repo.Format == "rpm", Signer: fingerprint(keyring), Sync: true, Upstream: docs})
		if err != nil {
			return rep, err
		}
		rep.Publication = res.Publication.ID
		for _, p := range staged {
			os.Remove(p)
		}
	} else if len(rep.Metadata) > 0 {
		p, err := pub.SetUpstream(ctx, repoID, docs)
		if err != nil {
			return rep, err
		}
		rep.Publication = p.ID
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	m.Revision, m.SyncedAt = revision, now().UTC().Truncate(time.Second)
	if o.Freeze != "" {
		m.Frozen = o.Freeze
	}
	rep.Frozen = m.Frozen
	if err := st.SetMirror(ctx, repoID, m); err != nil {
		return rep, err
	}
	return rep, nil
}

// fingerprint names the upstream key kept packages were checked against.
func fingerprint(kr openpgp.EntityList) string {
	if len(kr) == 0 {
		return ""
	}
	return fmt.Sprintf("%X", kr[0].PrimaryKey.Fingerprint)
}

// source is an upstream of either format.
type source interface {
	// fetch reads the upstream's metadata: its packages and, for rpm-md,
	// the documents beside them (never nil then, maybe empty).
	fetch(ctx context.Context) (revision string, items []item, docs []rpm.Extra, err error)
	// download fetches want into dir and returns the files to publish and
	// every file it staged (removed once published): the same, but for
	// Debian source packages, published by their .dsc.
	download(ctx context.Context, want []item, dir string, progress io.Writer, rep *Report) (inputs, staged []string, err error)
}

// newSource makes the upstream of a repository of format; sources: one of
// source packages (rpm: the upstream's src and nosrc packages; deb: its
// Sources indexes).
func newSource(format string, m *store.Mirror, kr openpgp.EntityList, parallel int, sources bool) (source, error) {
	switch format {
	case "rpm":
		return &rpmSource{src: &upstream.Source{URL: m.URL, Keyring: kr, Arch: m.Arch, Parallel: parallel}}, nil
	case "deb":
		s := &apt.Source{URL: m.URL, Suite: m.Suite, Components: m.Components, Arch: m.Arch, Keyring: kr, Parallel: parallel, OnlySources: sources,
			AllowExpired: m.AllowExpired}
		if sources {
			s.Arch = nil
		}
		return &debSource{src: s}, nil
	}
	return nil, errs.E(errs.Invalid, "only rpm and deb repositories can mirror an upstream, not %s ones", format)
}

type rpmSource struct{ src *upstream.Source }

func (s *rpmSource) fetch(ctx context.Context) (string, []item, []rpm.Extra, error) {
	md, err := s.src.Metadata(ctx)
	if err != nil {
		return "", nil, nil, err
	}
	items := make([]item, 0, len(md.Packages))
	for _, p := range md.Packages {
		items = append(items, item{name: p.NEVRA(), checksum: p.Checksum, rpm: p})
	}
	docs := make([]rpm.Extra, 0, len(md.Extra))
	for _, x := range md.Extra {
		docs = append(docs, rpm.Extra{Type: x.Type, XML: x.Data})
	}
	return md.Revision, items, docs, nil
}

// changedDocs names the documents that differ from what the mirror has
// (type → SHA-256), including ones the upstream no longer has.
func changedDocs(had map[string]string, docs []rpm.Extra) []string {
	var changed []string
	now := map[string]bool{}
	for _, d := range docs {
		now[d.Type] = true
		sum := sha256.Sum256(d.XML)
		if had[d.Type] != hex.EncodeToString(sum[:]) {
			changed = append(changed, d.Type)
		}
	}
	for typ := range had {
		if !now[typ] {
			changed = append(changed, typ)
		}
	}
	slices.Sort(changed)
	return changed
}

func (s *rpmSource) download(ctx context.Context, want []item, dir string, progress io.Writer, rep *Report) ([]string, []string, error) {
	pkgs := make([]upstream.Package, len(want))
	for i, it := range want {
		pkgs[i] = it.rpm
	}
	var bar progressLine
	res, err := s.src.Download(ctx, pkgs, dir, func(e upstream.Event) {
		switch e.Kind {
		case upstream.Started:
			if e.Offset > 0 {
				rep.Resumed++
			}
		case upstream.Downloaded, upstream.Skipped:
			bar.step(progress, len(pkgs), e.Package.NEVRA())
		}
	})
	bar.end(progress)
	for _, r := range res.Refused {
		rep.Refused = append(rep.Refused, r.Package.NEVRA()+": "+r.Reason)
	}
	rep.Downloaded = len(res.Downloaded)
	var paths []string
	for _, p := range append(res.Downloaded, res.Skipped...) {
		paths = append(paths, filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(p.Href, "./"))))
	}
	return paths, paths, err
}

type debSource struct{ src *apt.Source }

func (s *debSource) fetch(ctx context.Context) (string, []item, []rpm.Extra, error) {
	md, err := s.src.Metadata(ctx)
	if err != nil {
		return "", nil, nil, err
	}
	items := make([]item, 0, len(md.Packages)+len(md.Sources))
	for _, p := range md.Packages {
		items = append(items, item{name: p.Name + " " + p.Version + " " + p.Arch, checksum: p.SHA256, deb: p})
	}
	for _, sp := range md.Sources {
		dsc := dscOf(sp)
		if dsc == nil {
			return "", nil, nil, errs.E(errs.Invalid, "the Sources index lists %s without its .dsc: the upstream's index is malformed; report it to the repository", sp)
		}
		items = append(items, item{name: sp.String(), checksum: dsc.SHA256, src: sp})
	}
	return md.Release.Date, items, nil, nil
}

// dscOf is a source package's .dsc among its files (nil: none).
func dscOf(sp apt.SourcePackage) *apt.SourceFile {
	for i, f := range sp.Files {
		if strings.HasSuffix(f.Name, ".dsc") {
			return &sp.Files[i]
		}
	}
	return nil
}

func (s *debSource) download(ctx context.Context, want []item, dir string, progress io.Writer, rep *Report) ([]string, []string, error) {
	var pkgs []apt.Package
	var srcs []apt.SourcePackage
	total := 0
	for _, it := range want {
		if it.src.Name != "" {
			srcs = append(srcs, it.src)
			total += len(it.src.Files)
		} else {
			pkgs = append(pkgs, it.deb)
			total++
		}
	}
	var bar progressLine
	event := func(e apt.Event) {
		if e.Resumed {
			rep.Resumed++
		}
		if e.Kind != apt.EventRefused {
			bar.step(progress, total, e.Package)
		}
	}
	var res apt.Result
	var err error
	if len(srcs) > 0 {
		res, err = s.src.DownloadSources(ctx, srcs, dir, event)
	} else {
		res, err = s.src.Download(ctx, pkgs, dir, event)
	}
	bar.end(progress)
	for _, r := range res.Refused {
		rep.Refused = append(rep.Refused, r.Package+": "+r.Reason)
	}
	rep.Downloaded = len(res.Downloaded)
	var staged []string
	for _, f := range append(res.Downloaded, res.Skipped...) {
		staged = append(staged, filepath.Join(dir, filepath.FromSlash(f.Path)))
	}
	inputs := staged
	if len(srcs) > 0 {
		// A source package is published by its .dsc, which names the
		// files beside it.
		inputs = nil
		for _, sp := range srcs {
			inputs = append(inputs, filepath.Join(dir, filepath.FromSlash(sp.Directory+"/"+dscOf(sp).Name)))
		}
	}
	if len(rep.Refused) > 0 {
		return inputs, staged, nil // reported by the caller, with the rest
	}
	return inputs, staged, err
}

// progressLine shows "downloading n/total name" on a terminal.
type progressLine struct{ n int }

func (p *progressLine) step(w io.Writer, total int, name string) {
	if w == nil {
		return
	}
	p.n++
	fmt.Fprintf(w, "\r\033[Kdownloading %d/%d %s", p.n, total, name)
}

func (p *progressLine) end(w io.Writer) {
	if w != nil && p.n > 0 {
		fmt.Fprintln(w)
	}
}
