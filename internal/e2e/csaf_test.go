package e2e

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/testutil/csafcheck"
)

// TestCSAFProvider: enmeid serve --tls auto is a CSAF provider the real
// csaf_checker passes; the documents follow the tracker (a VEX per CVE with
// the product status its tracker status maps to) as soon as a cve set or a
// release returns.
func TestCSAFProvider(t *testing.T) {
	v := newVendor(t, "")
	v.must("product", "add", "el9", "--name", "EL9 ELS", "--format", "rpm", "--os", "almalinux", "--os-version", "9")
	v.must("repo", "add", "el9-x86_64", "--product", "el9", "--arch", "x86_64")
	v.must("product", "add", "deb12", "--name", "Debian 12 ELS", "--format", "deb", "--os", "debian", "--os-version", "12")
	v.must("repo", "add", "deb12-main", "--product", "deb12", "--suite", "bookworm", "--component", "main")
	v.serve("--tls", "auto")
	v.extra = append(v.extra, "ENMEI_PUBLIC_URL="+v.url)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	fetch := func(path string) (int, []byte) {
		t.Helper()
		resp, err := client.Get(v.url + path)
		must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	if code, _ := fetch("/.well-known/csaf/provider-metadata.json"); code != http.StatusNotFound {
		t.Errorf("before anything is published, provider-metadata.json answers %d, want 404", code)
	}

	v.must("cve", "set", "CVE-2026-70001", "--product", "deb12", "--status", "not-vulnerable",
		"--statement", "Debian 12 builds without the affected code.", "--justification", "vulnerable_code_not_present")
	v.must("cve", "set", "CVE-2026-70002", "--product", "el9", "--status", "ignored", "--statement", "Local only; the risk is accepted.")
	v.must("cve", "set", "CVE-2026-70003", "--product", "el9", "--status", "in-research")
	adv := writeFile(t, "adv.yaml", `
type: security
severity: important
issued: "2026-11-20"
title: {ja: "重要: openssl", en: "Important: openssl"}
cves: [{id: CVE-2026-70004, cvss: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]
packages:
  - {repo: el9-x86_64, nevra: "openssl-1:3.0.7-28.el9.x86_64"}
  - {repo: deb12-main, nevra: "openssl_3.0.15-1~deb12u1_amd64"}
`)
	var added struct {
		ID string `json:"id"`
	}
	v.mustJSON(&added, "advisory", "add", "--publish", adv)

	u, err := url.Parse(v.url)
	must(t, err)
	csafcheck.Check(t, u.Host)

	code, index := fetch("/.well-known/csaf/white/index.txt")
	file := strings.ToLower(strings.ReplaceAll(added.ID, ":", "_")) + ".json"
	if code != http.StatusOK || !strings.Contains(string(index), file) || !strings.Contains(string(index), "cve-2026-70001.json") {
		t.Fatalf("index.txt: %d\n%s", code, index)
	}
	vexPath := func(cve string) string {
		for _, line := range strings.Split(string(index), "\n") {
			if strings.HasSuffix(line, strings.ToLower(cve)+".json") {
				return "/.well-known/csaf/white/" + line
			}
		}
		t.Fatalf("%s is not in index.txt:\n%s", cve, index)
		return ""
	}
	statusOf := func(cve string) map[string]any {
		code, body := fetch(vexPath(cve))
		if code != http.StatusOK {
			t.Fatalf("%s: %d", cve, code)
		}
		var doc struct {
			Document struct {
				Category string
				Tracking struct{ ID, Version string }
			}
			Vulnerabilities []struct {
				CVE           string         `json:"cve"`
				ProductStatus map[string]any `json:"product_status"`
			}
		}
		must(t, json.Unmarshal(body, &doc))
		if doc.Document.Category != "csaf_vex" || doc.Document.Tracking.ID != cve || len(doc.Vulnerabilities) != 1 {
			t.Fatalf("%s: %s", cve, body)
		}
		return doc.Vulnerabilities[0].ProductStatus
	}
	for cve, want := range map[string]string{"CVE-2026-70001": "known_not_affected", "CVE-2026-70002": "known_affected",
		"CVE-2026-70003": "under_investigation", "CVE-2026-70004": "fixed"} {
		if st := statusOf(cve); st[want] == nil || len(st) != 1 {
			t.Errorf("%s product_status = %v, want only %s", cve, st, want)
		}
	}
	// A change is in the VEX document once cve set returns.
	v.must("cve", "set", "CVE-2026-70003", "--product", "el9", "--status", "in-progress")
	if st := statusOf("CVE-2026-70003"); st["known_affected"] == nil {
		t.Errorf("after in-progress: product_status = %v, want known_affected", st)
	}
	if code, body := fetch("/.well-known/security.txt"); code != http.StatusOK || !strings.Contains(string(body), "CSAF: "+v.url+"/.well-known/csaf/provider-metadata.json") {
		t.Errorf("security.txt: %d\n%s", code, body)
	}
}
