package agent

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
)

// yumRepo is one [section] of a .repo file, as preflight and update read
// them: whether it is enabled, where it points, and what it excludes.
type yumRepo struct {
	File    string // host path, "/etc/yum.repos.d/epel.repo"
	ID      string
	Name    string
	Enabled bool
	URLs    []string // baseurl, mirrorlist and metalink values
	GPGKeys []string // gpgkey URLs
	CACert  string   // sslcacert
	Exclude []string // exclude= and excludepkgs= patterns
}

// iniSection is a section of a dnf/yum INI file with its keys in order.
type iniSection struct {
	Name string
	Keys []string
	Vals map[string]string
}

// parseINI reads dnf's INI dialect: [section], key=value, # and ; comments,
// and continuation lines (indented) appended to the previous value.
func parseINI(data []byte) []iniSection {
	var out []iniSection
	var cur *iniSection
	last := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		raw := sc.Text()
		line := strings.TrimSpace(raw)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
			continue
		case line[0] == '[' && strings.HasSuffix(line, "]"):
			out = append(out, iniSection{Name: strings.TrimSpace(line[1 : len(line)-1]), Vals: map[string]string{}})
			cur, last = &out[len(out)-1], ""
		case cur != nil && (raw[0] == ' ' || raw[0] == '\t') && last != "":
			cur.Vals[last] += " " + line
		case cur != nil:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			k = strings.ToLower(strings.TrimSpace(k))
			if _, seen := cur.Vals[k]; !seen {
				cur.Keys = append(cur.Keys, k)
			}
			cur.Vals[k], last = strings.TrimSpace(v), k
		}
	}
	return out
}

// listValue splits a dnf list option (separated by spaces or commas).
func listValue(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

// truthy is dnf's reading of a boolean option.
func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "yes", "true", "on":
		return true
	}
	return false
}

// readRootFile reads a file of the host inside root, never following a
// link out of it.
func readRootFile(root, name string) ([]byte, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.ReadFile(strings.TrimPrefix(path.Clean("/"+name), "/"))
}

// yumRepos reads every .repo file of <root>/etc/yum.repos.d, sorted by file
// and section. A missing directory is no repository.
func yumRepos(root string) ([]yumRepo, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	ents, err := fs.ReadDir(r.FS(), "etc/yum.repos.d")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []yumRepo
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".repo") || e.IsDir() {
			continue
		}
		data, err := r.ReadFile("etc/yum.repos.d/" + e.Name())
		if err != nil {
			continue // an unreadable file is dnf's complaint to make
		}
		for _, s := range parseINI(data) {
			if s.Name == "main" {
				continue
			}
			rp := yumRepo{File: "/etc/yum.repos.d/" + e.Name(), ID: s.Name, Name: s.Vals["name"], Enabled: true, CACert: s.Vals["sslcacert"]}
			if v, ok := s.Vals["enabled"]; ok {
				rp.Enabled = truthy(v)
			}
			for _, k := range []string{"baseurl", "mirrorlist", "metalink"} {
				rp.URLs = append(rp.URLs, listValue(s.Vals[k])...)
			}
			rp.GPGKeys = listValue(s.Vals["gpgkey"])
			rp.Exclude = append(listValue(s.Vals["exclude"]), listValue(s.Vals["excludepkgs"])...)
			out = append(out, rp)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].File != out[j].File {
			return out[i].File < out[j].File
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// mainExcludes are the exclude= / excludepkgs= patterns of dnf's or yum's
// [main] section, with the file they come from.
func mainExcludes(root string) (patterns []string, file string) {
	for _, f := range []string{"/etc/dnf/dnf.conf", "/etc/yum.conf"} {
		data, err := readRootFile(root, f)
		if err != nil {
			continue
		}
		for _, s := range parseINI(data) {
			if s.Name == "main" {
				patterns = append(listValue(s.Vals["exclude"]), listValue(s.Vals["excludepkgs"])...)
			}
		}
		return patterns, f
	}
	return nil, ""
}

// conflicting names the enabled repositories known to replace packages the
// vendor's ELS repositories ship: EPEL and remi carry newer builds of the
// same names, so dnf would mix them in.
func conflicting(repos []yumRepo) []yumRepo {
	var out []yumRepo
	for _, r := range repos {
		if !r.Enabled || strings.HasPrefix(r.ID, "enmei-") {
			continue
		}
		hay := strings.ToLower(r.ID + " " + r.Name + " " + strings.Join(r.URLs, " "))
		if strings.Contains(hay, "epel") || strings.Contains(hay, "remi") || strings.Contains(hay, "fedoraproject.org/pub/epel") {
			out = append(out, r)
		}
	}
	return out
}

// heldDebs lists the packages dpkg marks "hold" (apt-mark hold): apt's
// excludepkgs.
func heldDebs(root string) []string {
	data, err := readRootFile(root, "/var/lib/dpkg/status")
	if err != nil {
		return nil
	}
	var held []string
	name := ""
	for line := range strings.Lines(string(data)) {
		switch {
		case strings.HasPrefix(line, "Package:"):
			name = strings.TrimSpace(strings.TrimPrefix(line, "Package:"))
		case strings.HasPrefix(line, "Status:"):
			if f := strings.Fields(strings.TrimPrefix(line, "Status:")); len(f) > 0 && f[0] == "hold" && name != "" {
				held = append(held, name)
			}
		}
	}
	slices.Sort(held)
	return slices.Compact(held)
}
