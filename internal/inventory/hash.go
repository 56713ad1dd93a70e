package inventory

import (
	"context"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"io"
	"os"
)

var digestNew = map[string]func() hash.Hash{
	"md5": md5.New, "sha1": sha1.New, "sha224": sha256.New224,
	"sha256": sha256.New, "sha384": sha512.New384, "sha512": sha512.New,
}

// hashFiles fills in the SHA-256 of each checked file that is a regular
// file under root whose digest in algorithm c.algo is still c.digest:
// the file is as the package shipped it. Files that are missing, changed,
// unreadable or not regular keep "". Only ctx ends it early.
func hashFiles(ctx context.Context, r *rootDir, pkgs []Package, checks []fileCheck) error {
	buf := make([]byte, 256<<10)
	for _, c := range checks {
		if err := ctx.Err(); err != nil {
			return err
		}
		f := &pkgs[c.pkg].Files[c.file]
		newWant, ok := digestNew[c.algo]
		if !ok {
			continue
		}
		p, err := r.resolve(f.Path, false)
		if err != nil {
			continue
		}
		sum, err := hashFile(p, newWant(), buf)
		if err != nil || hex.EncodeToString(sum.want) != c.digest {
			continue
		}
		f.SHA256 = hex.EncodeToString(sum.sha256)
	}
	return nil
}

type sums struct{ want, sha256 []byte }

// hashFile hashes the regular file at p (not following a final link) with
// want and SHA-256 in one read.
func hashFile(p string, want hash.Hash, buf []byte) (sums, error) {
	fi, err := os.Lstat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return sums{}, os.ErrInvalid
	}
	f, err := os.Open(p)
	if err != nil {
		return sums{}, err
	}
	defer f.Close()
	if fi2, err := f.Stat(); err != nil || !os.SameFile(fi, fi2) {
		return sums{}, os.ErrInvalid // replaced in between
	}
	s := sha256.New()
	if _, err := io.CopyBuffer(io.MultiWriter(want, s), f, buf); err != nil {
		return sums{}, err
	}
	return sums{want: want.Sum(nil), sha256: s.Sum(nil)}, nil
}
