package web

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/enmei-project/enmei/internal/account"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

// The developer plan's account pages: one shared account per contract,
// signed in with its name and password (the same credentials Maven and
// Gradle send with HTTP Basic). The account page shows how to use the
// Maven repositories and changes the password; a lost password is never
// reset here.

func (p *Portal) developerRoutes(page func(string, http.HandlerFunc)) {
	page("GET /developer", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/developer/", http.StatusMovedPermanently)
	})
	page("GET /developer/{$}", p.developerHome)
	page("POST /developer/login", p.developerLogin)
	page("POST /developer/password", p.developerPassword)
	page("POST /developer/logout", p.developerLogout)
}

const (
	// maxAccountName bounds the account name a form may send: names the
	// service assigns are far shorter, and the name keys a rate limiter.
	maxAccountName = 64
	// maxPasswordBytes is the longest password accepted (as
	// account.CheckPassword).
	maxPasswordBytes = 1024
	// passwordPlaceholder stands for the password in the snippets: the
	// real one is never shown (it is not even known).
	passwordPlaceholder = "YOUR_PASSWORD"
)

// DeveloperSession returns the developer account signed in on the portal
// by the request's cookie, so a browser that logged in at /developer/ can
// browse its Maven repositories without an HTTP Basic prompt. It only
// proves who the browser is: the caller checks, as for HTTP Basic, that the
// account's contract is valid now and covers the product.
func (p *Portal) DeveloperSession(r *http.Request) (accountName string, ok bool) {
	s, err := p.session(r, account.Developer)
	if err != nil {
		return "", false
	}
	return s.Subject, true
}

// developer returns the signed-in developer account; errNoSession when
// there is none (or it no longer exists).
func (p *Portal) developer(r *http.Request) (store.DeveloperAccount, error) {
	s, err := p.session(r, account.Developer)
	if err != nil {
		return store.DeveloperAccount{}, err
	}
	a, err := p.cfg.Store.DeveloperAccount(r.Context(), s.Subject)
	if errs.Is(err, errs.NotFound) {
		return a, errNoSession
	}
	return a, err
}

// DeveloperLoginData is the developer login form's values.
type DeveloperLoginData struct {
	Account    string
	Next       string // where to go after logging in
	AllowReset bool   // the vendor resets lost passwords
}

// developerNext returns next if it is a page a developer may be sent back
// to after logging in (the account page or a Maven repository), else the
// account page.
func developerNext(next string) string {
	next = localPath(next)
	if strings.HasPrefix(next, "/maven/") || strings.HasPrefix(next, "/developer/") {
		return next
	}
	return "/developer/"
}

func (p *Portal) developerLoginPage(w http.ResponseWriter, r *http.Request, v *view, status int, d DeveloperLoginData) {
	v.Title = "developer.login_title"
	d.AllowReset = p.cfg.AllowPasswordReset
	v.Data = d
	p.render(w, r, status, "developer_login", v)
}

// guessBucket counts the wrong passwords tried for one key (a client
// address or an account name) as a leaky bucket: it holds at most burst,
// and one leaks away every interval. A check takes a place before it runs
// and gives it back if the password was right, so only failures count and
// concurrent guesses cannot slip past the limit.
type guessBucket struct {
	mu    sync.Mutex
	level float64
	at    time.Time
}

func (b *guessBucket) take(now time.Time, every time.Duration, burst int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.at.IsZero() {
		b.level = max(0, b.level-float64(now.Sub(b.at))/float64(every))
	}
	b.at = now
	if b.level+1 > float64(burst) {
		return false
	}
	b.level++
	return true
}

func (b *guessBucket) giveBack() {
	b.mu.Lock()
	b.level = max(0, b.level-1)
	b.mu.Unlock()
}

// guess takes a place in the bucket of key; it returns the bucket, or nil
// when the bucket is full.
func (p *Portal) guess(key string, every time.Duration, burst int) *guessBucket {
	p.guessMu.Lock()
	b, ok := p.guesses.Get(key)
	if !ok {
		b = &guessBucket{}
		p.guesses.Add(key, b)
	}
	p.guessMu.Unlock()
	if !b.take(time.Now(), every, burst) {
		return nil
	}
	return b
}

// passwordGuess takes a wrong-password allowance for a password check of
// the account name from the request's client address. Failed checks (at
// login, or of the current password on the change form) use it up; a
// successful one gives it back with the returned function.
func (p *Portal) passwordGuess(r *http.Request, name string) (success func(), ok bool) {
	byAddr := p.guess("ip:"+p.cfg.ClientAddr(r), 3*time.Second, 10)
	if byAddr == nil {
		return nil, false
	}
	byName := p.guess("account:"+name, 6*time.Second, 5)
	if byName == nil {
		byAddr.giveBack()
		return nil, false
	}
	return func() { byAddr.giveBack(); byName.giveBack() }, true
}

func (p *Portal) slowDown(w http.ResponseWriter, r *http.Request, v *view, render func(status int)) {
	v.Error = v.L.T("login.slow_down")
	w.Header().Set("Retry-After", "60")
	render(http.StatusTooManyRequests)
}

// developerLogin signs a developer account in. A wrong name and a wrong
// password are one and the same answer, and cost the same argon2id time.
func (p *Portal) developerLogin(w http.ResponseWriter, r *http.Request) {
	v := &view{L: p.locale(r)}
	name := strings.TrimSpace(r.PostFormValue("account"))
	pw := r.PostFormValue("password")
	d := DeveloperLoginData{Account: name, Next: developerNext(r.PostFormValue("next"))}
	page := func(status int) { p.developerLoginPage(w, r, v, status, d) }
	failed := func() {
		v.Error = v.L.T("developer.login_failed")
		page(http.StatusUnauthorized)
	}
	if name == "" || len(name) > maxAccountName || !utf8.ValidString(name) || len(pw) > maxPasswordBytes {
		failed()
		return
	}
	success, ok := p.passwordGuess(r, name)
	if !ok {
		p.slowDown(w, r, v, page)
		return
	}
	a, err := p.cfg.Store.DeveloperAccount(r.Context(), name)
	if err != nil && !errs.Is(err, errs.NotFound) {
		p.fail(w, r, v, err)
		return
	}
	// VerifyPassword takes as long for an unknown account (empty hash).
	if !account.VerifyPassword(a.PasswordHash, pw) {
		p.cfg.Log.Warn("developer login failed", "account", name, "client", p.cfg.ClientAddr(r))
		failed()
		return
	}
	success()
	c, err := p.cfg.Store.Contract(r.Context(), a.SupportID)
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	if err := entitle.CheckValid(c, p.cfg.Now()); err != nil {
		p.cfg.Log.Info("developer login refused: contract not valid", "account", name, "support_id", c.SupportID)
		v.Error = p.validityReason(v.L, c, err)
		page(http.StatusForbidden)
		return
	}
	p.signInAs(w, r, v, account.Developer, a.Name, d.Next)
}

// validityReason says in l's language why c is not valid (err is what
// entitle.CheckValid returned).
func (p *Portal) validityReason(l *Locale, c store.Contract, err error) string {
	from, _, werr := entitle.Window(c)
	switch {
	case werr != nil:
		return l.T("developer.contract_not_valid", err.Error())
	case p.cfg.Now().Before(from):
		return l.T("developer.contract_not_started", c.Start)
	default:
		return l.T("developer.contract_expired", c.End)
	}
}

func (p *Portal) developerLogout(w http.ResponseWriter, r *http.Request) {
	p.endSession(w, r, account.Developer)
	http.Redirect(w, r, "/developer/", http.StatusSeeOther)
}

// DeveloperView is what the developer account page shows.
type DeveloperView struct {
	Account  string
	Contract store.Contract
	Valid    bool
	Validity string // why not valid
	Products []DeveloperProduct
	// Changed is when the password was last changed ("" while the initial
	// password is in use).
	Changed string
	// Settings and POM are the snippets for settings.xml and pom.xml.
	Settings, POM string
	AllowReset    bool
}

// DeveloperProduct is one Maven repository on the account page.
type DeveloperProduct struct {
	ID, Name string
	URL      string // the repository's URL
	ServerID string // the id of its <server> and <repository>
}

// mavenURL is the URL of the Maven repository of product on the portal at
// publicURL.
func mavenURL(publicURL, product string) string {
	return strings.TrimSuffix(publicURL, "/") + "/maven/" + url.PathEscape(product) + "/"
}

func (p *Portal) developerView(ctx context.Context, l *Locale, a store.DeveloperAccount) (DeveloperView, error) {
	dv := DeveloperView{Account: a.Name, AllowReset: p.cfg.AllowPasswordReset}
	c, err := p.cfg.Store.Contract(ctx, a.SupportID)
	if err != nil {
		return dv, err
	}
	dv.Contract = c
	if err := entitle.CheckValid(c, p.cfg.Now()); err != nil {
		dv.Validity = p.validityReason(l, c, err)
	} else {
		dv.Valid = true
	}
	if !a.ChangedAt.IsZero() {
		dv.Changed = l.Time(a.ChangedAt)
	}
	for _, id := range c.Products {
		prod, err := p.cfg.Store.Product(ctx, id)
		if err != nil {
			prod = store.Product{ID: id, Name: id}
		}
		dv.Products = append(dv.Products, DeveloperProduct{ID: id, Name: prod.Name, URL: mavenURL(p.cfg.PublicURL, id), ServerID: "enmei-" + id})
	}
	dv.Settings, dv.POM = mavenSnippets(a.Name, dv.Products)
	return dv, nil
}

// mavenSnippets writes the <servers> of settings.xml and the
// <repositories> of pom.xml for the products, with the password as a
// placeholder.
func mavenSnippets(acct string, ps []DeveloperProduct) (settings, pom string) {
	x := func(s string) string {
		var b strings.Builder
		xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	var s, m strings.Builder
	s.WriteString("<servers>\n")
	m.WriteString("<repositories>\n")
	for _, p := range ps {
		s.WriteString("  <server>\n    <id>" + x(p.ServerID) + "</id>\n    <username>" + x(acct) + "</username>\n    <password>" +
			passwordPlaceholder + "</password>\n  </server>\n")
		m.WriteString("  <repository>\n    <id>" + x(p.ServerID) + "</id>\n    <name>" + x(p.Name) + "</name>\n    <url>" + x(p.URL) +
			"</url>\n    <snapshots><enabled>false</enabled></snapshots>\n  </repository>\n")
	}
	s.WriteString("</servers>\n")
	m.WriteString("</repositories>\n")
	return s.String(), m.String()
}

// developerHome is the account page, or the login form when no developer
// is signed in.
func (p *Portal) developerHome(w http.ResponseWriter, r *http.Request) {
	v := &view{L: p.locale(r)}
	a, err := p.developer(r)
	if err == errNoSession {
		p.developerLoginPage(w, r, v, http.StatusOK, DeveloperLoginData{Next: developerNext(r.URL.Query().Get("next"))})
		return
	}
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	if r.URL.Query().Get("changed") == "1" {
		v.Flash = v.L.T("developer.password_changed")
	}
	p.accountPage(w, r, v, http.StatusOK, a)
}

func (p *Portal) accountPage(w http.ResponseWriter, r *http.Request, v *view, status int, a store.DeveloperAccount) {
	v.Title, v.Developer = "developer.account", a.Name
	dv, err := p.developerView(r.Context(), v.L, a)
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	v.Data = dv
	p.render(w, r, status, "developer", v)
}

// checkNewPassword returns the catalog key and argument of the first rule
// a new password breaks, or "" if it keeps them all.
func checkNewPassword(name, old, pw, confirm string) (key string, arg any) {
	switch {
	case utf8.RuneCountInString(pw) < account.MinPasswordLen:
		return "developer.password_short", account.MinPasswordLen
	case len(pw) > maxPasswordBytes:
		return "developer.password_long", maxPasswordBytes
	case strings.Contains(strings.ToLower(pw), strings.ToLower(name)):
		return "developer.password_has_name", nil
	case pw == old:
		return "developer.password_same", nil
	case pw != confirm:
		return "developer.password_mismatch", nil
	}
	return "", nil
}

// developerPassword changes the account's password. The store ends every
// session of the account in the same transaction, the Maven side is told
// to forget the old credentials, and this browser gets a fresh session.
func (p *Portal) developerPassword(w http.ResponseWriter, r *http.Request) {
	v := &view{L: p.locale(r)}
	a, err := p.developer(r)
	if err == errNoSession {
		http.Redirect(w, r, "/developer/", http.StatusSeeOther)
		return
	}
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	page := func(status int) { p.accountPage(w, r, v, status, a) }
	old, pw, confirm := r.PostFormValue("old"), r.PostFormValue("new"), r.PostFormValue("confirm")
	// The current password first: whoever holds a session without knowing
	// it learns nothing from the other answers. Guessing it here is
	// limited like guessing it at login.
	if len(old) > maxPasswordBytes {
		v.Error = v.L.T("developer.wrong_old")
		page(http.StatusBadRequest)
		return
	}
	success, ok := p.passwordGuess(r, a.Name)
	if !ok {
		p.slowDown(w, r, v, page)
		return
	}
	if !account.VerifyPassword(a.PasswordHash, old) {
		p.cfg.Log.Warn("developer password change: wrong current password", "account", a.Name, "client", p.cfg.ClientAddr(r))
		v.Error = v.L.T("developer.wrong_old")
		page(http.StatusBadRequest)
		return
	}
	success()
	if key, arg := checkNewPassword(a.Name, old, pw, confirm); key != "" {
		if arg != nil {
			v.Error = v.L.T(key, arg)
		} else {
			v.Error = v.L.T(key)
		}
		page(http.StatusBadRequest)
		return
	}
	if err := p.cfg.Store.SetDeveloperPassword(r.Context(), a.Name, account.HashPassword(pw), p.cfg.Now()); err != nil {
		p.fail(w, r, v, err)
		return
	}
	if p.cfg.PasswordChanged != nil {
		p.cfg.PasswordChanged(a.Name)
	}
	p.cfg.Log.Info("developer password changed", "account", a.Name, "support_id", a.SupportID, "client", p.cfg.ClientAddr(r))
	p.signInAs(w, r, v, account.Developer, a.Name, "/developer/?changed=1")
}
