package hostbundle

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"

	"github.com/enmei-project/enmei/internal/bytesize"
	"github.com/enmei-project/enmei/internal/errs"
)

// maxLinks is how many symbolic links one lookup follows, as Linux's
// MAXSYMLINKS (ELOOP beyond).
const maxLinks = 40

// errTooLarge marks a file over the limit it is read with.
var errTooLarge = errors.New("too large")

// hostFS reads the host's files under its root as the host itself would:
// a link's absolute target is taken from the root and ".." stops at it
// (the kernel's rule at "/"), so a scratch root or a mounted image never
// reads the files of the machine running enmei. os.Root opens the
// resolved path, so a link changed in between still cannot leave the root.
type hostFS struct {
	r *os.Root
}

func openHost(root string) (*hostFS, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, errs.Wrap(errs.Invalid, err, fmt.Sprintf("cannot open the root %s (%v): check --root", root, reason(err)))
	}
	return &hostFS{r: r}, nil
}

func (h *hostFS) close() { h.r.Close() }

// resolve turns the host path p into a path relative to the root with
// every symbolic link followed.
func (h *hostFS) resolve(p string) (string, error) {
	rest := strings.Split(p, "/")
	var done []string
	hops := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cand := path.Join(path.Join(done...), c)
		fi, err := h.r.Lstat(cand)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			// A missing element stays: opening the result fails as it
			// would on the host.
			done = append(done, c)
			continue
		}
		if hops++; hops > maxLinks {
			return "", &fs.PathError{Op: "open", Path: p, Err: syscall.ELOOP}
		}
		target, err := h.r.Readlink(cand)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			done = done[:0]
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return path.Join(done...), nil
}

// open opens the regular file at host path p. O_NONBLOCK keeps a FIFO
// planted where a log should be from blocking the bundle; anything but a
// regular file is refused.
func (h *hostFS) open(p string) (*os.File, fs.FileInfo, error) {
	rp, err := h.resolve(p)
	if err != nil {
		return nil, nil, err
	}
	f, err := h.r.OpenFile(rp, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	return f, fi, nil
}

// readFile reads the whole regular file p, refusing one over limit bytes.
func (h *hostFS) readFile(p string, limit int64) ([]byte, error) {
	f, _, err := h.open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: over %s", errTooLarge, bytesize.Exact(limit))
	}
	return data, nil
}

// tail reads the last limit bytes of the regular file p at most, starting
// at a line: a cut through the middle of a line could leave the end of a
// secret that the safety net no longer recognises. cut is how many bytes
// of the file's beginning were left out.
func (h *hostFS) tail(p string, limit int64) (data []byte, cut int64, err error) {
	f, fi, err := h.open(p)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	if fi.Size() > limit {
		cut = fi.Size() - limit
		if _, err := f.Seek(cut, io.SeekStart); err != nil {
			return nil, 0, err
		}
	}
	data, err = io.ReadAll(io.LimitReader(f, limit))
	if err != nil {
		return nil, 0, err
	}
	if cut > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			i = len(data) - 1
		}
		cut += int64(i + 1)
		data = data[i+1:]
	}
	return data, cut, nil
}

// list returns the names in the host directory dir matching pattern,
// sorted, without hidden files.
func (h *hostFS) list(dir, pattern string) ([]string, error) {
	rp, err := h.resolve(dir)
	if err != nil {
		return nil, err
	}
	f, err := h.r.Open(rp)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ents, err := f.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		if ok, _ := path.Match(pattern, e.Name()); ok && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// reason is the part of an error worth showing beside a path the message
// names already: "permission denied", not the whole *PathError.
func reason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
