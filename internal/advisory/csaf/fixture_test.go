package csaf

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/advisory"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/tracker"
)

// blobs is an in-memory content-addressed store.
type blobs struct {
	mu   sync.Mutex
	m    map[string][]byte
	puts atomic.Int64
}

func newBlobs() *blobs { return &blobs{m: map[string][]byte{}} }

func (b *blobs) put(ctx context.Context, data []byte) (FileRef, error) {
	// As a real store does: a cancelled context stores nothing.
	if err := ctx.Err(); err != nil {
		return FileRef{}, err
	}
	b.puts.Add(1)
	h := sha256.Sum256(data)
	sum := hex.EncodeToString(h[:])
	b.mu.Lock()
	b.m[sum] = append([]byte(nil), data...)
	b.mu.Unlock()
	return FileRef{Sum: sum, Size: int64(len(data))}, nil
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func (b *blobs) open(_ context.Context, sum string) (io.ReadSeekCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d, ok := b.m[sum]
	if !ok {
		return nil, fmt.Errorf("no blob %s", sum)
	}
	return nopCloser{bytes.NewReader(d)}, nil
}

func (b *blobs) file(t *testing.T, m *Manifest, path string) []byte {
	t.Helper()
	ref, ok := m.Files[path]
	if !ok {
		t.Fatalf("manifest has no %s", path)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.m[ref.Sum]
}

// fakeSigner "signs" deterministically and counts its calls, so golden
// files are stable and tests see what was re-signed.
type fakeSigner struct{ calls atomic.Int64 }

func (s *fakeSigner) DetachSignArmored(r io.Reader) ([]byte, error) {
	s.calls.Add(1)
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(data)
	return []byte("-----BEGIN PGP SIGNATURE-----\n\nfake " + hex.EncodeToString(h[:]) + "\n-----END PGP SIGNATURE-----\n"), nil
}

// countingSigner wraps a real signer and counts its calls.
type countingSigner struct {
	Signer
	calls atomic.Int64
}

func (s *countingSigner) DetachSignArmored(r io.Reader) ([]byte, error) {
	s.calls.Add(1)
	return s.Signer.DetachSignArmored(r)
}

var (
	t0        = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	testFPR   = "0123456789ABCDEF0123456789ABCDEF01234567"
	testKey   = []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot a real key\n-----END PGP PUBLIC KEY BLOCK-----\n")
	fixedNow  = func() time.Time { return t0 }
	products  = []store.Product{{ID: "almalinux-9", Name: "AlmaLinux 9", Format: "rpm", OSID: "almalinux", OSVersion: "9"}, {ID: "debian-12", Name: "Debian 12", Format: "deb", OSID: "debian", OSVersion: "12"}}
	repos     = []store.Repo{{ID: "alma9-baseos-x86_64", ProductID: "almalinux-9", Format: "rpm", Arch: "x86_64"}, {ID: "deb12-main", ProductID: "debian-12", Format: "deb", Suite: "bookworm", Component: "main"}}
	repoFmt   = map[string]string{"alma9-baseos-x86_64": "rpm", "deb12-main": "deb"}
	vecHigh   = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N"
	vecMedium = "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:L"
)

func testOptions() Options {
	return Options{
		PublicURL:        "https://els.example.com",
		Publisher:        "Example ELS",
		ContactDetails:   "security@example.com",
		PublicKeyArmored: testKey,
		Fingerprint:      testFPR,
		Now:              fixedNow,
	}
}

func pkgs(t testing.TB, repo string, nevras ...string) []advisory.Package {
	t.Helper()
	var out []advisory.Package
	for _, n := range nevras {
		p, err := advisory.ParsePackage(repoFmt[repo], n)
		if err != nil {
			t.Fatal(err)
		}
		p.Repo = repo
		out = append(out, p)
	}
	return out
}

// fixture is a small tracker: an rpm product with an epoch package, a deb
// product, and records covering every VEX category.
func fixture(t testing.TB) (map[string]advisory.Advisory, []advisory.Record, map[string][]advisory.Change) {
	advs := map[string]advisory.Advisory{
		"ENMEI-SA-2026:0001": {
			ID: "ENMEI-SA-2026:0001", Type: "security", Severity: "Important",
			Title:       advisory.Text{En: "openssl security update", Ja: "openssl のセキュリティ更新"},
			Description: advisory.Text{En: "A flaw in openssl's X.509 parser allows a crash.", Ja: "openssl の X.509 パーサの欠陥によりクラッシュします。"},
			Issued:      "2026-01-15", Updated: "2026-01-15",
			CVEs:       []advisory.CVERef{{ID: "CVE-2026-1000", CVSS: vecHigh, Published: "2026-01-10"}},
			Packages:   append(pkgs(t, "alma9-baseos-x86_64", "openssl-1:3.0.7-27.el9.x86_64", "openssl-libs-1:3.0.7-27.el9.x86_64"), pkgs(t, "deb12-main", "openssl_3.0.11-1~deb12u2+els1_amd64")...),
			References: []advisory.Reference{{URL: "https://www.openssl.org/news/secadv/20260110.txt", Title: "OpenSSL advisory", Type: "vendor"}},
			Released:   time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC),
		},
		"ENMEI-SA-2026:0002": {
			ID: "ENMEI-SA-2026:0002", Type: "security", Severity: "Moderate",
			Title:  advisory.Text{En: "curl security update"},
			Issued: "2026-02-01", Updated: "2026-02-01",
			CVEs:     []advisory.CVERef{{ID: "CVE-2026-1001", CVSS: vecMedium, Published: "2026-01-20"}, {ID: "CVE-2026-1004", CVSS4: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:N/VA:N/SC:N/SI:N/SA:N", Published: "2026-01-21"}},
			Packages: pkgs(t, "alma9-baseos-x86_64", "curl-7.76.1-29.el9_4.1.x86_64", "libcurl-7.76.1-29.el9_4.1.x86_64"),
			Released: time.Date(2026, 2, 1, 8, 30, 0, 0, time.UTC),
		},
		// A draft: never published.
		"ENMEI-SA-2026:0003": {
			ID: "ENMEI-SA-2026:0003", Type: "security", Severity: "Low",
			Title: advisory.Text{En: "draft"}, Issued: "2026-02-10",
			CVEs:     []advisory.CVERef{{ID: "CVE-2026-1002"}},
			Packages: pkgs(t, "alma9-baseos-x86_64", "bash-5.1.8-10.el9.x86_64"),
		},
		// A bug fix without CVEs: not a CSAF security advisory.
		"ENMEI-BA-2025:0042": {
			ID: "ENMEI-BA-2025:0042", Type: "bugfix",
			Title: advisory.Text{En: "tzdata update"}, Issued: "2025-12-01",
			Packages: pkgs(t, "deb12-main", "tzdata_2025b-0+deb12u1_all"),
			Released: time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC),
		},
	}
	at := func(d int) time.Time { return time.Date(2026, 1, d, 12, 0, 0, 0, time.UTC) }
	recs := []advisory.Record{
		{CVE: "CVE-2026-1000", Product: "almalinux-9", Status: advisory.Released, CVSS3: vecHigh, Published: "2026-01-10", Packages: []string{"openssl"}, Fixed: []string{"ENMEI-SA-2026:0001"}, Updated: at(15), Seq: 3},
		{CVE: "CVE-2026-1000", Product: "debian-12", Status: advisory.Released, CVSS3: vecHigh, Published: "2026-01-10", Packages: []string{"openssl"}, Fixed: []string{"ENMEI-SA-2026:0001"}, Updated: at(15), Seq: 4},
		{CVE: "CVE-2026-1001", Product: "almalinux-9", Status: advisory.Released, CVSS3: vecMedium, Published: "2026-01-20", Packages: []string{"curl"}, Fixed: []string{"ENMEI-SA-2026:0002"}, Updated: at(20), Seq: 5},
		{CVE: "CVE-2026-1001", Product: "debian-12", Status: advisory.NotVulnerable, Statement: "Debian 12 builds curl without the affected TFTP support.", Justification: "vulnerable_code_not_present", CVSS3: vecMedium, Published: "2026-01-20", Packages: []string{"curl"}, Updated: at(20), Seq: 6},
		{CVE: "CVE-2026-1002", Product: "almalinux-9", Status: advisory.InProgress, CVSS3: vecHigh, Published: "2026-01-25", Packages: []string{"bash"}, Updated: at(25), Seq: 7},
		{CVE: "CVE-2026-1002", Product: "debian-12", Status: advisory.NeedsTriage, Published: "2026-01-25", Packages: []string{"bash"}, Updated: at(25), Seq: 8},
		{CVE: "CVE-2026-1003", Product: "almalinux-9", Status: advisory.Ignored, Statement: "Low impact; only reachable by a local administrator.", CVSS3: "CVSS:3.1/AV:L/AC:H/PR:H/UI:N/S:U/C:N/I:N/A:L", Published: "2026-01-26", Packages: []string{"less"}, Updated: at(26), Seq: 9},
		{CVE: "CVE-2026-1003", Product: "debian-12", Status: advisory.NotVulnerable, Statement: "The vulnerable code was added in a later release.", Published: "2026-01-26", Packages: []string{"less"}, Updated: at(26), Seq: 10},
		{CVE: "CVE-2025-9999", Product: "almalinux-9", Status: advisory.AlreadyFixed, Statement: "Fixed upstream before AlmaLinux 9 shipped.", Published: "2025-11-02", Packages: []string{"zlib"}, Updated: time.Date(2025, 11, 3, 0, 0, 0, 0, time.UTC), Seq: 2},
	}
	hist := map[string][]advisory.Change{
		"CVE-2026-1000": {
			{CVE: "CVE-2026-1000", Product: "almalinux-9", At: at(10), To: advisory.NeedsTriage, Source: "cve set", Seq: 11},
			{CVE: "CVE-2026-1000", Product: "debian-12", At: at(10), To: advisory.NeedsTriage, Source: "cve set", Seq: 12},
			{CVE: "CVE-2026-1000", Product: "almalinux-9", At: at(11), From: advisory.NeedsTriage, To: advisory.InProgress, Source: "cve set", Seq: 13},
			{CVE: "CVE-2026-1000", Product: "almalinux-9", At: at(15), From: advisory.InProgress, To: advisory.Released, Source: "ENMEI-SA-2026:0001", Seq: 14},
			{CVE: "CVE-2026-1000", Product: "debian-12", At: at(15), From: advisory.NeedsTriage, To: advisory.Released, Source: "ENMEI-SA-2026:0001", Seq: 15},
		},
		"CVE-2026-1002": {
			{CVE: "CVE-2026-1002", Product: "almalinux-9", At: at(25), To: advisory.InProgress, Source: "cve set", Seq: 16},
			{CVE: "CVE-2026-1002", Product: "debian-12", At: at(25), To: advisory.NeedsTriage, Source: "cve set", Seq: 17},
		},
	}
	return advs, recs, hist
}

func snapshot(advs map[string]advisory.Advisory, recs []advisory.Record) *tracker.Snapshot {
	return tracker.NewSnapshot(1, tracker.Config{Prefix: "ENMEI-SA"}, products, repos, advs, append([]advisory.Record(nil), recs...))
}

func historyOf(h map[string][]advisory.Change) func(context.Context, string) ([]advisory.Change, error) {
	return func(_ context.Context, cve string) ([]advisory.Change, error) { return h[cve], nil }
}
