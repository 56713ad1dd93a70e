// Package aptroot runs the real apt-get against a scratch root directory, for
// tests: everything apt reads and writes (sources, keyrings, auth.conf.d,
// lists, caches, the dpkg status) comes from the root, never from the
// machine's own /etc/apt.
//
// Sources files name keyrings by absolute path (Signed-By:
// /etc/apt/keyrings/enmei.gpg), which apt resolves on the real filesystem,
// and apt reads its apt.conf.d before -o options move its directories.
// AptGet therefore reads copies of the root's sources.list.d/*.sources and
// apt.conf.d/* (given with -c) in which absolute /etc/ paths are moved under
// the root; the originals are untouched.
package aptroot

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Root is a scratch root apt-get works in.
type Root struct {
	Dir string
}

// New prepares the directories apt needs under dir.
func New(t testing.TB, dir string) *Root {
	t.Helper()
	for _, d := range []string{
		"etc/apt/sources.list.d", "etc/apt/keyrings", "etc/apt/auth.conf.d", "etc/apt/apt.conf.d",
		"etc/apt/preferences.d", "etc/apt/trusted.gpg.d", "var/lib/apt/lists/partial",
		"var/cache/apt/archives/partial", "var/lib/dpkg/updates", "var/lib/dpkg/info", "var/log/apt",
		"var/lib/aptroot/sources.list.d",
	} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	status := filepath.Join(dir, "var/lib/dpkg/status")
	if _, err := os.Stat(status); err != nil {
		if err := os.WriteFile(status, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &Root{Dir: dir}
}

var signedBy = regexp.MustCompile(`(?m)^Signed-By:\s*(/\S+)\s*$`)

// rootSources copies the root's .sources files with Signed-By moved under the root.
func (r *Root) rootSources() (string, error) {
	parts := filepath.Join(r.Dir, "var/lib/aptroot/sources.list.d")
	old, _ := filepath.Glob(filepath.Join(parts, "*"))
	for _, f := range old {
		os.Remove(f)
	}
	files, err := filepath.Glob(filepath.Join(r.Dir, "etc/apt/sources.list.d/*.sources"))
	if err != nil {
		return "", err
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		out := signedBy.ReplaceAllStringFunc(string(data), func(line string) string {
			p := signedBy.FindStringSubmatch(line)[1]
			return "Signed-By: " + filepath.Join(r.Dir, p)
		})
		if err := os.WriteFile(filepath.Join(parts, filepath.Base(f)), []byte(out), 0o644); err != nil {
			return "", err
		}
	}
	return parts, nil
}

var quotedEtc = regexp.MustCompile(`"/etc/`)

// rootConfs copies the root's apt.conf.d files with quoted /etc/ paths moved
// under the root, and returns -c options that load them.
func (r *Root) rootConfs() ([]string, error) {
	files, err := filepath.Glob(filepath.Join(r.Dir, "etc/apt/apt.conf.d/*"))
	if err != nil {
		return nil, err
	}
	var opts []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out := quotedEtc.ReplaceAllString(string(data), `"`+r.Dir+`/etc/`)
		copyPath := filepath.Join(r.Dir, "var/lib/aptroot", "conf-"+filepath.Base(f))
		if err := os.WriteFile(copyPath, []byte(out), 0o600); err != nil {
			return nil, err
		}
		opts = append(opts, "-c", copyPath)
	}
	return opts, nil
}

func (r *Root) options(parts string) []string {
	return []string{
		"-o", "Dir=" + r.Dir,
		"-o", "Dir::Etc::sourcelist=/dev/null",
		"-o", "Dir::Etc::sourceparts=" + parts,
		"-o", "Dir::State::status=" + filepath.Join(r.Dir, "var/lib/dpkg/status"),
		"-o", "Dir::Etc::trusted=" + filepath.Join(r.Dir, "etc/apt/trusted.gpg"),
		"-o", "Dir::Etc::trustedparts=" + filepath.Join(r.Dir, "etc/apt/trusted.gpg.d"),
		"-o", "Dir::Etc::netrcparts=" + filepath.Join(r.Dir, "etc/apt/auth.conf.d"),
		"-o", "APT::Sandbox::User=root",
		"-o", "APT::Architecture=amd64",
		"-o", "APT::Architectures::=amd64",
		"-o", "Debug::NoLocking=1",
		"-o", "Acquire::Languages=none",
		"-o", "Acquire::Retries=0",
	}
}

// problem lines apt prints while still exiting 0.
var problem = regexp.MustCompile(`(?m)^(E:|W:|Err:)|NO_PUBKEY|is not signed|couldn't be verified|Unauthorized`)

// AptGet runs apt-get with args in the root and returns its output; it fails
// when apt fails or reports an error or signature warning.
func (r *Root) AptGet(ctx context.Context, args ...string) (string, error) {
	return r.run(ctx, "", "apt-get", args...)
}

// AptCache runs apt-cache in the root.
func (r *Root) AptCache(ctx context.Context, args ...string) (string, error) {
	return r.run(ctx, "", "apt-cache", args...)
}

func (r *Root) run(ctx context.Context, dir, name string, args ...string) (string, error) {
	parts, err := r.rootSources()
	if err != nil {
		return "", err
	}
	confs, err := r.rootConfs()
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, name, append(append(confs, r.options(parts)...), args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	if m := problem.FindString(string(out)); m != "" {
		return string(out), fmt.Errorf("%s %s reported a problem (%q)", name, strings.Join(args, " "), m)
	}
	return string(out), nil
}

// Download fetches a package with apt-get download and returns its path.
func (r *Root) Download(ctx context.Context, pkg string) (string, error) {
	dir, err := os.MkdirTemp("", "aptroot-download-*")
	if err != nil {
		return "", err
	}
	out, err := r.run(ctx, dir, "apt-get", "download", pkg)
	if err != nil {
		return "", fmt.Errorf("%w\n%s", err, out)
	}
	files, _ := filepath.Glob(filepath.Join(dir, pkg+"_*.deb"))
	if len(files) != 1 {
		return "", fmt.Errorf("apt-get download %s left %v\n%s", pkg, files, out)
	}
	return files[0], nil
}
