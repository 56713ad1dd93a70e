package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/account"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/store/sqlite"
	"github.com/enmei-project/enmei/internal/testutil/smtptest"
	"github.com/enmei-project/enmei/internal/vendorops"
)

var ctx = context.Background()

type fixture struct {
	t        *testing.T
	st       *sqlite.DB
	srv      *httptest.Server
	portal   *Portal
	now      time.Time
	mu       sync.Mutex
	released []string
	rolled   []int64
	sid      string // contract "A"
	otherSID string // contract "B"
	hostA    store.Host
	hostB    store.Host
}

// newFixture makes the portal over a fresh store with two contracts; opts
// adjust its Config (the support desk, for one) before the portal is made.
func newFixture(t *testing.T, opts ...func(*fixture, *Config)) *fixture {
	t.Helper()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "enmei.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, st: st, now: time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)}
	must(t, st.AddProduct(ctx, store.Product{ID: "el9", Name: "EL9 延命", Format: "rpm"}))
	must(t, st.AddRepo(ctx, store.Repo{ID: "el9-x86_64", ProductID: "el9", Format: "rpm", Arch: "x86_64"}))
	ops := &vendorops.Ops{Store: st, Now: f.clock,
		Released: func(id string) { f.mu.Lock(); f.released = append(f.released, id); f.mu.Unlock() },
		Rollback: func(ctx context.Context, repo string, id int64) (store.Publication, error) {
			f.mu.Lock()
			f.rolled = append(f.rolled, id)
			f.mu.Unlock()
			return store.Publication{ID: 99, RepoID: repo, RollbackOf: id}, nil
		}}
	f.sid, f.hostA = f.contract(ops, "株式会社テスト商事", "ops@a.example.jp", "host-a")
	f.otherSID, f.hostB = f.contract(ops, "Other Corp", "ops@b.example.jp", "host-b")
	cfg := Config{Store: st, Ops: ops, Now: f.clock, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		PublicURL: "http://portal.test", MailFrom: "enmei@portal.test"}
	for _, o := range opts {
		o(f, &cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.portal = p
	mux := http.NewServeMux()
	p.Register(mux.Handle)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

func (f *fixture) contract(ops *vendorops.Ops, customer, contact, hostname string) (string, store.Host) {
	c, keys, err := ops.NewContract(ctx, store.Contract{Customer: customer, Products: []string{"el9"}, Plan: "server", Quantity: 3,
		Start: "2026-01-01", End: "2027-12-31", Contact: contact})
	must(f.t, err)
	h, _, err := f.st.ClaimSeat(ctx, store.SeatClaim{KeyHash: entitle.Hash(entitle.NormalizeKey(keys.Keys[0])), MachineID: hostname,
		Hostname: hostname, OS: "almalinux 9 x86_64", NewHostID: entitle.NewHostID(), SecretHash: []byte("s"), Now: f.clock()})
	must(f.t, err)
	return c.SupportID, h
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// client is a browser: a cookie jar, no redirects followed, and the
// Sec-Fetch-Site header browsers send on same-origin form posts.
func (f *fixture) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func (f *fixture) do(c *http.Client, method, path string, form url.Values, hdr ...string) (*http.Response, string) {
	f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, f.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if method == http.MethodPost {
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var tokenInMail = regexp.MustCompile(`token=([A-Za-z0-9_-]{43})`)

// loginLink asks for a login link and returns the token from the queued mail.
func (f *fixture) loginLink(c *http.Client, sid, email string) string {
	f.t.Helper()
	before, _ := f.st.Mails(ctx, 1000)
	resp, body := f.do(c, "POST", "/login", url.Values{"support_id": {sid}, "email": {email}})
	if resp.StatusCode != 200 {
		f.t.Fatalf("POST /login = %d: %s", resp.StatusCode, body)
	}
	after, _ := f.st.Mails(ctx, 1000)
	if len(after) != len(before)+1 {
		f.t.Fatalf("POST /login queued %d mails, want 1", len(after)-len(before))
	}
	m := tokenInMail.FindStringSubmatch(smtptest.Parse(f.t, after[0].Message).Text)
	if m == nil {
		f.t.Fatalf("no link in the login mail:\n%s", after[0].Message)
	}
	return m[1]
}

func (f *fixture) signIn(c *http.Client) {
	f.t.Helper()
	token := f.loginLink(c, f.sid, "ops@a.example.jp")
	resp, body := f.do(c, "POST", "/login/link", url.Values{"token": {token}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/contract" {
		f.t.Fatalf("using the link = %d %s: %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
}

func TestCatalogsComplete(t *testing.T) {
	cats, err := loadCatalogs()
	must(t, err)
	ja, en := cats.keys("ja"), cats.keys("en")
	inJa := map[string]bool{}
	for _, k := range ja {
		inJa[k] = true
	}
	for _, k := range en {
		if !inJa[k] {
			t.Errorf("key %q is in en.toml but not in ja.toml", k)
		}
		delete(inJa, k)
	}
	for k := range inJa {
		t.Errorf("key %q is in ja.toml but not in en.toml", k)
	}
	// Every key the templates and the code use exists, in both languages.
	used := usedKeys(t)
	if len(used) < 50 {
		t.Fatalf("found only %d message keys in use: the scan is broken", len(used))
	}
	for k := range used {
		for _, lang := range Langs {
			if _, ok := cats[lang][k]; !ok {
				t.Errorf("key %q is used but missing from %s.toml", k, lang)
			}
		}
	}
	// Format verbs agree, so a translation cannot drop an argument.
	verbs := regexp.MustCompile(`%(\[\d\])?[sdv]`)
	for _, k := range en {
		if a, b := len(verbs.FindAllString(cats["ja"][k], -1)), len(verbs.FindAllString(cats["en"][k], -1)); a != b {
			t.Errorf("key %q has %d format verbs in ja and %d in en", k, a, b)
		}
	}
}

// usedKeys scans templates and Go files for message keys.
func usedKeys(t *testing.T) map[string]bool {
	keys := map[string]bool{}
	add := func(re *regexp.Regexp, text string) {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			keys[m[1]] = true
		}
	}
	tmplKey := regexp.MustCompile(`T "([a-z_]+\.[a-z_]+)"`)
	goKey := regexp.MustCompile(`(?:T\(|Title: |Title = )"([a-z_]+\.[a-z_]+)"`)
	entries, err := templateFS.ReadDir("templates")
	must(t, err)
	for _, e := range entries {
		b, err := templateFS.ReadFile("templates/" + e.Name())
		must(t, err)
		add(tmplKey, string(b))
	}
	goFiles, err := filepath.Glob("*.go")
	must(t, err)
	for _, name := range goFiles {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		b, err := readFile(name)
		must(t, err)
		add(goKey, string(b))
	}
	// Keys built with printf in templates.
	for _, p := range entitle.Plans {
		keys["plan."+p] = true
	}
	for _, r := range account.Roles {
		keys["role."+r] = true
	}
	for _, s := range []string{"queued", "sent", "failed"} {
		keys["outbox.status_"+s] = true
	}
	return keys
}

func TestLanguage(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	_, body := f.do(c, "GET", "/login", nil)
	if !strings.Contains(body, `<html lang="ja">`) || !strings.Contains(body, "サポートID") {
		t.Errorf("default page is not Japanese:\n%s", body)
	}
	_, body = f.do(c, "GET", "/login", nil, "Accept-Language", "en-US,en;q=0.9")
	if !strings.Contains(body, `<html lang="en">`) || !strings.Contains(body, "Support ID") || !strings.Contains(body, "E-mail") {
		t.Errorf("Accept-Language en did not give English")
	}
	// The switch: both names shown, and the choice sticks over Accept-Language.
	if !strings.Contains(body, "日本語") || !strings.Contains(body, "English") {
		t.Error("the language switch does not read 日本語 / English")
	}
	resp, _ := f.do(c, "GET", "/lang/ja?next=/login", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("switch = %d → %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, body = f.do(c, "GET", "/login", nil, "Accept-Language", "en")
	if !strings.Contains(body, `<html lang="ja">`) {
		t.Error("the language cookie did not win over Accept-Language")
	}
	// The switch never redirects off the site.
	for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil", "/\t/evil.example/", "/\x0b/evil", "/\n/evil"} {
		resp, _ := f.do(c, "GET", "/lang/en?next="+url.QueryEscape(next), nil)
		if resp.Header.Get("Location") != "/" {
			t.Errorf("switch with next=%q redirects to %q", next, resp.Header.Get("Location"))
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	resp, _ := f.do(f.client(), "GET", "/", nil)
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP = %q", csp)
	}
	for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	// Nothing loaded from elsewhere: every src/href is local.
	for _, path := range []string{"/", "/login", "/admin/login"} {
		_, body := f.do(f.client(), "GET", path, nil)
		if m := regexp.MustCompile(`(?:src|href)="(?:https?:)?//`).FindString(body); m != "" {
			t.Errorf("%s refers to an external asset: %s", path, m)
		}
		if strings.Contains(body, "<script") {
			t.Errorf("%s has a script", path)
		}
	}
	resp, body := f.do(f.client(), "GET", "/static/style.css", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "body") {
		t.Errorf("style.css = %d", resp.StatusCode)
	}
}

func TestCustomerLogin(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	token := f.loginLink(c, f.sid, "OPS@a.example.jp") // addresses are matched without case
	mails, _ := f.st.Mails(ctx, 10)
	if mails[0].To != "ops@a.example.jp" || !strings.Contains(mails[0].Subject, "ログイン") {
		t.Errorf("login mail to %q subject %q", mails[0].To, mails[0].Subject)
	}
	// GET only asks to confirm: a mail scanner does not use the link up.
	resp, body := f.do(c, "GET", "/login/link?token="+token, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `value="`+token+`"`) {
		t.Fatalf("GET link = %d", resp.StatusCode)
	}
	resp, _ = f.do(c, "POST", "/login/link", url.Values{"token": {token}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST link = %d", resp.StatusCode)
	}
	var sess *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == customerCookie {
			sess = ck
		}
	}
	if sess == nil || !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Path != "/" {
		t.Fatalf("session cookie = %+v", sess)
	}
	_, body = f.do(c, "GET", "/contract", nil)
	for _, want := range []string{f.sid, "株式会社テスト商事", "host-a", "almalinux 9 x86_64", "ops@a.example.jp", "2026-01-01", "2027-12-31", "解放", "JST"} {
		if !strings.Contains(body, want) {
			t.Errorf("contract page lacks %q", want)
		}
	}
	if strings.Contains(body, f.otherSID) || strings.Contains(body, "host-b") {
		t.Error("contract page shows another contract")
	}
	// The link was used: a second use is refused, by another browser too.
	resp, _ = f.do(f.client(), "POST", "/login/link", url.Values{"token": {token}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("second use of a link = %d, want 400", resp.StatusCode)
	}
	// Logging out ends the session on the server: the old cookie is dead.
	resp, _ = f.do(c, "POST", "/logout", url.Values{})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout = %d", resp.StatusCode)
	}
	replay := f.client()
	u, _ := url.Parse(f.srv.URL)
	replay.Jar.SetCookies(u, []*http.Cookie{{Name: customerCookie, Value: sess.Value}})
	resp, _ = f.do(replay, "GET", "/contract", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Errorf("old cookie after logout = %d → %s, want a redirect to /login", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestExpiredLink(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	token := f.loginLink(c, f.sid, "ops@a.example.jp")
	f.advance(account.LoginLinkTTL + time.Second)
	resp, body := f.do(c, "POST", "/login/link", url.Values{"token": {token}})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "有効期限") {
		t.Errorf("expired link = %d", resp.StatusCode)
	}
	resp, _ = f.do(c, "POST", "/login/link", url.Values{"token": {"junk"}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("junk link = %d", resp.StatusCode)
	}
}

func TestNoEnumeration(t *testing.T) {
	f := newFixture(t)
	answer := func(sid, email string) (int, string) {
		resp, body := f.do(f.client(), "POST", "/login", url.Values{"support_id": {sid}, "email": {email}}, "X-Test", sid)
		return resp.StatusCode, body
	}
	s1, b1 := answer(f.sid, "ops@a.example.jp")         // the right pair
	s2, b2 := answer(f.sid, "someone@a.example.jp")     // wrong address
	s3, b3 := answer("ENM-2026-ZZZZZZ", "x@example.jp") // no such contract
	s4, b4 := answer(f.otherSID, "ops@a.example.jp")    // another contract's
	if s1 != 200 || s2 != s1 || s3 != s1 || s4 != s1 || b2 != b1 || b3 != b1 || b4 != b1 {
		t.Errorf("answers differ: %d %d %d %d", s1, s2, s3, s4)
	}
	if ms, _ := f.st.Mails(ctx, 10); len(ms) != 1 {
		t.Errorf("%d mails queued, want 1 (only the right pair)", len(ms))
	}
}

func TestLoginRateLimits(t *testing.T) {
	f := newFixture(t)
	// 30 submissions for one support ID, from many browsers.
	for i := 0; i < 30; i++ {
		f.do(f.client(), "POST", "/login", url.Values{"support_id": {f.sid}, "email": {"ops@a.example.jp"}})
	}
	ms, _ := f.st.Mails(ctx, 100)
	if len(ms) == 0 || len(ms) > 10 {
		t.Errorf("30 submissions sent %d mails, want 1 to 10", len(ms))
	}
	// One client hammering random IDs is slowed down.
	limited := 0
	for i := 0; i < 30; i++ {
		resp, _ := f.do(f.client(), "POST", "/login", url.Values{"support_id": {fmt.Sprintf("ENM-2026-%06d", i)}, "email": {"x@example.jp"}})
		if resp.StatusCode == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited == 0 {
		t.Error("60 submissions from one address were never limited")
	}
}

func TestCrossSitePostRefused(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	f.signIn(c)
	path := "/hosts/" + f.hostA.ID + "/release"
	for _, hdr := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Site", "", "Origin", "https://evil.example"}} {
		resp, _ := f.do(c, "POST", path, url.Values{}, hdr...)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST %v = %d, want 403", hdr, resp.StatusCode)
		}
	}
	if hs, _ := f.st.Hosts(ctx, f.sid, time.Now()); len(hs) != 1 {
		t.Error("a cross-site POST released a seat")
	}
	resp, _ := f.do(f.client(), "POST", "/login", url.Values{"support_id": {f.sid}, "email": {"ops@a.example.jp"}}, "Sec-Fetch-Site", "cross-site")
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site login POST = %d", resp.StatusCode)
	}
}

func TestReleaseSeat(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	f.signIn(c)
	// Another customer's host is a 404, on the confirmation and the action.
	for _, m := range []string{"GET", "POST"} {
		resp, _ := f.do(c, m, "/hosts/"+f.hostB.ID+"/release", url.Values{})
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s other customer's host = %d, want 404", m, resp.StatusCode)
		}
		resp, _ = f.do(c, m, "/hosts/h_0000000000000000/release", url.Values{})
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s unknown host = %d, want 404", m, resp.StatusCode)
		}
	}
	if hs, _ := f.st.Hosts(ctx, f.otherSID, time.Now()); len(hs) != 1 {
		t.Fatal("another customer's seat was released")
	}
	resp, body := f.do(c, "GET", "/hosts/"+f.hostA.ID+"/release", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "host-a") || !strings.Contains(body, `method="post"`) {
		t.Fatalf("confirmation = %d", resp.StatusCode)
	}
	resp, _ = f.do(c, "POST", "/hosts/"+f.hostA.ID+"/release", url.Values{})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("release = %d", resp.StatusCode)
	}
	if hs, _ := f.st.Hosts(ctx, f.sid, time.Now()); len(hs) != 0 {
		t.Error("the seat was not released")
	}
	if len(f.released) != 1 || f.released[0] != f.hostA.ID {
		t.Errorf("caches told of %v", f.released)
	}
	_, body = f.do(c, "GET", resp.Header.Get("Location"), nil)
	if !strings.Contains(body, f.hostA.ID) || !strings.Contains(body, "解放しました") {
		t.Error("no confirmation after the release")
	}
}

// vendorClient makes a console user of role and signs in through the
// set-password link.
func (f *fixture) vendorClient(email, role string) *http.Client {
	f.t.Helper()
	token, hash := account.NewToken()
	now := f.clock()
	must(f.t, f.st.AddUser(ctx, store.User{Email: email, Role: role, CreatedAt: now},
		store.Link{Hash: hash, Purpose: account.LinkPassword, Subject: email, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}))
	c := f.client()
	resp, body := f.do(c, "POST", "/admin/password", url.Values{"token": {token}, "password": {"correct horse battery"}, "password2": {"correct horse battery"}})
	if resp.StatusCode != http.StatusSeeOther {
		f.t.Fatalf("setting the password = %d: %s", resp.StatusCode, body)
	}
	return c
}

func TestConsole(t *testing.T) {
	f := newFixture(t)
	admin := f.vendorClient("boss@vendor.example", account.RoleAdmin)
	_, body := f.do(admin, "GET", "/admin/contracts", nil)
	if !strings.Contains(body, f.sid) || !strings.Contains(body, f.otherSID) || !strings.Contains(body, "新規契約") {
		t.Fatal("contract list lacks the contracts or the New contract button")
	}
	form := url.Values{"customer": {"新しい会社"}, "product": {"el9"}, "plan": {"server"}, "quantity": {"5"},
		"start": {"2026-12-01"}, "end": {"2027-11-30"}, "contact": {"it@new.example.jp"}}
	resp, body := f.do(admin, "POST", "/admin/contracts", form)
	sid := regexp.MustCompile(`ENM-\d{4}-[0-9A-Z]{6}`).FindString(body)
	if resp.StatusCode != http.StatusCreated || sid == "" || !regexp.MustCompile(`EK-[0-9A-Z]{5}-`).MatchString(body) {
		t.Fatalf("create = %d, support ID %q", resp.StatusCode, sid)
	}
	if c, err := f.st.Contract(ctx, sid); err != nil || c.Customer != "新しい会社" || c.Quantity != 5 {
		t.Errorf("stored contract = %+v, %v", c, err)
	}
	// A bad form comes back with the values and one message.
	form.Set("quantity", "zero")
	resp, body = f.do(admin, "POST", "/admin/contracts", form)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "新しい会社") || !strings.Contains(body, `role="alert"`) {
		t.Errorf("bad form = %d", resp.StatusCode)
	}
	resp, _ = f.do(admin, "POST", "/admin/contracts/"+sid+"/renew", url.Values{"end": {"2028-11-30"}})
	if c, _ := f.st.Contract(ctx, sid); resp.StatusCode != http.StatusSeeOther || c.End != "2028-11-30" {
		t.Errorf("renew = %d, end %s", resp.StatusCode, c.End)
	}
	resp, _ = f.do(admin, "POST", "/admin/contracts/"+f.otherSID+"/hosts/"+f.hostA.ID+"/release", url.Values{})
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("release of a host under the wrong contract = %d", resp.StatusCode)
	}
	resp, _ = f.do(admin, "POST", "/admin/contracts/"+f.otherSID+"/hosts/"+f.hostB.ID+"/release", url.Values{})
	if hs, _ := f.st.Hosts(ctx, f.otherSID, time.Now()); resp.StatusCode != http.StatusSeeOther || len(hs) != 0 {
		t.Errorf("console release = %d, %d hosts left", resp.StatusCode, len(hs))
	}
	resp, _ = f.do(admin, "POST", "/admin/repos/el9-x86_64/publications/7/rollback", url.Values{})
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("rollback to a publication the repository does not have = %d", resp.StatusCode)
	}
	_, body = f.do(admin, "GET", "/admin/outbox", nil)
	if !strings.Contains(body, "<h1>送信メール</h1>") {
		t.Error("outbox page missing")
	}
	// Logout ends the session.
	f.do(admin, "POST", "/admin/logout", url.Values{})
	resp, _ = f.do(admin, "GET", "/admin/contracts", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after logout = %d", resp.StatusCode)
	}
}

func TestViewerCannotChange(t *testing.T) {
	f := newFixture(t)
	viewer := f.vendorClient("look@vendor.example", account.RoleViewer)
	_, body := f.do(viewer, "GET", "/admin/contracts", nil)
	if !strings.Contains(body, f.sid) || strings.Contains(body, "/admin/contracts/new") {
		t.Error("a viewer sees no contracts, or the New contract button")
	}
	for _, path := range []string{"/admin/contracts", "/admin/contracts/" + f.sid + "/renew",
		"/admin/contracts/" + f.sid + "/hosts/" + f.hostA.ID + "/release", "/admin/repos/el9-x86_64/publications/1/rollback"} {
		resp, _ := f.do(viewer, "POST", path, url.Values{"end": {"2030-01-01"}, "customer": {"x"}})
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("viewer POST %s = %d, want 403", path, resp.StatusCode)
		}
	}
	if hs, _ := f.st.Hosts(ctx, f.sid, time.Now()); len(hs) != 1 {
		t.Error("a viewer released a seat")
	}
	if c, _ := f.st.Contract(ctx, f.sid); c.End != "2027-12-31" {
		t.Error("a viewer renewed a contract")
	}
}

func TestConsoleLogin(t *testing.T) {
	f := newFixture(t)
	f.vendorClient("boss@vendor.example", account.RoleAdmin)
	c := f.client()
	resp, _ := f.do(c, "POST", "/admin/login", url.Values{"email": {"boss@vendor.example"}, "password": {"wrong password!"}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong password = %d", resp.StatusCode)
	}
	resp, _ = f.do(c, "POST", "/admin/login", url.Values{"email": {"Boss@Vendor.example"}, "password": {"correct horse battery"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("right password = %d", resp.StatusCode)
	}
	// Guessing one account's password is cut off.
	limited := false
	for i := 0; i < 12 && !limited; i++ {
		resp, _ := f.do(f.client(), "POST", "/admin/login", url.Values{"email": {"boss@vendor.example"}, "password": {fmt.Sprint("guess", i)}})
		limited = resp.StatusCode == http.StatusTooManyRequests
	}
	if !limited {
		t.Error("12 wrong passwords in a row were never limited")
	}
	// A set-password link works once.
	token, hash := account.NewToken()
	must(t, f.st.AddLink(ctx, store.Link{Hash: hash, Purpose: account.LinkPassword, Subject: "boss@vendor.example", CreatedAt: f.clock(), ExpiresAt: f.clock().Add(time.Hour)}, nil, 0, f.clock()))
	pw := url.Values{"token": {token}, "password": {"another long password"}, "password2": {"another long password"}}
	if resp, _ := f.do(f.client(), "POST", "/admin/password", pw); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("password link = %d", resp.StatusCode)
	}
	if resp, _ := f.do(f.client(), "POST", "/admin/password", pw); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("password link reused = %d", resp.StatusCode)
	}
	short := url.Values{"token": {token}, "password": {"short"}, "password2": {"short"}}
	if resp, _ := f.do(f.client(), "POST", "/admin/password", short); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("short password = %d", resp.StatusCode)
	}
}

// BenchmarkContractPage renders a customer's contract page with 1,000 hosts.
func BenchmarkContractPage(b *testing.B) {
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "enmei.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	if err := st.AddProduct(ctx, store.Product{ID: "el9", Name: "EL9", Format: "rpm"}); err != nil {
		b.Fatal(err)
	}
	ops := &vendorops.Ops{Store: st, Now: func() time.Time { return now }}
	c, keys, err := ops.NewContract(ctx, store.Contract{Customer: "大量株式会社", Products: []string{"el9"}, Plan: "server", Quantity: 1000,
		Start: "2026-01-01", End: "2027-12-31", Contact: "ops@big.example.jp"})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		if _, _, err := st.ClaimSeat(ctx, store.SeatClaim{KeyHash: entitle.Hash(entitle.NormalizeKey(keys.Keys[0])), MachineID: fmt.Sprint("m", i),
			Hostname: fmt.Sprintf("web%04d.big.example.jp", i), OS: "almalinux 9 x86_64", NewHostID: entitle.NewHostID(), SecretHash: []byte("s"), Now: now}); err != nil {
			b.Fatal(err)
		}
	}
	p, err := New(Config{Store: st, Ops: ops, Now: func() time.Time { return now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	p.Register(mux.Handle)
	token, hash := account.NewToken()
	if err := st.AddSession(ctx, store.Session{Hash: hash, Kind: account.Customer, Subject: c.SupportID, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest("GET", "/contract", nil)
		req.AddCookie(&http.Cookie{Name: customerCookie, Value: token})
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		if w.Code != 200 || !strings.Contains(w.Body.String(), "web0999.big.example.jp") {
			b.Fatalf("contract page = %d", w.Code)
		}
	}
}

// A host names itself: its name must reach the page as text, never markup.
func TestHostnameEscaped(t *testing.T) {
	f := newFixture(t)
	keys, _ := f.st.LicenseKeys(ctx, f.sid)
	_, _, err := f.st.ClaimSeat(ctx, store.SeatClaim{KeyHash: keys[0].Hash, MachineID: "evil", Hostname: `<img/src=x>"'`,
		NewHostID: entitle.NewHostID(), SecretHash: []byte("s"), Now: f.clock()})
	must(t, err)
	c := f.client()
	f.signIn(c)
	_, body := f.do(c, "GET", "/contract", nil)
	if strings.Contains(body, "<img/src=x>") || !strings.Contains(body, "&lt;img/src=x&gt;&#34;&#39;") {
		t.Errorf("hostname not escaped:\n%s", body)
	}
}

// Behind https, session cookies are Secure and host-bound (__Host-).
func TestSecureCookies(t *testing.T) {
	f := newFixture(t)
	p, err := New(Config{Store: f.st, Ops: f.portal.cfg.Ops, Now: f.clock, Log: f.portal.cfg.Log, PublicURL: "https://els.example.jp", MailFrom: "enmei@els.example.jp"})
	must(t, err)
	mux := http.NewServeMux()
	p.Register(mux.Handle)
	token, hash := account.NewToken()
	now := f.clock()
	must(t, f.st.AddLink(ctx, store.Link{Hash: hash, Purpose: account.LinkLogin, Subject: f.sid, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}, nil, 0, now))
	req := httptest.NewRequest("POST", "/login/link", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, req)
	cookies := w.Result().Cookies()
	if w.Code != http.StatusSeeOther || len(cookies) != 1 {
		t.Fatalf("link = %d, cookies %v", w.Code, cookies)
	}
	c := cookies[0]
	if c.Name != "__Host-"+customerCookie || !c.Secure || !c.HttpOnly || c.Path != "/" || c.Domain != "" || c.SameSite != http.SameSiteLaxMode {
		t.Errorf("session cookie over https = %+v", c)
	}
}

// TestSeatPeaks: the contract page lists ephemeral hosts with their lease
// end and shows the daily peak of concurrent seats, which counts leases
// that have since ended.
func TestSeatPeaks(t *testing.T) {
	f := newFixture(t)
	keys, err := f.st.LicenseKeys(ctx, f.sid)
	must(t, err)
	// hostA holds a server seat since the fixture's start; two containers
	// hold 10-minute leases that overlap, then end.
	for i, at := range []time.Duration{time.Hour, time.Hour + 5*time.Minute} {
		_, _, err := f.st.ClaimSeat(ctx, store.SeatClaim{KeyHash: keys[0].Hash, MachineID: fmt.Sprint("container-", i), Hostname: fmt.Sprint("c", i),
			NewHostID: entitle.NewHostID(), SecretHash: []byte("s"), Now: f.clock().Add(at), Lease: 10 * time.Minute})
		must(t, err)
	}
	_, _, err = f.st.ClaimSeat(ctx, store.SeatClaim{KeyHash: keys[0].Hash, MachineID: "container-live", Hostname: "c-live",
		NewHostID: entitle.NewHostID(), SecretHash: []byte("s"), Now: f.clock().Add(2 * time.Hour), Lease: time.Hour})
	must(t, err)
	f.advance(2*time.Hour + time.Minute)
	c := f.client()
	f.signIn(c)
	_, body := f.do(c, "GET", "/contract", nil, "Accept-Language", "en")
	if !strings.Contains(body, "Peak concurrent seats per day") {
		t.Fatalf("no peak table:\n%s", body)
	}
	today := f.clock().In(entitle.Tokyo).Format(entitle.DateLayout)
	// hostA plus two overlapping leases: 3 at once today.
	if !regexp.MustCompile(`<th scope="row">` + today + `</th><td>3</td>`).MatchString(body) {
		t.Errorf("today's peak is not 3:\n%s", body)
	}
	if !strings.Contains(body, "c-live") || strings.Contains(body, ">c0<") || strings.Contains(body, ">c1<") {
		t.Errorf("the host list should show the live lease only:\n%s", body)
	}
	if !strings.Contains(body, "server seat") {
		t.Errorf("hostA is not shown as a server seat")
	}
}
