package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/enmei-project/enmei/internal/repoconf"
)

// Paths register writes, as on the host (joined under --root).
const (
	yumRepoPath = repoconf.YumRepoPath
	rpmKeyPath  = repoconf.RPMKeyPath
	aptSources  = "/etc/apt/sources.list.d/enmei.sources"
	aptKeyring  = "/etc/apt/keyrings/enmei.gpg"
	aptAuth     = "/etc/apt/auth.conf.d/enmei.conf"
	aptConf     = "/etc/apt/apt.conf.d/80enmei"
	caPath      = repoconf.CAPath
	statePath   = "/etc/enmei/host.json"
	// scriptStatePath is where register.sh (EL6 hosts) keeps its seat's
	// credential; the agent never writes it.
	scriptStatePath = "/etc/enmei/register.conf"
	stateDir        = "/etc/enmei"
)

// ownFiles are the only files unregister removes, whatever host.json says,
// so a damaged host.json cannot make it delete anything else.
var ownFiles = map[string]bool{
	yumRepoPath: true, rpmKeyPath: true, aptSources: true, aptKeyring: true,
	aptAuth: true, aptConf: true, caPath: true, statePath: true,
}

// repoIDShape is a repository ID as enmeid allows them: a file name part
// that cannot leave its directory.
var repoIDShape = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// isUpstreamKey reports whether p is a mirror's distribution key register
// wrote.
func isUpstreamKey(p string) bool {
	id, ok := strings.CutPrefix(p, repoconf.UpstreamKeyPathPrefix)
	return ok && repoIDShape.MatchString(id) && !strings.Contains(id, "..")
}

// file is one file register writes.
type file struct {
	path string // absolute on the host
	data []byte
	mode fs.FileMode
}

// writeFiles writes files under root, each atomically (a temporary file in
// the same directory, chmod, fsync, rename) so a crash never leaves half a
// file. All are staged before the first rename; if anything fails, every
// file this call put in place is returned to what it was before (removed,
// or its earlier content and mode restored), so a failed re-registration
// leaves the previous configuration working, and the error says so.
func writeFiles(root string, files []file) error {
	type staged struct {
		tmp, final, path string
		old              *file // the content it replaces; nil: there was none
	}
	var temps []staged
	var placed []staged
	undo := func(err error) error {
		for _, s := range temps {
			os.Remove(s.tmp)
		}
		var failed []error
		for _, s := range placed {
			if s.old == nil {
				if rerr := os.Remove(s.final); rerr != nil {
					failed = append(failed, rerr)
				}
			} else if rerr := writeFiles(root, []file{*s.old}); rerr != nil {
				failed = append(failed, rerr)
			}
		}
		switch {
		case len(failed) > 0:
			return fmt.Errorf("%w (and enmei could not undo what it had written: %v)", err, errors.Join(failed...))
		case len(placed) > 0:
			return fmt.Errorf("%w (enmei put the %d files it had written back as they were)", err, len(placed))
		}
		return err
	}
	for _, f := range files {
		final := filepath.Join(root, f.path)
		dir := filepath.Dir(final)
		if err := mkdirAll(dir); err != nil {
			return undo(fmt.Errorf("creating %s: %w", path.Dir(f.path), err))
		}
		s := staged{final: final, path: f.path}
		if fi, err := os.Lstat(final); err == nil && fi.Mode().IsRegular() {
			data, err := os.ReadFile(final)
			if err != nil {
				return undo(fmt.Errorf("reading %s: %w", f.path, err))
			}
			s.old = &file{f.path, data, fi.Mode().Perm()}
		}
		tmp, err := os.CreateTemp(dir, ".enmei-*.tmp")
		if err != nil {
			return undo(fmt.Errorf("writing %s: %w", f.path, err))
		}
		s.tmp = tmp.Name()
		temps = append(temps, s)
		// Chmod before writing, so a secret is never readable by others,
		// and explicitly, so the umask cannot change the mode.
		err = tmp.Chmod(f.mode)
		if err == nil {
			_, err = tmp.Write(f.data)
		}
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return undo(fmt.Errorf("writing %s: %w", f.path, err))
		}
	}
	for i, s := range temps {
		if err := os.Rename(s.tmp, s.final); err != nil {
			temps = temps[i:]
			return undo(fmt.Errorf("installing %s: %w", s.path, err))
		}
		placed = append(placed, s)
	}
	return nil
}

// removeFiles removes the given host paths under root (missing ones are
// fine) and /etc/enmei when it is left empty.
func removeFiles(root string, paths []string) error {
	var errList []error
	for _, p := range paths {
		p = path.Clean("/" + p)
		if !ownFiles[p] && !isUpstreamKey(p) {
			continue
		}
		if err := os.Remove(filepath.Join(root, p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errList = append(errList, fmt.Errorf("removing %s: %w", p, err))
		}
	}
	os.Remove(filepath.Join(root, stateDir)) // only succeeds when empty
	return errors.Join(errList...)
}

// mkdirAll is os.MkdirAll with the new directories 0755 whatever the umask:
// apt reads keyrings as the unprivileged _apt user.
func mkdirAll(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirAll(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	}
	return os.Chmod(dir, 0o755)
}
