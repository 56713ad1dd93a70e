package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/enmei-project/enmei/internal/desk"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/mailin"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/support"
)

// The console's tickets: the list, the least time to the first-response
// target first, and one ticket with its mails and the vendor's actions
// (reply, close, scope, accept), each a call to the desk that stores the
// change and the mail it sends together.

func (p *Portal) ticketRoutes(page func(string, http.HandlerFunc)) {
	page("GET /admin/tickets", p.vendor(p.adminTickets))
	page("GET /admin/tickets/{n}", p.vendor(p.adminTicket))
	page("POST /admin/tickets/{n}/reply", p.vendor(p.adminTicketReply))
	page("POST /admin/tickets/{n}/close", p.vendor(p.adminTicketClose))
	page("POST /admin/tickets/{n}/scope", p.vendor(p.adminTicketScope))
	page("POST /admin/tickets/{n}/accept", p.vendor(p.adminTicketAccept))
}

// supportTime writes a span of support time in hours and minutes.
func supportTime(l *Locale, d time.Duration) string {
	d = d.Round(time.Minute)
	return l.T("tickets.hours_minutes", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// TicketLine is one ticket of the console's list.
type TicketLine struct {
	Number    int64
	Tag       string
	SupportID string
	Customer  string
	Subject   string
	Status    string
	Consumed  bool
	Scope     string
	Left      string // time left to the first response, or why none counts
	Late      bool
	Due       string
	Opened    string
}

// TicketList is the console's ticket list and its filter.
type TicketList struct {
	Status    string
	SupportID string
	Tickets   []TicketLine
}

// vendorStatus says a ticket's state for the vendor's staff.
func vendorStatus(l *Locale, t store.Ticket) string {
	switch {
	case t.Status == store.TicketClosed && t.VendorFault:
		return l.T("tickets.status_closed_fault")
	case t.Status == store.TicketClosed:
		return l.T("tickets.status_closed")
	case t.Status == store.TicketWaiting && t.Waiting == store.WaitConfirmation:
		return l.T("tickets.status_confirmation")
	case t.Status == store.TicketWaiting:
		return l.T("tickets.status_allowance")
	}
	return l.T("tickets.status_open")
}

// timeLeft is the support time left to a ticket's first-response target.
func timeLeft(l *Locale, t store.Ticket, clk support.Clock, now time.Time) (string, bool) {
	switch {
	case t.Status == store.TicketClosed:
		return "—", false
	case !t.RespondedAt.IsZero():
		return l.T("tickets.answered"), false
	}
	left := clk.Left(now, t.DueAt)
	if left < 0 {
		return l.T("tickets.overdue", supportTime(l, -left)), true
	}
	return l.T("tickets.left", supportTime(l, left)), false
}

// scopeText is a scope level with its name ("—" before one is set).
func scopeText(l *Locale, level int) string {
	if level == 0 {
		return "—"
	}
	return fmt.Sprintf("%d %s", level, support.ScopeName(level, l.Lang))
}

func (p *Portal) adminTickets(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title = "tickets.title"
	q := r.URL.Query()
	list := TicketList{Status: q.Get("status"), SupportID: strings.ToUpper(strings.TrimSpace(q.Get("support_id")))}
	switch list.Status {
	case "", store.TicketOpen, store.TicketWaiting, store.TicketClosed:
	default:
		p.fail(w, r, v, errs.E(errs.Invalid, "%s", v.L.T("tickets.bad_status")))
		return
	}
	ctx := r.Context()
	ts, err := p.cfg.Store.Tickets(ctx, store.TicketFilter{SupportID: list.SupportID, Status: list.Status})
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	cs, err := p.cfg.Store.ListContracts(ctx)
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	customers := map[string]string{}
	for _, c := range cs {
		customers[c.SupportID] = c.Customer
	}
	clk, now := p.supportClock(ctx), p.cfg.Now()
	desk.SortByTimeLeft(ts, clk, now)
	for _, t := range ts {
		left, late := timeLeft(v.L, t, clk, now)
		list.Tickets = append(list.Tickets, TicketLine{Number: t.Number, Tag: mailin.FormatTag(t.Number), SupportID: t.SupportID,
			Customer: customers[t.SupportID], Subject: t.Subject, Status: vendorStatus(v.L, t), Consumed: t.Consumed,
			Scope: scopeText(v.L, t.ScopeLevel), Left: left, Late: late, Due: v.L.Time(t.DueAt), Opened: v.L.Time(t.OpenedAt)})
	}
	v.Data = list
	p.render(w, r, http.StatusOK, "admin_tickets", v)
}

// TicketView is one ticket in the console.
type TicketView struct {
	Ticket    store.Ticket
	Tag       string
	Customer  string
	Status    string
	Scope     string
	Left      string
	Late      bool
	Opened    string
	Due       string
	Responded string
	Closed    string
	Messages  []MessageView
	Levels    []ScopeLevel
	CanAccept bool
	// The forms' values after a refusal.
	Draft  string
	Level  int
	Reason string
}

// MessageView is one mail of a ticket.
type MessageView struct {
	In          bool // from the customer
	From        string
	Subject     string
	Text        string
	At          string
	Attachments []AttachmentView
}

// AttachmentView is a file a customer sent.
type AttachmentView struct {
	Name    string
	Type    string
	Size    string
	Dropped bool // over the size limit: not kept
}

// ScopeLevel is one choice of the scope form.
type ScopeLevel struct {
	Level    int
	Name     string
	Standard bool
}

// byteSize writes a size in bytes for people.
func byteSize(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

// ticketView reads ticket n with its mails.
func (p *Portal) ticketView(r *http.Request, l *Locale, n int64) (TicketView, error) {
	ctx := r.Context()
	t, err := p.cfg.Store.Ticket(ctx, n)
	if err != nil {
		return TicketView{}, err
	}
	msgs, err := p.cfg.Store.TicketMessages(ctx, n)
	if err != nil {
		return TicketView{}, err
	}
	tv := TicketView{Ticket: t, Tag: mailin.FormatTag(t.Number), Status: vendorStatus(l, t), Scope: scopeText(l, t.ScopeLevel),
		Opened: l.Time(t.OpenedAt), Due: l.Time(t.DueAt), Level: t.ScopeLevel,
		CanAccept: t.Status == store.TicketWaiting}
	if c, err := p.cfg.Store.Contract(ctx, t.SupportID); err == nil {
		tv.Customer = c.Customer
	}
	if !t.RespondedAt.IsZero() {
		tv.Responded = l.Time(t.RespondedAt)
	}
	if t.Status == store.TicketClosed {
		tv.Closed = l.Time(t.ClosedAt)
	}
	tv.Left, tv.Late = timeLeft(l, t, p.supportClock(ctx), p.cfg.Now())
	for _, m := range msgs {
		mv := MessageView{In: m.Direction == "in", From: m.From, Subject: m.Subject, Text: m.Text, At: l.Time(m.At)}
		for _, a := range m.Attachments {
			mv.Attachments = append(mv.Attachments, AttachmentView{Name: a.Filename, Type: a.ContentType, Size: byteSize(a.Size),
				Dropped: a.Dropped})
		}
		tv.Messages = append(tv.Messages, mv)
	}
	for level := 1; support.ScopeName(level, "en") != ""; level++ {
		tv.Levels = append(tv.Levels, ScopeLevel{Level: level, Name: support.ScopeName(level, l.Lang), Standard: support.InStandardScope(level)})
	}
	return tv, nil
}

func (p *Portal) adminTicket(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title = "tickets.ticket_title"
	n, ok := ticketNumber(r)
	if !ok {
		p.fail(w, r, v, errs.E(errs.NotFound, "no such ticket"))
		return
	}
	switch r.URL.Query().Get("done") {
	case "reply":
		v.Flash = v.L.T("tickets.done_reply")
	case "close":
		v.Flash = v.L.T("tickets.done_close")
	case "scope":
		v.Flash = v.L.T("tickets.done_scope")
	case "accept":
		v.Flash = v.L.T("tickets.done_accept")
	}
	p.renderTicket(w, r, v, n, http.StatusOK, nil)
}

// renderTicket renders ticket n; keep puts a refused form's values back.
func (p *Portal) renderTicket(w http.ResponseWriter, r *http.Request, v *view, n int64, status int, keep func(*TicketView)) {
	v.Title = "tickets.ticket_title"
	tv, err := p.ticketView(r, v.L, n)
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	v.TitleArg = tv.Tag
	if keep != nil {
		keep(&tv)
	}
	v.Data = tv
	p.render(w, r, status, "admin_ticket", v)
}

// ticketAction runs a desk action on the ticket of the path. A refusal
// (Invalid, Exists) comes back on the ticket's page with the reason;
// success goes back to the page with a confirmation.
func (p *Portal) ticketAction(w http.ResponseWriter, r *http.Request, v *view, done string, keep func(*TicketView),
	act func(n int64) (store.Ticket, error)) {
	n, ok := ticketNumber(r)
	if !ok {
		p.fail(w, r, v, errs.E(errs.NotFound, "no such ticket"))
		return
	}
	_, err := act(n)
	switch {
	case err == nil:
	case errs.Is(err, errs.Invalid):
		v.Error = err.Error()
		p.renderTicket(w, r, v, n, http.StatusBadRequest, keep)
		return
	case errs.Is(err, errs.Exists):
		v.Error = err.Error()
		p.renderTicket(w, r, v, n, http.StatusConflict, keep)
		return
	default:
		p.fail(w, r, v, err)
		return
	}
	p.mailQueued()
	p.cfg.Log.Info("ticket changed in the console", "ticket", mailin.FormatTag(n), "action", done, "by", v.User.Email)
	http.Redirect(w, r, "/admin/tickets/"+strconv.FormatInt(n, 10)+"?done="+url.QueryEscape(done), http.StatusSeeOther)
}

// refuseTicketForm renders the ticket's page with a form's refusal.
func (p *Portal) refuseTicketForm(w http.ResponseWriter, r *http.Request, v *view, msg string, keep func(*TicketView)) {
	n, ok := ticketNumber(r)
	if !ok {
		p.fail(w, r, v, errs.E(errs.NotFound, "no such ticket"))
		return
	}
	v.Error = msg
	p.renderTicket(w, r, v, n, http.StatusBadRequest, keep)
}

// maxReply bounds a reply typed in the console.
const maxReply = 256 << 10

func (p *Portal) adminTicketReply(w http.ResponseWriter, r *http.Request, v *view) {
	body := strings.ReplaceAll(r.PostFormValue("body"), "\r\n", "\n")
	keep := func(tv *TicketView) { tv.Draft = body }
	switch {
	case strings.TrimSpace(body) == "":
		p.refuseTicketForm(w, r, v, v.L.T("tickets.reply_empty"), keep)
		return
	case len(body) > maxReply:
		p.refuseTicketForm(w, r, v, v.L.T("tickets.reply_long", maxReply>>10), keep)
		return
	}
	p.ticketAction(w, r, v, "reply", keep, func(n int64) (store.Ticket, error) {
		return p.cfg.Desk.Reply(r.Context(), n, body)
	})
}

func (p *Portal) adminTicketClose(w http.ResponseWriter, r *http.Request, v *view) {
	fault := r.PostFormValue("vendor_fault") != ""
	p.ticketAction(w, r, v, "close", nil, func(n int64) (store.Ticket, error) {
		return p.cfg.Desk.Close(r.Context(), n, fault)
	})
}

func (p *Portal) adminTicketScope(w http.ResponseWriter, r *http.Request, v *view) {
	level, err := strconv.Atoi(strings.TrimSpace(r.PostFormValue("level")))
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	keep := func(tv *TicketView) { tv.Level, tv.Reason = level, reason }
	switch {
	case err != nil || support.CheckScope(level) != nil:
		p.refuseTicketForm(w, r, v, v.L.T("tickets.scope_invalid"), keep)
		return
	case !support.InStandardScope(level) && reason == "":
		p.refuseTicketForm(w, r, v, v.L.T("tickets.scope_reason", level), keep)
		return
	}
	p.ticketAction(w, r, v, "scope", keep, func(n int64) (store.Ticket, error) {
		return p.cfg.Desk.Scope(r.Context(), n, level, reason)
	})
}

func (p *Portal) adminTicketAccept(w http.ResponseWriter, r *http.Request, v *view) {
	p.ticketAction(w, r, v, "accept", nil, func(n int64) (store.Ticket, error) {
		return p.cfg.Desk.Accept(r.Context(), n)
	})
}
