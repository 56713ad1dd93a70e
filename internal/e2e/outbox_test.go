package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/testutil/smtptest"
)

// stop stops the running enmeid serve with SIGTERM, as a service manager
// does, and waits for it; a clean stop exits 0. (The cleanup serve
// registered then finds the process gone.)
func (v *vendor) stop() {
	v.t.Helper()
	if v.cmd == nil {
		v.t.Fatal("stop: enmeid serve is not running")
	}
	cmd := v.cmd
	v.cmd = nil
	must(v.t, cmd.Process.Signal(syscall.SIGTERM))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			v.t.Errorf("enmeid serve stopped with SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		v.t.Fatal("enmeid serve did not stop within 30 s of SIGTERM")
	}
}

type outboxMail struct {
	ID        int64      `json:"id"`
	To        string     `json:"to"`
	Subject   string     `json:"subject"`
	Status    string     `json:"status"`
	Attempts  int        `json:"attempts"`
	LastError string     `json:"last_error"`
	SentAt    *time.Time `json:"sent_at"`
}

// outbox is enmeid outbox list --json.
func (v *vendor) outbox() []outboxMail {
	v.t.Helper()
	var ms []outboxMail
	v.mustJSON(&ms, "outbox", "list")
	return ms
}

// waitOutbox polls the outbox until ok holds for its one mail.
func waitOutbox(t *testing.T, v *vendor, timeout time.Duration, what string, ok func(outboxMail) bool) outboxMail {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ms := v.outbox()
		if len(ms) > 1 {
			t.Fatalf("the outbox holds %d mails, want 1: %+v", len(ms), ms)
		}
		if len(ms) == 1 && ok(ms[0]) {
			return ms[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v the outbox is %+v, want its one mail %s", timeout, ms, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TestOutboxSurvivesOutage: a login mail asked for while the SMTP server is
// down waits in the outbox with its failed attempt and error; it survives a
// SIGTERM of enmeid, and once the SMTP server is back, the restarted enmeid
// on the same data delivers it and records it as sent.
func TestOutboxSurvivesOutage(t *testing.T) {
	smtp := smtptest.Start(t)
	smtp.Stop() // the port now refuses connections
	v, c := portalVendor(t, 3)
	args := []string{"--smtp", smtp.URL(), "--mail-from", portalFrom, "--drain-time", "100ms"}
	v.serve(args...)

	form := url.Values{"support_id": {c.SupportID}, "email": {portalContact}}
	req, err := http.NewRequest("POST", v.url+"/login", strings.NewReader(form.Encode()))
	must(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /login: %d, want 200", resp.StatusCode)
	}

	queued := waitOutbox(t, v, 15*time.Second, "queued after a failed attempt", func(m outboxMail) bool {
		return m.Status == "queued" && m.Attempts >= 1 && m.LastError != ""
	})
	if queued.To != portalContact || queued.Subject != "【enmei】ログイン用リンクのご案内" || queued.SentAt != nil {
		t.Errorf("queued mail: %+v", queued)
	}
	t.Logf("while the SMTP server is down: %+v", queued)
	if n := len(smtp.Messages()); n != 0 {
		t.Fatalf("%d mails arrived at a stopped server", n)
	}

	v.stop()
	smtp.Restart()
	again := &vendor{t: t, data: v.data}
	again.serve(args...)

	// The default backoff is 5 s, then 10 s, 20 s (±10%).
	msgs := smtp.WaitFor(t, 1, 40*time.Second)
	m := readMail(t, msgs[0])
	if m.To != portalContact || m.Subject != queued.Subject || !strings.Contains(m.Text, c.SupportID) {
		t.Errorf("delivered mail to %q subject %q:\n%s", m.To, m.Subject, m.Text)
	}
	// The delayed link still logs in (on the restarted server: the test's
	// public URL changed with the port).
	link, err := url.Parse(loginLink(t, m.Text))
	must(t, err)
	use := url.Values{"token": {link.Query().Get("token")}}
	req, err = http.NewRequest("POST", again.url+"/login/link", strings.NewReader(use.Encode()))
	must(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noRedirect.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/contract" || len(resp.Cookies()) == 0 {
		t.Errorf("using the delayed login link: %d to %q, cookies %v; want 303 to /contract with a session", resp.StatusCode, resp.Header.Get("Location"), resp.Cookies())
	}
	sent := waitOutbox(t, again, 10*time.Second, "sent", func(m outboxMail) bool { return m.Status == "sent" })
	if sent.ID != queued.ID || sent.SentAt == nil || sent.SentAt.IsZero() || sent.Attempts < queued.Attempts+1 || sent.LastError != "" {
		t.Errorf("after delivery the outbox shows %+v; want mail %d sent, sent_at set, attempts > %d, no last_error",
			sent, queued.ID, queued.Attempts)
	}
	if time.Since(*sent.SentAt) > time.Minute || sent.SentAt.After(time.Now().Add(time.Second)) {
		t.Errorf("sent_at %v is not about now", sent.SentAt)
	}
	// Delivered once: a few seconds later nothing else has arrived.
	time.Sleep(2500 * time.Millisecond)
	if n := len(smtp.Messages()); n != 1 {
		t.Errorf("%d mails arrived, want exactly 1", n)
	}
}
