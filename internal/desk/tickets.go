package desk

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/enmei-project/enmei/internal/bizcal"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/mailin"
	"github.com/enmei-project/enmei/internal/notify"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/support"
)

// merge appends b's messages and mails to a's.
func merge(a, b store.TicketChange) store.TicketChange {
	a.Messages = append(a.Messages, b.Messages...)
	a.Mails = append(a.Mails, b.Mails...)
	return a
}

// maxReferences bounds the References header: enough for any mail client
// to thread, short enough for every server.
const maxReferences = 10

// answer composes the desk's mail on a ticket to the contract's technical
// contact in force today, threaded under the ticket's earlier mails (and
// under in, the customer's mail it answers, when given), and records it as
// a message of the ticket.
func (d *Desk) answer(ctx context.Context, cfg Config, c store.Contract, t store.Ticket, in *store.TicketMessage, txt text) (store.TicketChange, error) {
	to, err := d.contactOn(ctx, c, d.today())
	if err != nil {
		return store.TicketChange{}, err
	}
	var refs []string
	if t.Number != 0 {
		msgs, err := d.Store.TicketMessages(ctx, t.Number)
		if err != nil && !errs.Is(err, errs.NotFound) {
			return store.TicketChange{}, err
		}
		for _, m := range msgs {
			if m.MessageID != "" {
				refs = append(refs, m.MessageID)
			}
		}
	}
	if in != nil && in.MessageID != "" {
		refs = append(refs, in.MessageID)
	}
	tagged := "[" + mailin.FormatTag(t.Number) + "] "
	subject := tagged + txt.subject + ": " + t.Subject
	if txt.reply {
		subject = "Re: " + tagged + t.Subject
	}
	l := notify.Letter{From: from(cfg), To: to, Subject: subject, Text: txt.body + footer(c.Language(), t.Number),
		Lang: c.Language(), MessageID: messageID(t.Number, cfg.Address)}
	if len(refs) > 0 {
		l.InReplyTo = refs[len(refs)-1]
		l.References = refs[max(0, len(refs)-maxReferences):]
	}
	m, err := notify.NewMail(l)
	if err != nil {
		return store.TicketChange{}, fmt.Errorf("composing the answer to %s: %w", mailin.FormatTag(t.Number), err)
	}
	now := d.now()
	m.CreatedAt, m.NextAt = now, now
	out := store.TicketMessage{Direction: "out", MessageID: strings.Trim(l.MessageID, "<>"), From: cfg.Address, Subject: subject,
		Text: txt.body, At: now}
	return store.TicketChange{Messages: []store.TicketMessage{out}, Mails: []store.Mail{m}}, nil
}

// messageID names the desk's mails after their ticket, so a reply that
// lost its subject tag still threads by In-Reply-To.
func messageID(n int64, address string) string {
	b := make([]byte, 8)
	rand.Read(b)
	domain := address[strings.LastIndexByte(address, '@')+1:]
	return fmt.Sprintf("<%s.%s@%s>", strings.ToLower(mailin.FormatTag(n)), hex.EncodeToString(b), domain)
}

// change loads a ticket, its contract and the settings, and applies f.
func (d *Desk) change(ctx context.Context, n int64, f func(cfg Config, c store.Contract, clk support.Clock, t *store.Ticket, used func(string) (int, error)) (store.TicketChange, error)) (store.Ticket, error) {
	cfg, err := d.config(ctx)
	if err != nil {
		return store.Ticket{}, err
	}
	clk, err := d.clock(ctx)
	if err != nil {
		return store.Ticket{}, err
	}
	t, err := d.Store.Ticket(ctx, n)
	if err != nil {
		return t, err
	}
	c, err := d.Store.Contract(ctx, t.SupportID)
	if err != nil {
		return t, err
	}
	return d.Store.ChangeTicket(ctx, n, func(t *store.Ticket, used func(string) (int, error)) (store.TicketChange, error) {
		return f(cfg, c, clk, t, used)
	})
}

// Reply sends the vendor's answer on a ticket in the customer's thread. The
// first answer stops the first-response clock and starts the
// investigation. A waiting ticket stays waiting: answering is not deciding.
func (d *Desk) Reply(ctx context.Context, n int64, body string) (store.Ticket, error) {
	if strings.TrimSpace(body) == "" {
		return store.Ticket{}, errs.E(errs.Invalid, "the reply is empty: write the answer to the customer in the file")
	}
	return d.change(ctx, n, func(cfg Config, c store.Contract, _ support.Clock, t *store.Ticket, _ func(string) (int, error)) (store.TicketChange, error) {
		if t.RespondedAt.IsZero() {
			t.RespondedAt = d.now()
		}
		if t.Status == store.TicketClosed {
			t.Status, t.ClosedAt = store.TicketOpen, time.Time{}
		}
		return d.answer(ctx, cfg, c, *t, nil, text{reply: true, body: strings.TrimRight(body, "\n") + "\n"})
	})
}

// Close closes a ticket; vendorFault (the vendor's repository or packages
// caused the problem) gives back the inquiry it used.
func (d *Desk) Close(ctx context.Context, n int64, vendorFault bool) (store.Ticket, error) {
	return d.change(ctx, n, func(cfg Config, c store.Contract, _ support.Clock, t *store.Ticket, _ func(string) (int, error)) (store.TicketChange, error) {
		if t.Status == store.TicketClosed && t.VendorFault == vendorFault {
			return store.TicketChange{}, errs.E(errs.Exists, "%s is already closed", mailin.FormatTag(t.Number))
		}
		returned := vendorFault && t.Consumed
		t.Status, t.Waiting, t.ClosedAt, t.VendorFault = store.TicketClosed, "", d.now(), vendorFault
		if vendorFault {
			t.Consumed, t.YearStart = false, ""
		}
		return d.answer(ctx, cfg, c, *t, nil, closedText(c.Language(), returned))
	})
}

// Scope sets a ticket's scope level; out of the standard scope (levels 5–10)
// a reason is required and the customer is told it in their language.
func (d *Desk) Scope(ctx context.Context, n int64, level int, reason string) (store.Ticket, error) {
	if err := support.CheckScope(level); err != nil {
		return store.Ticket{}, err
	}
	out := !support.InStandardScope(level)
	if out && strings.TrimSpace(reason) == "" {
		return store.Ticket{}, errs.E(errs.Invalid, "level %d is outside standard support (levels 1–4): give the customer the reason with --reason", level)
	}
	return d.change(ctx, n, func(cfg Config, c store.Contract, _ support.Clock, t *store.Ticket, _ func(string) (int, error)) (store.TicketChange, error) {
		t.ScopeLevel = level
		if !out {
			t.OutOfScope = ""
			return store.TicketChange{}, nil
		}
		t.OutOfScope = strings.TrimSpace(reason)
		return d.answer(ctx, cfg, c, *t, nil, outOfScopeText(c.Language(), level, t.OutOfScope))
	})
}

// Confirm confirms a new matter for the customer (the portal's button): the
// same as a reply carrying the confirmation word.
func (d *Desk) Confirm(ctx context.Context, supportID string, n int64) (store.Ticket, error) {
	return d.change(ctx, n, func(cfg Config, c store.Contract, clk support.Clock, t *store.Ticket, used func(string) (int, error)) (store.TicketChange, error) {
		if t.SupportID != supportID {
			return store.TicketChange{}, errs.E(errs.NotFound, "no ticket %s on contract %s", mailin.FormatTag(n), supportID)
		}
		if t.Status != store.TicketWaiting || t.Waiting != store.WaitConfirmation {
			return store.TicketChange{}, errs.E(errs.Invalid, "%s is not waiting for a confirmation", mailin.FormatTag(n))
		}
		txt, err := d.consume(cfg, clk, c, t, used)
		if err != nil {
			return store.TicketChange{}, err
		}
		return d.answer(ctx, cfg, c, *t, nil, txt)
	})
}

// NewMatter is the vendor's judgement that a follow-up raised a new matter:
// the ticket's latest customer mail moves to a new ticket, which asks the
// customer to confirm it like any new matter.
func (d *Desk) NewMatter(ctx context.Context, n int64) (store.Ticket, error) {
	cfg, err := d.config(ctx)
	if err != nil {
		return store.Ticket{}, err
	}
	old, err := d.Store.Ticket(ctx, n)
	if err != nil {
		return old, err
	}
	c, err := d.Store.Contract(ctx, old.SupportID)
	if err != nil {
		return old, err
	}
	if c.Allowance() == entitle.Unlimited {
		return old, errs.E(errs.Invalid, "contract %s has unlimited inquiries: nothing to confirm", c.SupportID)
	}
	msgs, err := d.Store.TicketMessages(ctx, n)
	if err != nil {
		return old, err
	}
	var last *store.TicketMessage
	for i := range msgs {
		if msgs[i].Direction == "in" {
			last = &msgs[i]
		}
	}
	if last == nil || len(msgs) < 2 {
		return old, errs.E(errs.Invalid, "%s has no follow-up to make a new matter of", mailin.FormatTag(n))
	}
	clk, err := d.clock(ctx)
	if err != nil {
		return old, err
	}
	now := d.now()
	t := store.Ticket{SupportID: c.SupportID, Subject: last.Subject, Lang: c.Language(), Contact: old.Contact, OpenedAt: now,
		DueAt: clk.Add(now, time.Duration(cfg.FirstResponse)), Status: store.TicketWaiting, Waiting: store.WaitConfirmation,
		ConfirmWord: confirmWord()}
	return d.Store.AddTicket(ctx, t, func(t store.Ticket) (store.TicketChange, error) {
		copied := *last
		copied.MessageID = "" // the original stays the old ticket's for threading
		a, err := d.Allowance(ctx, c)
		if err != nil {
			return store.TicketChange{}, err
		}
		txt := confirmText(c.Language(), a, t.ConfirmWord)
		txt.body = splitNote(c.Language(), n) + txt.body
		ans, err := d.answer(ctx, cfg, c, t, nil, txt)
		return merge(store.TicketChange{Messages: []store.TicketMessage{copied}}, ans), err
	})
}

// Accept is the vendor's decision on a matter beyond the allowance: it is
// investigated without consuming anything.
func (d *Desk) Accept(ctx context.Context, n int64) (store.Ticket, error) {
	return d.change(ctx, n, func(_ Config, _ store.Contract, _ support.Clock, t *store.Ticket, _ func(string) (int, error)) (store.TicketChange, error) {
		if t.Status != store.TicketWaiting {
			return store.TicketChange{}, errs.E(errs.Invalid, "%s is not waiting", mailin.FormatTag(n))
		}
		t.Status, t.Waiting = store.TicketOpen, ""
		return store.TicketChange{}, nil
	})
}

// Prioritise sets the customer's order of a one-at-a-time contract's open
// tickets: order lists ticket numbers, first first; the rest keep arrival
// order after them.
func (d *Desk) Prioritise(ctx context.Context, supportID string, order []int64) error {
	open, err := d.Store.Tickets(ctx, store.TicketFilter{SupportID: supportID, Status: store.TicketOpen})
	if err != nil {
		return err
	}
	for _, n := range order {
		if !slices.ContainsFunc(open, func(t store.Ticket) bool { return t.Number == n }) {
			return errs.E(errs.Invalid, "%s is not an open ticket of %s", mailin.FormatTag(n), supportID)
		}
	}
	for _, t := range open {
		p := slices.Index(order, t.Number) + 1 // 0 when not listed
		if p == t.Priority {
			continue
		}
		_, err := d.Store.ChangeTicket(ctx, t.Number, func(t *store.Ticket, _ func(string) (int, error)) (store.TicketChange, error) {
			t.Priority = p
			return store.TicketChange{}, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Queue is a contract's open tickets in the order they are investigated:
// the one under investigation first.
func (d *Desk) Queue(ctx context.Context, supportID string) ([]store.Ticket, error) {
	open, err := d.Store.Tickets(ctx, store.TicketFilter{SupportID: supportID, Status: store.TicketOpen})
	if err != nil {
		return nil, err
	}
	items := make([]support.QueueItem, len(open))
	byID := map[string]store.Ticket{}
	for i, t := range open {
		id := mailin.FormatTag(t.Number)
		items[i] = support.QueueItem{ID: id, Opened: t.OpenedAt, Priority: t.Priority, Started: !t.RespondedAt.IsZero()}
		byID[id] = t
	}
	var out []store.Ticket
	for _, it := range support.Queue(items) {
		out = append(out, byID[it.ID])
	}
	return out, nil
}

// AllowanceView is a contract's inquiries in the current contract year.
type AllowanceView struct {
	SupportID string `json:"support_id"`
	YearStart string `json:"year_start"`
	YearEnd   string `json:"year_end"`
	Total     *int   `json:"total"` // nil when unlimited
	Used      int    `json:"used"`
	Left      *int   `json:"left"` // nil when unlimited
}

// Allowance reads a contract's allowance of the contract year of today; it
// never consumes anything.
func (d *Desk) Allowance(ctx context.Context, c store.Contract) (AllowanceView, error) {
	ys, ye, err := support.ContractYear(c.Start, bizcal.DateOf(d.now()).String())
	if err != nil {
		return AllowanceView{}, err
	}
	used, err := d.Store.InquiriesUsed(ctx, c.SupportID, ys)
	if err != nil {
		return AllowanceView{}, err
	}
	v := AllowanceView{SupportID: c.SupportID, YearStart: ys, YearEnd: ye, Used: used}
	if total := c.Allowance(); total != entitle.Unlimited {
		left := support.Allowance{Total: total, Used: used}.Left()
		v.Total, v.Left = &total, &left
	}
	return v, nil
}

// SortByTimeLeft orders tickets as the desk works them: unanswered ones
// with the least support time left to their first-response target first,
// then answered ones oldest first, then closed ones latest closed first.
func SortByTimeLeft(ts []store.Ticket, clk support.Clock, now time.Time) {
	key := func(t store.Ticket) (int, time.Duration) {
		if t.Status == store.TicketClosed {
			return 2, -time.Duration(t.ClosedAt.UnixNano())
		}
		if !t.RespondedAt.IsZero() {
			return 1, time.Duration(t.OpenedAt.UnixNano())
		}
		return 0, clk.Left(now, t.DueAt)
	}
	slices.SortStableFunc(ts, func(x, y store.Ticket) int {
		gx, kx := key(x)
		gy, ky := key(y)
		return cmp.Or(cmp.Compare(gx, gy), cmp.Compare(kx, ky), cmp.Compare(x.Number, y.Number))
	})
}
