package e2e

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// validateOSV checks a record against the official OSV schema.
func validateOSV(t *testing.T, data []byte) {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "advisory", "osv", "testdata", "schema.json"))
	must(t, err)
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	must(t, err)
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	must(t, c.AddResource("osv.json", doc))
	schema, err := c.Compile("osv.json")
	must(t, err)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	must(t, err)
	if err := schema.Validate(inst); err != nil {
		t.Errorf("not a valid OSV record: %v\n%s", err, data)
	}
}

// trackerVendor is a vendor with four CVEs on the tracker (one released by
// an advisory) and a running server.
func trackerVendor(t *testing.T) (*vendor, string) {
	t.Helper()
	v := newVendor(t, "")
	// Products bound to their OS: OSV and OVAL name the ecosystem by it.
	v.must("product", "add", "el9", "--name", "EL9 ELS", "--format", "rpm", "--os", "almalinux", "--os-version", "9")
	v.must("repo", "add", "el9-x86_64", "--product", "el9", "--arch", "x86_64")
	v.must("product", "add", "deb12", "--name", "Debian 12 ELS", "--format", "deb", "--os", "debian", "--os-version", "12")
	v.must("repo", "add", "deb12-main", "--product", "deb12", "--suite", "bookworm", "--component", "main")
	v.must("cve", "set", "CVE-2026-50001", "--product", "el9", "--status", "in-testing", "--published", "2026-11-02",
		"--cvss", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "--package", "openssl")
	v.must("cve", "set", "CVE-2026-50002", "--product", "deb12", "--status", "not-vulnerable",
		"--statement", "Debian 12 builds openssl without the affected engine.", "--justification", "vulnerable_code_not_present")
	v.must("cve", "set", "CVE-2026-50003", "--product", "el9", "--status", "needs-triage", "--published", "2026-11-20",
		"--cvss", "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:N", "--package", "bash")
	v.must("cve", "set", "CVE-2026-50003", "--product", "el9", "--status", "in-research")
	adv := writeFile(t, "adv.yaml", `
type: security
severity: moderate
issued: "2026-11-05"
title: {ja: "警告: enmei-demo-hello の更新", en: "Moderate: enmei-demo-hello update"}
cves: [{id: CVE-2026-50004, cvss: "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:L/A:N"}]
packages: [{repo: el9-x86_64, nevra: enmei-demo-hello-1.0-2.x86_64}]
`)
	var added struct {
		ID string `json:"id"`
	}
	v.mustJSON(&added, "advisory", "add", "--publish", adv)
	v.serve()
	return v, added.ID
}

// TestTrackerPages: in Chromium, the tracker lists the CVEs, filters by
// status and by package, opens a CVE with its per-product status and
// history, and switches language with the choice kept in a cookie.
func TestTrackerPages(t *testing.T) {
	v, advID := trackerVendor(t)
	b := newBrowser(t, "tracker")
	if s := b.open(v.url + "/security/"); s != http.StatusOK {
		t.Fatalf("/security/: %d", s)
	}
	if l := b.lang(); l != "ja" {
		t.Errorf("a browser asking for Japanese got <html lang=%q>", l)
	}
	b.sees("セキュリティ情報", "4 件の CVE", "CVE-2026-50001", "修正をテスト中", "影響なし")
	b.shot("list")

	// Filter by status, as a person does: choose it and apply.
	b.choose("状況", "調査中")
	if s := b.press("絞り込む"); s != http.StatusOK {
		t.Fatalf("filter: %d", s)
	}
	if n := b.count(`//table[contains(@class,"tracker")]/tbody/tr`); n != 1 {
		t.Errorf("status filter shows %d rows, want 1", n)
	}
	b.sees("CVE-2026-50003", "1 件の CVE")
	if got := b.location().Query().Get("status"); got != "in-research" {
		t.Errorf("the filter is not in the URL: status=%q", got)
	}
	b.shot("filtered")

	// Search by package name from a clean list.
	b.open(v.url + "/security/")
	b.fill("CVE またはパッケージ", "openssl")
	if s := b.enter("CVE またはパッケージ"); s != http.StatusOK {
		t.Fatalf("search: %d", s)
	}
	b.sees("CVE-2026-50001")
	if n := b.count(`//table[contains(@class,"tracker")]/tbody/tr`); n != 1 {
		t.Errorf("search for openssl shows %d rows, want 1", n)
	}

	// Open a CVE: per-product status, score, due date, history.
	if s := b.follow(`//table[contains(@class,"tracker")]`, "CVE-2026-50001"); s != http.StatusOK {
		t.Fatalf("CVE page: %d", s)
	}
	b.sees("CVE-2026-50001", "EL9 ELS", "修正をテスト中", "9.8", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "2026-11-24", "履歴")
	b.shot("cve")

	// Switch to English: the page and the next ones stay English.
	if s := b.follow("", "English"); s != http.StatusOK {
		t.Fatalf("switch to English: %d", s)
	}
	if l := b.lang(); l != "en" {
		t.Errorf("after the switch <html lang=%q>", l)
	}
	b.sees("Status per product", "Fix in testing", "History")
	b.open(v.url + "/security/cve/CVE-2026-50004")
	b.sees("Released", advID)
	if s := b.follow("", advID); s != http.StatusOK {
		t.Fatalf("advisory page: %d", s)
	}
	b.sees("Moderate: enmei-demo-hello update", "enmei-demo-hello-1.0-2.x86_64", "dnf upgrade --advisory "+advID)
	b.shot("advisory-en")
	if s := b.follow("", "日本語"); s != http.StatusOK {
		t.Fatalf("switch to Japanese: %d", s)
	}
	b.sees("警告: enmei-demo-hello の更新")

	// A draft or unknown advisory is not public.
	if s := b.open(v.url + "/security/advisory/ENMEI-SA-2026:9999"); s != http.StatusNotFound {
		t.Errorf("unknown advisory: %d, want 404", s)
	}
}

// choose selects the option with this text in the select labelled label.
func (b *browser) choose(label, option string) {
	b.t.Helper()
	sel := field(label)
	val := step(b, "find option "+option, chromedp.Evaluate[string](`(function(){var s=document.evaluate(`+jsq(sel)+
		`, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue; for (var o of s.options) { if (o.text.trim()===`+jsq(option)+`) return o.value; } return "";})()`))
	if val == "" {
		b.t.Fatalf("browser: %q has no option %q", label, option)
	}
	b.do("choose "+option, chromedp.SetValue(sel, val))
}

// TestTrackerFeeds: tracker.json and tracker.csv follow the filters, carry
// ETags and answer 304; Accept-Language picks the page language.
func TestTrackerFeeds(t *testing.T) {
	v, advID := trackerVendor(t)
	resp, body := get(t, "GET", v.url+"/security/tracker.json?product=el9&min_score=7", "", "", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == "" {
		t.Fatalf("tracker.json: %d, ETag %q", resp.StatusCode, resp.Header.Get("ETag"))
	}
	var rows []map[string]any
	must(t, json.Unmarshal(body, &rows))
	if len(rows) != 1 || rows[0]["cve"] != "CVE-2026-50001" || rows[0]["targeted"] != true || rows[0]["due"] != "2026-11-24" {
		t.Errorf("tracker.json?product=el9&min_score=7 = %v; want CVE-2026-50001 targeted, due 2026-11-24", rows)
	}
	for _, k := range []string{"cve", "product", "status", "cvss", "score", "published", "targeted", "due", "business_days_left"} {
		if _, ok := rows[0][k]; !ok {
			t.Errorf("tracker.json lacks %q", k)
		}
	}
	if _, ok := rows[0]["override"]; ok {
		t.Error("tracker.json shows internal fields")
	}
	again, _ := get(t, "GET", v.url+"/security/tracker.json?product=el9&min_score=7", "", "", map[string]string{"If-None-Match": resp.Header.Get("ETag")})
	if again.StatusCode != http.StatusNotModified {
		t.Errorf("the same ETag got %d, want 304", again.StatusCode)
	}
	resp, body = get(t, "GET", v.url+"/security/tracker.csv?status=released", "", "", nil)
	recs, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil || resp.StatusCode != http.StatusOK || len(recs) != 2 || recs[0][0] != "cve" || recs[1][0] != "CVE-2026-50004" || recs[1][12] != advID {
		t.Errorf("tracker.csv?status=released = %d %v %v", resp.StatusCode, err, recs)
	}
	if resp, _ := get(t, "GET", v.url+"/security/tracker.json?min_score=eleven", "", "", nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a bad filter: %d, want 400", resp.StatusCode)
	}
	resp, body = get(t, "GET", v.url+"/security/", "", "", map[string]string{"Accept-Language": "en-US,en;q=0.9"})
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `<html lang="en">`) {
		t.Errorf("Accept-Language en: %d, %.200s", resp.StatusCode, body)
	}
	resp, body = get(t, "GET", v.url+"/security/atom.xml", "", "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "/security/advisory/"+advID) {
		t.Errorf("atom.xml: %d\n%s", resp.StatusCode, body)
	}

	// OSV: the record of the released advisory, valid against the schema,
	// and the zip of all; drafts and unknown IDs are not there.
	resp, body = get(t, "GET", v.url+"/security/osv/"+advID+".json", "", "", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == "" {
		t.Fatalf("OSV record: %d\n%s", resp.StatusCode, body)
	}
	validateOSV(t, body)
	var rec struct {
		ID       string   `json:"id"`
		Aliases  []string `json:"aliases"`
		Affected []struct {
			Package struct{ Ecosystem, Name string }
			Ranges  []struct{ Events []map[string]string }
		} `json:"affected"`
	}
	must(t, json.Unmarshal(body, &rec))
	if rec.ID != "x_"+advID || len(rec.Aliases) != 1 || rec.Aliases[0] != "CVE-2026-50004" || len(rec.Affected) != 1 || rec.Affected[0].Package.Name != "enmei-demo-hello" ||
		rec.Affected[0].Package.Ecosystem != "AlmaLinux:9" || rec.Affected[0].Ranges[0].Events[1]["fixed"] != "1.0-2" {
		t.Errorf("OSV record = %+v", rec)
	}
	resp, body = get(t, "GET", v.url+"/security/osv/all.zip", "", "", nil)
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if resp.StatusCode != http.StatusOK || err != nil || len(zr.File) != 1 {
		t.Fatalf("all.zip: %d %v", resp.StatusCode, err)
	}
	if resp, _ := get(t, "GET", v.url+"/security/osv/ENMEI-SA-2026:0404.json", "", "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown OSV record: %d, want 404", resp.StatusCode)
	}

	// OVAL: the product's definitions, valid for OpenSCAP.
	resp, body = get(t, "GET", v.url+"/security/oval/el9.xml", "", "", nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "enmei-demo-hello") {
		t.Fatalf("OVAL: %d\n%.300s", resp.StatusCode, body)
	}
	ovalFile := filepath.Join(t.TempDir(), "el9.xml")
	must(t, os.WriteFile(ovalFile, body, 0o644))
	if out, err := exec.Command("oscap", "oval", "validate", ovalFile).CombinedOutput(); err != nil {
		t.Errorf("oscap oval validate: %v\n%s", err, out)
	}
	if resp, _ := get(t, "GET", v.url+"/security/oval/nope.xml", "", "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("OVAL of an unknown product: %d", resp.StatusCode)
	}

	// Due dates can be hidden from the public.
	v.must("advisory", "config", "--public-due", "off")
	_, body = get(t, "GET", v.url+"/security/tracker.json?product=el9&min_score=7", "", "", nil)
	must(t, json.Unmarshal(body, &rows))
	if len(rows) != 1 || rows[0]["due"] != nil {
		t.Errorf("with public due dates off, tracker.json = %v", rows)
	}
	out := v.must("--json", "cve", "list", "--product", "el9", "--min-score", "7")
	if !strings.Contains(out, `"due":"2026-11-24"`) {
		t.Errorf("the vendor's cve list lost the due date: %s", out)
	}
}
