package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/errs"
)

// switchDir keeps the originals enmei switch replaced and what it wrote
// instead, so --revert puts back exactly those files and only when nobody
// changed them since.
const (
	switchDir   = "/var/lib/enmei/switch"
	switchState = switchDir + "/state.json"
)

// distroHosts are the community's own servers: repositories pointing at
// them stop working (or stop getting fixes) when the community's support
// ends, which is what switch turns off.
var distroHosts = []string{
	"repo.almalinux.org", "mirrors.almalinux.org", "vault.almalinux.org",
	"mirror.centos.org", "mirrorlist.centos.org", "vault.centos.org", "mirror.stream.centos.org",
	"dl.rockylinux.org", "mirrors.rockylinux.org",
	"yum.oracle.com",
	"cdn.redhat.com",
	"amazonlinux.", "amazonaws.com/amazonlinux", "cdn.amazonlinux.com",
	"deb.debian.org", "security.debian.org", "ftp.debian.org", "httpredir.debian.org", "archive.debian.org",
	"archive.ubuntu.com", "security.ubuntu.com", "ports.ubuntu.com", "old-releases.ubuntu.com",
}

// isDistroURL reports whether a repository URL is the community's.
func isDistroURL(raw string) bool {
	raw = strings.ReplaceAll(raw, "$", "") // dnf variables in the host part
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	host := strings.ToLower(u.Hostname())
	full := host + u.Path
	for _, d := range distroHosts {
		if strings.Contains(d, "/") {
			if strings.Contains(full, d) {
				return true
			}
			continue
		}
		if host == d || strings.HasSuffix(host, "."+d) || (strings.HasSuffix(d, ".") && strings.Contains(host, d)) {
			return true
		}
	}
	return false
}

// switchRecord is one file switch rewrote.
type switchRecord struct {
	Path   string   `json:"path"`   // on the host
	Backup string   `json:"backup"` // the original's copy, on the host
	SHA256 string   `json:"sha256"` // of what switch wrote
	Mode   uint32   `json:"mode"`
	Repos  []string `json:"repos"` // what it disabled
}

type switchStateFile struct {
	Switched time.Time      `json:"switched"`
	Files    []switchRecord `json:"files"`
}

func (a *app) switchCommand() *cobra.Command {
	var revert bool
	cmd := &cobra.Command{
		Use:   "switch [--revert]",
		Short: "Turn off the distribution's own repositories so the host updates from the vendor's (before the extended period)",
		Long: `switch disables the distribution's own repositories (BaseOS, AppStream, updates,
security…: every repository whose URL is the community's servers) so that
dnf/yum or apt update only from the vendor's mirrors and ELS repositories once
the community stops publishing. Run it before the extended period starts.

The original files are kept under /var/lib/enmei/switch/; --revert puts them
back, as long as nobody changed the rewritten files since.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			unlock, err := lock(cmd.Context(), a.root)
			if err != nil {
				return err
			}
			defer unlock()
			if revert {
				return a.switchRevert()
			}
			return a.switchOff(cmd.Context())
		},
	}
	cmd.Flags().BoolVar(&revert, "revert", false, "restore the distribution's repositories as they were before enmei switch")
	return cmd
}

// distroFiles finds the repository files that enable community
// repositories and what they would look like with those disabled.
func distroFiles(root string) ([]switchRecord, map[string][]byte, error) {
	var recs []switchRecord
	rewritten := map[string][]byte{}
	add := func(p string, data []byte, repos []string) {
		if len(repos) == 0 {
			return
		}
		sum := sha256.Sum256(data)
		recs = append(recs, switchRecord{Path: p, SHA256: hex.EncodeToString(sum[:]), Repos: repos})
		rewritten[p] = data
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	list := func(dir string, suffixes ...string) []string {
		ents, err := fs.ReadDir(r.FS(), strings.TrimPrefix(dir, "/"))
		if err != nil {
			return nil
		}
		var out []string
		for _, e := range ents {
			for _, s := range suffixes {
				if e.Type().IsRegular() && strings.HasSuffix(e.Name(), s) {
					out = append(out, path.Join(dir, e.Name()))
				}
			}
		}
		return out
	}
	for _, p := range list("/etc/yum.repos.d", ".repo") {
		if p == yumRepoPath {
			continue
		}
		data, err := r.ReadFile(strings.TrimPrefix(p, "/"))
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", p, err)
		}
		out, repos := disableYum(data)
		add(p, out, repos)
	}
	for _, p := range append([]string{"/etc/apt/sources.list"}, list("/etc/apt/sources.list.d", ".list", ".sources")...) {
		if p == aptSources {
			continue
		}
		data, err := r.ReadFile(strings.TrimPrefix(p, "/"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s: %w", p, err)
		}
		var out []byte
		var repos []string
		if strings.HasSuffix(p, ".sources") {
			out, repos = disableDeb822(data)
		} else {
			out, repos = disableOneLine(data)
		}
		add(p, out, repos)
	}
	return recs, rewritten, nil
}

// disableYum sets enabled=0 in every enabled section whose URLs are the
// community's, keeping every other line as it was.
func disableYum(data []byte) ([]byte, []string) {
	sections := parseINI(data)
	distro := map[string]bool{}
	for _, s := range sections {
		if v, ok := s.Vals["enabled"]; ok && !truthy(v) {
			continue
		}
		for _, k := range []string{"baseurl", "mirrorlist", "metalink"} {
			for _, u := range listValue(s.Vals[k]) {
				if isDistroURL(u) {
					distro[s.Name] = true
				}
			}
		}
	}
	if len(distro) == 0 {
		return data, nil
	}
	var out bytes.Buffer
	cur := ""
	wrote := map[string]bool{} // sections whose enabled=0 is written
	end := func() {            // a section without enabled= is enabled: say 0
		if distro[cur] && !wrote[cur] {
			out.WriteString("enabled=0\n")
			wrote[cur] = true
		}
	}
	for line := range strings.Lines(string(data)) {
		if !strings.HasSuffix(line, "\n") {
			line += "\n"
		}
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			end()
			cur = strings.TrimSpace(t[1 : len(t)-1])
			out.WriteString(line)
			if distro[cur] {
				out.WriteString("# enmei switch: disabled; enmei switch --revert restores it\n")
			}
			continue
		}
		if k, _, ok := strings.Cut(t, "="); ok && distro[cur] && strings.ToLower(strings.TrimSpace(k)) == "enabled" {
			end()
			continue
		}
		out.WriteString(line)
	}
	end()
	repos := make([]string, 0, len(distro))
	for id := range distro {
		repos = append(repos, id)
	}
	slices.Sort(repos)
	return out.Bytes(), repos
}

// disableOneLine comments out the deb/deb-src lines of sources.list files
// that point at the community's servers.
func disableOneLine(data []byte) ([]byte, []string) {
	var out bytes.Buffer
	var repos []string
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) >= 3 && (f[0] == "deb" || f[0] == "deb-src") {
			uri := f[1]
			if strings.HasPrefix(uri, "[") { // options: deb [signed-by=…] URI suite
				for i, w := range f[1:] {
					if strings.HasSuffix(w, "]") && i+2 < len(f) {
						uri = f[i+2]
						break
					}
				}
			}
			if isDistroURL(uri) {
				out.WriteString("# enmei switch: " + line)
				repos = append(repos, strings.TrimSpace(line))
				continue
			}
		}
		out.WriteString(line)
	}
	return out.Bytes(), repos
}

// disableDeb822 adds "Enabled: no" to the stanzas of a .sources file whose
// URIs are the community's.
func disableDeb822(data []byte) ([]byte, []string) {
	var out bytes.Buffer
	var repos []string
	for _, stanza := range strings.SplitAfter(string(data), "\n\n") {
		distro, name := false, ""
		for line := range strings.Lines(stanza) {
			if v, ok := strings.CutPrefix(line, "URIs:"); ok {
				for _, u := range strings.Fields(v) {
					if isDistroURL(u) {
						distro, name = true, strings.TrimSpace(v)
					}
				}
			}
		}
		if !distro {
			out.WriteString(stanza)
			continue
		}
		var st bytes.Buffer
		for line := range strings.Lines(stanza) {
			if strings.HasPrefix(strings.ToLower(line), "enabled:") {
				continue
			}
			st.WriteString(line)
		}
		body := strings.TrimRight(st.String(), "\n")
		out.WriteString("# enmei switch: disabled; enmei switch --revert restores it\n" + body + "\nEnabled: no\n")
		if strings.HasSuffix(stanza, "\n\n") {
			out.WriteString("\n")
		}
		repos = append(repos, name)
	}
	return out.Bytes(), repos
}

// switchOff disables the community's repositories, keeping the originals.
func (a *app) switchOff(ctx context.Context) error {
	if _, err := LoadState(a.root); err != nil {
		return fmt.Errorf("%w (without the vendor's repositories the host would have none once the community's are off)", err)
	}
	if _, err := os.Stat(filepath.Join(a.root, switchState)); err == nil {
		return errs.E(errs.Invalid, "this host is already switched (%s exists): run enmei switch --revert first to switch again", switchState)
	}
	recs, rewritten, err := distroFiles(a.root)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		return a.switchReport("no repository of the distribution is enabled: nothing to switch", nil)
	}
	stamp := time.Now().UTC()
	backupDir := path.Join(switchDir, stamp.Format("20060102T150405Z"))
	var files []file
	for i, rec := range recs {
		orig, err := readRootFile(a.root, rec.Path)
		if err != nil {
			return err
		}
		fi, err := os.Stat(filepath.Join(a.root, rec.Path))
		if err != nil {
			return err
		}
		recs[i].Mode = uint32(fi.Mode().Perm())
		recs[i].Backup = path.Join(backupDir, strings.ReplaceAll(strings.TrimPrefix(rec.Path, "/"), "/", "_"))
		files = append(files, file{recs[i].Backup, orig, 0o600})
	}
	// The backups first, then the state that names them, then the
	// rewritten files: a crash in between leaves originals to revert to.
	if err := writeFiles(a.root, files); err != nil {
		return fmt.Errorf("backing up the repository files: %w", err)
	}
	state, err := json.MarshalIndent(switchStateFile{Switched: stamp, Files: recs}, "", "  ")
	if err != nil {
		return err
	}
	var out []file
	for _, rec := range recs {
		out = append(out, file{rec.Path, rewritten[rec.Path], fs.FileMode(rec.Mode)})
	}
	if err := writeFiles(a.root, append([]file{{switchState, append(state, '\n'), 0o600}}, out...)); err != nil {
		return fmt.Errorf("disabling the distribution's repositories: %w", err)
	}
	return a.switchReport(fmt.Sprintf("disabled the distribution's repositories; the originals are in %s (enmei switch --revert restores them)", backupDir), recs)
}

func (a *app) switchReport(msg string, recs []switchRecord) error {
	if a.json {
		if recs == nil {
			recs = []switchRecord{}
		}
		return a.printJSON(map[string]any{"message": msg, "files": recs})
	}
	for _, r := range recs {
		fmt.Fprintf(a.stdout, "%s: %s\n", r.Path, strings.Join(r.Repos, ", "))
	}
	fmt.Fprintln(a.stdout, msg)
	return nil
}

// switchRevert puts back the originals of every file switch rewrote,
// refusing a file someone changed since (its changes would be lost).
func (a *app) switchRevert() error {
	data, err := readRootFile(a.root, switchState)
	if errors.Is(err, fs.ErrNotExist) {
		return errs.E(errs.NotFound, "this host was not switched (there is no %s): nothing to revert", switchState)
	}
	if err != nil {
		return err
	}
	var st switchStateFile
	if err := json.Unmarshal(data, &st); err != nil {
		return errs.E(errs.Invalid, "%s is damaged: restore the originals from %s by hand", switchState, switchDir)
	}
	var files []file
	for _, rec := range st.Files {
		cur, err := readRootFile(a.root, rec.Path)
		if err == nil {
			sum := sha256.Sum256(cur)
			if hex.EncodeToString(sum[:]) != rec.SHA256 {
				return errs.E(errs.Invalid, "%s was changed after enmei switch: restore it by hand from %s (nothing was reverted)", rec.Path, rec.Backup)
			}
		}
		orig, err := readRootFile(a.root, rec.Backup)
		if err != nil {
			return fmt.Errorf("reading the backup %s: %w", rec.Backup, err)
		}
		files = append(files, file{rec.Path, orig, fs.FileMode(rec.Mode)})
	}
	if err := writeFiles(a.root, files); err != nil {
		return fmt.Errorf("restoring the distribution's repositories: %w", err)
	}
	if err := os.Remove(filepath.Join(a.root, switchState)); err != nil {
		return err
	}
	return a.switchReport("restored the distribution's repositories as they were before enmei switch", st.Files)
}
