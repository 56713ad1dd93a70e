package web

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/enmei-project/enmei/internal/account"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/notify"
	"github.com/enmei-project/enmei/internal/store"
)

func (p *Portal) customerRoutes(page func(string, http.HandlerFunc)) {
	page("GET /login", p.loginForm)
	page("POST /login", p.loginSubmit)
	page("GET /login/link", p.linkForm)
	page("POST /login/link", p.linkUse)
	page("POST /logout", p.logout)
	page("GET /contract", p.contractPage)
	page("GET /hosts/{id}/release", p.releaseConfirm)
	page("POST /hosts/{id}/release", p.releaseDo)
}

var supportIDShape = regexp.MustCompile(`^ENM-[0-9]{4}-[0-9A-Z]{6}$`)

func (p *Portal) loginForm(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusOK, "login", &view{Title: "login.title"})
}

type loginData struct{ SupportID, Email string }

// loginSubmit mails a one-time link when the support ID and the technical
// contact's address belong together, and answers the same either way, so
// the form tells no one which support IDs or addresses exist.
func (p *Portal) loginSubmit(w http.ResponseWriter, r *http.Request) {
	v := &view{Title: "login.title"}
	v.L = p.locale(r)
	sid := strings.ToUpper(strings.TrimSpace(r.PostFormValue("support_id")))
	email, emailErr := account.NormalizeEmail(r.PostFormValue("email"))
	if !supportIDShape.MatchString(sid) || emailErr != nil {
		v.Error = v.L.T("login.invalid")
		v.Data = loginData{SupportID: sid, Email: r.PostFormValue("email")}
		p.render(w, r, http.StatusBadRequest, "login", v)
		return
	}
	// Per client address first (cheap, before any lookup), then per support
	// ID and per e-mail address, so neither a single client nor many can
	// flood one contact's mailbox.
	if !p.allow("login-ip:"+p.cfg.ClientAddr(r), 6*time.Second, 10) ||
		!p.allow("login-id:"+sid, 30*time.Second, 10) || !p.allow("login-mail:"+email, 30*time.Second, 10) {
		v.Error = v.L.T("login.slow_down")
		w.Header().Set("Retry-After", "60")
		p.render(w, r, http.StatusTooManyRequests, "login", v)
		return
	}
	if err := p.sendLoginLink(r.Context(), v.L, sid, email); err != nil {
		p.fail(w, r, v, err)
		return
	}
	p.render(w, r, http.StatusOK, "login_sent", v)
}

// sendLoginLink queues the mail with the link, in the same transaction as
// the link; it returns nil without sending anything when the pair does not
// match or the support ID had its share of links this hour.
func (p *Portal) sendLoginLink(ctx context.Context, l *Locale, sid, email string) error {
	c, err := p.cfg.Store.Contract(ctx, sid)
	if errs.Is(err, errs.NotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	contact := c.Contact
	if p.cfg.Desk != nil {
		// Contacts change: the one in force today gets the link.
		if contact, err = p.cfg.Desk.ContactOn(ctx, c, p.today()); err != nil {
			return err
		}
	}
	if !strings.EqualFold(contact, email) {
		return nil
	}
	token, hash := account.NewToken()
	now := p.cfg.Now()
	link := p.cfg.PublicURL + "/login/link?token=" + url.QueryEscape(token)
	m, err := notify.NewMail(notify.Letter{From: p.cfg.MailFrom, To: contact, Lang: l.Lang, Date: now,
		Subject: l.T("mail.login_subject"),
		Text:    fmt.Sprintf(l.T("mail.login_body"), c.Customer, c.SupportID, link, int(account.LoginLinkTTL/time.Minute))})
	if err != nil {
		return fmt.Errorf("composing the login mail for %s: %w", sid, err)
	}
	m.CreatedAt, m.NextAt = now, now
	err = p.cfg.Store.AddLink(ctx, store.Link{Hash: hash, Purpose: account.LinkLogin, Subject: c.SupportID, CreatedAt: now,
		ExpiresAt: now.Add(account.LoginLinkTTL)}, &m, p.cfg.LoginLinksPerHour, now.Add(-time.Hour))
	if err == store.ErrRateLimited {
		p.cfg.Log.Warn("login links rate-limited", "support_id", sid)
		return nil
	}
	if err != nil {
		return err
	}
	if p.cfg.Demo {
		p.cfg.Log.Info("demo mode: the customer login link (also queued as mail)", "support_id", sid, "link", link)
	}
	if p.cfg.MailQueued != nil {
		p.cfg.MailQueued()
	}
	return nil
}

// linkForm asks the customer to confirm before the link is used: mail
// filters that open links to scan them must not use up a one-time link.
func (p *Portal) linkForm(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusOK, "login_link", &view{Title: "login.title", Data: r.URL.Query().Get("token")})
}

func (p *Portal) linkUse(w http.ResponseWriter, r *http.Request) {
	v := &view{Title: "login.title"}
	l, ok := p.useLink(w, r, v, r.PostFormValue("token"), account.LinkLogin)
	if ok {
		p.signInAs(w, r, v, account.Customer, l.Subject, "/contract")
	}
}

// useLink consumes a one-time link of purpose, or renders why it cannot.
// An unknown, used or expired link is one and the same answer.
func (p *Portal) useLink(w http.ResponseWriter, r *http.Request, v *view, token, purpose string) (store.Link, bool) {
	invalid := errs.E(errs.Invalid, "%s", p.locale(r).T("login.link_invalid"))
	if !account.LooksLikeToken(token) {
		p.fail(w, r, v, invalid)
		return store.Link{}, false
	}
	l, err := p.cfg.Store.UseLink(r.Context(), account.HashToken(token), purpose, p.cfg.Now())
	if errs.Is(err, errs.NotFound) {
		err = invalid
	}
	if err != nil {
		p.fail(w, r, v, err)
		return l, false
	}
	return l, true
}

// signInAs starts a session and goes to next.
func (p *Portal) signInAs(w http.ResponseWriter, r *http.Request, v *view, kind, subject, next string) {
	if err := p.startSession(r.Context(), w, kind, subject); err != nil {
		p.fail(w, r, v, err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (p *Portal) logout(w http.ResponseWriter, r *http.Request) {
	p.endSession(w, r, account.Customer)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// customer returns the signed-in customer's contract.
func (p *Portal) customer(r *http.Request) (store.Contract, store.Session, error) {
	s, err := p.session(r, account.Customer)
	if err != nil {
		return store.Contract{}, s, err
	}
	c, err := p.cfg.Store.Contract(r.Context(), s.Subject)
	return c, s, err
}

// signedIn returns the customer, or sends the browser to /login.
func (p *Portal) signedIn(w http.ResponseWriter, r *http.Request) (store.Contract, bool) {
	c, _, err := p.customer(r)
	if err != nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return c, false
	}
	return c, true
}

// ProductSeats is one product line of a contract page.
type ProductSeats struct {
	Product  store.Product
	Quantity int
	Used     int
}

// HostRow is one host as the pages show it.
type HostRow struct {
	ID, Hostname, OS, Product string
	Registered, LastSeen      string // formatted in Asia/Tokyo
	Lease                     string // when the lease ends, or that it is a server seat
}

// hostRows renders the rows of the hosts table. It is written in Go, with
// every value escaped, because a contract may have thousands of hosts and
// html/template's per-value escapers made a 1,000-host page take 30 ms.
func hostRows(l *Locale, cv ContractView) template.HTML {
	var b strings.Builder
	esc := template.HTMLEscapeString
	release, noName := esc(l.T("hosts.release")), esc(l.T("hosts.no_name"))
	for _, h := range cv.Hosts {
		b.WriteString("<tr><th scope=\"row\">")
		if h.Hostname != "" {
			b.WriteString(esc(h.Hostname))
		} else {
			b.WriteString(`<span class="muted">` + noName + `</span>`)
		}
		b.WriteString(` <code class="muted">` + esc(h.ID) + `</code></th><td>` + esc(h.OS) + ` <span class="muted">(` + esc(h.Product) +
			`)</span></td><td>` + esc(h.Registered) + `</td><td>` + esc(h.LastSeen) + `</td><td>` + esc(h.Lease) + `</td><td>`)
		if cv.CanRelease {
			b.WriteString(`<a class="button danger" href="` + esc(cv.ReleaseBase+"/hosts/"+h.ID+"/release") + `" aria-label="` +
				release + `: ` + esc(h.Hostname) + `">` + release + `</a>`)
		}
		b.WriteString("</td></tr>\n")
	}
	return template.HTML(b.String())
}

// ContractView is what the contract pages show.
type ContractView struct {
	Contract    store.Contract
	Valid       bool
	Validity    string // why not valid
	Products    []ProductSeats
	Hosts       []HostRow
	Fingerprint string
	// CanRelease shows the release buttons; ReleaseBase is the path they
	// start from ("" for the customer's own pages).
	CanRelease  bool
	ReleaseBase string
	// Certificates are the contract's client certificates.
	Certificates []CertRow
	// Peaks are the daily peaks of concurrent seats.
	Peaks *PeakTable
	// DeveloperAccount is a developer-plan contract's account name.
	DeveloperAccount string
	// Contact is the technical contact in force today.
	Contact string
}

// PeakTable is the peak of concurrent seats per day and product, newest
// day first, with each product's highest.
type PeakTable struct {
	Products []string
	Max      []int
	Rows     []PeakRow
}

// PeakRow is one day of a PeakTable.
type PeakRow struct {
	Day   string
	Peaks []int // in the order of PeakTable.Products
}

// peakDays is how far back the portal shows daily peaks.
const peakDays = 31

// peakTable reads the last peakDays days' peaks of a contract.
func (p *Portal) peakTable(ctx context.Context, c store.Contract) (*PeakTable, error) {
	now := p.cfg.Now()
	last := now.In(entitle.Tokyo)
	first := last.AddDate(0, 0, -(peakDays - 1))
	peaks, err := p.cfg.Ops.DailyPeaks(ctx, c, first.Format(entitle.DateLayout), last.Format(entitle.DateLayout), now)
	if err != nil {
		return nil, err
	}
	t := &PeakTable{Products: c.Products, Max: make([]int, len(c.Products))}
	col := map[string]int{}
	for i, id := range c.Products {
		col[id] = i
	}
	for _, pk := range peaks {
		if n := len(t.Rows); n == 0 || t.Rows[n-1].Day != pk.Day {
			t.Rows = append(t.Rows, PeakRow{Day: pk.Day, Peaks: make([]int, len(c.Products))})
		}
		i := col[pk.ProductID]
		t.Rows[len(t.Rows)-1].Peaks[i] = pk.Peak
		t.Max[i] = max(t.Max[i], pk.Peak)
	}
	slices.Reverse(t.Rows)
	return t, nil
}

func (p *Portal) contractView(ctx context.Context, l *Locale, c store.Contract) (ContractView, error) {
	cv := ContractView{Contract: c, Contact: c.Contact}
	if p.cfg.Desk != nil {
		contact, err := p.cfg.Desk.ContactOn(ctx, c, p.today())
		if err != nil {
			return cv, err
		}
		cv.Contact = contact
	}
	if err := entitle.CheckValid(c, p.cfg.Now()); err != nil {
		cv.Validity = err.Error()
	} else {
		cv.Valid = true
	}
	hosts, err := p.cfg.Store.Hosts(ctx, c.SupportID, p.cfg.Now())
	if err != nil {
		return cv, err
	}
	// Rows are formatted here rather than in the template: a contract
	// can have thousands of hosts, and template calls are slow per row.
	cv.Hosts = make([]HostRow, len(hosts))
	used := map[string]int{}
	for i, h := range hosts {
		used[h.ProductID]++
		os := h.OS
		if os == "" {
			os = "—"
		}
		cv.Hosts[i] = HostRow{ID: h.ID, Hostname: h.Hostname, OS: os, Product: h.ProductID,
			Registered: l.Time(h.RegisteredAt), LastSeen: l.Time(h.LastSeen), Lease: l.T("hosts.server_seat")}
		if h.LeaseTTL != 0 {
			cv.Hosts[i].Lease = l.Time(h.LeaseExpires)
		}
	}
	for _, id := range c.Products {
		prod, err := p.cfg.Store.Product(ctx, id)
		if err != nil {
			prod = store.Product{ID: id, Name: id}
		}
		cv.Products = append(cv.Products, ProductSeats{Product: prod, Quantity: c.Quantity, Used: used[id]})
	}
	if c.Plan == "developer" {
		a, err := p.cfg.Store.ContractDeveloperAccount(ctx, c.SupportID)
		if err != nil && !errs.Is(err, errs.NotFound) {
			return cv, err
		}
		cv.DeveloperAccount = a.Name
	}
	if cv.Certificates, err = p.certRows(ctx, l, c.SupportID); err != nil {
		return cv, err
	}
	if cv.Peaks, err = p.peakTable(ctx, c); err != nil {
		return cv, err
	}
	if p.cfg.Fingerprint != nil {
		fp, err := p.cfg.Fingerprint(ctx)
		if err != nil {
			p.cfg.Log.Warn("reading the signing-key fingerprint", "err", err)
		}
		cv.Fingerprint = groupHex(fp)
	}
	return cv, nil
}

// groupHex writes a fingerprint in groups of four, as gpg shows it.
func groupHex(s string) string {
	var b strings.Builder
	for i, r := range strings.ToUpper(s) {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (p *Portal) contractPage(w http.ResponseWriter, r *http.Request) {
	c, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	v := &view{Title: "contract.title", Customer: &c}
	v.L = p.locale(r)
	cv, err := p.contractView(r.Context(), v.L, c)
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	if id := r.URL.Query().Get("released"); entitle.LooksLikeHostID(id) {
		v.Flash = v.L.T("hosts.released", id)
	}
	cv.CanRelease = true
	v.Data = cv
	p.render(w, r, http.StatusOK, "contract", v)
}

// ownHost returns the signed-in customer's host; another contract's host is
// NotFound, exactly like a host that does not exist.
func (p *Portal) ownHost(r *http.Request, c store.Contract) (store.Host, error) {
	id := r.PathValue("id")
	notFound := errs.E(errs.NotFound, "no such host")
	if !entitle.LooksLikeHostID(id) {
		return store.Host{}, notFound
	}
	h, err := p.cfg.Store.Host(r.Context(), id)
	if err != nil || h.SupportID != c.SupportID {
		return store.Host{}, notFound
	}
	return h, nil
}

func (p *Portal) releaseConfirm(w http.ResponseWriter, r *http.Request) {
	c, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	v := &view{Title: "hosts.release_title", Customer: &c}
	h, err := p.ownHost(r, c)
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	v.Data = releaseData{Host: h, Action: "/hosts/" + h.ID + "/release", Cancel: "/contract"}
	p.render(w, r, http.StatusOK, "release", v)
}

type releaseData struct {
	Host           store.Host
	Action, Cancel string
}

func (p *Portal) releaseDo(w http.ResponseWriter, r *http.Request) {
	c, ok := p.signedIn(w, r)
	if !ok {
		return
	}
	v := &view{Title: "hosts.release_title", Customer: &c}
	h, err := p.ownHost(r, c)
	if err == nil {
		err = p.cfg.Ops.ReleaseSeat(r.Context(), c.SupportID, h.ID)
	}
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	p.cfg.Log.Info("seat released by the customer", "support_id", c.SupportID, "host_id", h.ID)
	http.Redirect(w, r, "/contract?released="+h.ID, http.StatusSeeOther)
}
