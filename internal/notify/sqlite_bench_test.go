package notify_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/notify"
	"github.com/enmei-project/enmei/internal/store/sqlite"
	"github.com/enmei-project/enmei/internal/testutil/smtptest"
)

// BenchmarkSend1000SQLite sends 1,000 mails queued in the real SQLite
// outbox to aiosmtpd, as enmeid does (target: under 10 s).
func BenchmarkSend1000SQLite(b *testing.B) {
	srv := smtptest.Start(b)
	cfg, err := notify.ParseSMTPURL(srv.URL())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var total time.Duration
	for b.Loop() {
		b.StopTimer()
		st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "enmei.db"))
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		mails := make([]notify.Mail, 1000)
		for i := range mails {
			m, err := notify.NewMail(notify.Letter{From: "enmei@vendor.example", To: fmt.Sprintf("user%d@example.jp", i),
				Subject: "【enmei】ログイン用リンクのご案内", Text: "こんにちは\nhttps://els.example.jp/login/link?token=x\n", Date: now})
			if err != nil {
				b.Fatal(err)
			}
			mails[i] = m
		}
		if err := st.EnqueueMail(ctx, mails...); err != nil {
			b.Fatal(err)
		}
		s := &notify.Sender{Outbox: st, SMTP: cfg, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		b.StartTimer()
		start := time.Now()
		for sent := 0; sent < 1000; {
			n, err := s.SendOnce(ctx)
			if err != nil || n == 0 {
				b.Fatalf("round sent %d: %v", n, err)
			}
			sent += n
		}
		total += time.Since(start)
		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.N)*1000/total.Seconds(), "mails/s")
}
