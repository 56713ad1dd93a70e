package desk

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/enmei-project/enmei/internal/bytesize"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/mailin"
	"github.com/enmei-project/enmei/internal/store"
)

// A registered host sends its support bundle (enmei support-bundle
// --ticket) straight to one of its contract's tickets: the host credential
// vouches for the customer as the technical contact's address does for mail,
// and the file is kept like a mail attachment, so the vendor finds it in
// ticket show and gc keeps it.

// AttachmentLimit is the largest attachment the desk keeps, in bytes.
func (d *Desk) AttachmentLimit(ctx context.Context) (int64, error) {
	cfg, err := d.config(ctx)
	if err != nil {
		return 0, err
	}
	return cfg.MaxAttachment, nil
}

// notHosts is the one refusal for a ticket that does not exist and for one
// of another contract, so a host learns nothing of other customers' tickets.
func notHosts(n int64, supportID string) error {
	return errs.E(errs.NotFound, "no ticket %s on contract %s: check the ticket number in the support desk's mail", mailin.FormatTag(n), supportID)
}

// HostTicket returns ticket n if it is one of the contract's tickets.
func (d *Desk) HostTicket(ctx context.Context, supportID string, n int64) (store.Ticket, error) {
	t, err := d.Store.Ticket(ctx, n)
	if errs.Is(err, errs.NotFound) || (err == nil && t.SupportID != supportID) {
		return store.Ticket{}, notHosts(n, supportID)
	}
	return t, err
}

// AttachFromHost keeps a file host h sent (a support bundle) and adds it to
// ticket n of the host's contract as a new message from the customer,
// which the ticket takes as it takes a customer's follow-up mail: a closed
// ticket reopens, a waiting one keeps waiting (a file confirms nothing).
// name is cleaned as mail attachment names are. At most the desk's
// attachment limit is read from body: a larger file is refused and nothing
// is stored.
func (d *Desk) AttachFromHost(ctx context.Context, h store.Host, n int64, name string, body io.Reader) (store.TicketAttachment, error) {
	if d.Blobs == nil {
		return store.TicketAttachment{}, fmt.Errorf("the support desk has no blob store to keep %s's file in", h.ID)
	}
	cfg, err := d.config(ctx)
	if err != nil {
		return store.TicketAttachment{}, err
	}
	if _, err := d.HostTicket(ctx, h.SupportID, n); err != nil {
		return store.TicketAttachment{}, err
	}
	name = mailin.CleanFilename(name)
	if name == "" {
		name = "support-bundle-" + h.ID + ".tar.gz"
	}
	c := &capped{r: body, limit: cfg.MaxAttachment}
	info, err := d.Blobs.Put(ctx, c)
	if c.over {
		return store.TicketAttachment{}, errs.E(errs.Invalid, "the file is larger than the support desk's limit of %s: send a smaller bundle or ask the vendor to raise it (enmeid support config --max-attachment)", bytesize.Exact(cfg.MaxAttachment))
	}
	if err != nil {
		return store.TicketAttachment{}, fmt.Errorf("storing %s from host %s: %w", name, h.ID, err)
	}
	if info.Size == 0 {
		return store.TicketAttachment{}, errs.E(errs.Invalid, "the file %s is empty: make the bundle again and send it", name)
	}
	att := store.TicketAttachment{Filename: name, ContentType: contentType(name), Size: info.Size, Blob: info.Sum}
	now := d.now()
	t, err := d.Store.ChangeTicket(ctx, n, func(t *store.Ticket, _ func(string) (int, error)) (store.TicketChange, error) {
		if t.SupportID != h.SupportID {
			return store.TicketChange{}, notHosts(n, h.SupportID)
		}
		if t.Status == store.TicketClosed {
			t.Status, t.ClosedAt = store.TicketOpen, time.Time{}
		}
		return store.TicketChange{Messages: []store.TicketMessage{hostMessage(t.Lang, h, att, now)}}, nil
	})
	if err != nil {
		return store.TicketAttachment{}, err
	}
	d.log().Info("support bundle from a host", "ticket", mailin.FormatTag(t.Number), "support_id", h.SupportID, "host", h.ID,
		"file", name, "size", info.Size, "status", t.Status)
	return att, nil
}

// hostMessage is the ticket message carrying a host's file, in the
// ticket's language. It has no Message-ID: it is no mail, and the desk's
// answers thread under the customer's real mails.
func hostMessage(lang string, h store.Host, att store.TicketAttachment, at time.Time) store.TicketMessage {
	who := h.Hostname
	if who == "" {
		who = "-"
	}
	subject := fmt.Sprintf("Support bundle from host %s (host ID %s)", who, h.ID)
	body := fmt.Sprintf("%s: %s, %d bytes, SHA-256 %s, sent with enmei support-bundle.\n", subject, att.Filename, att.Size, att.Blob)
	if lang != "en" {
		subject = fmt.Sprintf("ホスト %s（ホスト ID %s）からのサポートバンドル", who, h.ID)
		body = fmt.Sprintf("%s: %s、%d バイト、SHA-256 %s（enmei support-bundle で送信）\n", subject, att.Filename, att.Size, att.Blob)
	}
	return store.TicketMessage{Direction: "in", From: fmt.Sprintf("host %s (%s)", h.ID, who), Subject: subject, Text: body,
		Attachments: []store.TicketAttachment{att}, At: at}
}

// contentType is what a host's file is kept as, by its name: the client's
// own Content-Type is not believed.
func contentType(name string) string {
	switch n := strings.ToLower(name); {
	case strings.HasSuffix(n, ".tar.gz"), strings.HasSuffix(n, ".tgz"), strings.HasSuffix(n, ".gz"):
		return "application/gzip"
	case strings.HasSuffix(n, ".tar.xz"), strings.HasSuffix(n, ".xz"):
		return "application/x-xz"
	case strings.HasSuffix(n, ".tar"):
		return "application/x-tar"
	case strings.HasSuffix(n, ".zip"):
		return "application/zip"
	case strings.HasSuffix(n, ".txt"), strings.HasSuffix(n, ".log"):
		return "text/plain"
	}
	return "application/octet-stream"
}

// capped reads at most limit bytes and fails the read that goes past it,
// so a blob Put of an oversized file fails and leaves nothing behind.
type capped struct {
	r     io.Reader
	limit int64
	read  int64
	over  bool
}

func (c *capped) Read(p []byte) (int, error) {
	if c.over {
		return 0, errTooLarge
	}
	if int64(len(p)) > c.limit-c.read+1 {
		p = p[:c.limit-c.read+1]
	}
	n, err := c.r.Read(p)
	c.read += int64(n)
	if c.read > c.limit {
		c.over = true
		return 0, errTooLarge
	}
	return n, err
}

var errTooLarge = errs.E(errs.Invalid, "the file is larger than the support desk's attachment limit")
