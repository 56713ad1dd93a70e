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
	"time"

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
	placed := false
	defer func() {
		if !placed {
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), blob.ContextReader(ctx, r))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return blob.Info{}, fmt.Errorf("storing blob: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	final := d.path(sum)
	// Content already stored is only touched, so a concurrent gc keeps it.
	if d.touchInPlace(final, n) {
		return blob.Info{Sum: sum, Size: n, ModTime: time.Now()}, nil
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
	placed = true
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

// touchInPlace sets the modification time of the blob at final to now and
// reports whether it is still there afterwards. utimensat resolves the path
// before it updates the inode, so a gc's rename can slip in between and the
// new time land on a file gc has already judged old; the second stat
// catches that: if the same file is still at final after the touch
// returned, any later rename by gc sees the new time and restores it.
func (d *Dir) touchInPlace(final string, size int64) bool {
	before, err := os.Stat(final)
	if err != nil || (size >= 0 && before.Size() != size) {
		return false
	}
	now := time.Now()
	if os.Chtimes(final, now, now) != nil {
		return false
	}
	after, err := os.Stat(final)
	return err == nil && os.SameFile(before, after) && !after.ModTime().Before(now)
}

// Touch implements blob.Store.
func (d *Dir) Touch(ctx context.Context, sum string) error {
	if err := blob.CheckSum(sum); err != nil {
		return err
	}
	if !d.touchInPlace(d.path(sum), -1) {
		return errs.E(errs.NotFound, "blob %s is not stored", sum)
	}
	return nil
}

// Walk implements blob.Store.
func (d *Dir) Walk(ctx context.Context, f func(blob.Info) error) error {
	fans, err := os.ReadDir(d.root)
	if err != nil {
		return fmt.Errorf("listing blob store %s: %w", d.root, err)
	}
	for _, fan := range fans {
		if !fan.IsDir() || len(fan.Name()) != 2 {
			continue // tmp/ and anything that is not a fan-out directory
		}
		entries, err := os.ReadDir(filepath.Join(d.root, fan.Name()))
		if err != nil {
			return fmt.Errorf("listing blob store %s: %w", d.root, err)
		}
		for _, e := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			if blob.CheckSum(e.Name()) != nil || !e.Type().IsRegular() {
				continue
			}
			fi, err := e.Info()
			if errors.Is(err, iofs.ErrNotExist) {
				continue // deleted meanwhile
			}
			if err != nil {
				return fmt.Errorf("listing blob store %s: %w", d.root, err)
			}
			if err := f(blob.Info{Sum: e.Name(), Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Delete implements blob.Store. The blob is first renamed out of the way,
// which no Put or Touch can race with, and its time is checked again there:
// a Touch that landed just before the rename brings it back.
func (d *Dir) Delete(ctx context.Context, sum string, before time.Time) (bool, error) {
	if err := blob.CheckSum(sum); err != nil {
		return false, err
	}
	final := d.path(sum)
	fi, err := os.Stat(final)
	if errors.Is(err, iofs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("deleting blob %s: %w", sum, err)
	}
	if !fi.ModTime().Before(before) {
		return false, nil
	}
	trash, err := os.CreateTemp(filepath.Join(d.root, "tmp"), "gc-*")
	if err != nil {
		return false, fmt.Errorf("deleting blob %s: %w", sum, err)
	}
	trash.Close()
	if err := os.Rename(final, trash.Name()); err != nil {
		os.Remove(trash.Name())
		if errors.Is(err, iofs.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("deleting blob %s: %w", sum, err)
	}
	if fi, err := os.Stat(trash.Name()); err == nil && !fi.ModTime().Before(before) {
		if err := os.Rename(trash.Name(), final); err != nil {
			return false, fmt.Errorf("restoring blob %s touched during its deletion: %w", sum, err)
		}
		return false, nil
	}
	if err := os.Remove(trash.Name()); err != nil {
		return false, fmt.Errorf("deleting blob %s: %w", sum, err)
	}
	return true, nil
}

// CleanTemp implements blob.Store.
func (d *Dir) CleanTemp(ctx context.Context, before time.Time) (int, error) {
	dir := filepath.Join(d.root, "tmp")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("cleaning %s: %w", dir, err)
	}
	n := 0
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() || !fi.ModTime().Before(before) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err == nil {
			n++
		}
	}
	return n, nil
}

func notFound(sum string, err error) error {
	if errors.Is(err, iofs.ErrNotExist) {
		return errs.Wrap(errs.NotFound, err, fmt.Sprintf("blob %s is not stored", sum))
	}
	return fmt.Errorf("reading blob %s: %w", sum, err)
}

var _ blob.Store = (*Dir)(nil)
