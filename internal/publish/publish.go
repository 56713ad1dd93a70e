// Package publish turns package files into immutable, signed publications of
// a repository. A publish validates every input before storing anything,
// keeps each package's parsed index entry in the store (so later publishes
// never re-read package files), writes the new metadata and a manifest as
// content-addressed blobs, and only then moves the repository's current
// pointer in one store transaction. A crash at any point before that leaves
// the previous publication served, complete and consistent.
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
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/enmei-project/enmei/internal/blob"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/pkgfmt/deb"
	"github.com/enmei-project/enmei/internal/pkgfmt/rpm"
	"github.com/enmei-project/enmei/internal/sign"
	"github.com/enmei-project/enmei/internal/store"
)

// Publisher publishes repositories.
type Publisher struct {
	Store store.Store
	Blobs blob.Store
	Key   *sign.Key
	Now   func() time.Time
	// BeforeCommit, when set, runs after every blob of the new publication is
	// written and before it becomes current; tests use it to crash there.
	BeforeCommit func() error
	// Progress, when set, is told about each input as it is ingested.
	Progress func(done, total int, name string)
}

// Result describes a publish.
type Result struct {
	Publication store.Publication
	Added       int // packages given in this publish
}

var (
	rpmMagic = []byte{0xed, 0xab, 0xee, 0xdb}
	debMagic = []byte("!<arch>\n")
)

// Publish ingests files (and *.rpm / *.deb files under directories) into
// repoID and makes a new publication current. Any invalid input aborts the
// whole publish before anything is stored.
func (p *Publisher) Publish(ctx context.Context, repoID string, paths []string) (Result, error) {
	repo, err := p.Store.Repo(ctx, repoID)
	if err != nil {
		return Result{}, err
	}
	files, err := expand(paths)
	if err != nil {
		return Result{}, err
	}
	if len(files) == 0 {
		return Result{}, errs.E(errs.Invalid, "no package files given: pass .%s files or directories holding them", repo.Format)
	}
	tmpDir, err := os.MkdirTemp("", "enmei-publish-*")
	if err != nil {
		return Result{}, fmt.Errorf("publish %s: %w", repoID, err)
	}
	defer os.RemoveAll(tmpDir)

	// Pass 1: validate and prepare everything, on every core (signing is
	// the costly part); nothing is stored yet.
	prepared := make([]prepared, len(files))
	var done atomic.Int64
	err = parallel(len(files), func(i int) error {
		pr, err := p.prepare(repo, files[i], tmpDir)
		if err == nil && p.Progress != nil {
			p.Progress(int(done.Add(1))-1, len(files), files[i])
		}
		prepared[i] = pr
		return err
	})
	if err != nil {
		return Result{}, err
	}
	// Pass 2: store the package files and their records.
	pkgs := make([]store.Package, len(prepared))
	err = parallel(len(prepared), func(i int) error {
		pkg, err := p.store(ctx, prepared[i])
		pkgs[i] = pkg
		return err
	})
	if err != nil {
		return Result{}, fmt.Errorf("publish %s: %w", repoID, err)
	}
	if err := p.Store.PutPackages(ctx, pkgs); err != nil {
		return Result{}, fmt.Errorf("publish %s: %w", repoID, err)
	}
	pub, err := p.commitRetrying(ctx, repoID, pkgs)
	if err != nil {
		return Result{}, err
	}
	return Result{Publication: pub, Added: len(pkgs)}, nil
}

// Republish writes a fresh publication of the repository's current packages
// (for a new signing key or metadata format), or an empty one for a new repository.
func (p *Publisher) Republish(ctx context.Context, repoID string) (store.Publication, error) {
	return p.commitRetrying(ctx, repoID, nil)
}

// commitRetrying builds and commits a publication, starting again from the
// new current publication when another publish or a rollback got there
// first, so concurrent publishes never lose each other's packages.
func (p *Publisher) commitRetrying(ctx context.Context, repoID string, added []store.Package) (store.Publication, error) {
	for attempt := 0; ; attempt++ {
		repo, err := p.Store.Repo(ctx, repoID)
		if err != nil {
			return store.Publication{}, err
		}
		pub, err := p.commit(ctx, repo, added)
		if !errors.Is(err, store.ErrConflict) || attempt >= 5 {
			return pub, err
		}
		slog.Info("repository changed during publish; building on the new current publication", "repo", repoID)
	}
}

// Rollback makes an earlier publication of the repository current again.
func (p *Publisher) Rollback(ctx context.Context, repoID string, pubID int64) error {
	if _, err := p.Store.Repo(ctx, repoID); err != nil {
		return err
	}
	return p.Store.SetCurrent(ctx, repoID, pubID)
}

type prepared struct {
	name    string // the input path, for messages
	path    string // the bytes to store: the input, or a signed copy
	pkg     store.Package
	wantSum string
}

func (p *Publisher) prepare(repo store.Repo, name, tmpDir string) (prepared, error) {
	f, err := os.Open(name)
	if err != nil {
		return prepared{}, errs.Wrap(errs.Invalid, err, fmt.Sprintf("cannot read %s: %v", name, unwrapPath(err)))
	}
	defer f.Close()
	head := make([]byte, 8)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return prepared{}, err
	}
	refuse := func(reason string) error {
		return errs.E(errs.Invalid, "refusing %s: %s; nothing was published", name, reason)
	}
	isRPM, isDeb := bytes.HasPrefix(head, rpmMagic), bytes.HasPrefix(head, debMagic)
	switch repo.Format {
	case "rpm":
		if isDeb {
			return prepared{}, refuse(fmt.Sprintf("it is a Debian package, but repository %s holds rpm packages", repo.ID))
		}
		return p.prepareRPM(repo, name, f, tmpDir, refuse)
	case "deb":
		if isRPM {
			return prepared{}, refuse(fmt.Sprintf("it is an RPM package, but repository %s holds deb packages", repo.ID))
		}
		return prepareDeb(repo, name, f, refuse)
	}
	return prepared{}, errs.E(errs.Invalid, "repository %s has format %q, which publish does not handle", repo.ID, repo.Format)
}

func (p *Publisher) prepareRPM(repo store.Repo, name string, f *os.File, tmpDir string, refuse func(string) error) (prepared, error) {
	out, err := os.CreateTemp(tmpDir, "signed-*.rpm")
	if err != nil {
		return prepared{}, err
	}
	defer out.Close()
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(out, h), 64<<10)
	hdr, err := rpm.Sign(bufio.NewReaderSize(f, 64<<10), bw, p.Key)
	if err != nil {
		if errors.Is(err, rpm.ErrInvalid) {
			return prepared{}, refuse(err.Error())
		}
		return prepared{}, fmt.Errorf("signing %s: %w", name, err)
	}
	if err := bw.Flush(); err != nil {
		return prepared{}, fmt.Errorf("signing %s: %w", name, err)
	}
	if repo.Arch != "" && hdr.Arch != repo.Arch && hdr.Arch != "noarch" {
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
	version := hdr.Version + "-" + hdr.Release
	if hdr.HasEpoch {
		version = fmt.Sprintf("%d:%s", hdr.Epoch, version)
	}
	return prepared{name: name, path: out.Name(), wantSum: sum, pkg: store.Package{
		ID: packageID(sum, href), Blob: sum, Format: "rpm",
		Name: hdr.Name, Version: version, Arch: hdr.Arch, Location: href, Size: fi.Size(), Meta: meta,
	}}, nil
}

func prepareDeb(repo store.Repo, name string, f *os.File, refuse func(string) error) (prepared, error) {
	info, err := deb.Inspect(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		if errors.Is(err, deb.ErrInvalid) {
			return prepared{}, refuse(err.Error())
		}
		return prepared{}, fmt.Errorf("reading %s: %w", name, err)
	}
	if repo.Arch != "" && info.Architecture != repo.Arch && info.Architecture != "all" {
		return prepared{}, refuse(fmt.Sprintf("its architecture is %s, but repository %s is for %s", info.Architecture, repo.ID, repo.Arch))
	}
	pool := deb.PoolPath(repo.Component, info)
	return prepared{name: name, path: name, wantSum: info.SHA256, pkg: store.Package{
		ID: packageID(info.SHA256, pool), Blob: info.SHA256, Format: "deb",
		Name: info.Package, Version: info.Version, Arch: info.Architecture, Location: pool, Size: info.Size,
		Meta: deb.Entry(info, pool),
	}}, nil
}

// store copies a prepared file into the blob store and checks that what was
// stored is what was validated (the input may have changed in between).
func (p *Publisher) store(ctx context.Context, pr prepared) (store.Package, error) {
	f, err := os.Open(pr.path)
	if err != nil {
		return store.Package{}, err
	}
	defer f.Close()
	info, err := p.Blobs.Put(ctx, f)
	if err != nil {
		return store.Package{}, fmt.Errorf("storing %s: %w", pr.name, err)
	}
	if info.Sum != pr.wantSum {
		return store.Package{}, errs.E(errs.Invalid, "%s changed while it was being published: publish it again", pr.name)
	}
	return pr.pkg, nil
}

// commit builds the publication of the current packages plus added ones,
// replacing packages at the same location, and makes it current.
func (p *Publisher) commit(ctx context.Context, repo store.Repo, added []store.Package) (store.Publication, error) {
	var ids []string
	if repo.Current != 0 {
		cur, err := p.Store.Publication(ctx, repo.Current)
		if err != nil {
			return store.Publication{}, fmt.Errorf("publish %s: reading current publication: %w", repo.ID, err)
		}
		m, err := LoadManifest(ctx, p.Blobs, cur.Manifest)
		if err != nil {
			return store.Publication{}, fmt.Errorf("publish %s: %w", repo.ID, err)
		}
		ids = m.Packages
	}
	existing, err := p.Store.Packages(ctx, ids)
	if err != nil {
		return store.Publication{}, fmt.Errorf("publish %s: reading packages: %w", repo.ID, err)
	}
	byLoc := make(map[string]store.Package, len(existing)+len(added))
	for _, pk := range existing {
		byLoc[pk.Location] = pk
	}
	for _, pk := range added {
		byLoc[pk.Location] = pk
	}
	pkgs := make([]store.Package, 0, len(byLoc))
	for _, pk := range byLoc {
		pkgs = append(pkgs, pk)
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].Location < pkgs[j].Location })

	now := p.Now()
	metas := make([][]byte, len(pkgs))
	m := &Manifest{Repo: repo.ID, Format: repo.Format, Packages: make([]string, len(pkgs)), Files: make(map[string]FileRef, len(pkgs)+8)}
	for i, pk := range pkgs {
		metas[i] = pk.Meta
		m.Packages[i] = pk.ID
		m.Files[pk.Location] = FileRef{Sum: pk.Blob, Size: pk.Size}
	}
	var generated []genFile
	switch repo.Format {
	case "rpm":
		files, err := rpm.Repodata(metas, p.Key, now)
		if err != nil {
			return store.Publication{}, fmt.Errorf("publish %s: writing repodata: %w", repo.ID, err)
		}
		for _, f := range files {
			generated = append(generated, genFile{f.Path, f.Data})
		}
	case "deb":
		opts := deb.IndexOptions{Origin: "enmei", Label: repo.ProductID, Suite: repo.Suite, Codename: repo.Suite, Component: repo.Component}
		if repo.Arch != "" {
			opts.Architectures = []string{repo.Arch}
		}
		files, err := deb.Index(opts, metas, p.Key, now)
		if err != nil {
			return store.Publication{}, fmt.Errorf("publish %s: writing apt indexes: %w", repo.ID, err)
		}
		for _, f := range files {
			generated = append(generated, genFile{f.Path, f.Data})
		}
	default:
		return store.Publication{}, errs.E(errs.Invalid, "repository %s has format %q, which publish does not handle", repo.ID, repo.Format)
	}
	for _, g := range generated {
		info, err := p.Blobs.Put(ctx, bytes.NewReader(g.data))
		if err != nil {
			return store.Publication{}, fmt.Errorf("publish %s: storing %s: %w", repo.ID, g.path, err)
		}
		m.Files[g.path] = FileRef{Sum: info.Sum, Size: info.Size}
	}
	sum, err := putManifest(ctx, p.Blobs, m)
	if err != nil {
		return store.Publication{}, fmt.Errorf("publish %s: %w", repo.ID, err)
	}
	if err := p.Blobs.Sync(ctx); err != nil {
		return store.Publication{}, fmt.Errorf("publish %s: %w", repo.ID, err)
	}
	if p.BeforeCommit != nil {
		if err := p.BeforeCommit(); err != nil {
			return store.Publication{}, err
		}
	}
	pub := store.Publication{RepoID: repo.ID, CreatedAt: now, Packages: len(pkgs), Manifest: sum, Base: repo.Current}
	id, err := p.Store.CommitPublication(ctx, pub)
	if err != nil {
		return store.Publication{}, fmt.Errorf("publish %s: %w", repo.ID, err)
	}
	pub.ID = id
	slog.Debug("published", "repo", repo.ID, "publication", id, "packages", len(pkgs))
	return pub, nil
}

type genFile struct {
	path string
	data []byte
}

func packageID(blobSum, location string) string {
	h := sha256.Sum256([]byte(blobSum + "\x00" + location))
	return hex.EncodeToString(h[:])
}

// expand turns the command line's files and directories into a sorted list of
// files; directories contribute their *.rpm and *.deb files.
func expand(paths []string) ([]string, error) {
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
			if d.Type().IsRegular() && (strings.HasSuffix(path, ".rpm") || strings.HasSuffix(path, ".deb")) {
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
// stops being handed out after the first failure.
func parallel(n int, f func(i int) error) error {
	workers := min(runtime.GOMAXPROCS(0), n)
	errs := make([]error, n)
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if errs[i] = f(i); errs[i] != nil {
					failed.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
