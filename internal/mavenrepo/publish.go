// Package mavenrepo publishes and serves the Maven repositories of
// maven-format products at /maven/<product>/ (PRODUCT.md §4): artifacts
// published with their POM (enmeid publish, or mvn deploy with an admin
// token) and plain source and data files, each with .md5, .sha1, .sha256
// and .sha512 files and the artifact-level maven-metadata.xml kept by the
// server. A product's repository is a store repository with the product's
// ID, and every change is a new publication committed atomically on the
// one before it, as for RPM and deb repositories. Released files never
// change. Reading needs the contract's developer account (HTTP Basic,
// checked against the live contract, with a verified-credential cache so
// argon2id runs once per password, not per request) or an admin token.
package mavenrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/enmei-project/enmei/internal/blob"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/manifest"
	"github.com/enmei-project/enmei/internal/maven"
	"github.com/enmei-project/enmei/internal/store"
)

// FilesDir is where plain source and data files live in a product's
// repository, apart from the Maven coordinates.
const FilesDir = "files/"

// Store is what publishing reads and writes.
type Store interface {
	Product(ctx context.Context, id string) (store.Product, error)
	Repo(ctx context.Context, id string) (store.Repo, error)
	AddRepo(ctx context.Context, r store.Repo) error
	Publication(ctx context.Context, id int64) (store.Publication, error)
	CommitPublication(ctx context.Context, p store.Publication) (int64, error)
	TakeLease(ctx context.Context, id string, now, expires time.Time) error
	DropLease(ctx context.Context, id string) error
}

// Publisher adds files to Maven repositories.
type Publisher struct {
	Store Store
	Blobs blob.Store
	Now   func() time.Time
	Log   *slog.Logger
}

// Upload is one file to publish at a repository path.
type Upload struct {
	Path string
	Body io.Reader
}

// Result is what a publish did.
type Result struct {
	Publication store.Publication // zero when nothing changed
	Added       []string          // paths of files added
	Unchanged   []string          // paths given that held these bytes already
}

// stored is an upload in the blob store.
type stored struct {
	path    string
	kind    maven.Kind
	info    blob.Info
	digests maven.Digests
	data    []byte // checksum and metadata uploads, which are small
}

// maxSmall bounds what is read into memory: checksum and metadata files.
const maxSmall = 1 << 20

// Publish adds the uploads to product's repository as one new publication.
// An artifact or plain file already published with other bytes is refused
// (released files are immutable); the same bytes again are unchanged. An
// uploaded checksum must match the file it sums, which must be published
// or among the uploads; uploaded maven-metadata.xml files are checked and
// then replaced by the server's own. SNAPSHOT versions are refused.
func (p *Publisher) Publish(ctx context.Context, product string, uploads []Upload) (Result, error) {
	prod, err := p.Store.Product(ctx, product)
	if err != nil {
		return Result{}, err
	}
	if prod.Format != "maven" {
		return Result{}, errs.E(errs.Invalid, "product %s is a %s product: publish its packages to one of its repositories (enmeid publish REPO FILE…)", prod.ID, prod.Format)
	}
	parsed := make([]Entry, len(uploads))
	for i, u := range uploads {
		if parsed[i], err = ParsePath(u.Path); err != nil {
			return Result{}, err
		}
		if parsed[i].Kind != maven.KindArtifact && parsed[i].Kind != maven.KindChecksum && parsed[i].Kind != maven.KindMetadata {
			return Result{}, errs.E(errs.Invalid, "%s cannot be published", u.Path)
		}
		if parsed[i].Snapshot() {
			return Result{}, errs.E(errs.Invalid, "%s is a SNAPSHOT: this repository serves releases only, which never change; deploy a release version", u.Path)
		}
	}
	release, err := p.lease(ctx)
	if err != nil {
		return Result{}, err
	}
	defer release()
	var files []stored
	for i, u := range uploads {
		s, err := p.store(ctx, u, parsed[i])
		if err != nil {
			return Result{}, fmt.Errorf("publish %s: %s: %w", product, u.Path, err)
		}
		files = append(files, s)
	}
	for attempt := 0; ; attempt++ {
		res, err := p.commit(ctx, prod, files)
		if errors.Is(err, store.ErrConflict) && attempt < 10 {
			continue // another publish moved the repository: apply ours on top of it
		}
		return res, err
	}
}

// Entry is what a repository path names: a Maven artifact, checksum or
// metadata file, or a plain file under FilesDir (KindArtifact with zero
// Coordinates) or its checksum.
type Entry struct {
	Kind        maven.Kind
	Path        string
	Target      string // checksums: the path summed
	Algorithm   string // checksums: one of maven.ChecksumExts
	TargetKind  maven.Kind
	Coordinates maven.Coordinates // Maven paths only
}

// Snapshot reports whether the path is in a SNAPSHOT version.
func (e Entry) Snapshot() bool { return e.Coordinates.Version != "" && e.Coordinates.IsSnapshot() }

// ParsePath parses a repository path: a Maven path, or a plain file under
// FilesDir (or its checksum).
func ParsePath(p string) (Entry, error) {
	if rest, ok := strings.CutPrefix(p, FilesDir); ok {
		if !validFilePath(rest) {
			return Entry{}, errs.E(errs.Invalid, "%q is not a plain relative file path under %s: use letters, digits and . _ - + in each part", p, FilesDir)
		}
		for _, alg := range maven.ChecksumExts {
			if t, ok := strings.CutSuffix(p, "."+alg); ok {
				return Entry{Kind: maven.KindChecksum, Path: p, Target: t, Algorithm: alg, TargetKind: maven.KindArtifact}, nil
			}
		}
		return Entry{Kind: maven.KindArtifact, Path: p}, nil
	}
	mp, err := maven.ParsePath(p)
	if err != nil {
		return Entry{}, err
	}
	return Entry{Kind: mp.Kind, Path: p, Target: mp.Target(), Algorithm: mp.Algorithm, TargetKind: mp.TargetKind, Coordinates: mp.Coordinates}, nil
}

func validFilePath(p string) bool {
	if p == "" || len(p) > maven.MaxPathLen {
		return false
	}
	for _, part := range strings.Split(p, "/") {
		if part == "" || part == "." || part == ".." || strings.HasPrefix(part, ".") {
			return false
		}
		for _, r := range part {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-+", r)
			if !ok {
				return false
			}
		}
	}
	return true
}

// lease holds off garbage collection of blobs stored before the commit.
func (p *Publisher) lease(ctx context.Context) (func(), error) {
	id := "maven-" + entitle.NewSecret()
	now := time.Now()
	if err := p.Store.TakeLease(ctx, id, now, now.Add(24*time.Hour)); err != nil {
		return nil, err
	}
	return func() {
		if err := p.Store.DropLease(context.WithoutCancel(ctx), id); err != nil {
			p.log().Warn("dropping maven publish lease; gc ignores it after a day", "lease", id, "err", err)
		}
	}, nil
}

func (p *Publisher) log() *slog.Logger {
	if p.Log == nil {
		return slog.Default()
	}
	return p.Log
}

// store puts an upload in the blob store, computing its digests on the way.
func (p *Publisher) store(ctx context.Context, u Upload, mp Entry) (stored, error) {
	s := stored{path: u.Path, kind: mp.Kind}
	if mp.Kind != maven.KindArtifact {
		data, err := io.ReadAll(io.LimitReader(u.Body, maxSmall+1))
		if err != nil {
			return s, err
		}
		if len(data) > maxSmall {
			return s, errs.E(errs.Invalid, "a checksum or metadata file of more than 1 MiB is not one")
		}
		s.data = data
		if mp.Kind == maven.KindMetadata {
			md, err := maven.ParseMetadata(data)
			if err != nil {
				return s, err
			}
			if c := mp.Coordinates; md.GroupID != c.GroupID || md.ArtifactID != c.ArtifactID {
				return s, errs.E(errs.Invalid, "the maven-metadata.xml names %s:%s, not %s:%s as its path says", md.GroupID, md.ArtifactID, c.GroupID, c.ArtifactID)
			}
		}
		return s, nil
	}
	pr, pw := io.Pipe()
	type sum struct {
		d   maven.Digests
		err error
	}
	done := make(chan sum, 1)
	go func() {
		d, err := maven.Sum(pr)
		pr.CloseWithError(err)
		done <- sum{d, err}
	}()
	info, err := p.Blobs.Put(ctx, io.TeeReader(blob.ContextReader(ctx, u.Body), pw))
	pw.CloseWithError(err)
	got := <-done
	if err != nil {
		return s, err
	}
	if got.err != nil {
		return s, got.err
	}
	s.info, s.digests = info, got.d
	return s, nil
}

// commit applies the stored uploads to the repository's current
// publication and commits the result.
func (p *Publisher) commit(ctx context.Context, prod store.Product, files []stored) (Result, error) {
	repo, err := p.repo(ctx, prod)
	if err != nil {
		return Result{}, err
	}
	cur := &manifest.Manifest{Repo: repo.ID, Format: "maven", Files: map[string]manifest.FileRef{}}
	if repo.Current != 0 {
		pub, err := p.Store.Publication(ctx, repo.Current)
		if err != nil {
			return Result{}, err
		}
		if cur, err = manifest.Load(ctx, p.Blobs, pub.Manifest); err != nil {
			return Result{}, err
		}
	}
	next := &manifest.Manifest{Repo: repo.ID, Format: "maven", Packages: []string{}, Files: maps.Clone(cur.Files)}
	if next.Files == nil {
		next.Files = map[string]manifest.FileRef{}
	}
	var res Result
	digests := map[string]maven.Digests{} // of the artifacts added now
	touched := map[string]maven.Coordinates{}
	for _, f := range files {
		if f.kind != maven.KindArtifact {
			continue
		}
		if have, ok := next.Files[f.path]; ok {
			if have.Sum == f.info.Sum {
				res.Unchanged = append(res.Unchanged, f.path)
				continue
			}
			return Result{}, errs.E(errs.Exists, "%s is already published with other content, and published files never change: publish a new version", f.path)
		}
		next.Files[f.path] = manifest.FileRef{Sum: f.info.Sum, Size: f.info.Size}
		digests[f.path] = f.digests
		res.Added = append(res.Added, f.path)
		for _, alg := range maven.ChecksumExts {
			info, err := p.Blobs.Put(ctx, strings.NewReader(f.digests.Get(alg)))
			if err != nil {
				return Result{}, err
			}
			next.Files[f.path+"."+alg] = manifest.FileRef{Sum: info.Sum, Size: info.Size}
		}
		if mp, err := ParsePath(f.path); err == nil && mp.Coordinates.ArtifactID != "" {
			touched[mp.Coordinates.ArtifactDir()] = mp.Coordinates
		}
	}
	// Checksums the client sent must match what was published.
	for _, f := range files {
		if f.kind != maven.KindChecksum {
			continue
		}
		mp, _ := ParsePath(f.path)
		want, err := maven.ParseChecksumFile(f.data)
		if err != nil {
			return Result{}, err
		}
		if mp.TargetKind == maven.KindMetadata {
			continue // the server writes its own metadata and its checksums
		}
		t := mp.Target
		ref, ok := next.Files[t+"."+mp.Algorithm]
		if !ok {
			return Result{}, errs.E(errs.NotFound, "%s sums %s, which is not published: upload the file first", f.path, t)
		}
		have, err := p.readSmall(ctx, ref.Sum)
		if err != nil {
			return Result{}, err
		}
		if string(have) != want {
			return Result{}, errs.E(errs.Invalid, "the checksum in %s does not match the published %s: the upload was damaged on the way; deploy again", f.path, t)
		}
	}
	if len(res.Added) == 0 {
		return res, nil // checksums, metadata or files published already: nothing new
	}
	for dir, c := range touched {
		if err := p.metadata(ctx, next, dir, c); err != nil {
			return Result{}, err
		}
	}
	data, err := manifest.Encode(next)
	if err != nil {
		return Result{}, err
	}
	info, err := p.Blobs.Put(ctx, bytes.NewReader(data))
	if err != nil {
		return Result{}, err
	}
	if err := p.Blobs.Sync(ctx); err != nil {
		return Result{}, err
	}
	pub := store.Publication{RepoID: repo.ID, CreatedAt: p.now(), Packages: countArtifacts(next), Manifest: info.Sum, Base: repo.Current}
	if pub.ID, err = p.Store.CommitPublication(ctx, pub); err != nil {
		return Result{}, err
	}
	res.Publication = pub
	p.log().Info("maven publish", "product", prod.ID, "publication", pub.ID, "added", len(res.Added))
	return res, nil
}

func (p *Publisher) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
}

// repo returns the product's repository, made on the first publish.
func (p *Publisher) repo(ctx context.Context, prod store.Product) (store.Repo, error) {
	r, err := p.Store.Repo(ctx, prod.ID)
	if errs.Is(err, errs.NotFound) {
		err = p.Store.AddRepo(ctx, store.Repo{ID: prod.ID, ProductID: prod.ID, Format: "maven"})
		if err != nil && !errs.Is(err, errs.Exists) {
			return r, err
		}
		r, err = p.Store.Repo(ctx, prod.ID)
	}
	if err != nil {
		return r, err
	}
	if r.ProductID != prod.ID || r.Format != "maven" {
		return r, errs.E(errs.Exists, "repository %s belongs to product %s (%s), so maven product %s cannot use its ID: give the maven product another ID", r.ID, r.ProductID, r.Format, prod.ID)
	}
	return r, nil
}

func (p *Publisher) readSmall(ctx context.Context, sum string) ([]byte, error) {
	f, _, err := p.Blobs.Open(ctx, sum)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxSmall))
}

// metadata writes the artifact-level maven-metadata.xml of dir (and its
// checksums) from the versions published under it.
func (p *Publisher) metadata(ctx context.Context, m *manifest.Manifest, dir string, c maven.Coordinates) error {
	versions := map[string]bool{}
	for f := range m.Files {
		rest, ok := strings.CutPrefix(f, dir+"/")
		if !ok || !strings.Contains(rest, "/") {
			continue
		}
		if mp, err := maven.ParsePath(f); err == nil && mp.Kind == maven.KindArtifact && mp.ArtifactDir() == dir {
			versions[mp.Version] = true
		}
	}
	data := maven.Metadata(c.GroupID, c.ArtifactID, slices.Collect(maps.Keys(versions)), p.now())
	name := path.Join(dir, maven.MetadataName)
	info, err := p.Blobs.Put(ctx, bytes.NewReader(data))
	if err != nil {
		return err
	}
	m.Files[name] = manifest.FileRef{Sum: info.Sum, Size: info.Size}
	d, err := maven.Sum(bytes.NewReader(data))
	if err != nil {
		return err
	}
	for _, alg := range maven.ChecksumExts {
		info, err := p.Blobs.Put(ctx, strings.NewReader(d.Get(alg)))
		if err != nil {
			return err
		}
		m.Files[name+"."+alg] = manifest.FileRef{Sum: info.Sum, Size: info.Size}
	}
	return nil
}

// countArtifacts is the number of files a publication serves, checksums
// and metadata aside (the publication's "packages").
func countArtifacts(m *manifest.Manifest) int {
	n := 0
	for f := range m.Files {
		if mp, err := ParsePath(f); err == nil && mp.Kind == maven.KindArtifact {
			n++
		}
	}
	return n
}
