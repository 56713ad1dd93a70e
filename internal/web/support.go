package web

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/enmei-project/enmei/internal/account"
	"github.com/enmei-project/enmei/internal/bizcal"
	"github.com/enmei-project/enmei/internal/desk"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/mailin"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/support"
)

// The support pages: a signed-in customer sees the contract's inquiry
// allowance, its tickets (confirming a new matter with a button rather
// than by mail), the order of a one-at-a-time contract's open tickets, the
// technical contact and changes to it, and the maintenance notices of the
// contract's products. Tickets are opened by mail only: the desk's address
// is shown here.

// DeskService is what the support pages need of the support desk
// (*desk.Desk).
type DeskService interface {
	Allowance(ctx context.Context, c store.Contract) (desk.AllowanceView, error)
	Queue(ctx context.Context, supportID string) ([]store.Ticket, error)
	Confirm(ctx context.Context, supportID string, n int64) (store.Ticket, error)
	Prioritise(ctx context.Context, supportID string, order []int64) error
	ChangeContact(ctx context.Context, supportID, email, effective string) (store.ContactChange, error)
	ContactOn(ctx context.Context, c store.Contract, day string) (string, error)
	Upcoming(ctx context.Context, products []string) ([]desk.UpcomingNotice, error)
	Reply(ctx context.Context, n int64, body string) (store.Ticket, error)
	Close(ctx context.Context, n int64, vendorFault bool) (store.Ticket, error)
	Scope(ctx context.Context, n int64, level int, reason string) (store.Ticket, error)
	Accept(ctx context.Context, n int64) (store.Ticket, error)
}

var _ DeskService = (*desk.Desk)(nil)

// deskDefaults takes the clock and the settings from a *desk.Desk when the
// caller gave none, so wiring the desk is one field.
func deskDefaults(cfg *Config) {
	d, ok := cfg.Desk.(*desk.Desk)
	if !ok {
		return
	}
	if d == nil {
		cfg.Desk = nil // a typed nil is no desk
		return
	}
	if cfg.SupportClock == nil && d.Calendar != nil {
		cfg.SupportClock = func(ctx context.Context) (support.Clock, error) {
			cal, err := d.Calendar(ctx)
			return support.Clock{Cal: cal}, err
		}
	}
	if cfg.DeskSettings == nil {
		cfg.DeskSettings = func(ctx context.Context) (desk.Config, error) {
			if d.Config != nil {
				return *d.Config, nil
			}
			return desk.LoadConfig(ctx, d.Store)
		}
	}
}

// supportClock is the support-hours clock; a calendar that cannot be read
// falls back to the national one (the list still shows, a little off).
func (p *Portal) supportClock(ctx context.Context) support.Clock {
	if p.cfg.SupportClock == nil {
		return support.Clock{}
	}
	clk, err := p.cfg.SupportClock(ctx)
	if err != nil {
		p.cfg.Log.Warn("the business calendar could not be read; using the national one", "err", err)
	}
	return clk
}

// supportAddress is the desk's mail address ("" when unknown).
func (p *Portal) supportAddress(ctx context.Context) string {
	if p.cfg.DeskSettings == nil {
		return ""
	}
	c, err := p.cfg.DeskSettings(ctx)
	if err != nil {
		p.cfg.Log.Warn("reading the support desk settings", "err", err)
		return ""
	}
	return c.Address
}

// today is the day in Asia/Tokyo (YYYY-MM-DD).
func (p *Portal) today() string { return bizcal.DateOf(p.cfg.Now()).String() }

// mailQueued wakes the sender after a change that queued mail.
func (p *Portal) mailQueued() {
	if p.cfg.MailQueued != nil {
		p.cfg.MailQueued()
	}
}

func (p *Portal) supportRoutes(page func(string, http.HandlerFunc)) {
	page("GET /support", p.supportPage)
	page("POST /support/tickets/{n}/confirm", p.supportConfirm)
	page("POST /support/priorities", p.supportPriorities)
	page("POST /support/contact", p.supportContact)
}

// SupportView is what the customer's support page shows.
type SupportView struct {
	Contract  store.Contract
	Valid     bool
	Allowance desk.AllowanceView
	Unlimited bool
	// Contact is the technical contact in force today; Pending are the
	// changes that take effect later, soonest first.
	Contact string
	Pending []store.ContactChange
	Tickets []CustomerTicket
	// Queue is an unlimited contract's open tickets in the order they are
	// investigated.
	Queue   []QueueRow
	Notices []NoticeRow
	Address string // the desk's mail address
	// NewContact is the contact form's value after a refusal.
	NewContact string
}

// CustomerTicket is one ticket as the customer sees it.
type CustomerTicket struct {
	Number     int64
	Tag        string
	Subject    string
	Status     string // in words
	Consumed   bool
	Opened     string
	CanConfirm bool
}

// QueueRow is one open ticket of a one-at-a-time contract, in queue order.
type QueueRow struct {
	Position int
	Number   int64
	Tag      string
	Subject  string
	Started  bool   // under investigation: its place is fixed
	Priority string // the customer's number, "" when not set
}

// NoticeRow is a maintenance notice as the pages show it.
type NoticeRow struct {
	Title, Body, When string
	Emergency         bool
	Recurring         bool
	Now               bool // under way
}

// customerStatus says a ticket's state in words a customer understands.
func customerStatus(l *Locale, t store.Ticket) string {
	switch {
	case t.Status == store.TicketClosed:
		return l.T("support.status_closed")
	case t.Status == store.TicketWaiting && t.Waiting == store.WaitConfirmation:
		return l.T("support.status_confirmation")
	case t.Status == store.TicketWaiting:
		return l.T("support.status_allowance")
	case !t.RespondedAt.IsZero():
		return l.T("support.status_answered")
	}
	return l.T("support.status_open")
}

// supportView reads everything the support page shows.
func (p *Portal) supportView(ctx context.Context, l *Locale, c store.Contract) (SupportView, error) {
	sv := SupportView{Contract: c, Valid: entitle.CheckValid(c, p.cfg.Now()) == nil,
		Unlimited: c.Allowance() == entitle.Unlimited, Address: p.supportAddress(ctx)}
	var err error
	if sv.Allowance, err = p.cfg.Desk.Allowance(ctx, c); err != nil {
		return sv, err
	}
	today := p.today()
	if sv.Contact, err = p.cfg.Desk.ContactOn(ctx, c, today); err != nil {
		return sv, err
	}
	changes, err := p.cfg.Store.ContactChanges(ctx, c.SupportID)
	if err != nil {
		return sv, err
	}
	for _, ch := range changes {
		if ch.Effective > today { // YYYY-MM-DD sorts as text
			sv.Pending = append(sv.Pending, ch)
		}
	}
	slices.SortStableFunc(sv.Pending, func(a, b store.ContactChange) int {
		return cmp.Or(strings.Compare(a.Effective, b.Effective), a.RequestedAt.Compare(b.RequestedAt))
	})
	ts, err := p.cfg.Store.Tickets(ctx, store.TicketFilter{SupportID: c.SupportID})
	if err != nil {
		return sv, err
	}
	slices.Reverse(ts) // newest first
	for _, t := range ts {
		sv.Tickets = append(sv.Tickets, CustomerTicket{Number: t.Number, Tag: mailin.FormatTag(t.Number), Subject: t.Subject,
			Status: customerStatus(l, t), Consumed: t.Consumed, Opened: l.Time(t.OpenedAt),
			CanConfirm: sv.Valid && t.Status == store.TicketWaiting && t.Waiting == store.WaitConfirmation})
	}
	if sv.Unlimited {
		q, err := p.cfg.Desk.Queue(ctx, c.SupportID)
		if err != nil {
			return sv, err
		}
		for i, t := range q {
			row := QueueRow{Position: i + 1, Number: t.Number, Tag: mailin.FormatTag(t.Number), Subject: t.Subject,
				Started: !t.RespondedAt.IsZero()}
			if t.Priority > 0 {
				row.Priority = strconv.Itoa(t.Priority)
			}
			sv.Queue = append(sv.Queue, row)
		}
	}
	ns, err := p.cfg.Desk.Upcoming(ctx, c.Products)
	if err != nil {
		return sv, err
	}
	sv.Notices = noticeRows(l, ns)
	return sv, nil
}

func noticeRows(l *Locale, ns []desk.UpcomingNotice) []NoticeRow {
	out := make([]NoticeRow, 0, len(ns))
	for _, n := range ns {
		out = append(out, NoticeRow{Title: n.Title, Body: n.Body, When: l.Time(n.Next.Start) + " – " + l.Time(n.Next.End),
			Emergency: n.Emergency, Recurring: n.RRule != "", Now: n.Now})
	}
	return out
}

func (p *Portal) supportPage(w http.ResponseWriter, r *http.Request) {
	c, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	l := p.locale(r)
	q := r.URL.Query()
	flash := ""
	if n, err := strconv.ParseInt(q.Get("confirmed"), 10, 64); err == nil && n > 0 {
		flash = l.T("support.confirmed", mailin.FormatTag(n))
	}
	if n, err := strconv.ParseInt(q.Get("held"), 10, 64); err == nil && n > 0 {
		flash = l.T("support.held", mailin.FormatTag(n))
	}
	if day, err := bizcal.ParseDate(q.Get("contact")); err == nil {
		flash = l.T("support.contact_requested", day.String())
	}
	if q.Get("prioritised") != "" {
		flash = l.T("support.prioritised")
	}
	p.renderSupport(w, r, l, c, http.StatusOK, flash, "", nil)
}

// renderSupport renders the support page; after a refused form, errMsg
// says why and keep puts the values back in the form.
func (p *Portal) renderSupport(w http.ResponseWriter, r *http.Request, l *Locale, c store.Contract, status int, flash, errMsg string, keep func(*SupportView)) {
	v := &view{Title: "support.title", Customer: &c, L: l, Flash: flash, Error: errMsg}
	sv, err := p.supportView(r.Context(), l, c)
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	if keep != nil {
		keep(&sv)
	}
	v.Data = sv
	p.render(w, r, status, "support", v)
}

// ticketNumber reads the {n} of a path: 123, 000123 or ENM-T-000123.
func ticketNumber(r *http.Request) (int64, bool) {
	s := r.PathValue("n")
	if n, ok := mailin.Tag("[" + strings.ToUpper(s) + "]"); ok {
		return n, true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

func (p *Portal) supportConfirm(w http.ResponseWriter, r *http.Request) {
	c, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	l := p.locale(r)
	v := &view{Title: "support.title", Customer: &c, L: l}
	n, ok := ticketNumber(r)
	if !ok {
		p.fail(w, r, v, errs.E(errs.NotFound, "no such ticket"))
		return
	}
	if err := entitle.CheckValid(c, p.cfg.Now()); err != nil {
		p.renderSupport(w, r, l, c, http.StatusForbidden, "", l.T("support.not_valid"), nil)
		return
	}
	t, err := p.cfg.Desk.Confirm(r.Context(), c.SupportID, n)
	switch {
	case err == nil:
	case errs.Is(err, errs.NotFound):
		p.fail(w, r, v, errs.E(errs.NotFound, "no such ticket")) // another contract's is not found either
		return
	case errs.Is(err, errs.Invalid):
		p.renderSupport(w, r, l, c, http.StatusConflict, "", l.T("support.confirm_refused", mailin.FormatTag(n)), nil)
		return
	default:
		p.fail(w, r, v, err)
		return
	}
	p.mailQueued()
	p.cfg.Log.Info("new inquiry confirmed on the portal", "support_id", c.SupportID, "ticket", mailin.FormatTag(n), "consumed", t.Consumed)
	if !t.Consumed {
		http.Redirect(w, r, "/support?held="+strconv.FormatInt(n, 10), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/support?confirmed="+strconv.FormatInt(n, 10), http.StatusSeeOther)
}

// maxPriority bounds the numbers of the priority form.
const maxPriority = 999

// supportPriorities orders a one-at-a-time contract's open tickets by the
// numbers the customer gave; tickets left blank follow in arrival order.
func (p *Portal) supportPriorities(w http.ResponseWriter, r *http.Request) {
	c, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	l := p.locale(r)
	v := &view{Title: "support.title", Customer: &c, L: l}
	if c.Allowance() != entitle.Unlimited {
		p.fail(w, r, v, errs.E(errs.NotFound, "contract %s has no queue", c.SupportID))
		return
	}
	q, err := p.cfg.Desk.Queue(r.Context(), c.SupportID)
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	type given struct {
		t   store.Ticket
		pri int
	}
	var order []given
	kept := map[int64]string{}
	bad := false
	for _, t := range q {
		s := strings.TrimSpace(r.PostFormValue(priorityField(t.Number)))
		kept[t.Number] = s
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPriority {
			bad = true
			continue
		}
		order = append(order, given{t, n})
	}
	if bad {
		p.renderSupport(w, r, l, c, http.StatusBadRequest, "", l.T("support.priority_invalid", maxPriority),
			func(sv *SupportView) {
				for i, row := range sv.Queue {
					if s, ok := kept[row.Number]; ok {
						sv.Queue[i].Priority = s
					}
				}
			})
		return
	}
	// Equal numbers keep arrival order.
	slices.SortStableFunc(order, func(a, b given) int {
		return cmp.Or(cmp.Compare(a.pri, b.pri), a.t.OpenedAt.Compare(b.t.OpenedAt), cmp.Compare(a.t.Number, b.t.Number))
	})
	numbers := make([]int64, len(order))
	for i, g := range order {
		numbers[i] = g.t.Number
	}
	if err := p.cfg.Desk.Prioritise(r.Context(), c.SupportID, numbers); err != nil {
		if errs.KindOf(err) == errs.Invalid { // a ticket closed meanwhile
			p.renderSupport(w, r, l, c, http.StatusConflict, "", l.T("support.priority_stale"), nil)
			return
		}
		p.fail(w, r, v, err)
		return
	}
	p.cfg.Log.Info("ticket order set on the portal", "support_id", c.SupportID, "order", numbers)
	http.Redirect(w, r, "/support?prioritised=1", http.StatusSeeOther)
}

// priorityField is the priority form's input of ticket n.
func priorityField(n int64) string { return fmt.Sprintf("priority_%d", n) }

// supportContact records a request to change the technical contact; it
// takes effect on the day the desk sets (three business days later).
func (p *Portal) supportContact(w http.ResponseWriter, r *http.Request) {
	c, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	l := p.locale(r)
	v := &view{Title: "support.title", Customer: &c, L: l}
	given := r.PostFormValue("email")
	keep := func(sv *SupportView) { sv.NewContact = given }
	email, err := account.NormalizeEmail(given)
	if err != nil {
		p.renderSupport(w, r, l, c, http.StatusBadRequest, "", l.T("support.contact_invalid"), keep)
		return
	}
	current, err := p.cfg.Desk.ContactOn(r.Context(), c, p.today())
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	if strings.EqualFold(current, email) {
		p.renderSupport(w, r, l, c, http.StatusBadRequest, "", l.T("support.contact_same", email), keep)
		return
	}
	ch, err := p.cfg.Desk.ChangeContact(r.Context(), c.SupportID, email, "")
	if errs.KindOf(err) == errs.Invalid {
		p.renderSupport(w, r, l, c, http.StatusBadRequest, "", err.Error(), keep)
		return
	}
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	p.mailQueued()
	p.cfg.Log.Info("technical contact change requested on the portal", "support_id", c.SupportID, "effective", ch.Effective)
	http.Redirect(w, r, "/support?contact="+ch.Effective, http.StatusSeeOther)
}
