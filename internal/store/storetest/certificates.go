package storetest

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

func certLink(hash string) store.Link {
	return store.Link{Hash: []byte(hash), Purpose: "certificate", Subject: "C1", CreatedAt: t0, ExpiresAt: t0.Add(14 * 24 * time.Hour)}
}

func testCertificates(t *testing.T, s store.Store) {
	contract(t, s, "C1", 1)
	c := store.Certificate{Serial: "0a1b", SupportID: "C1", NotBefore: t0.Add(-5 * time.Minute), NotAfter: t0.AddDate(5, 0, 0), IssuedAt: t0}
	m := mail("ops@c1.example", t0)
	must(t, s.IssueCertificate(ctx, c, certLink("cert-link-1"), &m, false))
	if ms, _ := s.Mails(ctx, 10); len(ms) != 1 {
		t.Errorf("%d mails queued with the certificate, want 1", len(ms))
	}
	got, err := s.Certificate(ctx, "0a1b")
	must(t, err)
	if got.SupportID != "C1" || !sameTime(got.NotAfter, c.NotAfter) || !got.DownloadedAt.IsZero() || !got.RevokedAt.IsZero() || len(got.DER) != 0 {
		t.Errorf("Certificate = %+v", got)
	}
	// One current certificate per contract.
	second := c
	second.Serial = "0c0d"
	if err := s.IssueCertificate(ctx, second, certLink("cert-link-2"), nil, false); !errors.Is(err, store.ErrHasCertificate) {
		t.Errorf("a second certificate = %v, want ErrHasCertificate", err)
	}
	if _, err := s.UseLink(ctx, []byte("cert-link-2"), "certificate", t0); !errs.Is(err, errs.NotFound) {
		t.Error("a refused issue left its link behind")
	}
	wantKind(t, "IssueCertificate(no contract)", s.IssueCertificate(ctx, store.Certificate{Serial: "ff", SupportID: "nope", IssuedAt: t0}, certLink("x"), nil, false), errs.NotFound)

	// Downloaded once.
	must(t, s.CompleteCertificate(ctx, "0a1b", []byte{0x30, 0x82}, t0.Add(time.Hour)))
	if err := s.CompleteCertificate(ctx, "0a1b", []byte{1}, t0.Add(2*time.Hour)); !errors.Is(err, store.ErrDownloaded) {
		t.Errorf("second download = %v, want ErrDownloaded", err)
	}
	wantKind(t, "CompleteCertificate(unknown)", s.CompleteCertificate(ctx, "99", nil, t0), errs.NotFound)
	got, _ = s.Certificate(ctx, "0a1b")
	if string(got.DER) != "\x30\x82" || !sameTime(got.DownloadedAt, t0.Add(time.Hour)) {
		t.Errorf("after download = %+v", got)
	}

	// Replacing revokes the current one in the same transaction.
	second.IssuedAt = t0.Add(24 * time.Hour)
	must(t, s.IssueCertificate(ctx, second, certLink("cert-link-3"), nil, true))
	old, _ := s.Certificate(ctx, "0a1b")
	if old.RevokedAt.IsZero() || old.RevokeReason != "replaced by 0c0d" {
		t.Errorf("replaced certificate = %+v", old)
	}
	list, err := s.ContractCertificates(ctx, "C1")
	must(t, err)
	if len(list) != 2 || list[0].Serial != "0c0d" || list[1].Serial != "0a1b" {
		t.Errorf("ContractCertificates = %+v", list)
	}
	must(t, s.RevokeCertificate(ctx, "0c0d", "key lost", t0.Add(48*time.Hour)))
	must(t, s.RevokeCertificate(ctx, "0c0d", "again", t0.Add(72*time.Hour)))
	if r, _ := s.Certificate(ctx, "0c0d"); r.RevokeReason != "key lost" || !sameTime(r.RevokedAt, t0.Add(48*time.Hour)) {
		t.Errorf("revoked = %+v", r)
	}
	wantKind(t, "RevokeCertificate(unknown)", s.RevokeCertificate(ctx, "77", "x", t0), errs.NotFound)
	// With none current, a plain issue works again.
	third := c
	third.Serial = "0e0f"
	must(t, s.IssueCertificate(ctx, third, certLink("cert-link-4"), nil, false))
}

// testConcurrentIssues: many issues at once leave one current certificate.
func testConcurrentCertificateIssues(t *testing.T, s store.Store) {
	contract(t, s, "C1", 1)
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			serial := string(rune('a'+i)) + "0"
			err := s.IssueCertificate(ctx, store.Certificate{Serial: serial, SupportID: "C1", IssuedAt: t0, NotAfter: t0.AddDate(5, 0, 0)},
				certLink("concurrent-"+serial), nil, false)
			if err == nil {
				ok.Add(1)
			} else if !errors.Is(err, store.ErrHasCertificate) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Errorf("%d concurrent issues succeeded, want 1", ok.Load())
	}
}
