package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/demo"
)

type pubRow struct {
	ID         int64 `json:"id"`
	Packages   int   `json:"packages"`
	Current    bool  `json:"current"`
	RollbackOf int64 `json:"rollback_of"`
}

func (v *vendor) publications(repo string) []pubRow {
	v.t.Helper()
	out := v.must("--json", "publication", "list", repo)
	var rows []pubRow
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r pubRow
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			v.t.Fatalf("publication list line %q: %v", line, err)
		}
		rows = append(rows, r)
	}
	return rows
}

// current is the repository's current publication (Current false when
// there is none).
func (v *vendor) current(repo string) pubRow {
	v.t.Helper()
	for _, r := range v.publications(repo) {
		if r.Current {
			return r
		}
	}
	return pubRow{}
}

func writeDemo(t *testing.T, format string) (dir string, names []string) {
	t.Helper()
	files, err := demo.Files(format)
	must(t, err)
	dir = t.TempDir()
	for name, data := range files {
		must(t, os.WriteFile(filepath.Join(dir, name), data, 0o644))
		names = append(names, name)
	}
	return dir, names
}

// TestPublishRefusesBadInput: corrupt, truncated, fake and wrong-format
// packages are refused with a reason, and the repository is unchanged.
func TestPublishRefusesBadInput(t *testing.T) {
	v := newVendor(t, "")
	v.catalog()
	dir, names := writeDemo(t, "rpm")
	v.must("publish", "el9-x86_64", dir)
	before := v.publications("el9-x86_64")

	good, err := os.ReadFile(filepath.Join(dir, names[0]))
	must(t, err)
	debDir, debNames := writeDemo(t, "deb")
	bad := t.TempDir()
	flipped := bytes.Clone(good)
	flipped[len(flipped)-100] ^= 0xff
	cases := map[string][]byte{
		"truncated.rpm":       good[:len(good)/2],
		"header-cut.rpm":      good[:200],
		"flipped-payload.rpm": flipped,
		"notes.rpm":           []byte("this is a text file, not a package\n"),
		"empty.rpm":           nil,
	}
	debData, err := os.ReadFile(filepath.Join(debDir, debNames[0]))
	must(t, err)
	cases["package.deb"] = debData
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(bad, name)
			must(t, os.WriteFile(p, data, 0o644))
			// The bad file comes after a good one: nothing of either is published.
			r := v.admin("publish", "el9-x86_64", filepath.Join(dir, names[0]), p)
			if r.code != 1 || !strings.Contains(r.stderr, name) || !strings.Contains(r.stderr, "nothing was published") {
				t.Errorf("publish %s: exit %d, stderr %q; want exit 1 naming the file", name, r.code, r.stderr)
			}
			if strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
				t.Errorf("publish %s: error is not one line: %q", name, r.stderr)
			}
		})
	}
	if r := v.admin("publish", "deb12-main", filepath.Join(dir, names[0])); r.code != 1 || !strings.Contains(r.stderr, "RPM") {
		t.Errorf("rpm into a deb repository: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := v.admin("publish", "no-such-repo", filepath.Join(dir, names[0])); r.code != 1 || !strings.Contains(r.stderr, "no-such-repo") {
		t.Errorf("unknown repository: exit %d, stderr %q", r.code, r.stderr)
	}
	after := v.publications("el9-x86_64")
	if len(after) != len(before) || after[0] != before[0] {
		t.Errorf("publications changed by refused publishes: before %+v, after %+v", before, after)
	}
}

// TestCrashDuringPublish: enmeid is SIGKILLed after writing a new
// publication's blobs and before switching to it; the previous snapshot
// stays current and fully served, and a later publish works.
func TestCrashDuringPublish(t *testing.T) {
	v, c := demoVendor(t, "el9", 2)
	h := newHost(t, almaRelease, machineID(300))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	id := h.identity()
	base := v.url + "/repos/el9-x86_64/"
	_, repomd := get(t, "GET", base+"repodata/repomd.xml", id.HostID, id.Secret, nil)
	before := v.publications("el9-x86_64")

	newer, err := demo.RPM(demo.Spec{Name: "enmei-crash", Version: "2.0", Release: "1", Arch: "x86_64", Summary: "crash test",
		Files: map[string]string{"/usr/share/enmei-crash/x": "x\n"}})
	must(t, err)
	p := filepath.Join(t.TempDir(), "enmei-crash-2.0-1.x86_64.rpm")
	must(t, os.WriteFile(p, newer, 0o644))
	r := run(t, append(v.env(), "ENMEI_DEBUG_CRASH_BEFORE_COMMIT=1"), bin.enmeid, "publish", "el9-x86_64", p)
	if r.code != -1 && r.code != 137 {
		t.Fatalf("publish with crash hook: exit %d, want killed by SIGKILL\n%s", r.code, r.stderr)
	}
	after := v.publications("el9-x86_64")
	if len(after) != len(before) || after[0] != before[0] {
		t.Fatalf("killed publish changed publications: before %+v after %+v", before, after)
	}
	_, repomd2 := get(t, "GET", base+"repodata/repomd.xml", id.HostID, id.Secret, nil)
	if !bytes.Equal(repomd, repomd2) {
		t.Error("repomd.xml changed after a killed publish")
	}
	// Every file the old repomd names is still there and matches.
	for _, href := range hrefs(string(repomd2)) {
		resp, _ := get(t, "GET", base+href, id.HostID, id.Secret, nil)
		if resp.StatusCode != 200 {
			t.Errorf("after crash, %s: status %d", href, resp.StatusCode)
		}
	}
	out := v.must("publish", "el9-x86_64", p)
	if !strings.Contains(out, "publication") {
		t.Errorf("publish after crash printed %q", out)
	}
	rows := v.publications("el9-x86_64")
	if rows[0].Packages != before[0].Packages+1 || !rows[0].Current {
		t.Errorf("publish after crash: %+v, want one more package than %+v", rows[0], before[0])
	}
	// Rollback switches back at once, as a new publication of the old packages.
	v.must("publication", "rollback", "el9-x86_64", strconv.FormatInt(before[0].ID, 10))
	rolled := v.publications("el9-x86_64")
	if !rolled[0].Current || rolled[0].ID <= rows[0].ID || rolled[0].Packages != before[0].Packages || rolled[0].RollbackOf != before[0].ID {
		t.Errorf("after rollback: %+v; want a new current publication re-publishing %+v", rolled, before[0])
	}
	if r := v.admin("publication", "rollback", "el9-x86_64", "99999"); r.code != 1 {
		t.Errorf("rollback to an unknown publication: exit %d, want 1", r.code)
	}
}

func hrefs(repomd string) []string {
	var out []string
	for _, part := range strings.Split(repomd, `href="`)[1:] {
		out = append(out, part[:strings.Index(part, `"`)])
	}
	return out
}

// TestServing: HEAD, Range, conditional requests and path traversal.
func TestServing(t *testing.T) {
	v, c := demoVendor(t, "el9", 2)
	h := newHost(t, almaRelease, machineID(400))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	id := h.identity()
	base := v.url + "/repos/el9-x86_64/"
	_, primaryXML := get(t, "GET", base+"repodata/repomd.xml", id.HostID, id.Secret, nil)
	var pkgHref string
	resp, body := get(t, "GET", base+"repodata/repomd.xml", id.HostID, id.Secret, nil)
	_ = primaryXML
	if resp.StatusCode != 200 || len(body) == 0 {
		t.Fatalf("repomd.xml: %d", resp.StatusCode)
	}
	// Find a package path from the manifest by asking for the primary file.
	for _, href := range hrefs(string(body)) {
		if strings.Contains(href, "primary.xml") {
			_, gz := get(t, "GET", base+href, id.HostID, id.Secret, nil)
			pkgHref = firstLocation(t, gz)
		}
	}
	if pkgHref == "" {
		t.Fatal("no package location found in primary.xml")
	}
	full, whole := get(t, "GET", base+pkgHref, id.HostID, id.Secret, nil)
	if full.StatusCode != 200 || full.Header.Get("ETag") == "" {
		t.Fatalf("GET package: %d ETag %q Last-Modified %q", full.StatusCode, full.Header.Get("ETag"), full.Header.Get("Last-Modified"))
	}
	head, hb := get(t, "HEAD", base+pkgHref, id.HostID, id.Secret, nil)
	if head.StatusCode != 200 || len(hb) != 0 || head.ContentLength != int64(len(whole)) {
		t.Errorf("HEAD: %d, body %d bytes, length %d; want 200, 0, %d", head.StatusCode, len(hb), head.ContentLength, len(whole))
	}
	part, pb := get(t, "GET", base+pkgHref, id.HostID, id.Secret, map[string]string{"Range": "bytes=10-19"})
	if part.StatusCode != http.StatusPartialContent || !bytes.Equal(pb, whole[10:20]) {
		t.Errorf("Range: %d, %q; want 206 and bytes 10-19", part.StatusCode, pb)
	}
	cond, _ := get(t, "GET", base+pkgHref, id.HostID, id.Secret, map[string]string{"If-None-Match": full.Header.Get("ETag")})
	if cond.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", cond.StatusCode)
	}
	for _, p := range []string{"../../../../etc/passwd", "repodata/../../deb12-main/dists/bookworm/InRelease", "%2e%2e/%2e%2e/etc/passwd", "nope.rpm"} {
		resp, _ := get(t, "GET", base+p, id.HostID, id.Secret, nil)
		if resp.StatusCode == 200 {
			t.Errorf("GET %s: 200, want refused", p)
		}
	}
}
