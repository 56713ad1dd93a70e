package web

import (
	"fmt"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/account"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/store"
)

const (
	devName     = "dev-abcdefghij"
	devPassword = "k3m9p-x2q7r-t5w8z-a4b6c"
	devExpired  = "dev-expired000"
	devFuture   = "dev-future0000"
)

// devFixture is the portal fixture with developer-plan contracts, a
// PasswordChanged hook that records its calls, and a stand-in for the
// Maven repository handler that uses DeveloperSession and RenderListing.
type devFixture struct {
	*fixture
	devSID  string
	mu      sync.Mutex
	changed []string
}

func newDevFixture(t *testing.T, allowReset bool) *devFixture {
	t.Helper()
	f := newFixture(t)
	d := &devFixture{fixture: f}
	must(t, f.st.AddProduct(ctx, store.Product{ID: "spring-5.3", Name: "Spring Framework 5.3 ELS", Format: "maven"}))
	d.devSID = d.devContract(devName, "開発株式会社", "2026-01-01", "2027-12-31")
	d.devContract(devExpired, "Expired KK", "2025-01-01", "2026-06-30")
	d.devContract(devFuture, "Future KK", "2027-01-01", "2027-12-31")

	cfg := f.portal.cfg
	cfg.AllowPasswordReset = allowReset
	cfg.PasswordChanged = func(name string) {
		d.mu.Lock()
		d.changed = append(d.changed, name)
		d.mu.Unlock()
	}
	p, err := New(cfg)
	must(t, err)
	f.portal = p
	mux := http.NewServeMux()
	p.Register(mux.Handle)
	mux.HandleFunc("GET /maven/{product}/{path...}", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := p.DeveloperSession(r); !ok {
			w.Header().Set("WWW-Authenticate", `Basic realm="enmei"`)
			http.Error(w, "who are you?", http.StatusUnauthorized)
			return
		}
		p.RenderListing(w, r, Listing{Product: r.PathValue("product"), ProductName: "Spring Framework 5.3 ELS", Path: r.PathValue("path"),
			Entries: []ListingEntry{{Name: "5.3.40", Dir: true}, {Name: "lib-5.3.40.jar", Size: 1234567, SHA256: strings.Repeat("ab", 32), Modified: f.clock()}}})
	})
	f.srv.Close()
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return d
}

// devHash is devPassword's hash, made once: argon2id is slow on purpose.
var devHash = sync.OnceValue(func() string { return account.HashPassword(devPassword) })

func (d *devFixture) devContract(name, customer, start, end string) string {
	d.t.Helper()
	c := store.Contract{SupportID: entitle.NewSupportID(d.clock()), Customer: customer, Plan: "developer", Products: []string{"spring-5.3"},
		Quantity: 5, Start: start, End: end, Contact: "dev@" + name + ".example.jp", CreatedAt: d.clock()}
	must(d.t, d.st.AddDeveloperContract(ctx, c, store.DeveloperAccount{Name: name, SupportID: c.SupportID,
		PasswordHash: devHash(), CreatedAt: d.clock()}))
	return c.SupportID
}

func (d *devFixture) calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.changed...)
}

func (d *devFixture) login(c *http.Client, name, pw string, hdr ...string) (*http.Response, string) {
	d.t.Helper()
	return d.do(c, "POST", "/developer/login", url.Values{"account": {name}, "password": {pw}}, hdr...)
}

// devClient is a browser signed in as the developer account.
func (d *devFixture) devClient() *http.Client {
	d.t.Helper()
	c := d.client()
	resp, body := d.login(c, devName, devPassword)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/developer/" {
		d.t.Fatalf("developer login = %d → %q: %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	return c
}

func devCookie(resp *http.Response) *http.Cookie {
	for _, ck := range resp.Cookies() {
		if ck.Name == developerCookie {
			return ck
		}
	}
	return nil
}

// withCookie is a new browser holding only the developer cookie value.
func (d *devFixture) withCookie(value string) *http.Client {
	c := d.client()
	u, _ := url.Parse(d.srv.URL)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: developerCookie, Value: value}})
	return c
}

func TestDeveloperLogin(t *testing.T) {
	d := newDevFixture(t, false)
	// Not signed in: the login form.
	resp, body := d.do(d.client(), "GET", "/developer/", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `action="/developer/login"`) || !strings.Contains(body, `name="password"`) {
		t.Fatalf("GET /developer/ = %d:\n%s", resp.StatusCode, body)
	}
	if resp, _ := d.do(d.client(), "GET", "/developer", nil); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/developer/" {
		t.Errorf("GET /developer = %d → %s", resp.StatusCode, resp.Header.Get("Location"))
	}

	c := d.client()
	resp, _ = d.login(c, devName, devPassword)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/developer/" {
		t.Fatalf("login = %d → %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	ck := devCookie(resp)
	if ck == nil || ck.Name == customerCookie || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure {
		t.Fatalf("developer cookie = %+v", ck)
	}
	s, err := d.st.Session(ctx, account.HashToken(ck.Value), d.clock())
	if err != nil || s.Kind != account.Developer || s.Subject != devName {
		t.Errorf("session = %+v, %v", s, err)
	}
	// A developer session is not a customer session.
	if resp, _ := d.do(c, "GET", "/contract", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("/contract with a developer session = %d", resp.StatusCode)
	}

	// A wrong password and an unknown account are the same answer.
	resp, wrong := d.login(d.client(), devName, "not the password")
	resp2, unknown := d.login(d.client(), "dev-nosuchname", "not the password")
	for _, r := range []*http.Response{resp, resp2} {
		if r.StatusCode != http.StatusUnauthorized || devCookie(r) != nil {
			t.Errorf("failed login = %d, cookie %v", r.StatusCode, devCookie(r))
		}
	}
	if !strings.Contains(wrong, "アカウント名またはパスワードが違います。") || strings.ReplaceAll(unknown, "dev-nosuchname", devName) != wrong {
		t.Errorf("the two failures differ or lack the message:\n%s\n---\n%s", wrong, unknown)
	}
	_, body = d.login(d.client(), devName, "x", "Accept-Language", "en")
	if !strings.Contains(body, "The account or password is wrong.") {
		t.Error("no English failure message")
	}
	// A right password for a contract that is not valid now: refused with
	// the reason.
	resp, body = d.login(d.client(), devExpired, devPassword)
	if resp.StatusCode != http.StatusForbidden || devCookie(resp) != nil || !strings.Contains(body, "2026-06-30") || !strings.Contains(body, "終了") {
		t.Errorf("expired contract login = %d:\n%s", resp.StatusCode, body)
	}
	resp, body = d.login(d.client(), devFuture, devPassword, "Accept-Language", "en")
	if resp.StatusCode != http.StatusForbidden || devCookie(resp) != nil || !strings.Contains(body, "has not started yet: it is valid from 2027-01-01") {
		t.Errorf("not-started contract login = %d:\n%s", resp.StatusCode, body)
	}
	// Leading and trailing spaces around the name are forgiven.
	if resp, _ := d.login(d.client(), " "+devName+" ", devPassword); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("login with spaces around the name = %d", resp.StatusCode)
	}
	// Back to a Maven page after logging in, but never off the site.
	for next, want := range map[string]string{"/maven/spring-5.3/com/": "/maven/spring-5.3/com/", "//evil.example/": "/developer/", "/admin/": "/developer/"} {
		resp, _ := d.do(d.client(), "POST", "/developer/login", url.Values{"account": {devName}, "password": {devPassword}, "next": {next}})
		if got := resp.Header.Get("Location"); got != want {
			t.Errorf("login with next=%q → %q, want %q", next, got, want)
		}
	}
}

func TestDeveloperLoginThrottled(t *testing.T) {
	d := newDevFixture(t, false)
	// Successful logins do not use up the allowance.
	for i := 0; i < 12; i++ {
		if resp, _ := d.login(d.client(), devName, devPassword); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("successful login %d = %d", i, resp.StatusCode)
		}
	}
	limited := false
	for i := 0; i < 12 && !limited; i++ {
		resp, _ := d.login(d.client(), devName, fmt.Sprint("guess number ", i))
		limited = resp.StatusCode == http.StatusTooManyRequests
	}
	if !limited {
		t.Error("12 wrong passwords in a row were never limited")
	}
	if resp, _ := d.login(d.client(), devName, devPassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("right password while limited = %d, want 429", resp.StatusCode)
	}
}

func TestDeveloperAccountPage(t *testing.T) {
	d := newDevFixture(t, false)
	c := d.devClient()
	resp, body := d.do(c, "GET", "/developer/", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("account page = %d", resp.StatusCode)
	}
	for _, want := range []string{
		`<code id="account-name">` + devName + `</code>`, d.devSID, "開発株式会社", "開発者", "2026-01-01 – 2027-12-31", `<span class="ok">有効</span>`,
		"5名まで", "共有", "Spring Framework 5.3 ELS",
		`<a href="http://portal.test/maven/spring-5.3/"><code>http://portal.test/maven/spring-5.3/</code></a>`,
		"&lt;id&gt;enmei-spring-5.3&lt;/id&gt;", "&lt;username&gt;" + devName + "&lt;/username&gt;", "&lt;password&gt;YOUR_PASSWORD&lt;/password&gt;",
		"&lt;url&gt;http://portal.test/maven/spring-5.3/&lt;/url&gt;", "&lt;repository&gt;",
		"初期パスワード (未変更)", `action="/developer/password"`, `name="old"`, `name="new"`, `name="confirm"`,
		`action="/developer/logout"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("account page lacks %q", want)
		}
	}
	if strings.Contains(body, devPassword) || strings.Contains(body, "argon2") {
		t.Error("the account page shows the password or its hash")
	}
	_, body = d.do(c, "GET", "/developer/", nil, "Accept-Language", "en")
	for _, want := range []string{"Up to 5 developers", "Initial password, not yet changed", "Maven repositories", "settings.xml"} {
		if !strings.Contains(body, want) {
			t.Errorf("English account page lacks %q", want)
		}
	}
	// The customer's contract page names the account.
	token, hash := account.NewToken()
	must(t, d.st.AddSession(ctx, store.Session{Hash: hash, Kind: account.Customer, Subject: d.devSID, CreatedAt: d.clock(), ExpiresAt: d.clock().Add(time.Hour)}))
	cust := d.client()
	u, _ := url.Parse(d.srv.URL)
	cust.Jar.SetCookies(u, []*http.Cookie{{Name: customerCookie, Value: token}})
	if _, body := d.do(cust, "GET", "/contract", nil); !strings.Contains(body, "<code>"+devName+"</code>") {
		t.Error("the developer contract's page does not name its account")
	}
}

func TestDeveloperPasswordChange(t *testing.T) {
	d := newDevFixture(t, false)
	other := d.devClient() // another browser of the same account
	c := d.client()
	resp, _ := d.login(c, devName, devPassword)
	oldCookie := devCookie(resp)
	otherCookie := d.clientCookie(other)
	const newPW = "correct horse battery staple"
	resp, body := d.do(c, "POST", "/developer/password", url.Values{"old": {devPassword}, "new": {newPW}, "confirm": {newPW}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/developer/?changed=1" {
		t.Fatalf("change = %d → %s:\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	if got := d.calls(); len(got) != 1 || got[0] != devName {
		t.Errorf("PasswordChanged calls = %v", got)
	}
	a, err := d.st.DeveloperAccount(ctx, devName)
	must(t, err)
	if account.VerifyPassword(a.PasswordHash, devPassword) || !account.VerifyPassword(a.PasswordHash, newPW) {
		t.Error("the stored hash does not match the new password only")
	}
	if !a.ChangedAt.Equal(d.clock()) {
		t.Errorf("changed at %v, want %v", a.ChangedAt, d.clock())
	}
	// This browser got a fresh session; the old one and the other
	// browser's are gone.
	fresh := devCookie(resp)
	if fresh == nil || fresh.Value == oldCookie.Value {
		t.Fatalf("no fresh session cookie: %+v", fresh)
	}
	for what, v := range map[string]string{"this browser's old": oldCookie.Value, "the other browser's": otherCookie} {
		if resp, body := d.do(d.withCookie(v), "GET", "/developer/", nil); resp.StatusCode != 200 || !strings.Contains(body, `action="/developer/login"`) {
			t.Errorf("%s session still works after the change", what)
		}
	}
	_, body = d.do(c, "GET", resp.Header.Get("Location"), nil)
	if !strings.Contains(body, "パスワードを変更しました。") || !strings.Contains(body, d.clock().In(entitle.Tokyo).Format("2006-01-02 15:04")) ||
		strings.Contains(body, "未変更") {
		t.Errorf("after the change the page lacks the message or the time:\n%s", body)
	}
	// The old password stops working at once; the new one works.
	if resp, _ := d.login(d.client(), devName, devPassword); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("old password after the change = %d", resp.StatusCode)
	}
	if resp, _ := d.login(d.client(), devName, newPW); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("new password = %d", resp.StatusCode)
	}
}

// clientCookie returns the developer cookie a browser holds.
func (d *devFixture) clientCookie(c *http.Client) string {
	u, _ := url.Parse(d.srv.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == developerCookie {
			return ck.Value
		}
	}
	d.t.Fatal("the browser holds no developer cookie")
	return ""
}

func TestDeveloperPasswordRules(t *testing.T) {
	d := newDevFixture(t, false)
	c := d.devClient()
	upper := strings.ToUpper(devName)
	for _, tc := range []struct {
		name, old, new, confirm, want string
	}{
		{"wrong current", "not the password", "a good new password", "a good new password", "現在のパスワードが違います。"},
		{"too short", devPassword, "short pw", "short pw", "新しいパスワードは12文字以上にしてください。"},
		{"too long", devPassword, strings.Repeat("x", 1025), strings.Repeat("x", 1025), "新しいパスワードは1024バイト以下にしてください。"},
		{"the account name", devPassword, devName, devName, "アカウント名を含めることはできません"},
		{"contains the name", devPassword, "my " + upper + " secret", "my " + upper + " secret", "アカウント名を含めることはできません"},
		{"same as now", devPassword, devPassword, devPassword, "現在のパスワードと異なるもの"},
		{"confirmation differs", devPassword, "a good new password", "a good new passwore", "確認用の入力が一致しません"},
	} {
		resp, body := d.do(c, "POST", "/developer/password", url.Values{"old": {tc.old}, "new": {tc.new}, "confirm": {tc.confirm}})
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, tc.want) || !strings.Contains(body, `role="alert"`) {
			t.Errorf("%s: %d, want 400 with %q:\n%s", tc.name, resp.StatusCode, tc.want, body)
		}
		if strings.Contains(body, "[developer.") {
			t.Errorf("%s: a message is missing from the catalog", tc.name)
		}
	}
	_, body := d.do(c, "POST", "/developer/password", url.Values{"old": {devPassword}, "new": {"short"}, "confirm": {"short"}}, "Accept-Language", "en")
	if !strings.Contains(body, "The new password must be at least 12 characters long.") {
		t.Error("no English refusal")
	}
	if a, _ := d.st.DeveloperAccount(ctx, devName); !account.VerifyPassword(a.PasswordHash, devPassword) || !a.ChangedAt.IsZero() {
		t.Error("a refused change changed the password")
	}
	if got := d.calls(); len(got) != 0 {
		t.Errorf("PasswordChanged called on refusals: %v", got)
	}
	// Still signed in after the refusals.
	if _, body := d.do(c, "GET", "/developer/", nil); !strings.Contains(body, `id="account-name"`) {
		t.Error("signed out by a refused change")
	}
	// Without a session, the form only sends the browser to log in.
	if resp, _ := d.do(d.client(), "POST", "/developer/password", url.Values{"old": {devPassword}, "new": {"x"}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("change without a session = %d", resp.StatusCode)
	}
}

func TestDeveloperLogoutAndSession(t *testing.T) {
	d := newDevFixture(t, false)
	// DeveloperSession through a stand-in Maven handler.
	if resp, _ := d.do(d.client(), "GET", "/maven/spring-5.3/", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("listing without a session = %d", resp.StatusCode)
	}
	c := d.devClient()
	resp, body := d.do(c, "GET", "/maven/spring-5.3/", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `<span class="who">`+devName+`</span>`) {
		t.Errorf("listing with the developer session = %d:\n%s", resp.StatusCode, body)
	}
	req := httptest.NewRequest("GET", "/maven/spring-5.3/", nil)
	req.AddCookie(&http.Cookie{Name: developerCookie, Value: d.clientCookie(c)})
	if name, ok := d.portal.DeveloperSession(req); !ok || name != devName {
		t.Errorf("DeveloperSession = %q, %v", name, ok)
	}
	// A customer or console session is not a developer session, even under
	// the developer cookie's name.
	token, hash := account.NewToken()
	must(t, d.st.AddSession(ctx, store.Session{Hash: hash, Kind: account.Customer, Subject: d.sid, CreatedAt: d.clock(), ExpiresAt: d.clock().Add(time.Hour)}))
	for _, ck := range []*http.Cookie{{Name: developerCookie, Value: token}, {Name: customerCookie, Value: token}, {Name: developerCookie, Value: "junk"}} {
		req := httptest.NewRequest("GET", "/maven/spring-5.3/", nil)
		req.AddCookie(ck)
		if name, ok := d.portal.DeveloperSession(req); ok {
			t.Errorf("DeveloperSession with %s=%s = %q, true", ck.Name, ck.Value, name)
		}
	}
	// A session past its lifetime is over.
	d.advance(account.SessionTTL + time.Minute)
	if _, ok := d.portal.DeveloperSession(req); ok {
		t.Error("DeveloperSession accepted an expired session")
	}
	d.advance(-account.SessionTTL - time.Minute)

	// Logging out ends the session on the server.
	sess := d.clientCookie(c)
	resp, _ = d.do(c, "POST", "/developer/logout", url.Values{})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/developer/" {
		t.Fatalf("logout = %d → %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if ck := devCookie(resp); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("logout did not clear the cookie: %+v", ck)
	}
	if resp, _ := d.do(d.withCookie(sess), "GET", "/maven/spring-5.3/", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the old cookie after logout opens the listing: %d", resp.StatusCode)
	}
	if _, body := d.do(d.withCookie(sess), "GET", "/developer/", nil); !strings.Contains(body, `action="/developer/login"`) {
		t.Error("the old cookie after logout opens the account page")
	}
}

func TestRenderListing(t *testing.T) {
	d := newDevFixture(t, false)
	render := func(l Listing, hdr ...string) (*httptest.ResponseRecorder, string) {
		req := httptest.NewRequest("GET", "/maven/spring-5.3/x/", nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		d.portal.RenderListing(w, req, l)
		return w, w.Body.String()
	}
	sum := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	w, body := render(Listing{Product: "spring-5.3", ProductName: "Spring Framework 5.3 ELS", Path: "com/example/lib/", Entries: []ListingEntry{
		{Name: "1.0", Dir: true},
		{Name: "lib-1.0.jar", Size: 1234567, SHA256: sum, Modified: d.clock()},
		{Name: `<script>alert(1)</script>.pom`, Size: 10, SHA256: sum},
		{Name: `a b#c?d%e"f'g.txt`, Size: 0},
		{Name: "..", Dir: true},
	}})
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("listing = %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"} {
		if got := w.Header().Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP = %q", csp)
	}
	for _, want := range []string{
		"<title>spring-5.3 — com/example/lib/ — ", "<h1>spring-5.3 — com/example/lib/</h1>", "Spring Framework 5.3 ELS",
		// the breadcrumb: every level a link but the current one
		`<a href="/maven/spring-5.3/">spring-5.3</a>`, `<a href="/maven/spring-5.3/com/">com</a>`,
		`<a href="/maven/spring-5.3/com/example/">example</a>`, `<span aria-current="page">lib</span>`,
		// the parent, directories with a slash, files with size and checksum
		`<a href="/maven/spring-5.3/com/example/" aria-label="親ディレクトリ">../</a>`,
		`<a href="/maven/spring-5.3/com/example/lib/1.0/">1.0/</a>`,
		`<a href="/maven/spring-5.3/com/example/lib/lib-1.0.jar">lib-1.0.jar</a></th><td class="num">1,234,567</td><td><code class="sha">` + sum + `</code>`,
		d.clock().In(entitle.Tokyo).Format("2006-01-02 15:04") + " JST",
		// odd names: escaped as text and in the link
		`&lt;script&gt;alert(1)&lt;/script&gt;.pom`, `href="/maven/spring-5.3/com/example/lib/%3Cscript%3Ealert%281%29%3C%2Fscript%3E.pom"`,
		`href="/maven/spring-5.3/com/example/lib/a%20b%23c%3Fd%25e%22f%27g.txt">a b#c?d%e&#34;f&#39;g.txt</a>`,
		// the layout: the language switch keeps the page
		`href="/lang/en?next=%2fmaven%2fspring-5.3%2fx%2f"`, `<link rel="stylesheet" href="/static/style.css">`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("listing lacks %s", want)
		}
	}
	if strings.Contains(body, "<script") {
		t.Error("a name reached the page as markup")
	}
	if strings.Count(body, ">../<") != 1 {
		t.Error("an entry named .. was listed")
	}
	// At the root: no parent; the product is the current crumb; English.
	_, body = render(Listing{Product: "spring-5.3", Path: "", Entries: []ListingEntry{{Name: "com", Dir: true}}}, "Accept-Language", "en")
	for _, want := range []string{"<h1>spring-5.3 — /</h1>", `<span aria-current="page">spring-5.3</span>`, `<a href="/maven/spring-5.3/com/">com/</a>`, "SHA-256", "Size (bytes)"} {
		if !strings.Contains(body, want) {
			t.Errorf("root listing lacks %s", want)
		}
	}
	if strings.Contains(body, "../") {
		t.Error("the root listing has a parent link")
	}
	if _, body := render(Listing{Product: "spring-5.3", Path: "/com/"}); !strings.Contains(body, "このディレクトリは空です。") {
		t.Error("an empty directory does not say so")
	}
}

func TestDeveloperResetWording(t *testing.T) {
	for _, allow := range []bool{false, true} {
		d := newDevFixture(t, allow)
		for _, lang := range Langs {
			_, body := d.do(d.client(), "GET", "/developer/", nil, "Accept-Language", lang)
			_, acct := d.do(d.devClient(), "GET", "/developer/", nil, "Accept-Language", lang)
			no, ask := d.portal.cats[lang]["developer.lost_no_reset"], d.portal.cats[lang]["developer.lost_ask_vendor"]
			want, not := no, ask
			if allow {
				want, not = ask, no
			}
			for page, b := range map[string]string{"login": body, "account": acct} {
				if !strings.Contains(b, template.HTMLEscapeString(want)) || strings.Contains(b, template.HTMLEscapeString(not)) {
					t.Errorf("allow=%v %s %s page: wrong lost-password wording", allow, lang, page)
				}
			}
			if allow && !strings.Contains(body, "enmeid account reset SUPPORT_ID") {
				t.Errorf("%s: the reset wording does not name the command", lang)
			}
		}
		// Never a self-service reset.
		if resp, _ := d.do(d.client(), "POST", "/developer/reset", url.Values{"account": {devName}}); resp.StatusCode != http.StatusNotFound &&
			resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST /developer/reset = %d", resp.StatusCode)
		}
	}
}

func TestDeveloperCrossSiteRefused(t *testing.T) {
	d := newDevFixture(t, false)
	c := d.devClient()
	const newPW = "correct horse battery staple"
	for _, hdr := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Site", "", "Origin", "https://evil.example"}} {
		resp, _ := d.do(c, "POST", "/developer/password", url.Values{"old": {devPassword}, "new": {newPW}, "confirm": {newPW}}, hdr...)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site password change %v = %d, want 403", hdr, resp.StatusCode)
		}
		if resp, _ := d.login(d.client(), devName, devPassword, hdr...); resp.StatusCode != http.StatusForbidden || devCookie(resp) != nil {
			t.Errorf("cross-site login %v = %d, want 403", hdr, resp.StatusCode)
		}
		if resp, _ := d.do(c, "POST", "/developer/logout", url.Values{}, hdr...); resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site logout %v = %d, want 403", hdr, resp.StatusCode)
		}
	}
	if a, _ := d.st.DeveloperAccount(ctx, devName); !account.VerifyPassword(a.PasswordHash, devPassword) || len(d.calls()) != 0 {
		t.Error("a cross-site POST changed the password")
	}
	if _, body := d.do(c, "GET", "/developer/", nil); !strings.Contains(body, `id="account-name"`) {
		t.Error("a cross-site POST logged the developer out")
	}
}

// Behind https the developer cookie is Secure and host-bound too.
func TestDeveloperSecureCookie(t *testing.T) {
	d := newDevFixture(t, false)
	cfg := d.portal.cfg
	cfg.PublicURL = "https://els.example.jp"
	p, err := New(cfg)
	must(t, err)
	mux := http.NewServeMux()
	p.Register(mux.Handle)
	req := httptest.NewRequest("POST", "/developer/login", strings.NewReader(url.Values{"account": {devName}, "password": {devPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	cookies := w.Result().Cookies()
	if w.Code != http.StatusSeeOther || len(cookies) != 1 {
		t.Fatalf("login = %d, cookies %v", w.Code, cookies)
	}
	if c := cookies[0]; c.Name != "__Host-"+developerCookie || !c.Secure || !c.HttpOnly || c.Path != "/" || c.SameSite != http.SameSiteLaxMode {
		t.Errorf("developer cookie over https = %+v", c)
	}
	// The account page links the repositories under the public URL.
	req = httptest.NewRequest("GET", "/developer/", nil)
	req.AddCookie(&http.Cookie{Name: "__Host-" + developerCookie, Value: cookies[0].Value})
	w = httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	if !strings.Contains(w.Body.String(), `href="https://els.example.jp/maven/spring-5.3/"`) {
		t.Errorf("account page over https lacks the repository URL:\n%s", w.Body.String())
	}
}
