package inventory

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxLinks is how many symbolic links one lookup follows, as Linux's
// MAXSYMLINKS (ELOOP beyond).
const maxLinks = 40

var errLoop = errors.New("too many levels of symbolic links")

// rootDir resolves paths as the host sees them when root is its "/":
// symbolic links are followed with absolute targets taken from root, not
// from the machine running enmei, and ".." never climbs above root. A
// scratch root or a mounted image (/var/lib/rpm -> /usr/lib/sysimage/rpm)
// is then read as its own system would read it, instead of reaching into
// the agent's host. Directories already resolved are remembered, since a
// dpkg file list names the same few thousand directories many times.
type rootDir struct {
	root string
	dirs map[string]string // clean in-root directory -> resolved in-root directory
}

func newRootDir(root string) *rootDir {
	if root == "" {
		root = "/"
	}
	return &rootDir{root: root, dirs: map[string]string{"/": "/"}}
}

// host turns a resolved in-root path into a path on this machine.
func (r *rootDir) host(p string) string {
	return filepath.Join(r.root, filepath.FromSlash(p))
}

// resolve returns the host path of the in-root path p. With follow, a
// symbolic link in the last element is followed too (stat); without, it is
// not (lstat). Elements that do not exist are kept as they are, so opening
// the result fails as it would on the host.
func (r *rootDir) resolve(p string, follow bool) (string, error) {
	p = path.Clean("/" + p)
	if p == "/" {
		return r.root, nil
	}
	dir, err := r.resolveDir(path.Dir(p))
	if err != nil {
		return "", err
	}
	cand := path.Join(dir, path.Base(p))
	if !follow {
		return r.host(cand), nil
	}
	res, err := r.walk(cand, 0)
	if err != nil {
		return "", err
	}
	return r.host(res), nil
}

// resolveDir resolves a clean in-root directory path, with the cache.
func (r *rootDir) resolveDir(d string) (string, error) {
	if res, ok := r.dirs[d]; ok {
		return res, nil
	}
	parent, err := r.resolveDir(path.Dir(d))
	if err != nil {
		return "", err
	}
	res, err := r.walk(path.Join(parent, path.Base(d)), 0)
	if err != nil {
		return "", err
	}
	if len(r.dirs) < 1<<16 { // bound the cache on pathological lists
		r.dirs[d] = res
	}
	return res, nil
}

// walk resolves p element by element, following every symbolic link;
// hops counts the links followed so far.
func (r *rootDir) walk(p string, hops int) (string, error) {
	resolved := "/"
	rest := strings.Split(p, "/")
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			resolved = path.Dir(resolved)
			continue
		}
		cand := path.Join(resolved, c)
		fi, err := os.Lstat(r.host(cand))
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			resolved = cand
			continue
		}
		if hops++; hops > maxLinks {
			return "", &fs.PathError{Op: "resolve", Path: r.host(p), Err: errLoop}
		}
		target, err := os.Readlink(r.host(cand))
		if err != nil {
			resolved = cand
			continue
		}
		if strings.HasPrefix(target, "/") {
			resolved = "/"
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return resolved, nil
}
