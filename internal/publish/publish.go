// Package publish turns package files into immutable, signed publications of
// a repository. A publish validates every input before storing anything,
// keeps each package's parsed index entry in the store (so later publishes
// never re-read package files), writes the new metadata and a manifest as
// content-addressed blobs, and only then moves the repository's current
// pointer in one store transaction. A crash at any point before that leaves
// the previous publication served, complete and consistent.
//
// The bytes at a URL never change: an input already published (same
// digest, same signing key) keeps its signed blob, and a different file at
// the location of a published one is refused unless the vendor asks to
// replace it. A rollback is a new publication of the old packages with
// freshly signed, newer metadata, so clients that refuse older indexes
// (apt) take it.
package publish

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/enmei-project/enmei/internal/blob"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/manifest"
	"github.com/enmei-project/enmei/internal/pkgfacts"
	"github.com/enmei-project/enmei/internal/pkgfmt/deb"
	"github.com/enmei-project/enmei/internal/pkgfmt/rpm"
	"github.com/enmei-project/enmei/internal/sign"
	"github.com/enmei-project/enmei/internal/store"
)

// Store is what publishing needs of the store.
type Store interface {
	Repo(ctx context.Context, id string) (store.Repo, error)
	store.Packages
	store.Publications
	store.Leases
}

// Publisher publishes repositories.
type Publisher struct {
	Store Store
	Blobs blob.Store
	Key   *sign.Key
	Now   func() time.Time
	Log   *slog.Logger
	// TempDir is where signed copies are staged before they are stored
	// (default: the system's temporary directory). enmeid puts it beside
	// its data, so gc can remove what a crashed publish left.
	TempDir string
	// BeforeCommit, when set, runs after every blob of the new publication is
	// written and before it becomes current; tests use it to crash there.
	BeforeCommit func() error
	// SkipFacts leaves out the SBOM facts of new packages. Only for
	// measuring what they cost (ENMEI_DEBUG_NO_SBOM_FACTS): packages
	// published so have no SBOM until published again with Replace.
	SkipFacts bool
	// Progress, when set, is told about each input as it is ingested.
	Progress func(done, total int, name string)
	// Updateinfo, when set, returns the updateinfo.xml of an rpm
	// repository (nil: none): the released advisories dnf shows. Every
	// publication of the repository carries it, so a later package
	// publish or a rollback keeps the advisories.
	Updateinfo func(ctx context.Context, repo store.Repo) ([]byte, error)
}

// knownCurrent is a publication's records (and a mirror's upstream
// documents) as a publish already read them, so its commit does not read
// them again.
type knownCurrent struct {
	pub  int64
	pkgs []store.Package
	up   map[string]manifest.FileRef
}

// Options change what a publish accepts.
type Options struct {
	// Replace lets a file replace a published package of the same name,
	// version and architecture whose content differs.
	Replace bool
	// KeepSignatures publishes RPMs as they are, with the signature their
	// distribution gave them, instead of signing them with the vendor's
	// key: a mirror of community repositories, whose packages dnf checks
	// against the distribution's key (the repository metadata is still
	// signed by the vendor). The caller has verified those signatures.
	KeepSignatures bool
	// Signer is the fingerprint of the key that signed kept packages (""
	// when the caller has none), recorded so a record is reused only for
	// the same kind of publish.
	Signer string
	// Sync marks the publish of enmeid repo sync, the only one a mirror
	// repository takes: the vendor's fixes go to its ELS repositories.
	Sync bool
	// Upstream, when not nil, are the upstream's own metadata documents
	// (modules, group, updateinfo) a sync carries into the mirror; they
	// replace the current publication's. Nil keeps those.
	Upstream []rpm.Extra
}

// signer is what a package record of this publish says signed it.
func (p *Publisher) signer(opts Options) string {
	if !opts.KeepSignatures {
		return p.Key.Fingerprint()
	}
	if opts.Signer == "" {
		return "upstream"
	}
	return "upstream:" + opts.Signer
}

// Result describes a publish.
type Result struct {
	Publication store.Publication
	Added       int // packages given in this publish
	Reused      int // of those, already published inputs whose records were reused
}

// LeaseTTL bounds how long a publish's lease protects its blobs from gc;
// a publish that crashed stops protecting anything after it.
const LeaseTTL = 24 * time.Hour

var (
	rpmMagic = []byte{0xed, 0xab, 0xee, 0xdb}
	debMagic = []byte("!<arch>\n")
)

func (p *Publisher) log() *slog.Logger {
	if p.Log == nil {
		return slog.Default()
	}
	return p.Log
}

// Publish ingests files (and *.rpm / *.deb files under directories) into
// repoID and makes a new publication current. Any invalid input aborts the
// whole publish before anything is stored.
func (p *Publisher) Publish(ctx context.Context, repoID string, paths []string, opts Options) (Result, error) {
	repo, err := p.Store.Repo(ctx, repoID)
	if err != nil {
		return Result{}, err
	}
	if repo.Mirror != nil && !opts.Sync {
		return Result{}, errs.E(errs.Invalid, "repository %s mirrors %s and changes only with enmeid repo sync: publish the vendor's fixes into the product's ELS repositories", repoID, repo.Mirror.URL)
	}
	suffixes := []string{".rpm", ".deb"}
	if repo.Format == "deb" && IsSourceRepo(repo) {
		suffixes = []string{".dsc"}
	}
	files, err := expand(paths, suffixes)
	if err != nil {
		return Result{}, err
	}
	if repo.Format == "deb" {
		files = dropListed(files)
	}
	if len(files) == 0 {
		if repo.Format == "deb" && IsSourceRepo(repo) {
			return Result{}, errs.E(errs.Invalid, "no source packages given: pass .dsc files (each with the files it lists beside it) or directories holding them")
		}
		return Result{}, errs.E(errs.Invalid, "no package files given: pass .%s files or directories holding them", repo.Format)
	}
	release, err := p.lease(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("publish %s: %w", repoID, err)
	}
	defer release()
	if p.TempDir != "" {
		if err := os.MkdirAll(p.TempDir, 0o700); err != nil {
			return Result{}, fmt.Errorf("publish %s: staging: %w", repoID, err)
		}
	}
	tmpDir, err := os.MkdirTemp(p.TempDir, "enmei-publish-*")
	if err != nil {
		return Result{}, fmt.Errorf("publish %s: staging: %w", repoID, err)
	}
	defer os.RemoveAll(tmpDir)

	// Pass 1: find RPMs already published with this key; their records and
	// signed blobs are reused, so their bytes stay the same and they are
	// not signed again. Debs are served as given, so the normal path below
	// makes the very same records; only RPMs need this pass.
	reusable := map[int]prepared{}
	if repo.Format == "rpm" {
		if reusable, err = p.reusable(ctx, repo, files, opts); err != nil {
			return Result{}, fmt.Errorf("publish %s: %w", repoID, err)
		}
	}
	// Pass 2: validate and prepare everything else, on every core (signing
	// is the costly part); nothing is stored yet. Index entries and facts
	// wait in the spool, not in memory.
	sp, err := newSpool(tmpDir)
	if err != nil {
		return Result{}, fmt.Errorf("publish %s: %w", repoID, err)
	}
	defer sp.close()
	byInput := make([][]prepared, len(files))
	var done atomic.Int64
	err = parallel(ctx, len(files), func(i int) error {
		prs := []prepared{reusable[i]}
		if _, ok := reusable[i]; !ok {
			var err error
			if prs, err = p.prepare(ctx, repo, files[i], tmpDir, opts); err != nil {
				return err
			}
			for j := range prs {
				pr := &prs[j]
				if pr.meta, err = sp.put(pr.pkg.Meta); err != nil {
					return err
				}
				if pr.facts, err = sp.put(pr.pkg.Facts); err != nil {
					return err
				}
				pr.pkg.Meta, pr.pkg.Facts = nil, nil
			}
		}
		byInput[i] = prs
		if p.Progress != nil {
			p.Progress(int(done.Add(1))-1, len(files), files[i])
		}
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	// A source package's files (and an orig tarball two versions share)
	// come with its .dsc: one record per file, stored once.
	var prepared []prepared
	seenID := map[string]bool{}
	for _, prs := range byInput {
		for _, pr := range prs {
			if !seenID[pr.pkg.ID] {
				seenID[pr.pkg.ID] = true
				prepared = append(prepared, pr)
			}
		}
	}
	added := make([]store.Package, len(prepared))
	for i, pr := range prepared {
		added[i] = pr.pkg
	}
	if err := checkBatch(repo, prepared); err != nil {
		return Result{}, err
	}
	// Refuse replacements before storing anything; commit checks again
	// against whatever is current then (the same records, unless another
	// publish moved the repository meanwhile).
	repo, err = p.Store.Repo(ctx, repoID)
	if err != nil {
		return Result{}, err
	}
	known, err := p.currentOf(ctx, repo)
	if err != nil {
		return Result{}, fmt.Errorf("publish %s: %w", repoID, err)
	}
	cur := known.pkgs
	if !opts.Replace {
		if err := checkReplacements(repo, cur, prepared); err != nil {
			return Result{}, err
		}
	}
	up, err := p.putUpstream(ctx, opts.Upstream)
	if err != nil {
		return Result{}, fmt.Errorf("publish %s: %w", repoID, err)
	}
	// Pass 3: store the package files and their records.
	err = parallel(ctx, len(prepared), func(i int) error {
		return p.store(ctx, prepared[i])
	})
	if err != nil {
		return Result{}, fmt.Errorf("publish %s: %w", repoID, err)
	}
	if err := p.putPackages(ctx, sp, prepared); err != nil {
		return Result{}, fmt.Errorf("publish %s: %w", repoID, err)
	}
	pub, err := p.commitRetrying(ctx, repoID, func(repo store.Repo, current []store.Package) ([]store.Package, error) {
		if !opts.Replace {
			if err := checkReplacements(repo, current, prepared); err != nil {
				return nil, err
			}
		}
		return merge(current, added), nil
	}, 0, &known, up)
	if err != nil {
		return Result{}, err
	}
	res := Result{Publication: pub, Added: countPackages(added), Reused: len(reusable)}
	if repo.Format == "deb" {
		res.Reused = countKnown(cur, added)
	}
	p.log().Info("published", "repo", repoID, "publication", pub.ID, "packages", pub.Packages, "given", res.Added, "reused", res.Reused)
	return res, nil
}

// Republish writes a fresh publication of the repository's current packages
// (for new metadata), or an empty one for a new repository.
func (p *Publisher) Republish(ctx context.Context, repoID string) (store.Publication, error) {
	release, err := p.lease(ctx)
	if err != nil {
		return store.Publication{}, fmt.Errorf("publish %s: %w", repoID, err)
	}
	defer release()
	return p.commitRetrying(ctx, repoID, func(_ store.Repo, current []store.Package) ([]store.Package, error) {
		return current, nil
	}, 0, nil, nil)
}

// SetUpstream writes a fresh publication of a mirror's current packages
// with new upstream metadata documents: a sync that found no new packages
// but changed modules, groups or advisories upstream.
func (p *Publisher) SetUpstream(ctx context.Context, repoID string, docs []rpm.Extra) (store.Publication, error) {
	release, err := p.lease(ctx)
	if err != nil {
		return store.Publication{}, fmt.Errorf("publish %s: %w", repoID, err)
	}
	defer release()
	up, err := p.putUpstream(ctx, docs)
	if err != nil {
		return store.Publication{}, fmt.Errorf("publish %s: %w", repoID, err)
	}
	if up == nil {
		up = map[string]manifest.FileRef{}
	}
	return p.commitRetrying(ctx, repoID, func(_ store.Repo, current []store.Package) ([]store.Package, error) {
		return current, nil
	}, 0, nil, up)
}

// CurrentUpstream returns the upstream metadata documents of a mirror's
// current publication: repomd type → SHA-256 of the decompressed document.
func (p *Publisher) CurrentUpstream(ctx context.Context, repoID string) (map[string]string, error) {
	repo, err := p.Store.Repo(ctx, repoID)
	if err != nil {
		return nil, err
	}
	up, err := p.upstreamOf(ctx, repo.Current)
	if err != nil {
		return nil, err
	}
	sums := make(map[string]string, len(up))
	for typ, ref := range up {
		sums[typ] = ref.Sum
	}
	return sums, nil
}

// putUpstream stores a sync's upstream documents (nil for none given).
func (p *Publisher) putUpstream(ctx context.Context, docs []rpm.Extra) (map[string]manifest.FileRef, error) {
	if docs == nil {
		return nil, nil
	}
	up := make(map[string]manifest.FileRef, len(docs))
	for _, d := range docs {
		info, err := p.Blobs.Put(ctx, bytes.NewReader(d.XML))
		if err != nil {
			return nil, fmt.Errorf("storing the upstream's %s: %w", d.Type, err)
		}
		up[d.Type] = manifest.FileRef{Sum: info.Sum, Size: info.Size}
	}
	return up, nil
}

// upstreamOf returns the upstream documents a publication carries (none
// for publication 0 or one without).
func (p *Publisher) upstreamOf(ctx context.Context, pubID int64) (map[string]manifest.FileRef, error) {
	if pubID == 0 {
		return nil, nil
	}
	pub, err := p.Store.Publication(ctx, pubID)
	if err != nil {
		return nil, fmt.Errorf("reading publication %d: %w", pubID, err)
	}
	m, err := manifest.Load(ctx, p.Blobs, pub.Manifest)
	if err != nil {
		return nil, err
	}
	return m.Upstream, nil
}

// Rollback makes the packages of an earlier publication current again, as
// a new publication with freshly signed metadata dated now: apt ignores an
// index older than the one it has, so re-pointing to the old publication
// would not reach hosts that already updated.
func (p *Publisher) Rollback(ctx context.Context, repoID string, pubID int64) (store.Publication, error) {
	repo, err := p.Store.Repo(ctx, repoID)
	if err != nil {
		return store.Publication{}, err
	}
	old, err := p.Store.Publication(ctx, pubID)
	if err != nil || old.RepoID != repo.ID {
		return store.Publication{}, errs.E(errs.NotFound, "repository %s has no publication %d: see enmeid publication list %s", repoID, pubID, repoID)
	}
	release, err := p.lease(ctx)
	if err != nil {
		return store.Publication{}, fmt.Errorf("rollback %s: %w", repoID, err)
	}
	defer release()
	m, err := manifest.Load(ctx, p.Blobs, old.Manifest)
	if err != nil {
		return store.Publication{}, fmt.Errorf("rollback %s to %d: %w", repoID, pubID, err)
	}
	pkgs, err := p.Store.Packages(ctx, m.Packages)
	if err != nil {
		return store.Publication{}, fmt.Errorf("rollback %s to %d: %w", repoID, pubID, err)
	}
	// Mark the records and blobs used now, so a gc running meanwhile keeps them.
	if err := p.Store.PutPackages(ctx, pkgs); err != nil {
		return store.Publication{}, fmt.Errorf("rollback %s to %d: %w", repoID, pubID, err)
	}
	for _, pk := range pkgs {
		if err := p.Blobs.Touch(ctx, pk.Blob); err != nil {
			return store.Publication{}, fmt.Errorf("rollback %s to %d: package %s: %w", repoID, pubID, pk.Location, err)
		}
	}
	up := m.Upstream
	if up == nil {
		up = map[string]manifest.FileRef{}
	}
	for _, ref := range up {
		if err := p.Blobs.Touch(ctx, ref.Sum); err != nil {
			return store.Publication{}, fmt.Errorf("rollback %s to %d: upstream metadata: %w", repoID, pubID, err)
		}
	}
	return p.commitRetrying(ctx, repoID, func(store.Repo, []store.Package) ([]store.Package, error) {
		return pkgs, nil
	}, pubID, nil, up)
}

// Prune deletes all but the current and the keep newest publications of a
// repository and returns the IDs it deleted. Blobs and records are freed
// later by gc.
func (p *Publisher) Prune(ctx context.Context, repoID string, keep int) ([]int64, error) {
	if keep < 0 {
		return nil, errs.E(errs.Invalid, "--keep must be 0 or more, not %d", keep)
	}
	repo, err := p.Store.Repo(ctx, repoID)
	if err != nil {
		return nil, err
	}
	pubs, err := p.Store.Publications(ctx, repoID)
	if err != nil {
		return nil, fmt.Errorf("prune %s: %w", repoID, err)
	}
	var doomed []int64
	kept := 0
	for _, pub := range pubs { // newest first
		if pub.ID == repo.Current {
			continue
		}
		if kept < keep {
			kept++
			continue
		}
		doomed = append(doomed, pub.ID)
	}
	if err := p.Store.DeletePublications(ctx, repoID, doomed); err != nil {
		return nil, fmt.Errorf("prune %s: %w", repoID, err)
	}
	return doomed, nil
}

// lease records this publish for gc and returns the function that ends it.
func (p *Publisher) lease(ctx context.Context) (func(), error) {
	id := "publish-" + entitle.NewSecret()
	now := time.Now()
	if err := p.Store.TakeLease(ctx, id, now, now.Add(LeaseTTL)); err != nil {
		return nil, err
	}
	return func() {
		if err := p.Store.DropLease(context.WithoutCancel(ctx), id); err != nil {
			p.log().Warn("dropping publish lease; gc ignores it after a day", "lease", id, "err", err)
		}
	}, nil
}

// choose picks the packages of a new publication from the current ones.
type choose func(repo store.Repo, current []store.Package) ([]store.Package, error)

// commitRetrying builds and commits a publication, starting again from the
// new current publication when another publish or a rollback got there
// first, so concurrent publishes never lose each other's packages. up are
// the upstream documents of a mirror's new publication (nil: the current
// publication's).
func (p *Publisher) commitRetrying(ctx context.Context, repoID string, pick choose, rollbackOf int64, known *knownCurrent, up map[string]manifest.FileRef) (store.Publication, error) {
	for attempt := 0; ; attempt++ {
		repo, err := p.Store.Repo(ctx, repoID)
		if err != nil {
			return store.Publication{}, err
		}
		var cur knownCurrent
		if known != nil && known.pub == repo.Current {
			cur = *known
		} else if cur, err = p.currentOf(ctx, repo); err != nil {
			return store.Publication{}, fmt.Errorf("publish %s: %w", repoID, err)
		}
		pkgs, err := pick(repo, cur.pkgs)
		if err != nil {
			return store.Publication{}, err
		}
		docs := up
		if docs == nil && repo.Mirror != nil {
			docs = cur.up
		}
		pub, err := p.commit(ctx, repo, pkgs, rollbackOf, docs)
		if !errors.Is(err, store.ErrConflict) || attempt >= 5 {
			return pub, err
		}
		p.log().Info("repository changed during publish; building on the new current publication", "repo", repoID)
	}
}

// Current lists the packages of a repository's current publication (none
// before its first publish).
func (p *Publisher) Current(ctx context.Context, repoID string) ([]store.Package, error) {
	repo, err := p.Store.Repo(ctx, repoID)
	if err != nil {
		return nil, err
	}
	cur, err := p.currentOf(ctx, repo)
	return cur.pkgs, err
}

// currentOf reads the repository's current publication: its package
// records and its upstream documents, from one manifest read.
func (p *Publisher) currentOf(ctx context.Context, repo store.Repo) (knownCurrent, error) {
	if repo.Current == 0 {
		return knownCurrent{}, nil
	}
	cur, err := p.Store.Publication(ctx, repo.Current)
	if err != nil {
		return knownCurrent{}, fmt.Errorf("reading current publication: %w", err)
	}
	m, err := manifest.Load(ctx, p.Blobs, cur.Manifest)
	if err != nil {
		return knownCurrent{}, err
	}
	pkgs, err := p.Store.Packages(ctx, m.Packages)
	if err != nil {
		return knownCurrent{}, fmt.Errorf("reading packages: %w", err)
	}
	return knownCurrent{pub: repo.Current, pkgs: pkgs, up: m.Upstream}, nil
}

// countKnown counts the added packages that were already published as they are.
func countKnown(current, added []store.Package) int {
	ids := make(map[string]bool, len(current))
	for _, pk := range current {
		ids[pk.ID] = true
	}
	n := 0
	for _, pk := range added {
		if ids[pk.ID] && !companion(pk) {
			n++
		}
	}
	return n
}

// companion reports a file of a Debian source package other than its
// .dsc: stored and served like a package, counted with its .dsc.
func companion(pk store.Package) bool {
	return pk.Format == "deb" && pk.Arch == debSourceArch && !strings.HasSuffix(pk.Location, ".dsc")
}

// countPackages counts records as packages: a source package's files count
// once, with their .dsc.
func countPackages(pkgs []store.Package) int {
	n := 0
	for _, pk := range pkgs {
		if !companion(pk) {
			n++
		}
	}
	return n
}

// merge returns current plus added, an added package replacing the one at
// its location.
func merge(current, added []store.Package) []store.Package {
	byLoc := make(map[string]store.Package, len(current)+len(added))
	for _, pk := range current {
		byLoc[pk.Location] = pk
	}
	for _, pk := range added {
		byLoc[pk.Location] = pk
	}
	out := make([]store.Package, 0, len(byLoc))
	for _, pk := range byLoc {
		out = append(out, pk)
	}
	return out
}

// sameContent reports whether two records at one location come from the
// same input (a re-signing with a new key is the same content).
func sameContent(a, b store.Package) bool {
	if a.Input == "" || b.Input == "" {
		// A record from before inputs were recorded: its input is unknown,
		// so it is replaced as it was then.
		return true
	}
	return a.Input == b.Input
}

// checkReplacements refuses a file whose name, version and architecture
// match a published package (so it lands at the same location) but whose
// content differs: clients holding the old metadata would fail checksums,
// and hosts that installed the old build would never get the new one.
func checkReplacements(repo store.Repo, current []store.Package, batch []prepared) error {
	byLoc := make(map[string]store.Package, len(current))
	for _, pk := range current {
		byLoc[pk.Location] = pk
	}
	for _, pr := range batch {
		old, ok := byLoc[pr.pkg.Location]
		if !ok || sameContent(old, pr.pkg) {
			continue
		}
		if companion(pr.pkg) {
			return errs.E(errs.Invalid, "refusing %s: it lists %s, which is already published in %s with different content (published sha256 %s, this file sha256 %s): a source package's upstream tarball must be the one published before; build it against that one, or pass --replace to replace the published file; nothing was published",
				pr.name, path.Base(pr.pkg.Location), repo.ID, digestOf(old), digestOf(pr.pkg))
		}
		return errs.E(errs.Invalid, "refusing %s: %s %s (%s) is already published in %s with different content (published sha256 %s, this file sha256 %s): give the rebuild a new release number, or pass --replace to replace the published package; nothing was published",
			pr.name, pr.pkg.Name, pr.pkg.Version, pr.pkg.Arch, repo.ID, digestOf(old), digestOf(pr.pkg))
	}
	return nil
}

// checkBatch refuses two different files for one location in one publish.
func checkBatch(repo store.Repo, batch []prepared) error {
	seen := make(map[string]prepared, len(batch))
	for _, pr := range batch {
		if first, ok := seen[pr.pkg.Location]; ok && !sameContent(first.pkg, pr.pkg) {
			if companion(pr.pkg) {
				return errs.E(errs.Invalid, "refusing %s and %s: both list %s but their copies differ (sha256 %s and %s): publish source packages built against the same upstream tarball; nothing was published",
					first.name, pr.name, path.Base(pr.pkg.Location), digestOf(first.pkg), digestOf(pr.pkg))
			}
			return errs.E(errs.Invalid, "refusing %s and %s: both are %s %s (%s) for %s but their content differs (sha256 %s and %s): publish only one of them; nothing was published",
				first.name, pr.name, pr.pkg.Name, pr.pkg.Version, pr.pkg.Arch, repo.ID, digestOf(first.pkg), digestOf(pr.pkg))
		}
		seen[pr.pkg.Location] = pr
	}
	return nil
}

func digestOf(pk store.Package) string {
	if pk.Input != "" {
		return pk.Input
	}
	return pk.Blob
}

type prepared struct {
	name    string // the input path, for messages
	path    string // the bytes to store: the input, a signed copy, or "" when the blob is stored already
	pkg     store.Package
	wantSum string
	// meta and facts are the record's Meta and Facts in the spool (empty
	// for a reused record, which is stored already).
	meta, facts span
}

// putPackages stores the prepared records, a batch at a time with their
// index entries and facts read back from the spool.
func (p *Publisher) putPackages(ctx context.Context, sp *spool, prepared []prepared) error {
	const batch = 500
	recs := make([]store.Package, 0, batch)
	for start := 0; start < len(prepared); start += batch {
		recs = recs[:0]
		var reused []string
		var at []int
		for _, pr := range prepared[start:min(start+batch, len(prepared))] {
			rec := pr.pkg
			if pr.path == "" {
				// A reused record is stored already; storing it again
				// marks it used, whole, as gc may have taken it meanwhile.
				reused, at = append(reused, rec.ID), append(at, len(recs))
			}
			var err error
			if rec.Meta, err = sp.get(pr.meta); err != nil {
				return err
			}
			if rec.Facts, err = sp.get(pr.facts); err != nil {
				return err
			}
			recs = append(recs, rec)
		}
		err := p.Store.PackageMetas(ctx, reused, func(i int, meta []byte) error {
			recs[at[i]].Meta = meta
			return nil
		})
		if errs.Is(err, errs.NotFound) {
			return errs.Wrap(errs.Other, err, "a package record was collected by gc while this publish ran: publish again")
		}
		if err != nil {
			return err
		}
		if err := p.Store.PutPackages(ctx, recs); err != nil {
			return err
		}
	}
	return nil
}

// reusable hashes every input and returns, by input index, the records of
// inputs this repository can serve as they were published before: an rpm
// signed with the current key, a deb in this component's pool. Their blobs
// are touched so a concurrent gc keeps them.
func (p *Publisher) reusable(ctx context.Context, repo store.Repo, files []string, opts Options) (map[int]prepared, error) {
	digests := make([]string, len(files))
	err := parallel(ctx, len(files), func(i int) error {
		d, err := hashFile(ctx, files[i])
		if err != nil {
			return errs.Wrap(errs.Invalid, err, fmt.Sprintf("cannot read %s: %v", files[i], unwrapPath(err)))
		}
		digests[i] = d
		return nil
	})
	if err != nil {
		return nil, err
	}
	known, err := p.Store.PackagesByInput(ctx, digests)
	if err != nil {
		return nil, err
	}
	// A record an older enmei stored without SBOM facts is not reused:
	// the package is prepared (signed) again, so it gets them.
	if !p.SkipFacts && len(known) > 0 {
		ids := make([]string, len(known))
		for i, pk := range known {
			ids[i] = pk.ID
		}
		facts, err := p.Store.PackageFacts(ctx, ids)
		if err != nil {
			return nil, err
		}
		known = slices.DeleteFunc(known, func(pk store.Package) bool { return len(facts[pk.ID]) == 0 })
	}
	byInput := map[string][]store.Package{}
	for _, pk := range known {
		byInput[pk.Input] = append(byInput[pk.Input], pk)
	}
	out := map[int]prepared{}
	var mu sync.Mutex
	err = parallel(ctx, len(files), func(i int) error {
		for _, pk := range byInput[digests[i]] {
			if !p.fits(repo, pk, p.signer(opts)) {
				continue
			}
			if err := p.Blobs.Touch(ctx, pk.Blob); err != nil {
				continue // collected meanwhile: prepare it again
			}
			mu.Lock()
			out[i] = prepared{name: files[i], pkg: pk, wantSum: pk.Blob}
			mu.Unlock()
			return nil
		}
		return nil
	})
	return out, err
}

// The architectures of source packages: a source repository is one whose
// Arch is one of these (enmeid repo add --arch src for rpm, --arch source
// for deb; either spelling is taken for either format). It takes source
// packages only, and a binary repository binaries only.
const (
	rpmSourceArch = "src"
	debSourceArch = "source"
)

// IsSourceRepo reports whether repo holds source packages.
func IsSourceRepo(repo store.Repo) bool { return isSourceArch(repo.Arch) }

func isSourceArch(arch string) bool {
	return arch == rpmSourceArch || arch == debSourceArch || arch == "nosrc"
}

// fits reports whether a stored record can be served by repo as is.
func (p *Publisher) fits(repo store.Repo, pk store.Package, signer string) bool {
	if pk.Format != repo.Format || !archFits(repo, pk.Arch) {
		return false
	}
	switch repo.Format {
	case "rpm":
		return pk.Signer == signer
	case "deb":
		return strings.HasPrefix(pk.Location, "pool/"+repo.Component+"/")
	}
	return false
}

// archFits reports whether a repository for repo.Arch takes packages of
// arch: its own, architecture-independent ones, and on x86_64 the i686
// multilib packages (32-bit libraries RHEL ships beside 64-bit ones). A
// source repository takes source packages, and only those.
func archFits(repo store.Repo, arch string) bool {
	if IsSourceRepo(repo) || isSourceArch(arch) {
		return IsSourceRepo(repo) && isSourceArch(arch)
	}
	switch {
	case repo.Arch == "" || arch == repo.Arch || arch == "noarch" || arch == "all":
		return true
	case repo.Format == "rpm" && repo.Arch == "x86_64" && arch == "i686":
		return true
	}
	return false
}

func hashFile(ctx context.Context, name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, blob.ContextReader(ctx, f)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// prepare validates one input and makes its records: one for a package
// file, one per file for a Debian source package (.dsc).
func (p *Publisher) prepare(ctx context.Context, repo store.Repo, name, tmpDir string, opts Options) ([]prepared, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, errs.Wrap(errs.Invalid, err, fmt.Sprintf("cannot read %s: %v", name, unwrapPath(err)))
	}
	defer f.Close()
	head := make([]byte, 8)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	refuse := func(reason string) error {
		return errs.E(errs.Invalid, "refusing %s: %s; nothing was published", name, reason)
	}
	isRPM, isDeb := bytes.HasPrefix(head, rpmMagic), bytes.HasPrefix(head, debMagic)
	isDsc := !isRPM && !isDeb && strings.HasSuffix(name, ".dsc")
	in := blob.ContextReader(ctx, f)
	one := func(pr prepared, err error) ([]prepared, error) {
		if err != nil {
			return nil, err
		}
		return []prepared{pr}, nil
	}
	switch repo.Format {
	case "rpm":
		if isDeb || isDsc {
			return nil, refuse(fmt.Sprintf("it is a Debian package, but repository %s holds rpm packages", repo.ID))
		}
		return one(p.prepareRPM(ctx, repo, name, in, tmpDir, refuse, opts))
	case "deb":
		switch {
		case isRPM:
			return nil, refuse(fmt.Sprintf("it is an RPM package, but repository %s holds deb packages", repo.ID))
		case isDsc && !IsSourceRepo(repo):
			return nil, refuse(fmt.Sprintf("it is a Debian source package, but repository %s holds binary packages: publish it into the product's source repository (enmeid repo add %s-source --product %s --arch source --suite %s --component %s makes one)",
				repo.ID, repo.ID, repo.ProductID, repo.Suite, repo.Component))
		case isDsc:
			return p.prepareDsc(ctx, repo, name, in, refuse)
		case isDeb && IsSourceRepo(repo):
			return nil, refuse(fmt.Sprintf("it is a binary Debian package, but repository %s holds source packages: publish it into one of the product's binary repositories", repo.ID))
		case IsSourceRepo(repo):
			return nil, refuse(fmt.Sprintf("it is not a Debian source package, and repository %s holds source packages only: give the .dsc, with the files it lists beside it", repo.ID))
		}
		return one(p.prepareDeb(repo, name, in, refuse))
	}
	return nil, errs.E(errs.Invalid, "repository %s has format %q, which publish does not handle", repo.ID, repo.Format)
}

func (p *Publisher) prepareRPM(ctx context.Context, repo store.Repo, name string, in io.Reader, tmpDir string, refuse func(string) error, opts Options) (prepared, error) {
	out, err := os.CreateTemp(tmpDir, "signed-*.rpm")
	if err != nil {
		return prepared{}, err
	}
	defer out.Close()
	h := sha256.New()
	inHash := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(out, h), 64<<10)
	var hdr *rpm.Header
	if opts.KeepSignatures {
		hdr, err = keep(in, io.MultiWriter(bw, inHash))
	} else {
		hdr, err = rpm.SignAny(bufio.NewReaderSize(io.TeeReader(in, inHash), 64<<10), bw, p.Key.WithTime(p.Now))
	}
	if err != nil {
		if ctx.Err() != nil {
			return prepared{}, ctx.Err()
		}
		if errors.Is(err, rpm.ErrInvalid) {
			return prepared{}, refuse(err.Error())
		}
		return prepared{}, fmt.Errorf("signing %s: %w", name, err)
	}
	if err := bw.Flush(); err != nil {
		return prepared{}, fmt.Errorf("signing %s: %w", name, err)
	}
	switch {
	case hdr.Source && !IsSourceRepo(repo):
		return prepared{}, refuse(fmt.Sprintf("it is a source RPM, but repository %s holds binary packages: publish it into the product's source repository (enmeid repo add %s-source --product %s --arch src makes one, named so that dnf download --source finds it)",
			repo.ID, repo.ID, repo.ProductID))
	case !hdr.Source && IsSourceRepo(repo):
		return prepared{}, refuse(fmt.Sprintf("it is a binary RPM (%s), but repository %s holds source RPMs only: publish it into one of the product's binary repositories", hdr.Arch, repo.ID))
	}
	if !archFits(repo, hdr.Arch) {
		return prepared{}, refuse(fmt.Sprintf("its architecture is %s, but repository %s is for %s", hdr.Arch, repo.ID, repo.Arch))
	}
	fi, err := out.Stat()
	if err != nil {
		return prepared{}, err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	filename := hdr.Filename()
	href := "Packages/" + strings.ToLower(filename[:1]) + "/" + filename
	meta, err := rpm.Entry(hdr, sum, fi.Size(), href, p.Now().Unix())
	if err != nil {
		return prepared{}, fmt.Errorf("indexing %s: %w", name, err)
	}
	facts := pkgfacts.FromRPM(hdr, sum)
	if hdr.Source {
		// A source RPM's file list names its tarballs and spec, and its
		// requirements are build requirements: the SBOM keeps what it is.
		facts.Files, facts.Requires, facts.Provides = nil, nil, nil
	}
	var factsJSON []byte
	if !p.SkipFacts {
		if factsJSON, err = facts.Encode(); err != nil {
			return prepared{}, fmt.Errorf("recording %s: %w", name, err)
		}
	}
	return prepared{name: name, path: out.Name(), wantSum: sum, pkg: store.Package{
		ID: packageID(sum, href), Blob: sum, Format: "rpm",
		Input: hex.EncodeToString(inHash.Sum(nil)), Signer: p.signer(opts),
		Name: hdr.Name, Version: facts.EVR(), Arch: hdr.Arch, Location: href, Size: fi.Size(), Meta: meta, Facts: factsJSON,
	}}, nil
}

// keep copies an RPM as it is while reading its header, which checks the
// header against the digests its signature header holds.
func keep(in io.Reader, w io.Writer) (*rpm.Header, error) {
	br := bufio.NewReaderSize(in, 64<<10)
	hdr, err := rpm.ReadAnyHeader(io.TeeReader(br, w))
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(w, br); err != nil {
		return nil, err
	}
	return hdr, nil
}

// prepareDeb validates a .deb and, unless SkipFacts, takes its SBOM facts:
// the data member is then unpacked as the file streams by (for the file
// list and the copyright file), which plain deb.Inspect does not do.
func (p *Publisher) prepareDeb(repo store.Repo, name string, in io.Reader, refuse func(string) error) (prepared, error) {
	inspect := deb.InspectContents
	if p.SkipFacts {
		inspect = deb.Inspect
	}
	info, err := inspect(bufio.NewReaderSize(in, 64<<10))
	if err != nil {
		if errors.Is(err, deb.ErrInvalid) {
			return prepared{}, refuse(err.Error())
		}
		return prepared{}, fmt.Errorf("reading %s: %w", name, err)
	}
	if !archFits(repo, info.Architecture) {
		return prepared{}, refuse(fmt.Sprintf("its architecture is %s, but repository %s is for %s", info.Architecture, repo.ID, repo.Arch))
	}
	pool := deb.PoolPath(repo.Component, info)
	var factsJSON []byte
	if !p.SkipFacts {
		if c := info.Contents; c != nil && c.Incomplete != "" {
			p.log().Warn("the SBOM of this package lists no files", "file", name, "reason", c.Incomplete)
		}
		facts := pkgfacts.FromDeb(info)
		if factsJSON, err = facts.Encode(); err != nil {
			return prepared{}, fmt.Errorf("recording %s: %w", name, err)
		}
	}
	return prepared{name: name, path: name, wantSum: info.SHA256, pkg: store.Package{
		ID: packageID(info.SHA256, pool), Blob: info.SHA256, Format: "deb", Input: info.SHA256,
		Name: info.Package, Version: info.Version, Arch: info.Architecture, Location: pool, Size: info.Size,
		Meta: deb.Entry(info, pool), Facts: factsJSON,
	}}, nil
}

// store copies a prepared file into the blob store and checks that what was
// stored is what was validated (the input may have changed in between).
func (p *Publisher) store(ctx context.Context, pr prepared) error {
	if pr.path == "" {
		return nil // reused: the blob is stored and was touched
	}
	// Content already stored (a deb published before) is only marked as
	// used: its address is its content, so it is what was validated.
	if err := p.Blobs.Touch(ctx, pr.wantSum); err == nil {
		return nil
	}
	f, err := os.Open(pr.path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := p.Blobs.Put(ctx, f)
	if err != nil {
		return fmt.Errorf("storing %s: %w", pr.name, err)
	}
	if info.Sum != pr.wantSum {
		return errs.E(errs.Invalid, "%s changed while it was being published: publish it again", pr.name)
	}
	return nil
}

// commit builds the publication of pkgs, with a mirror's upstream
// documents up, and makes it current.
func (p *Publisher) commit(ctx context.Context, repo store.Repo, pkgs []store.Package, rollbackOf int64, up map[string]manifest.FileRef) (store.Publication, error) {
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Location < pkgs[j].Location })
	now := p.Now()
	m := &manifest.Manifest{Repo: repo.ID, Format: repo.Format, Packages: make([]string, len(pkgs)), Files: make(map[string]manifest.FileRef, len(pkgs)+8)}
	for i, pk := range pkgs {
		m.Packages[i] = pk.ID
		m.Files[pk.Location] = manifest.FileRef{Sum: pk.Blob, Size: pk.Size}
	}
	extra, err := p.extras(ctx, repo, up)
	if err != nil {
		return store.Publication{}, fmt.Errorf("publish %s: %w", repo.ID, err)
	}
	if len(up) > 0 {
		m.Upstream = up
	}
	generated, err := Metadata(ctx, repo, p.Store, m.Packages, extra, p.Key.WithTime(func() time.Time { return now }), now)
	if err != nil {
		return store.Publication{}, fmt.Errorf("publish %s: %w", repo.ID, err)
	}
	for _, g := range generated {
		info, err := p.Blobs.Put(ctx, bytes.NewReader(g.Data))
		if err != nil {
			return store.Publication{}, fmt.Errorf("publish %s: storing %s: %w", repo.ID, g.Path, err)
		}
		m.Files[g.Path] = manifest.FileRef{Sum: info.Sum, Size: info.Size}
	}
	data, err := manifest.Encode(m)
	if err != nil {
		return store.Publication{}, fmt.Errorf("publish %s: %w", repo.ID, err)
	}
	info, err := p.Blobs.Put(ctx, bytes.NewReader(data))
	if err != nil {
		return store.Publication{}, fmt.Errorf("publish %s: storing manifest: %w", repo.ID, err)
	}
	if err := p.Blobs.Sync(ctx); err != nil {
		return store.Publication{}, fmt.Errorf("publish %s: %w", repo.ID, err)
	}
	if p.BeforeCommit != nil {
		if err := p.BeforeCommit(); err != nil {
			return store.Publication{}, err
		}
	}
	pub := store.Publication{RepoID: repo.ID, CreatedAt: now, Packages: countPackages(pkgs), Manifest: info.Sum, Base: repo.Current, RollbackOf: rollbackOf}
	id, err := p.Store.CommitPublication(ctx, pub)
	if err != nil {
		return store.Publication{}, fmt.Errorf("publish %s: %w", repo.ID, err)
	}
	pub.ID = id
	return pub, nil
}

// extras are the repodata documents beside primary of an rpm publication:
// the upstream's modules and groups as they are, and updateinfo with the
// vendor's released advisories merged into the upstream's.
func (p *Publisher) extras(ctx context.Context, repo store.Repo, up map[string]manifest.FileRef) ([]rpm.Extra, error) {
	if repo.Format != "rpm" {
		return nil, nil
	}
	var extra []rpm.Extra
	types := make([]string, 0, len(up))
	for typ := range up {
		types = append(types, typ)
	}
	sort.Strings(types)
	var upInfo []byte
	for _, typ := range types {
		doc, err := p.readBlob(ctx, up[typ].Sum)
		if err != nil {
			return nil, fmt.Errorf("the upstream's %s: %w", typ, err)
		}
		if typ == "updateinfo" {
			upInfo = doc
			continue
		}
		extra = append(extra, rpm.Extra{Type: typ, XML: doc})
	}
	var vendor []byte
	if p.Updateinfo != nil {
		var err error
		if vendor, err = p.Updateinfo(ctx, repo); err != nil {
			return nil, err
		}
	}
	info, err := rpm.MergeUpdateinfo(upInfo, vendor)
	if err != nil {
		return nil, err
	}
	if info != nil {
		extra = append(extra, rpm.Extra{Type: "updateinfo", XML: info})
	}
	return extra, nil
}

func (p *Publisher) readBlob(ctx context.Context, sum string) ([]byte, error) {
	r, _, err := p.Blobs.Open(ctx, sum)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// File is one generated metadata file of a publication.
type File struct {
	Path string
	Data []byte
}

// Metas reads stored packages' index entries (Meta).
type Metas interface {
	PackageMetas(ctx context.Context, ids []string, f func(i int, meta []byte) error) error
}

// Metadata writes a repository's signed index files for the given packages
// (their index entries read from st), dated now: repodata for rpm (with the
// extra documents), streamed so memory does not grow with the repository;
// dists/ for deb.
func Metadata(ctx context.Context, repo store.Repo, st Metas, ids []string, extra []rpm.Extra, key *sign.Key, now time.Time) ([]File, error) {
	var out []File
	switch repo.Format {
	case "rpm":
		files, err := rpm.RepodataFrom(len(ids), func(yield func([]byte) error) error {
			return st.PackageMetas(ctx, ids, func(_ int, meta []byte) error { return yield(meta) })
		}, extra, key, now)
		if err != nil {
			return nil, fmt.Errorf("writing repodata: %w", err)
		}
		for _, f := range files {
			out = append(out, File{f.Path, f.Data})
		}
	case "deb":
		metas := make([][]byte, len(ids))
		if err := st.PackageMetas(ctx, ids, func(i int, meta []byte) error { metas[i] = meta; return nil }); err != nil {
			return nil, fmt.Errorf("writing apt indexes: %w", err)
		}
		opts := deb.IndexOptions{Origin: "enmei", Label: repo.ProductID, Suite: repo.Suite, Codename: repo.Suite, Component: repo.Component}
		index := deb.Index
		switch {
		case IsSourceRepo(repo):
			index = deb.SourceIndex
		case repo.Arch != "":
			opts.Architectures = []string{repo.Arch}
		}
		files, err := index(opts, metas, key, now)
		if err != nil {
			return nil, fmt.Errorf("writing apt indexes: %w", err)
		}
		for _, f := range files {
			out = append(out, File{f.Path, f.Data})
		}
	default:
		return nil, errs.E(errs.Invalid, "repository %s has format %q, which publish does not handle", repo.ID, repo.Format)
	}
	return out, nil
}

func packageID(blobSum, location string) string {
	h := sha256.Sum256([]byte(blobSum + "\x00" + location))
	return hex.EncodeToString(h[:])
}

// Expand turns the command line's files and directories into a sorted list of
// files; directories contribute their *.rpm and *.deb files.
func Expand(paths []string) ([]string, error) {
	return expand(paths, []string{".rpm", ".deb"})
}

// expand is Expand with directories contributing the files whose names end
// in one of suffixes: a deb source repository takes a directory's *.dsc
// (the other files of a source package come with its .dsc), so that a
// build directory holding .debs and the source package can be published
// into the binary and the source repository alike.
func expand(paths, suffixes []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, errs.Wrap(errs.Invalid, err, fmt.Sprintf("cannot read %s: %v", p, unwrapPath(err)))
		}
		if !fi.IsDir() {
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() && slices.ContainsFunc(suffixes, func(s string) bool { return strings.HasSuffix(path, s) }) {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading directory %s: %w", p, err)
		}
	}
	return out, nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// parallel runs f(0..n-1) on every core and returns the error of the lowest
// index that failed, so the message does not depend on scheduling. Work
// stops being handed out after the first failure or when ctx ends.
func parallel(ctx context.Context, n int, f func(i int) error) error {
	workers := min(runtime.GOMAXPROCS(0), n)
	errList := make([]error, n)
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() && ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if errList[i] = f(i); errList[i] != nil {
					failed.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errList {
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}
