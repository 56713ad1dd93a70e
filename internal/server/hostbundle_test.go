package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/api"
	blobfs "github.com/enmei-project/enmei/internal/blob/fs"
	"github.com/enmei-project/enmei/internal/desk"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/store"
)

// deskLimit is the attachment limit of the bundle tests' desk.
const deskLimit = 64 << 10

// newDeskFixture is the standard fixture with a support desk, and a
// ticket of its contract "S" and one of another customer's contract "T".
func newDeskFixture(t *testing.T, status string) (f *fixture, ours, theirs store.Ticket) {
	t.Helper()
	f = newFixtureWith(t, func(c *Config) {
		c.Desk = &desk.Desk{Store: c.Store.(*countingStore).Store, Blobs: c.Blobs.(*blobfs.Dir), Now: c.Now, Log: slog.New(slog.DiscardHandler),
			Config: &desk.Config{Address: "support@vendor.example", FirstResponse: desk.Duration(4 * time.Hour), MaxAttachment: deskLimit}}
	})
	ctx := context.Background()
	_, id, hash := entitle.NewLicenseKey()
	if err := f.db.AddContract(ctx, store.Contract{SupportID: "T", Customer: "Other K.K.", Plan: "server", Products: []string{"p"},
		Quantity: 1, Start: "2026-01-01", End: "2026-12-31", Contact: "b@example.com"},
		[]store.LicenseKey{{ID: id, SupportID: "T", ProductID: "p", Hash: hash}}); err != nil {
		t.Fatal(err)
	}
	ticket := func(supportID, status string) store.Ticket {
		tk := store.Ticket{SupportID: supportID, Subject: "cluster will not fail over", Status: status, Lang: "en", Contact: "a@example.com",
			OpenedAt: f.clock(), DueAt: f.clock().Add(4 * time.Hour)}
		if status == store.TicketClosed {
			tk.ClosedAt = f.clock()
		}
		if status == store.TicketWaiting {
			tk.Waiting, tk.ConfirmWord = store.WaitConfirmation, "CONFIRM-ABCD"
		}
		tk, err := f.db.AddTicket(ctx, tk, func(store.Ticket) (store.TicketChange, error) {
			return store.TicketChange{Messages: []store.TicketMessage{{Direction: "in", MessageID: "m@" + supportID, From: tk.Contact,
				Subject: tk.Subject, Text: "help", At: f.clock()}}}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	return f, ticket("S", status), ticket("T", store.TicketOpen)
}

// upload POSTs body as a file of ticket with the host's credential; size
// -1 sends it chunked, without a Content-Length.
func (f *fixture) upload(t *testing.T, cred api.RegisterResponse, ticket, name string, body []byte, size int64) (int, string) {
	t.Helper()
	path := f.srv.URL + "/api/v1/tickets/" + ticket + "/attachments"
	if name != "" {
		path += "?name=" + url.QueryEscape(name)
	}
	var r io.Reader = bytes.NewReader(body)
	if size < 0 {
		r = io.MultiReader(r) // hides the length
	}
	req, _ := http.NewRequest("POST", path, r)
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/gzip")
	req.SetBasicAuth(cred.HostID, cred.Secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

func TestTicketAttachment(t *testing.T) {
	ctx := context.Background()
	f, ours, theirs := newDeskFixture(t, store.TicketClosed)
	bundle := bytes.Repeat([]byte{0x1f, 0x8b, 8, 0}, 4096) // 16 KiB
	sum := sha256.Sum256(bundle)
	tag := fmt.Sprintf("ENM-T-%06d", ours.Number)

	code, body := f.upload(t, f.host, tag, "../../tmp/h.enmei.20260601120000\u202e.tar.gz", bundle, int64(len(bundle)))
	if code != http.StatusCreated {
		t.Fatalf("upload: %d %s", code, body)
	}
	var got api.Attached
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	want := api.Attached{Ticket: tag, Filename: "h.enmei.20260601120000.tar.gz", Size: int64(len(bundle)), SHA256: hex.EncodeToString(sum[:])}
	if got != want {
		t.Errorf("answer %+v, want %+v", got, want)
	}
	// The ticket holds it as the customer's message, and the closed ticket
	// is open again, as after a customer's mail.
	tk, err := f.db.Ticket(ctx, ours.Number)
	if err != nil || tk.Status != store.TicketOpen || !tk.ClosedAt.IsZero() {
		t.Errorf("ticket after the upload: %+v, %v; want open", tk, err)
	}
	msgs, err := f.db.TicketMessages(ctx, ours.Number)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("messages %+v, %v", msgs, err)
	}
	m := msgs[1]
	wantSubject := "Support bundle from host h (host ID " + f.host.HostID + ")"
	if m.Direction != "in" || m.Subject != wantSubject || !strings.HasPrefix(m.Text, wantSubject+": h.enmei.20260601120000.tar.gz, 16384 bytes") ||
		len(m.Attachments) != 1 || m.Attachments[0].Blob != want.SHA256 || m.Attachments[0].ContentType != "application/gzip" {
		t.Errorf("message %+v", m)
	}
	rc, _, err := f.blobs.Open(ctx, m.Attachments[0].Blob)
	if err != nil {
		t.Fatal(err)
	}
	kept, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(kept, bundle) {
		t.Error("the kept attachment differs from the upload")
	}

	// The bare number works too, chunked, and a missing name gets one.
	code, body = f.upload(t, f.host, strconv.FormatInt(ours.Number, 10), "", []byte("log"), -1)
	if code != http.StatusCreated || !strings.Contains(body, `"filename":"support-bundle-`+f.host.HostID+`.tar.gz"`) {
		t.Errorf("chunked upload without a name: %d %s", code, body)
	}

	// Another customer's ticket is refused like one that does not exist.
	theirTag := fmt.Sprintf("ENM-T-%06d", theirs.Number)
	code, body = f.upload(t, f.host, theirTag, "b.tar.gz", bundle, int64(len(bundle)))
	if code != http.StatusNotFound || !strings.Contains(body, "no ticket "+theirTag+" on contract S: check the ticket number in the support desk's mail") {
		t.Errorf("another customer's ticket: %d %s", code, body)
	}
	code, body = f.upload(t, f.host, "ENM-T-999999", "b.tar.gz", bundle, int64(len(bundle)))
	if code != http.StatusNotFound || !strings.Contains(body, "no ticket ENM-T-999999 on contract S: check the ticket number in the support desk's mail") {
		t.Errorf("no such ticket: %d %s", code, body)
	}
	if msgs, _ := f.db.TicketMessages(ctx, theirs.Number); len(msgs) != 1 {
		t.Errorf("another customer's ticket got %d messages", len(msgs))
	}
	if code, body := f.upload(t, f.host, "abc", "b.tar.gz", bundle, int64(len(bundle))); code != http.StatusNotFound {
		t.Errorf("no ticket number: %d %s", code, body)
	}

	// Over the limit: refused by its Content-Length, or while it streams.
	big := bytes.Repeat([]byte("x"), deskLimit+1)
	for _, size := range []int64{int64(len(big)), -1} {
		code, body = f.upload(t, f.host, tag, "big.tar.gz", big, size)
		if code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "the file is larger than the support desk's limit of 64 KiB") {
			t.Errorf("too large (size %d): %d %s", size, code, body)
		}
	}
	if code, body := f.upload(t, f.host, tag, "empty.tar.gz", nil, 0); code != http.StatusBadRequest {
		t.Errorf("empty: %d %s", code, body)
	}
	if msgs, _ := f.db.TicketMessages(ctx, ours.Number); len(msgs) != 3 {
		t.Errorf("refused uploads added messages: %d, want 3", len(msgs))
	}

	// A wrong credential is 401, before anything is looked up.
	wrong := f.host
	wrong.Secret = entitle.NewSecret()
	if code, body := f.upload(t, wrong, tag, "b.tar.gz", bundle, int64(len(bundle))); code != http.StatusUnauthorized {
		t.Errorf("wrong credential: %d %s", code, body)
	}
	// An ended contract may no longer send.
	f.advance(time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC).Sub(f.clock()))
	if code, body := f.upload(t, f.host, tag, "b.tar.gz", bundle, int64(len(bundle))); code != http.StatusForbidden {
		t.Errorf("after the contract ended: %d %s", code, body)
	}
}

// TestTicketAttachmentWaits: a file confirms nothing, so a ticket waiting
// for the customer's confirmation keeps waiting.
func TestTicketAttachmentWaits(t *testing.T) {
	f, ours, _ := newDeskFixture(t, store.TicketWaiting)
	if code, body := f.upload(t, f.host, strconv.FormatInt(ours.Number, 10), "b.tar.gz", []byte("bundle"), 6); code != http.StatusCreated {
		t.Fatalf("upload: %d %s", code, body)
	}
	tk, err := f.db.Ticket(context.Background(), ours.Number)
	if err != nil || tk.Status != store.TicketWaiting || tk.Waiting != store.WaitConfirmation || tk.Consumed {
		t.Errorf("ticket %+v, %v; want still waiting for confirmation", tk, err)
	}
}

// TestNoDesk: without a desk the endpoint says so.
func TestNoDesk(t *testing.T) {
	f := newFixture(t)
	if code, body := f.upload(t, f.host, "ENM-T-000001", "b.tar.gz", []byte("x"), 1); code != http.StatusNotFound ||
		!strings.Contains(body, "this server has no support desk") {
		t.Errorf("no desk: %d %s", code, body)
	}
}

// TestSlowUploadOutlivesReadTimeout: the server's read timeout is made
// for small API documents; a host's bundle may take longer to arrive.
func TestSlowUploadOutlivesReadTimeout(t *testing.T) {
	f, ours, _ := newDeskFixture(t, store.TicketOpen)
	ts := httptest.NewUnstartedServer(New(f.srvConfig))
	ts.Config.ReadTimeout = 300 * time.Millisecond
	ts.Start()
	defer ts.Close()
	pr, pw := io.Pipe()
	go func() {
		for i := 0; i < 6; i++ {
			pw.Write(bytes.Repeat([]byte{byte(i)}, 1024))
			time.Sleep(150 * time.Millisecond)
		}
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/tickets/%d/attachments?name=slow.tar.gz", ts.URL, ours.Number), pr)
	req.SetBasicAuth(f.host.HostID, f.host.Secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(body), `"size":6144`) {
		t.Errorf("slow upload: %d %s", resp.StatusCode, body)
	}
}
