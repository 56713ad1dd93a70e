package desk_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

// TestAttachFromHost: a host's bundle lands on its contract's ticket as the
// customer's message in the ticket's language, kept like a mail attachment;
// other contracts' tickets and oversized files are refused with nothing
// stored.
func TestAttachFromHost(t *testing.T) {
	e := setup(t)
	e.contract("ENM-A", 2, "2026-04-01", "2027-03-31")
	e.contract("ENM-B", 2, "2026-04-01", "2027-03-31")
	r := e.receive(e.iso2022(contact, "フェイルオーバーしません", "調べてください。", nil))
	n := r.Ticket
	if n == 0 {
		t.Fatalf("no ticket opened: %+v", r)
	}
	host := store.Host{ID: "h_0123456789abcdef", SupportID: e.ticket(n).SupportID, Hostname: "db1"}

	att, err := e.d.AttachFromHost(ctx, host, n, `C:\tmp\db1.enmei.20261201100000.tar.gz`, bytes.NewReader([]byte("bundle")))
	if err != nil {
		t.Fatal(err)
	}
	if att.Filename != "db1.enmei.20261201100000.tar.gz" || att.Size != 6 || att.ContentType != "application/gzip" || att.Blob == "" {
		t.Errorf("attachment %+v", att)
	}
	msgs, err := e.st.TicketMessages(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[len(msgs)-1]
	if m.Direction != "in" || m.Subject != "ホスト db1（ホスト ID h_0123456789abcdef）からのサポートバンドル" || len(m.Attachments) != 1 || m.Attachments[0] != att {
		t.Errorf("message %+v", m)
	}
	// The attachment is kept where gc looks for ticket attachments.
	kept := false
	e.st.AttachmentBlobs(ctx, func(b string) error { kept = kept || b == att.Blob; return nil })
	if !kept {
		t.Error("gc does not see the attachment's blob")
	}

	other := host
	other.SupportID = "ENM-B"
	if other.SupportID == host.SupportID {
		other.SupportID = "ENM-A"
	}
	_, err = e.d.AttachFromHost(ctx, other, n, "x.tar.gz", strings.NewReader("x"))
	if !errs.Is(err, errs.NotFound) || !strings.Contains(err.Error(), "on contract "+other.SupportID) {
		t.Errorf("another contract's ticket: %v", err)
	}
	_, err = e.d.AttachFromHost(ctx, host, n, "big.tar.gz", bytes.NewReader(make([]byte, 1<<20+1)))
	if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "larger than the support desk's limit of 1 MiB") {
		t.Errorf("too large: %v", err)
	}
	if after, _ := e.st.TicketMessages(ctx, n); len(after) != len(msgs) {
		t.Errorf("refused files added messages: %d, want %d", len(after), len(msgs))
	}
}
