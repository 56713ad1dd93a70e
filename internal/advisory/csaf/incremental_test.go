package csaf

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/advisory"
)

// changed lists the paths whose files differ between two manifests.
func changed(a, b *Manifest) []string {
	var out []string
	for p, ref := range b.Files {
		if a.Files[p] != ref {
			out = append(out, p)
		}
	}
	for p := range a.Files {
		if _, ok := b.Files[p]; !ok {
			out = append(out, p+" (removed)")
		}
	}
	return uniqueSorted(out)
}

func tracked(t *testing.T, b *blobs, m *Manifest, path string) tracking {
	t.Helper()
	var d document
	if err := json.Unmarshal(b.file(t, m, path), &d); err != nil {
		t.Fatal(err)
	}
	return d.Document.Tracking
}

func TestIncremental(t *testing.T) {
	ctx := context.Background()
	advs, recs, hist := fixture(t)
	b, s := newBlobs(), &fakeSigner{}
	opts := testOptions()
	m1, err := Build(ctx, nil, snapshot(advs, recs), historyOf(hist), s, opts, b.put)
	if err != nil {
		t.Fatal(err)
	}
	first := s.calls.Load()

	// The same snapshot again: nothing signed, nothing stored, the same
	// manifest byte for byte, even a day later.
	s.calls.Store(0)
	b.puts.Store(0)
	opts.Now = func() time.Time { return t0.AddDate(0, 0, 1) }
	m2, err := Build(ctx, m1, snapshot(advs, recs), historyOf(hist), s, opts, b.put)
	if err != nil {
		t.Fatal(err)
	}
	if s.calls.Load() != 0 || b.puts.Load() != 0 || m2.Stats.Signed != 0 {
		t.Errorf("unchanged snapshot: %d signed, %d stored", s.calls.Load(), b.puts.Load())
	}
	e1, _ := m1.Encode()
	e2, _ := m2.Encode()
	if !bytes.Equal(e1, e2) {
		t.Errorf("unchanged snapshot changed the manifest: %v", changed(m1, m2))
	}

	// One record changes status: only that CVE's VEX, changes.csv and
	// provider-metadata.json change.
	later := t0.AddDate(0, 0, 2)
	opts.Now = func() time.Time { return later }
	recs2 := append([]advisory.Record(nil), recs...)
	for i := range recs2 {
		if recs2[i].CVE == "CVE-2026-1002" && recs2[i].Product == "debian-12" {
			recs2[i].Status = advisory.NotVulnerable
			recs2[i].Statement = "Debian 12's bash is not built with the affected option."
			recs2[i].Justification = "component_not_present"
			recs2[i].Seq = 30
			recs2[i].Updated = later
		}
	}
	hist2 := map[string][]advisory.Change{}
	for k, v := range hist {
		hist2[k] = v
	}
	hist2["CVE-2026-1002"] = append(append([]advisory.Change(nil), hist["CVE-2026-1002"]...),
		advisory.Change{CVE: "CVE-2026-1002", Product: "debian-12", At: later.Add(-time.Hour), From: advisory.NeedsTriage, To: advisory.NotVulnerable, Source: "cve set", Seq: 30})
	s.calls.Store(0)
	m3, err := Build(ctx, m2, snapshot(advs, recs2), historyOf(hist2), s, opts, b.put)
	if err != nil {
		t.Fatal(err)
	}
	if s.calls.Load() != 1 {
		t.Errorf("one record changed: %d documents signed, want 1", s.calls.Load())
	}
	want := []string{
		"provider-metadata.json",
		"white/2026/cve-2026-1002.json", "white/2026/cve-2026-1002.json.asc",
		"white/2026/cve-2026-1002.json.sha256", "white/2026/cve-2026-1002.json.sha512",
		"white/changes.csv",
	}
	if got := changed(m2, m3); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("changed files %v, want %v", got, want)
	}
	tr := tracked(t, b, m3, "white/2026/cve-2026-1002.json")
	if tr.Version != "3" || tr.InitialReleaseDate != "2026-01-25T12:00:00Z" || tr.CurrentReleaseDate != rfc3339(later.Add(-time.Hour)) ||
		tr.RevisionHistory[2].Summary != "Debian 12: needs-triage → not-vulnerable" {
		t.Errorf("tracking after the change: %+v", tr)
	}
	if !strings.HasPrefix(string(b.file(t, m3, "white/changes.csv")), `"2026/cve-2026-1002.json","`+rfc3339(later.Add(-time.Hour))+`"`) {
		t.Errorf("changes.csv does not start with the changed document:\n%s", b.file(t, m3, "white/changes.csv"))
	}
	if !m3.Updated.Equal(later) {
		t.Errorf("last_updated %v, want %v", m3.Updated, later)
	}

	// A record written again without news (a new sequence, no new history
	// and the same content) keeps its signed file.
	recs3 := append([]advisory.Record(nil), recs2...)
	for i := range recs3 {
		if recs3[i].CVE == "CVE-2026-1000" {
			recs3[i].Seq += 100
		}
	}
	s.calls.Store(0)
	m4, err := Build(ctx, m3, snapshot(advs, recs3), historyOf(hist2), s, opts, b.put)
	if err != nil {
		t.Fatal(err)
	}
	if s.calls.Load() != 0 || len(changed(m3, m4)) != 0 {
		t.Errorf("a rewrite without news: %d signed, changed %v", s.calls.Load(), changed(m3, m4))
	}

	// An advisory's text changes: its document gets version 2; the VEX
	// documents that link it do not change.
	advs2 := map[string]advisory.Advisory{}
	for k, v := range advs {
		advs2[k] = v
	}
	a := advs2["ENMEI-SA-2026:0001"]
	a.Description.En = "A flaw in openssl's X.509 parser allows a crash (updated)."
	advs2[a.ID] = a
	s.calls.Store(0)
	m5, err := Build(ctx, m4, snapshot(advs2, recs3), historyOf(hist2), s, opts, b.put)
	if err != nil {
		t.Fatal(err)
	}
	if s.calls.Load() != 1 {
		t.Errorf("one advisory changed: %d signed, changed %v", s.calls.Load(), changed(m4, m5))
	}
	if tr := tracked(t, b, m5, "white/2026/enmei-sa-2026_0001.json"); tr.Version != "2" || tr.InitialReleaseDate != "2026-01-15T10:00:00Z" || tr.CurrentReleaseDate != rfc3339(later) || len(tr.RevisionHistory) != 2 {
		t.Errorf("updated advisory tracking: %+v", tr)
	}

	// An advisory's packages change: its document and the VEX documents
	// it fixes change, the latter with an "Updated" revision (no history
	// explains it).
	a.Packages = append(a.Packages, pkgs(t, "alma9-baseos-x86_64", "openssl-devel-1:3.0.7-27.el9.x86_64")...)
	advs2[a.ID] = a
	s.calls.Store(0)
	m6, err := Build(ctx, m5, snapshot(advs2, recs3), historyOf(hist2), s, opts, b.put)
	if err != nil {
		t.Fatal(err)
	}
	if s.calls.Load() != 2 {
		t.Errorf("packages added: %d signed, changed %v", s.calls.Load(), changed(m5, m6))
	}
	if tr := tracked(t, b, m6, "white/2026/cve-2026-1000.json"); tr.Version != "6" || tr.RevisionHistory[5].Summary != "Updated" {
		t.Errorf("VEX after its advisory changed: %+v", tr)
	}

	// A new signing key: every document signed again, versions unchanged.
	opts.Fingerprint = strings.Repeat("AB", 20)
	s.calls.Store(0)
	m7, err := Build(ctx, m6, snapshot(advs2, recs3), historyOf(hist2), s, opts, b.put)
	if err != nil {
		t.Fatal(err)
	}
	if s.calls.Load() != first {
		t.Errorf("new key: %d signed, want %d", s.calls.Load(), first)
	}
	if tr := tracked(t, b, m7, "white/2026/enmei-sa-2026_0001.json"); tr.Version != "3" {
		t.Errorf("re-signing changed the version: %+v", tr)
	}
	if _, ok := m7.Files["openpgp/"+opts.Fingerprint+".asc"]; !ok {
		t.Error("the new key is not published")
	}

	// A CVE whose records are gone is no longer published.
	var recs4 []advisory.Record
	for _, r := range recs3 {
		if r.CVE != "CVE-2026-1003" {
			recs4 = append(recs4, r)
		}
	}
	m8, err := Build(ctx, m7, snapshot(advs2, recs4), historyOf(hist2), s, opts, b.put)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m8.Files["white/2026/cve-2026-1003.json"]; ok || m8.Stats.Dropped != 1 || strings.Contains(string(b.file(t, m8, "white/index.txt")), "cve-2026-1003") {
		t.Errorf("dropped CVE still published (dropped %d)", m8.Stats.Dropped)
	}

	// Through Encode and DecodeManifest, as the CLI stores it.
	e, err := m8.Encode()
	if err != nil {
		t.Fatal(err)
	}
	dm, err := DecodeManifest(e)
	if err != nil {
		t.Fatal(err)
	}
	s.calls.Store(0)
	m9, err := Build(ctx, dm, snapshot(advs2, recs4), historyOf(hist2), s, opts, b.put)
	if err != nil {
		t.Fatal(err)
	}
	if s.calls.Load() != 0 || len(changed(m8, m9)) != 0 {
		t.Errorf("a decoded manifest: %d signed, changed %v", s.calls.Load(), changed(m8, m9))
	}
}

func TestBuildErrors(t *testing.T) {
	ctx := context.Background()
	advs, recs, hist := fixture(t)
	b := newBlobs()
	for _, o := range []func(*Options){
		func(o *Options) { o.PublicURL = "els.example.com" },
		func(o *Options) { o.PublicURL = "https://els.example.com/sub" },
		func(o *Options) { o.Publisher = " " },
		func(o *Options) { o.Fingerprint = "xyz" },
	} {
		opts := testOptions()
		o(&opts)
		if _, err := Build(ctx, nil, snapshot(advs, recs), historyOf(hist), &fakeSigner{}, opts, b.put); err == nil {
			t.Errorf("options %+v accepted", opts)
		}
	}
	if _, err := Build(ctx, nil, snapshot(advs, recs), historyOf(hist), nil, testOptions(), b.put); err == nil {
		t.Error("no signer accepted")
	}
	bad := func(_ context.Context, data []byte) (FileRef, error) {
		return FileRef{Sum: "0", Size: int64(len(data))}, nil
	}
	if _, err := Build(ctx, nil, snapshot(advs, recs), historyOf(hist), &fakeSigner{}, testOptions(), bad); err == nil {
		t.Error("a put that does not return the sha256 accepted")
	}
	failing := func(context.Context, string) ([]advisory.Change, error) { return nil, fmt.Errorf("db down") }
	if _, err := Build(ctx, nil, snapshot(advs, recs), failing, &fakeSigner{}, testOptions(), b.put); err == nil || !strings.Contains(err.Error(), "db down") {
		t.Errorf("history error: %v", err)
	}
}
