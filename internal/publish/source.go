package publish

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/enmei-project/enmei/internal/blob"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/pkgfacts"
	"github.com/enmei-project/enmei/internal/pkgfmt/deb"
	"github.com/enmei-project/enmei/internal/store"
)

// prepareDsc validates a Debian source package, its .dsc in and the files
// it lists beside it in the .dsc's directory: each must be there with the
// size and SHA-256 (and the MD5 and SHA-1, where the .dsc gives them) the
// .dsc lists, or nothing is published. It makes one record per file, all
// served from the source's pool directory: the .dsc's holds the Sources
// stanza and the SBOM facts, the others (the companions) only their file.
// A clearsigned .dsc is taken as it is, its signature unchecked: the
// vendor vouches for what it publishes with the repository's signature.
func (p *Publisher) prepareDsc(ctx context.Context, repo store.Repo, name string, in io.Reader, refuse func(string) error) ([]prepared, error) {
	hm, h1, h256 := md5.New(), sha1.New(), sha256.New()
	data, err := io.ReadAll(io.LimitReader(io.TeeReader(in, io.MultiWriter(hm, h1, h256)), deb.MaxDsc+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, errs.Wrap(errs.Invalid, err, fmt.Sprintf("cannot read %s: %v", name, unwrapPath(err)))
	}
	d, err := deb.ParseDsc(data)
	if err != nil {
		if errors.Is(err, deb.ErrInvalid) {
			return nil, refuse(err.Error())
		}
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	dir := deb.PoolDir(repo.Component, d.Source)
	dsc := deb.DscFile{Name: d.Filename(), Size: int64(len(data)),
		MD5: hex.EncodeToString(hm.Sum(nil)), SHA1: hex.EncodeToString(h1.Sum(nil)), SHA256: hex.EncodeToString(h256.Sum(nil))}
	files := make([]deb.DscFile, len(d.Files))
	out := make([]prepared, 0, 1+len(d.Files))
	for i, want := range d.Files {
		file := filepath.Join(filepath.Dir(name), want.Name)
		got, err := hashListed(ctx, file)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, refuse(fmt.Sprintf("it lists %s, which is not beside it in %s: put every file the .dsc lists in its directory", want.Name, filepath.Dir(name)))
		case err != nil && ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			return nil, errs.Wrap(errs.Invalid, err, fmt.Sprintf("cannot read %s: %v", file, unwrapPath(err)))
		}
		got.Name = want.Name
		if got.Size != want.Size || got.SHA256 != want.SHA256 || want.MD5 != "" && got.MD5 != want.MD5 || want.SHA1 != "" && got.SHA1 != want.SHA1 {
			return nil, refuse(fmt.Sprintf("%s does not match the size and checksums the .dsc lists for it (%d bytes, sha256 %s; the file has %d bytes, sha256 %s): give the files the source package was built with, or build it again (dpkg-source -b)",
				want.Name, want.Size, want.SHA256, got.Size, got.SHA256))
		}
		files[i] = got
		loc := dir + "/" + want.Name
		out = append(out, prepared{name: name, path: file, wantSum: got.SHA256, pkg: store.Package{
			ID: packageID(got.SHA256, loc), Blob: got.SHA256, Format: "deb", Input: got.SHA256,
			Name: d.Source, Version: d.Version, Arch: debSourceArch, Location: loc, Size: got.Size,
		}})
	}
	var factsJSON []byte
	if !p.SkipFacts {
		version, epoch := d.Version, ""
		if i := strings.IndexByte(version, ':'); i >= 0 {
			epoch, version = version[:i], version[i+1:]
		}
		facts := pkgfacts.Facts{Format: "deb", Name: d.Source, Epoch: epoch, Version: version, Arch: debSourceArch, SHA256: dsc.SHA256}
		if factsJSON, err = facts.Encode(); err != nil {
			return nil, fmt.Errorf("recording %s: %w", name, err)
		}
	}
	loc := dir + "/" + dsc.Name
	return append([]prepared{{name: name, path: name, wantSum: dsc.SHA256, pkg: store.Package{
		ID: packageID(dsc.SHA256, loc), Blob: dsc.SHA256, Format: "deb", Input: dsc.SHA256,
		Name: d.Source, Version: d.Version, Arch: debSourceArch, Location: loc, Size: dsc.Size,
		Meta: deb.SourcesEntry(d, dsc, files, dir), Facts: factsJSON,
	}}}, out...), nil
}

// hashListed reads a file a .dsc lists: its size and digests.
func hashListed(ctx context.Context, name string) (deb.DscFile, error) {
	f, err := os.Open(name)
	if err != nil {
		return deb.DscFile{}, err
	}
	defer f.Close()
	hm, h1, h256 := md5.New(), sha1.New(), sha256.New()
	n, err := io.Copy(io.MultiWriter(hm, h1, h256), blob.ContextReader(ctx, f))
	if err != nil {
		return deb.DscFile{}, err
	}
	return deb.DscFile{Size: n, MD5: hex.EncodeToString(hm.Sum(nil)), SHA1: hex.EncodeToString(h1.Sum(nil)), SHA256: hex.EncodeToString(h256.Sum(nil))}, nil
}

// dropListed leaves out of files those that a .dsc among them lists (the
// same file beside it): they are published with their .dsc, so
// "publish REPO x.dsc x.orig.tar.gz x.debian.tar.xz" works too. A .dsc
// that cannot be read is left for prepare to refuse.
func dropListed(files []string) []string {
	listed := map[string]bool{}
	for _, f := range files {
		if !strings.HasSuffix(f, ".dsc") {
			continue
		}
		data, err := readSmall(f, deb.MaxDsc)
		if err != nil {
			continue
		}
		d, err := deb.ParseDsc(data)
		if err != nil {
			continue
		}
		for _, l := range d.Files {
			listed[filepath.Clean(filepath.Join(filepath.Dir(f), l.Name))] = true
		}
	}
	if len(listed) == 0 {
		return files
	}
	out := files[:0:0]
	for _, f := range files {
		if !listed[filepath.Clean(f)] {
			out = append(out, f)
		}
	}
	return out
}

func readSmall(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit+1))
}
