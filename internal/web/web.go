// Package web is the portal: the customer pages (contract, hosts, releasing a
// seat) behind a one-time link sent by mail, the developer-plan account
// pages under /developer/ and the vendor console under /admin/, both behind
// argon2id passwords, the Maven repositories' directory listings, the
// support desk's pages (a customer's inquiries and technical contact, the
// console's tickets) when a desk is configured, and a public quote page.
// Pages are server-rendered from one embedded layout with html/template, in
// Japanese or English from message catalogs, with dates in Asia/Tokyo; they
// need no JavaScript and load nothing from elsewhere, so a strict
// Content-Security-Policy holds. Sessions are random IDs whose hashes live
// in the database, so every replica knows them and logging out ends them;
// cross-site form posts are refused by http.CrossOriginProtection.
package web

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/time/rate"

	"github.com/enmei-project/enmei/internal/account"
	"github.com/enmei-project/enmei/internal/desk"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/pki"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/support"
	"github.com/enmei-project/enmei/internal/vendorops"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Store is what the portal reads and changes.
type Store interface {
	Products(ctx context.Context) ([]store.Product, error)
	Product(ctx context.Context, id string) (store.Product, error)
	Repos(ctx context.Context, productID string) ([]store.Repo, error)
	Repo(ctx context.Context, id string) (store.Repo, error)
	Publications(ctx context.Context, repoID string) ([]store.Publication, error)
	Contract(ctx context.Context, supportID string) (store.Contract, error)
	ListContracts(ctx context.Context) ([]store.Contract, error)
	Hosts(ctx context.Context, supportID string, now time.Time) ([]store.Host, error)
	Host(ctx context.Context, id string) (store.Host, error)
	Mails(ctx context.Context, limit int) ([]store.Mail, error)
	Certificate(ctx context.Context, serial string) (store.Certificate, error)
	CompleteCertificate(ctx context.Context, serial string, der []byte, at time.Time) error
	ContractCertificates(ctx context.Context, supportID string) ([]store.Certificate, error)
	DeveloperAccount(ctx context.Context, name string) (store.DeveloperAccount, error)
	ContractDeveloperAccount(ctx context.Context, supportID string) (store.DeveloperAccount, error)
	SetDeveloperPassword(ctx context.Context, name, hash string, at time.Time) error
	// The support desk's records, for its pages (used only with Config.Desk).
	Tickets(ctx context.Context, f store.TicketFilter) ([]store.Ticket, error)
	Ticket(ctx context.Context, n int64) (store.Ticket, error)
	TicketMessages(ctx context.Context, n int64) ([]store.TicketMessage, error)
	ContactChanges(ctx context.Context, supportID string) ([]store.ContactChange, error)
	store.Accounts
}

// Config holds the portal's dependencies.
type Config struct {
	Store Store
	Ops   *vendorops.Ops
	Now   func() time.Time
	Log   *slog.Logger
	// PublicURL is how customers reach this server; links in mail use it.
	// Cookies are Secure when it is https.
	PublicURL string
	// MailFrom is the From address of mail the portal sends.
	MailFrom string
	// MailQueued is told a mail was queued, so the sender sends it now.
	MailQueued func()
	// Fingerprint returns the repositories' signing-key fingerprint ("" before one exists).
	Fingerprint func(ctx context.Context) (string, error)
	// ClientAddr returns a request's client IP (behind trusted proxies).
	ClientAddr func(r *http.Request) string
	// Demo also logs customer login links, for trying the portal without a
	// mail server. Never on in production: the log would hold live links.
	Demo bool
	// CA makes client certificates at download (nil: this server does not).
	CA func(ctx context.Context) (*pki.CA, error)
	// SBOM serves the pages that need the contract's client certificate
	// (nil: those pages answer 404).
	SBOM SBOMService
	// Tracker serves the public security tracker pages (nil: none).
	Tracker Tracker
	// Subscriptions keeps the tracker's mail subscribers (nil: no
	// subscription pages).
	Subscriptions SubscriptionStore
	// LoginLinksPerHour bounds the login mails per support ID (default 5).
	LoginLinksPerHour int
	// AllowPasswordReset is the vendor's policy on lost developer-account
	// passwords: when true, the portal tells developers to ask the vendor
	// to reset one; when false (the default), that a lost password is not
	// reset.
	AllowPasswordReset bool
	// PasswordChanged is told a developer account's password changed, so
	// whatever caches its credentials (the Maven repositories) drops them
	// at once (nil: nothing to tell).
	PasswordChanged func(account string)
	// Desk is the support desk (a *desk.Desk). With it the portal serves
	// the customers' support page (/support), the console's tickets
	// (/admin/tickets), and customers log in with the technical contact in
	// force today rather than the contract's first one (nil: none of this).
	Desk DeskService
	// SupportClock is the support-hours clock the console counts the time
	// left to first-response targets with (nil: the business calendar of
	// Desk when it is a *desk.Desk, else national holidays only).
	SupportClock func(ctx context.Context) (support.Clock, error)
	// DeskSettings returns the desk's settings, for the support address
	// the pages show (nil: those of Desk when it is a *desk.Desk).
	DeskSettings func(ctx context.Context) (desk.Config, error)
}

// Portal serves the web pages.
type Portal struct {
	cfg     Config
	cats    catalogs
	pages   map[string]*template.Template
	secure  bool
	cop     *http.CrossOriginProtection
	limits  *expirable.LRU[string, *rate.Limiter]
	guessMu sync.Mutex
	guesses *expirable.LRU[string, *guessBucket] // wrong developer passwords
	static  fs.FS
	notFind http.Handler
	feeds   feedCache
}

// New makes a portal; it fails if a template or catalog does not parse.
func New(cfg Config) (*Portal, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.LoginLinksPerHour == 0 {
		cfg.LoginLinksPerHour = 5
	}
	if cfg.ClientAddr == nil {
		cfg.ClientAddr = func(r *http.Request) string { return r.RemoteAddr }
	}
	deskDefaults(&cfg)
	cats, err := loadCatalogs()
	if err != nil {
		return nil, err
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	static, _ := fs.Sub(staticFS, "static")
	p := &Portal{cfg: cfg, cats: cats, pages: pages, static: static,
		secure:  strings.HasPrefix(cfg.PublicURL, "https://"),
		cop:     http.NewCrossOriginProtection(),
		limits:  expirable.NewLRU[string, *rate.Limiter](20000, nil, time.Hour),
		guesses: expirable.NewLRU[string, *guessBucket](20000, nil, time.Hour)}
	return p, nil
}

func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{
		"langName":    LangName,
		"langs":       func() []string { return Langs },
		"plans":       func() []string { return entitle.Plans },
		"minPassword": func() int { return account.MinPasswordLen },
		"hostRows":    hostRows,
		"sbomHref":    sbomHref,
		"mib":         func(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) },
		"score":       func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
		"deref":       func(p *string) string { return *p },
		"list":        func(s ...string) []string { return s },
		"derefInt":    func(p *int) int { return *p },
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" || strings.HasPrefix(base, "_") {
			continue
		}
		// Every page gets the layout and the shared parts (files named _*.html).
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/_*.html", n)
		if err != nil {
			return nil, err
		}
		pages[base] = t
	}
	return pages, nil
}

// Register adds the portal's routes with handle (the server's mux).
func (p *Portal) Register(handle func(pattern string, h http.Handler)) {
	page := func(pattern string, h http.HandlerFunc) { handle(pattern, p.secured(h)) }
	handle("GET /static/", http.StripPrefix("/static/", p.staticHandler()))
	page("GET /{$}", p.home)
	page("GET /lang/{lang}", p.switchLang)
	p.customerRoutes(page)
	p.certificateRoutes(page)
	p.sbomRoutes(page)
	p.consoleRoutes(page)
	p.securityRoutes(handle)
	p.subscribeRoutes(page)
	p.developerRoutes(page)
	p.quoteRoutes(page)
	if p.cfg.Desk != nil {
		p.supportRoutes(page)
		p.ticketRoutes(page)
	}
}

// secured adds the headers every page carries and refuses cross-site
// state-changing requests.
func (p *Portal) secured(h http.HandlerFunc) http.Handler {
	inner := p.cop.Handler(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pageHeaders(w.Header())
		inner.ServeHTTP(w, r)
	})
}

// pageHeaders sets the headers every page carries.
func pageHeaders(hd http.Header) {
	// No scripts at all; styles and images only from here; forms only
	// post here; no framing.
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	// One-time links carry a token in the URL: never send it on.
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
}

func (p *Portal) staticHandler() http.Handler {
	files := http.FileServerFS(p.static)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if r.URL.Path == "" || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}

// view is what every page's template receives.
type view struct {
	L        *Locale
	Title    string // catalog key of the page title
	TitleArg string // an argument of the title's message, if it has one
	Path     string // the page's path, for the language switch
	Customer *store.Contract
	User     *store.User
	// Developer is the signed-in developer account's name ("" if none).
	Developer string
	CanEdit   bool
	// DeskOn shows the support desk's links (Config.Desk is set).
	DeskOn bool
	Flash  string
	Error  string
	Data   any
}

func (p *Portal) locale(r *http.Request) *Locale {
	lang := pickLang(r)
	return &Locale{Lang: lang, msgs: p.cats[lang], log: p.cfg.Log}
}

// render writes a page. It renders into a buffer first, so a template error
// becomes a clean 500 instead of half a page.
func (p *Portal) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	if v.L == nil {
		v.L = p.locale(r)
	}
	// Escaped, so a path with "?" or "#" in a segment (a Maven listing's)
	// comes back unchanged through the switch's redirect.
	v.Path = r.URL.EscapedPath()
	v.DeskOn = p.cfg.Desk != nil
	if r.Method == http.MethodGet && r.URL.RawQuery != "" {
		v.Path += "?" + r.URL.RawQuery // the switch keeps the page as it is
	}
	t, ok := p.pages[name]
	if !ok {
		p.cfg.Log.Error("no such page template", "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		p.cfg.Log.Error("rendering a page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", v.L.Lang)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// fail renders an error page for err with the status its kind maps to.
func (p *Portal) fail(w http.ResponseWriter, r *http.Request, v *view, err error) {
	status, key := http.StatusInternalServerError, "error.internal"
	switch errs.KindOf(err) {
	case errs.Invalid:
		status, key = http.StatusBadRequest, ""
	case errs.NotFound:
		status, key = http.StatusNotFound, "error.not_found"
	case errs.Exists:
		status, key = http.StatusConflict, ""
	case errs.Forbidden, errs.Entitlement:
		status, key = http.StatusForbidden, "error.forbidden"
	}
	if v == nil {
		v = &view{}
	}
	v.L = p.locale(r)
	v.Title = "error.title"
	switch {
	case key == "":
		v.Error = err.Error() // a domain message meant for the user
	default:
		v.Error = v.L.T(key)
	}
	if status == http.StatusInternalServerError {
		p.cfg.Log.Error("portal request failed", "path", r.URL.Path, "err", err)
	}
	p.render(w, r, status, "error", v)
}

func (p *Portal) home(w http.ResponseWriter, r *http.Request) {
	v := &view{Title: "home.title"}
	if c, _, err := p.customer(r); err == nil {
		v.Customer = &c
	}
	p.render(w, r, http.StatusOK, "home", v)
}

// switchLang remembers the chosen language and goes back to the page.
func (p *Portal) switchLang(w http.ResponseWriter, r *http.Request) {
	lang := r.PathValue("lang")
	if lang != "ja" && lang != "en" {
		http.NotFound(w, r)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
}

// localPath returns next if it is a path on this site, else "/": a redirect
// never leads elsewhere.
func localPath(next string) string {
	// Browsers drop tabs and newlines from URLs and read a backslash as a
	// slash, so any of them could turn "/" into "//elsewhere".
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		strings.ContainsFunc(next, func(r rune) bool { return r == '\\' || r < 0x20 || r == 0x7f }) {
		return "/"
	}
	return next
}

// allow takes one token from the limiter of key (a validated, bounded key:
// a client IP, a normalised address or a support ID).
func (p *Portal) allow(key string, every time.Duration, burst int) bool {
	l, ok := p.limits.Get(key)
	if !ok {
		l = rate.NewLimiter(rate.Every(every), burst)
		p.limits.Add(key, l)
	}
	return l.Allow()
}

// Session cookies: one for customers, one for the console, one for
// developer accounts, so one browser can be all three.
const (
	customerCookie  = "enmei_session"
	vendorCookie    = "enmei_admin"
	developerCookie = "enmei_dev"
)

// sessionCookie is the cookie of a kind of session.
func sessionCookie(kind string) string {
	switch kind {
	case account.Vendor:
		return vendorCookie
	case account.Developer:
		return developerCookie
	}
	return customerCookie
}

func (p *Portal) cookieName(name string) string {
	if p.secure {
		return "__Host-" + name // bound to this host, Secure, Path=/
	}
	return name
}

func (p *Portal) startSession(ctx context.Context, w http.ResponseWriter, kind, subject string) error {
	token, hash := account.NewToken()
	now := p.cfg.Now()
	if err := p.cfg.Store.AddSession(ctx, store.Session{Hash: hash, Kind: kind, Subject: subject, CreatedAt: now, ExpiresAt: now.Add(account.SessionTTL)}); err != nil {
		return err
	}
	name := sessionCookie(kind)
	http.SetCookie(w, &http.Cookie{Name: p.cookieName(name), Value: token, Path: "/", HttpOnly: true, Secure: p.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(account.SessionTTL / time.Second)})
	return nil
}

// session returns the session of the request's cookie of kind.
func (p *Portal) session(r *http.Request, kind string) (store.Session, error) {
	name := sessionCookie(kind)
	c, err := r.Cookie(p.cookieName(name))
	if err != nil || !account.LooksLikeToken(c.Value) {
		return store.Session{}, errNoSession
	}
	s, err := p.cfg.Store.Session(r.Context(), account.HashToken(c.Value), p.cfg.Now())
	if err != nil {
		return s, errNoSession
	}
	if s.Kind != kind {
		return s, errNoSession
	}
	return s, nil
}

var errNoSession = errors.New("no session")

func (p *Portal) endSession(w http.ResponseWriter, r *http.Request, kind string) {
	name := sessionCookie(kind)
	if c, err := r.Cookie(p.cookieName(name)); err == nil && account.LooksLikeToken(c.Value) {
		if err := p.cfg.Store.DeleteSession(r.Context(), account.HashToken(c.Value)); err != nil {
			p.cfg.Log.Error("ending a session", "err", err)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: p.cookieName(name), Value: "", Path: "/", HttpOnly: true, Secure: p.secure,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// Cleanup deletes expired sessions and links until ctx ends.
func (p *Portal) Cleanup(ctx context.Context) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		if err := p.cfg.Store.DeleteExpired(ctx, p.cfg.Now()); err != nil && ctx.Err() == nil {
			p.cfg.Log.Warn("deleting expired sessions", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
