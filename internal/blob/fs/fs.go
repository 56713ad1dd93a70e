// Package fs stores blobs as files under a directory, fanned out by the first
// two hex digits of their sha256. Writes go to a temporary file that is
// renamed into place, so a crash never leaves a partial blob under a name;
// Sync makes them durable in one syncfs(2).
package fs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	iofs "io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/enmei-project/enmei/internal/blob"
	"github.com/enmei-project/enmei/internal/errs"
)

// Dir is a blob store rooted at a directory.
type Dir struct {
	root string
}

// Open returns the store at root, creating it, and checks it is writable.
func Open(root string) (*Dir, error) {
	if err := os.MkdirAll(filepath.Join(root, "tmp"), 0o750); err != nil {
		return nil, fmt.Errorf("opening blob store %s: %w", root, err)
	}
	probe, err := os.CreateTemp(filepath.Join(root, "tmp"), "probe-*")
	if err != nil {
		return nil, fmt.Errorf("blob store %s is not writable: %w", root, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return &Dir{root: root}, nil
}

func (d *Dir) path(sum string) string {
	return filepath.Join(d.root, sum[:2], sum)
}

// Put implements blob.Store.
func (d *Dir) Put(ctx context.Context, r io.Reader) (blob.Info, error) {
	tmp, err := os.CreateTemp(filepath.Join(d.root, "tmp"), "put-*")
	if err != nil {
		return blob.Info{}, fmt.Errorf("storing blob: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), ctxReader{ctx, r})
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return blob.Info{}, fmt.Errorf("storing blob: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	final := d.path(sum)
	if fi, err := os.Stat(final); err == nil && fi.Size() == n {
		return blob.Info{Sum: sum, Size: n, ModTime: fi.ModTime()}, nil
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o750); err != nil {
		return blob.Info{}, fmt.Errorf("storing blob: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o640); err != nil {
		return blob.Info{}, fmt.Errorf("storing blob: %w", err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return blob.Info{}, fmt.Errorf("storing blob: %w", err)
	}
	fi, err := os.Stat(final)
	if err != nil {
		return blob.Info{}, fmt.Errorf("storing blob: %w", err)
	}
	return blob.Info{Sum: sum, Size: n, ModTime: fi.ModTime()}, nil
}

// Sync implements blob.Store: one syncfs(2) of the store's filesystem makes
// every file renamed into place so far durable.
func (d *Dir) Sync(ctx context.Context) error {
	f, err := os.Open(d.root)
	if err != nil {
		return fmt.Errorf("syncing blob store: %w", err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncing blob store: %w", err)
	}
	return nil
}

// Open implements blob.Store.
func (d *Dir) Open(ctx context.Context, sum string) (io.ReadSeekCloser, blob.Info, error) {
	if err := blob.CheckSum(sum); err != nil {
		return nil, blob.Info{}, err
	}
	f, err := os.Open(d.path(sum))
	if err != nil {
		return nil, blob.Info{}, notFound(sum, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, blob.Info{}, fmt.Errorf("opening blob %s: %w", sum, err)
	}
	return f, blob.Info{Sum: sum, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Stat implements blob.Store.
func (d *Dir) Stat(ctx context.Context, sum string) (blob.Info, error) {
	if err := blob.CheckSum(sum); err != nil {
		return blob.Info{}, err
	}
	fi, err := os.Stat(d.path(sum))
	if err != nil {
		return blob.Info{}, notFound(sum, err)
	}
	return blob.Info{Sum: sum, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

func notFound(sum string, err error) error {
	if errors.Is(err, iofs.ErrNotExist) {
		return errs.Wrap(errs.NotFound, err, fmt.Sprintf("blob %s is not stored", sum))
	}
	return fmt.Errorf("reading blob %s: %w", sum, err)
}

// ctxReader stops a long copy when its context is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

var _ blob.Store = (*Dir)(nil)
