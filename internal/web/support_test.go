package web

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/account"
	"github.com/enmei-project/enmei/internal/bizcal"
	"github.com/enmei-project/enmei/internal/desk"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/mailin"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/support"
	"github.com/enmei-project/enmei/internal/testutil/smtptest"
)

// deskFixture is the portal with a real support desk over the same store.
type deskFixture struct {
	*fixture
	d   *desk.Desk
	seq int
}

func newDeskFixture(t *testing.T) *deskFixture {
	t.Helper()
	df := &deskFixture{}
	df.fixture = newFixture(t, func(f *fixture, c *Config) {
		df.d = &desk.Desk{Store: f.st, Now: f.clock, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Config: &desk.Config{Address: "support@vendor.example", FirstResponse: desk.Duration(4 * time.Hour), MaxAttachment: 1 << 20}}
		c.Desk = df.d
	})
	return df
}

// mail is a customer's message to the desk; attachment, when given, is
// sent as a file named log.txt.
func (df *deskFixture) mail(from, subject, body, attachment string) []byte {
	df.seq++
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\nTo: support@vendor.example\r\nSubject: %s\r\nMessage-ID: <m%d@example.jp>\r\nDate: %s\r\nMIME-Version: 1.0\r\n",
		from, mime.BEncoding.Encode("UTF-8", subject), df.seq, df.clock().Format(time.RFC1123Z))
	if attachment == "" {
		fmt.Fprintf(&b, "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n", body)
		return b.Bytes()
	}
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n"+
		"--b1\r\nContent-Type: text/plain; name=\"log.txt\"\r\nContent-Disposition: attachment; filename=\"log.txt\"\r\n\r\n%s\r\n--b1--\r\n", body, attachment)
	return b.Bytes()
}

// receive hands a message to the desk and returns the ticket it opened or continued.
func (df *deskFixture) receive(msg []byte) int64 {
	df.t.Helper()
	r, err := df.d.Receive(ctx, bytes.NewReader(msg))
	must(df.t, err)
	if r.Ticket == 0 {
		df.t.Fatalf("the desk opened nothing: %+v", r)
	}
	return r.Ticket
}

func (df *deskFixture) ticket(n int64) store.Ticket {
	df.t.Helper()
	tk, err := df.st.Ticket(ctx, n)
	must(df.t, err)
	return tk
}

func (df *deskFixture) mails() []store.Mail {
	df.t.Helper()
	ms, err := df.st.Mails(ctx, 1000)
	must(df.t, err)
	return ms
}

// signInAs signs c in as the customer of sid through a login link to email.
func (df *deskFixture) signInAs(c *http.Client, sid, email string) {
	df.t.Helper()
	token := df.loginLink(c, sid, email)
	resp, body := df.do(c, "POST", "/login/link", url.Values{"token": {token}})
	if resp.StatusCode != http.StatusSeeOther {
		df.t.Fatalf("using the link = %d: %s", resp.StatusCode, body)
	}
}

// unlimited adds a valid contract with unlimited inquiries.
func (df *deskFixture) unlimited(contact string) string {
	df.t.Helper()
	sid := "ENM-2026-UNLIM1"
	must(df.t, df.st.AddContract(ctx, store.Contract{SupportID: sid, Customer: "無制限株式会社", Plan: "server", Products: []string{"el9"},
		Quantity: 1, Start: "2026-01-01", End: "2027-12-31", Contact: contact, Inquiries: entitle.Unlimited, CreatedAt: df.clock()}, nil))
	return sid
}

func TestSupportPagesNeedTheDesk(t *testing.T) {
	f := newFixture(t)
	admin := f.vendorClient("boss@vendor.example", account.RoleAdmin)
	c := f.client()
	f.signIn(c)
	for _, path := range []string{"/support"} {
		if resp, _ := f.do(c, "GET", path, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s without a desk = %d, want 404", path, resp.StatusCode)
		}
	}
	if resp, _ := f.do(admin, "GET", "/admin/tickets", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /admin/tickets without a desk = %d, want 404", resp.StatusCode)
	}
	if _, body := f.do(c, "GET", "/contract", nil); strings.Contains(body, `href="/support"`) {
		t.Error("the contract page links to support pages that do not exist")
	}
}

func TestSupportPageAndConfirm(t *testing.T) {
	df := newDeskFixture(t)
	n := df.receive(df.mail("ops@a.example.jp", "サーバーが起動しません", "カーネル更新後に起動しません。", ""))
	other := df.receive(df.mail("ops@b.example.jp", "別の会社の質問", "質問です。", ""))
	c := df.client()
	df.signIn(c)
	_, body := df.do(c, "GET", "/contract", nil)
	if !strings.Contains(body, `href="/support"`) {
		t.Error("the contract page does not link to the support page")
	}
	resp, body := df.do(c, "GET", "/support", nil)
	tag := mailin.FormatTag(n)
	for _, want := range []string{tag, "サーバーが起動しません", "確認待ち", "2026-01-01 – 2026-12-31", "support@vendor.example",
		"9:00〜12:00", `action="/support/tickets/` + fmt.Sprint(n) + `/confirm"`, "使用なし", "ops@a.example.jp"} {
		if !strings.Contains(body, want) {
			t.Errorf("support page lacks %q", want)
		}
	}
	if resp.StatusCode != 200 || strings.Contains(body, "別の会社の質問") || strings.Contains(body, mailin.FormatTag(other)) {
		t.Fatalf("support page = %d, or it shows another contract's ticket:\n%s", resp.StatusCode, body)
	}
	if !strings.Contains(body, "<dt>残り</dt><dd><strong>2</strong>") {
		t.Errorf("allowance is not 2 left:\n%s", body)
	}
	// Another contract's ticket cannot be confirmed from here.
	if resp, _ := df.do(c, "POST", fmt.Sprintf("/support/tickets/%d/confirm", other), url.Values{}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("confirming another contract's ticket = %d, want 404", resp.StatusCode)
	}
	if df.ticket(other).Consumed {
		t.Fatal("another contract's ticket was confirmed")
	}
	before := len(df.mails())
	resp, _ = df.do(c, "POST", fmt.Sprintf("/support/tickets/%d/confirm", n), url.Values{})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirm = %d", resp.StatusCode)
	}
	got := df.ticket(n)
	if !got.Consumed || got.Status != store.TicketOpen || got.YearStart != "2026-01-01" {
		t.Fatalf("confirmed ticket = %+v", got)
	}
	if used, _ := df.st.InquiriesUsed(ctx, df.sid, "2026-01-01"); used != 1 {
		t.Errorf("inquiries used = %d, want 1", used)
	}
	if ms := df.mails(); len(ms) != before+1 || ms[0].To != "ops@a.example.jp" || !strings.Contains(ms[0].Subject, tag) {
		t.Errorf("confirmation mail: %d mails, newest %+v", len(ms)-before, ms[0])
	}
	_, body = df.do(c, "GET", resp.Header.Get("Location"), nil)
	if !strings.Contains(body, tag+" を新しいお問い合わせとして受け付けました") || !strings.Contains(body, "1回使用") ||
		!strings.Contains(body, "<dt>残り</dt><dd><strong>1</strong>") {
		t.Errorf("after confirming, the page does not say so:\n%s", body)
	}
	if strings.Contains(body, "/confirm\"") {
		t.Error("a confirmed ticket still has its button")
	}
	// Confirming twice is refused, and consumes nothing more.
	resp, body = df.do(c, "POST", fmt.Sprintf("/support/tickets/%d/confirm", n), url.Values{})
	if resp.StatusCode != http.StatusConflict || !strings.Contains(body, "確認待ちではない") {
		t.Errorf("second confirm = %d", resp.StatusCode)
	}
	if used, _ := df.st.InquiriesUsed(ctx, df.sid, "2026-01-01"); used != 1 {
		t.Errorf("inquiries used after a second confirm = %d", used)
	}
	// With the allowance used up, a confirmation holds the matter for the
	// vendor instead of counting it.
	n2 := df.receive(df.mail("ops@a.example.jp", "二件目", "質問です。", ""))
	n3 := df.receive(df.mail("ops@a.example.jp", "三件目", "質問です。", ""))
	df.do(c, "POST", fmt.Sprintf("/support/tickets/%d/confirm", n2), url.Values{})
	resp, _ = df.do(c, "POST", fmt.Sprintf("/support/tickets/%d/confirm", n3), url.Values{})
	if got := df.ticket(n3); resp.Header.Get("Location") != fmt.Sprintf("/support?held=%d", n3) || got.Consumed || got.Waiting != store.WaitAllowance {
		t.Errorf("confirm beyond the allowance → %s, ticket %+v", resp.Header.Get("Location"), got)
	}
	_, body = df.do(c, "GET", resp.Header.Get("Location"), nil)
	if !strings.Contains(body, "保留中 (回数の上限)") || !strings.Contains(body, mailin.FormatTag(n3)+" は保留としました") ||
		!strings.Contains(body, "<dt>残り</dt><dd><strong>0</strong>") {
		t.Errorf("the held matter is not shown as such:\n%s", body)
	}
	// English too.
	_, body = df.do(c, "GET", "/support", nil, "Accept-Language", "en")
	for _, want := range []string{"Your inquiries", "Used one", "Support hours", "Maintenance notices"} {
		if !strings.Contains(body, want) {
			t.Errorf("English support page lacks %q", want)
		}
	}
}

func TestSupportNotices(t *testing.T) {
	df := newDeskFixture(t)
	start := df.clock().Add(10 * 24 * time.Hour)
	_, _, err := df.d.AddNotice(ctx, desk.NoticeInput{Title: "リポジトリ移設", Body: "作業中は dnf が失敗します。", Start: start, End: start.Add(2 * time.Hour),
		Products: []string{"el9"}})
	must(t, err)
	_, _, err = df.d.AddNotice(ctx, desk.NoticeInput{Title: "他製品の作業", Body: "x", Start: start, End: start.Add(time.Hour), Products: []string{"other"}})
	must(t, err)
	c := df.client()
	df.signIn(c)
	_, body := df.do(c, "GET", "/support", nil)
	if !strings.Contains(body, "リポジトリ移設") || !strings.Contains(body, df.portal.locale(httpReq("ja")).Time(start)) {
		t.Errorf("the notice of the contract's product is missing:\n%s", body)
	}
	if strings.Contains(body, "他製品の作業") {
		t.Error("a notice of another product is shown")
	}
}

func httpReq(lang string) *http.Request {
	r, _ := http.NewRequest("GET", "/", nil)
	r.Header.Set("Accept-Language", lang)
	return r
}

func TestSupportPriorities(t *testing.T) {
	df := newDeskFixture(t)
	sid := df.unlimited("it@u.example.jp")
	var ns []int64
	for _, s := range []string{"一件目", "二件目", "三件目"} {
		ns = append(ns, df.receive(df.mail("it@u.example.jp", s, "質問です。", "")))
		df.advance(time.Minute)
	}
	c := df.client()
	df.signInAs(c, sid, "it@u.example.jp")
	_, body := df.do(c, "GET", "/support", nil)
	if !strings.Contains(body, "回数無制限") || strings.Contains(body, "/confirm\"") {
		t.Errorf("an unlimited contract's page:\n%s", body)
	}
	for _, n := range ns {
		if !strings.Contains(body, fmt.Sprintf(`name="priority_%d"`, n)) {
			t.Errorf("no priority input for ticket %d", n)
		}
	}
	order := func() []int64 {
		q, err := df.d.Queue(ctx, sid)
		must(t, err)
		var out []int64
		for _, tk := range q {
			out = append(out, tk.Number)
		}
		return out
	}
	// The third first, then the second; the first (blank) after them.
	form := url.Values{fmt.Sprintf("priority_%d", ns[2]): {"1"}, fmt.Sprintf("priority_%d", ns[1]): {"2"}, fmt.Sprintf("priority_%d", ns[0]): {""}}
	resp, _ := df.do(c, "POST", "/support/priorities", form)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("priorities = %d", resp.StatusCode)
	}
	if got := fmt.Sprint(order()); got != fmt.Sprint([]int64{ns[2], ns[1], ns[0]}) {
		t.Errorf("queue = %s, want %v", got, []int64{ns[2], ns[1], ns[0]})
	}
	if df.ticket(ns[2]).Priority != 1 || df.ticket(ns[1]).Priority != 2 || df.ticket(ns[0]).Priority != 0 {
		t.Error("stored priorities are wrong")
	}
	_, body = df.do(c, "GET", resp.Header.Get("Location"), nil)
	input := func(n int64) int { return strings.Index(body, fmt.Sprintf(`name="priority_%d"`, n)) }
	if !strings.Contains(body, "調査の順番を変更しました") || !(input(ns[2]) < input(ns[1]) && input(ns[1]) < input(ns[0])) ||
		!strings.Contains(body, fmt.Sprintf(`name="priority_%d" value="1"`, ns[2])) {
		t.Errorf("the page does not show the new order:\n%s", body)
	}
	// Equal numbers keep arrival order; the blank ones follow.
	form = url.Values{fmt.Sprintf("priority_%d", ns[2]): {"5"}, fmt.Sprintf("priority_%d", ns[1]): {"5"}}
	df.do(c, "POST", "/support/priorities", form)
	if got := fmt.Sprint(order()); got != fmt.Sprint([]int64{ns[1], ns[2], ns[0]}) {
		t.Errorf("queue after equal numbers = %s", got)
	}
	// A number that is not one comes back with the values.
	form = url.Values{fmt.Sprintf("priority_%d", ns[0]): {"first"}}
	resp, body = df.do(c, "POST", "/support/priorities", form)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `value="first"`) || !strings.Contains(body, "1 から 999") {
		t.Errorf("bad priority = %d", resp.StatusCode)
	}
	// A contract with a yearly allowance has no queue to order.
	a := df.client()
	df.signIn(a)
	if resp, _ := df.do(a, "POST", "/support/priorities", url.Values{}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("priorities on a counted contract = %d", resp.StatusCode)
	}
}

func TestContactChange(t *testing.T) {
	df := newDeskFixture(t)
	c := df.client()
	df.signIn(c)
	before := len(df.mails())
	resp, _ := df.do(c, "POST", "/support/contact", url.Values{"email": {"New-Ops@a.example.jp"}})
	want := support.ContactEffective(bizcal.Calendar{}, df.clock()).String()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/support?contact="+want {
		t.Fatalf("contact change = %d → %s, want the effective day %s", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	chs, err := df.st.ContactChanges(ctx, df.sid)
	must(t, err)
	if len(chs) != 1 || chs[0].Email != "new-ops@a.example.jp" || chs[0].Effective != want {
		t.Fatalf("changes = %+v", chs)
	}
	if ms := df.mails(); len(ms) != before+2 {
		t.Errorf("%d mails queued, want 2 (the old and the new address)", len(ms)-before)
	}
	_, body := df.do(c, "GET", resp.Header.Get("Location"), nil)
	if !strings.Contains(body, want+" から新しいアドレスが有効になります") || !strings.Contains(body, want+" から new-ops@a.example.jp に変更") {
		t.Errorf("the page does not show the change and its day:\n%s", body)
	}
	// The contact in force is refused as a change; so is a non-address.
	for _, email := range []string{"ops@a.example.jp", "not an address", "a@b.example, c@d.example"} {
		resp, body := df.do(c, "POST", "/support/contact", url.Values{"email": {email}})
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `role="alert"`) {
			t.Errorf("change to %q = %d", email, resp.StatusCode)
		}
	}
	// Until the day, the old contact logs in; from it, the new one.
	login := func(email string) int {
		before := len(df.mails())
		df.do(df.client(), "POST", "/login", url.Values{"support_id": {df.sid}, "email": {email}})
		return len(df.mails()) - before
	}
	if login("new-ops@a.example.jp") != 0 || login("ops@a.example.jp") != 1 {
		t.Error("before the change takes effect, only the old contact should get a login link")
	}
	day, _ := bizcal.ParseDate(want)
	for df.clock().Before(day.Time()) {
		df.advance(24 * time.Hour)
	}
	if login("ops@a.example.jp") != 0 || login("new-ops@a.example.jp") != 1 {
		t.Error("after the change took effect, only the new contact should get a login link")
	}
	ms := df.mails()
	if ms[0].To != "new-ops@a.example.jp" || tokenInMail.FindString(smtptest.Parse(t, ms[0].Message).Text) == "" {
		t.Errorf("login mail to %s", ms[0].To)
	}
	c = df.client() // the session ended meanwhile
	df.signInAs(c, df.sid, "new-ops@a.example.jp")
	_, body = df.do(c, "GET", "/contract", nil)
	if !strings.Contains(body, "new-ops@a.example.jp") {
		t.Error("the contract page does not show the contact in force")
	}
}

func TestConsoleTickets(t *testing.T) {
	df := newDeskFixture(t)
	// 12:00 JST (lunch): due 17:00. 14:00: due 18:00. 15:00: due 10:00 the next day.
	t1 := df.receive(df.mail("ops@a.example.jp", "起動しません", "ログを添付します。", "kernel panic\n"))
	df.advance(2 * time.Hour)
	t2 := df.receive(df.mail("ops@b.example.jp", "パッケージの質問", "質問です。", ""))
	df.advance(time.Hour)
	t3 := df.receive(df.mail("ops@a.example.jp", "三件目", "質問です。", ""))
	admin := df.vendorClient("boss@vendor.example", account.RoleAdmin)

	_, body := df.do(admin, "GET", "/admin/tickets", nil)
	if !strings.Contains(body, `href="/admin/tickets"`) {
		t.Error("the console has no link to the tickets")
	}
	pos := func(body string, n int64) int { return strings.Index(body, ">"+mailin.FormatTag(n)+"<") }
	if !(pos(body, t1) < pos(body, t2) && pos(body, t2) < pos(body, t3)) || pos(body, t1) < 0 {
		t.Errorf("unanswered tickets are not by time left (1, 2, 3):\n%s", body)
	}
	if !strings.Contains(body, "残り 2時間00分") || !strings.Contains(body, "株式会社テスト商事") {
		t.Errorf("the list lacks the time left or the customer:\n%s", body)
	}
	// A reply queues a mail and sends the ticket after the unanswered ones.
	before := len(df.mails())
	resp, _ := df.do(admin, "POST", fmt.Sprintf("/admin/tickets/%d/reply", t1), url.Values{"body": {"ご連絡ありがとうございます。\r\n調査します。"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reply = %d", resp.StatusCode)
	}
	ms := df.mails()
	if len(ms) != before+1 || ms[0].To != "ops@a.example.jp" || !strings.Contains(ms[0].Subject, "["+mailin.FormatTag(t1)+"]") ||
		!strings.Contains(smtptest.Parse(t, ms[0].Message).Text, "調査します。") {
		t.Fatalf("reply mail: %d queued, newest %+v", len(ms)-before, ms[0])
	}
	if df.ticket(t1).RespondedAt.IsZero() {
		t.Error("the reply did not stop the first-response clock")
	}
	_, body = df.do(admin, "GET", "/admin/tickets", nil)
	if !(pos(body, t2) < pos(body, t3) && pos(body, t3) < pos(body, t1)) {
		t.Errorf("after the reply, the order is not 2, 3, 1:\n%s", body)
	}
	// The ticket page: both mails, the attachment, the forms.
	_, body = df.do(admin, "GET", resp.Header.Get("Location"), nil)
	for _, want := range []string{"回答を送信キューに入れました", "起動しません", "ログを添付します。", "log.txt", "13 B", "調査します。",
		"受信 (お客様から)", "送信 (窓口から)", "/reply\"", "/close\"", "/scope\"", "ops@a.example.jp"} {
		if !strings.Contains(body, want) {
			t.Errorf("ticket page lacks %q", want)
		}
	}
	// Scope: out of range and out of standard without a reason are refused.
	scope := func(level, reason string) (int, string) {
		resp, body := df.do(admin, "POST", fmt.Sprintf("/admin/tickets/%d/scope", t1), url.Values{"level": {level}, "reason": {reason}})
		return resp.StatusCode, body
	}
	for _, level := range []string{"0", "11", "x"} {
		if st, body := scope(level, "理由"); st != http.StatusBadRequest || !strings.Contains(body, "1 から 10") {
			t.Errorf("scope level %s = %d", level, st)
		}
	}
	if st, _ := scope("6", ""); st != http.StatusBadRequest {
		t.Errorf("scope 6 without a reason = %d", st)
	}
	if df.ticket(t1).ScopeLevel != 0 {
		t.Fatal("a refused scope was stored")
	}
	before = len(df.mails())
	if st, _ := scope("6", "ダンプ解析は別途お見積りです。"); st != http.StatusSeeOther || df.ticket(t1).ScopeLevel != 6 || len(df.mails()) != before+1 {
		t.Errorf("scope 6 with a reason = %d, level %d", st, df.ticket(t1).ScopeLevel)
	}
	// Accept a waiting ticket; close another as the vendor's fault.
	if resp, _ := df.do(admin, "POST", fmt.Sprintf("/admin/tickets/%d/accept", t3), url.Values{}); resp.StatusCode != http.StatusSeeOther ||
		df.ticket(t3).Status != store.TicketOpen || df.ticket(t3).Consumed {
		t.Errorf("accept = %d, ticket %+v", resp.StatusCode, df.ticket(t3))
	}
	if resp, body := df.do(admin, "POST", fmt.Sprintf("/admin/tickets/%d/accept", t3), url.Values{}); resp.StatusCode != http.StatusBadRequest ||
		!strings.Contains(body, `role="alert"`) {
		t.Errorf("accepting an open ticket = %d", resp.StatusCode)
	}
	if resp, _ := df.do(admin, "POST", fmt.Sprintf("/admin/tickets/%d/close", t2), url.Values{"vendor_fault": {"1"}}); resp.StatusCode != http.StatusSeeOther ||
		df.ticket(t2).Status != store.TicketClosed || !df.ticket(t2).VendorFault {
		t.Errorf("close = %d, ticket %+v", resp.StatusCode, df.ticket(t2))
	}
	_, body = df.do(admin, "GET", "/admin/tickets?status=closed", nil)
	if pos(body, t2) < 0 || pos(body, t1) >= 0 {
		t.Errorf("status filter:\n%s", body)
	}
	if resp, _ := df.do(admin, "GET", "/admin/tickets?status=bogus", nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a bad status filter = %d", resp.StatusCode)
	}
	if resp, _ := df.do(admin, "GET", "/admin/tickets/999", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown ticket = %d", resp.StatusCode)
	}
	// English.
	_, body = df.do(admin, "GET", fmt.Sprintf("/admin/tickets/%d", t1), nil, "Accept-Language", "en")
	if !strings.Contains(body, "Ticket "+mailin.FormatTag(t1)) || !strings.Contains(body, "dump analysis") {
		t.Errorf("English ticket page:\n%s", body)
	}
	// A viewer sees the tickets but no forms, and cannot change them.
	viewer := df.vendorClient("look@vendor.example", account.RoleViewer)
	_, body = df.do(viewer, "GET", fmt.Sprintf("/admin/tickets/%d", t1), nil)
	if !strings.Contains(body, "起動しません") || strings.Contains(body, "/reply\"") {
		t.Error("a viewer sees no ticket, or the reply form")
	}
	before = len(df.mails())
	if resp, _ := df.do(viewer, "POST", fmt.Sprintf("/admin/tickets/%d/reply", t1), url.Values{"body": {"x"}}); resp.StatusCode != http.StatusForbidden ||
		len(df.mails()) != before {
		t.Errorf("viewer reply = %d", resp.StatusCode)
	}
	// An empty reply is refused before the desk.
	if resp, _ := df.do(admin, "POST", fmt.Sprintf("/admin/tickets/%d/reply", t1), url.Values{"body": {"  \r\n"}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("empty reply = %d", resp.StatusCode)
	}
}

func TestSortByTimeLeft(t *testing.T) {
	base := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC) // 9:00 JST, a Wednesday
	ts := []store.Ticket{
		{Number: 1, Status: store.TicketClosed, ClosedAt: base.Add(-time.Hour)},
		{Number: 2, Status: store.TicketOpen, RespondedAt: base, OpenedAt: base.Add(-2 * time.Hour)},
		{Number: 3, Status: store.TicketOpen, DueAt: base.Add(5 * time.Hour)},
		{Number: 4, Status: store.TicketWaiting, DueAt: base.Add(time.Hour)},
		{Number: 5, Status: store.TicketClosed, ClosedAt: base},
		{Number: 6, Status: store.TicketOpen, RespondedAt: base, OpenedAt: base.Add(-3 * time.Hour)},
		{Number: 7, Status: store.TicketOpen, DueAt: base.Add(-time.Hour)}, // overdue
	}
	desk.SortByTimeLeft(ts, support.Clock{}, base)
	var got []int64
	for _, tk := range ts {
		got = append(got, tk.Number)
	}
	if fmt.Sprint(got) != "[7 4 3 6 2 5 1]" {
		t.Errorf("order = %v", got)
	}
}
