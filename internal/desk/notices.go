package desk

import (
	"context"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/enmei-project/enmei/internal/bizcal"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/notify"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/support"
)

// ContactOn is the technical contact of a contract in force on day
// (YYYY-MM-DD).
func (d *Desk) ContactOn(ctx context.Context, c store.Contract, day string) (string, error) {
	return d.contactOn(ctx, c, day)
}

// ChangeContact records a request to change a contract's technical contact.
// It takes effect 3 business days after the request, or on effective
// (YYYY-MM-DD, not before today) when the vendor sets the day; the old and
// the new address are both told.
func (d *Desk) ChangeContact(ctx context.Context, supportID, email, effective string) (store.ContactChange, error) {
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
		return store.ContactChange{}, errs.E(errs.Invalid, "%q is not one e-mail address (use a mailing list for several people)", email)
	}
	email = strings.ToLower(email)
	c, err := d.Store.Contract(ctx, supportID)
	if err != nil {
		return store.ContactChange{}, err
	}
	now := d.now()
	today := bizcal.DateOf(now)
	if effective == "" {
		clk, err := d.clock(ctx)
		if err != nil {
			return store.ContactChange{}, err
		}
		effective = support.ContactEffective(clk.Cal, now).String()
	} else if err := support.CheckContactEffective(now, effective); err != nil {
		return store.ContactChange{}, err
	}
	old, err := d.contactOn(ctx, c, today.String())
	if err != nil {
		return store.ContactChange{}, err
	}
	if strings.EqualFold(old, email) {
		return store.ContactChange{}, errs.E(errs.Invalid, "%s is already the technical contact of %s", email, supportID)
	}
	cfg, err := d.config(ctx)
	if err != nil {
		return store.ContactChange{}, err
	}
	txt := contactText(c.Language(), c.SupportID, old, email, effective)
	var mails []store.Mail
	for _, to := range []string{old, email} {
		m, err := d.letter(cfg, to, c.Language(), txt)
		if err != nil {
			return store.ContactChange{}, err
		}
		mails = append(mails, m)
	}
	ch := store.ContactChange{SupportID: c.SupportID, Email: email, Effective: effective, RequestedAt: now}
	return ch, d.Store.AddContactChange(ctx, ch, mails)
}

// letter composes a mail of the desk that belongs to no ticket.
func (d *Desk) letter(cfg Config, to, lang string, txt text) (store.Mail, error) {
	m, err := notify.NewMail(notify.Letter{From: from(cfg), To: to, Subject: txt.subject, Text: txt.body, Lang: lang})
	if err != nil {
		return m, err
	}
	m.CreatedAt, m.NextAt = d.now(), d.now()
	return m, nil
}

// NoticeInput is a maintenance notice as the vendor writes it.
type NoticeInput struct {
	Title, Body string
	Start, End  time.Time
	Products    []string // empty: every product
	Emergency   bool
	RRule       string // "" for once
}

// AddNotice checks a maintenance notice (a planned one starts at least 7
// days ahead) and mails it to the technical contacts, in force today, of
// every contract it affects: contracts with one of its products that are
// valid at some time during the maintenance. It returns the recipients.
func (d *Desk) AddNotice(ctx context.Context, in NoticeInput) (store.Notice, []string, error) {
	now := d.now()
	if strings.TrimSpace(in.Title) == "" || strings.TrimSpace(in.Body) == "" {
		return store.Notice{}, nil, errs.E(errs.Invalid, "a notice needs a title and a body")
	}
	if err := support.CheckNoticeLead(now, in.Start, in.End, in.Emergency); err != nil {
		return store.Notice{}, nil, err
	}
	var rec *support.Recurrence
	if in.RRule != "" {
		r, err := support.ParseRecurrence(in.RRule, in.Start, in.End.Sub(in.Start))
		if err != nil {
			return store.Notice{}, nil, err
		}
		rec = &r
	}
	cfg, err := d.config(ctx)
	if err != nil {
		return store.Notice{}, nil, err
	}
	cs, err := d.Store.ListContracts(ctx)
	if err != nil {
		return store.Notice{}, nil, err
	}
	var to []string
	var mails []store.Mail
	today := bizcal.DateOf(now).String()
	for _, c := range cs {
		if !affected(c, in, rec) {
			continue
		}
		addr, err := d.contactOn(ctx, c, today)
		if err != nil {
			return store.Notice{}, nil, err
		}
		if slices.Contains(to, addr) {
			continue
		}
		m, err := d.letter(cfg, addr, c.Language(), noticeText(c.Language(), in, rec, now))
		if err != nil {
			return store.Notice{}, nil, err
		}
		to, mails = append(to, addr), append(mails, m)
	}
	n, err := d.Store.AddNotice(ctx, store.Notice{Title: in.Title, Body: in.Body, Start: in.Start, End: in.End, Products: in.Products,
		Emergency: in.Emergency, RRule: in.RRule, CreatedAt: now}, mails)
	return n, to, err
}

// affected reports whether a notice concerns a contract: one of its
// products, and the contract valid during the maintenance (any occurrence
// of a recurring one).
func affected(c store.Contract, in NoticeInput, rec *support.Recurrence) bool {
	if len(in.Products) > 0 && !slices.ContainsFunc(c.Products, func(p string) bool { return slices.Contains(in.Products, p) }) {
		return false
	}
	from, until, err := entitle.Window(c)
	if err != nil {
		return false
	}
	if rec != nil {
		w, ok := rec.Next(from)
		return ok && w.Start.Before(until)
	}
	return in.Start.Before(until) && from.Before(in.End)
}

// Upcoming is the notices whose maintenance (or next occurrence) has not
// ended at now, soonest first, with the window that is next.
func (d *Desk) Upcoming(ctx context.Context, products []string) ([]UpcomingNotice, error) {
	ns, err := d.Store.Notices(ctx)
	if err != nil {
		return nil, err
	}
	now := d.now()
	var out []UpcomingNotice
	for _, n := range ns {
		if len(products) > 0 && len(n.Products) > 0 && !slices.ContainsFunc(n.Products, func(p string) bool { return slices.Contains(products, p) }) {
			continue
		}
		w := support.Window{Start: n.Start, End: n.End}
		if n.RRule != "" {
			r, err := support.ParseRecurrence(n.RRule, n.Start, n.End.Sub(n.Start))
			if err != nil {
				continue
			}
			next, ok := r.Next(now)
			if !ok {
				continue
			}
			w = next
		} else if !w.End.After(now) {
			continue
		}
		out = append(out, UpcomingNotice{Notice: n, Next: w, Now: !w.Start.After(now)})
	}
	slices.SortFunc(out, func(a, b UpcomingNotice) int { return a.Next.Start.Compare(b.Next.Start) })
	return out, nil
}

// UpcomingNotice is a notice with its next (or current) window.
type UpcomingNotice struct {
	store.Notice
	Next support.Window
	Now  bool // the maintenance is under way
}

// Announce mails the technical contacts of every contract that includes
// product and is valid on or after today (the end of service, for one):
// subject and body per language.
func (d *Desk) Announce(ctx context.Context, product string, ja, en [2]string) ([]string, error) {
	cfg, err := d.config(ctx)
	if err != nil {
		return nil, err
	}
	cs, err := d.Store.ListContracts(ctx)
	if err != nil {
		return nil, err
	}
	today := bizcal.DateOf(d.now()).String()
	var to []string
	var mails []store.Mail
	for _, c := range cs {
		if !slices.Contains(c.Products, product) || c.End < today {
			continue
		}
		addr, err := d.contactOn(ctx, c, today)
		if err != nil {
			return nil, err
		}
		if slices.Contains(to, addr) {
			continue
		}
		t := text{subject: ja[0], body: ja[1]}
		if c.Language() == "en" {
			t = text{subject: en[0], body: en[1]}
		}
		m, err := d.letter(cfg, addr, c.Language(), t)
		if err != nil {
			return nil, err
		}
		to, mails = append(to, addr), append(mails, m)
	}
	if len(mails) > 0 {
		if err := d.Store.EnqueueMail(ctx, mails...); err != nil {
			return nil, err
		}
	}
	return to, nil
}

func contactText(lang, supportID, old, new, effective string) text {
	if lang == "en" {
		return text{subject: fmt.Sprintf("[%s] change of the technical contact", supportID), body: fmt.Sprintf(`The technical contact of contract %s changes on %s:

    from: %s
    to:   %s

From that day, notices and the support desk's mail go to the new address,
and the desk accepts inquiries from it. If you did not ask for this change,
contact us at once.
`, supportID, effective, old, new)}
	}
	return text{subject: fmt.Sprintf("[%s] 技術担当者の変更のお知らせ", supportID), body: fmt.Sprintf(`契約 %s の技術担当者を %s から変更します。

    変更前: %s
    変更後: %s

この日から、お知らせとサポート窓口からのメールは新しいアドレスに送られ、
お問い合わせも新しいアドレスから受け付けます。お心当たりのない場合は、
至急ご連絡ください。
`, supportID, effective, old, new)}
}

func noticeText(lang string, in NoticeInput, rec *support.Recurrence, now time.Time) text {
	window := jst(in.Start) + " – " + jst(in.End)
	var upcoming []string
	if rec != nil {
		for _, w := range rec.Between(now, now.AddDate(0, 4, 0)) {
			upcoming = append(upcoming, "    "+jst(w.Start)+" – "+jst(w.End))
			if len(upcoming) == 3 {
				break
			}
		}
	}
	if lang == "en" {
		kind := "Planned maintenance"
		if in.Emergency {
			kind = "Emergency maintenance"
		}
		body := fmt.Sprintf("%s: %s\n\nWhen (JST): %s\n", kind, in.Title, window)
		if rec != nil {
			body += "Recurring (" + in.RRule + "); the next windows:\n" + strings.Join(upcoming, "\n") + "\n"
		}
		return text{subject: "[Maintenance notice] " + in.Title, body: body + "\n" + in.Body + "\n"}
	}
	kind := "計画メンテナンス"
	if in.Emergency {
		kind = "緊急メンテナンス"
	}
	body := fmt.Sprintf("%s: %s\n\n日時（日本時間）: %s\n", kind, in.Title, window)
	if rec != nil {
		body += "定期（" + in.RRule + "）。次回以降の予定:\n" + strings.Join(upcoming, "\n") + "\n"
	}
	return text{subject: "[メンテナンスのお知らせ] " + in.Title, body: body + "\n" + in.Body + "\n"}
}
