package e2e

import (
	"cmp"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// addUser runs enmeid user add and returns the set-password link it prints.
func addUser(t *testing.T, v *vendor, email, role string) string {
	t.Helper()
	link := strings.TrimSpace(v.must("--public-url", v.url, "user", "add", email, "--role", role))
	if !strings.HasPrefix(link, v.url+"/admin/password?token=") || strings.ContainsAny(link, " \n") {
		t.Fatalf("user add printed %q, want one link %s/admin/password?token=…", link, v.url)
	}
	return link
}

// setPassword opens a set-password link, types the password twice and
// submits; the console opens on the contract list.
func setPassword(t *testing.T, b *browser, link, password string) {
	t.Helper()
	if s := b.open(link); s != http.StatusOK {
		t.Fatalf("opening the set-password link: %d", s)
	}
	b.fill("新しいパスワード", password)
	b.fill("新しいパスワード (確認)", password)
	b.shot("set-password")
	if s := b.press("パスワードを設定"); s != http.StatusOK {
		t.Fatalf("setting the password: %d", s)
	}
	b.at("/admin/contracts")
}

// consoleLogin logs in at /admin/login.
func consoleLogin(t *testing.T, b *browser, v *vendor, email, password string) {
	t.Helper()
	if s := b.open(v.url + "/admin/login"); s != http.StatusOK {
		t.Fatalf("GET /admin/login: %d", s)
	}
	b.fill("メールアドレス", email)
	b.fill("パスワード", password)
	b.shot("login")
	if s := b.press("ログイン"); s != http.StatusOK {
		t.Fatalf("logging in: %d", s)
	}
	b.at("/admin/contracts")
}

// twoPublications publishes a second, newer hello to el9-x86_64 (the demo
// packages are the first) and returns the older and newer publication IDs.
func twoPublications(t *testing.T, v *vendor) (older, newer int64) {
	t.Helper()
	v.must("publish", "el9-x86_64", writePackage(t, "rpm", helloSpec(t, "1.1")))
	// The repository starts with an empty publication; the two with
	// packages are the newest.
	pubs := v.publications("el9-x86_64")
	slices.SortFunc(pubs, func(a, b pubRow) int { return cmp.Compare(b.ID, a.ID) })
	if len(pubs) < 2 || pubs[0].Packages == 0 || pubs[1].Packages == 0 {
		t.Fatalf("publications after publishing twice: %+v", pubs)
	}
	older, newer = pubs[1].ID, pubs[0].ID
	for _, p := range pubs {
		if p.Current != (p.ID == newer) {
			t.Fatalf("publications %+v: want %d current", pubs, newer)
		}
	}
	return older, newer
}

var (
	supportIDRE  = regexp.MustCompile(`^ENM-([0-9]{4})-[0-9A-Z]{6}$`)
	licenceKeyRE = regexp.MustCompile(`^EK(-[0-9A-Z]{5}){5}$`)
)

// TestConsoleAdmin: an admin added with enmeid user add sets a password
// through the printed link in Chromium, logs out and in again, creates a
// contract with the New contract form (the support ID and licence key it
// shows are real: enmeid contract show finds the contract and a host
// registers with the key), and rolls a repository back through the
// confirmation page.
func TestConsoleAdmin(t *testing.T) {
	v, _ := portalVendor(t, 3)
	older, newer := twoPublications(t, v)
	v.serve()
	const email, password = "boss@vendor.example", "correct horse battery staple"
	link := addUser(t, v, email, "admin")

	b := newBrowser(t, "console-admin")
	setPassword(t, b, link, password)
	b.sees(email, "管理者", portalCustomer)
	b.shot("contracts")
	if s := b.press("ログアウト"); s != http.StatusOK {
		t.Fatalf("logging out: %d", s)
	}
	b.at("/admin/login")
	// Logged out means logged out: the console sends the browser back.
	b.open(v.url + "/admin/contracts")
	b.at("/admin/login")
	consoleLogin(t, b, v, email, password)

	// A new contract.
	if s := b.follow("", "新規契約"); s != http.StatusOK {
		t.Fatalf("opening the new-contract form: %d", s)
	}
	b.at("/admin/contracts/new")
	start, end := b.value("開始日"), b.value("終了日")
	if want := date(today()); start != want {
		t.Errorf("the form's start date is %q, want today (Asia/Tokyo) %s", start, want)
	}
	if want := date(today().AddDate(1, 0, -1)); end != want {
		t.Errorf("the form's end date is %q, want %s", end, want)
	}
	const customer, contact = "株式会社コンソール工業", "infra@console-kogyo.example.jp"
	b.fill("お客様", customer)
	b.check("EL9 ELS")
	b.fill("数量", "4")
	b.fill("技術担当者", contact)
	b.shot("new-contract")
	if s := b.press("契約を作成"); s != http.StatusCreated {
		t.Fatalf("creating the contract: %d, want 201", s)
	}
	sid := strings.TrimSpace(b.textOf(`//*[@id="support-id"]`))
	m := supportIDRE.FindStringSubmatch(sid)
	if m == nil || m[1] != strconv.Itoa(today().Year()) {
		t.Fatalf("the created page shows support ID %q, want ENM-%d-XXXXXX", sid, today().Year())
	}
	key := strings.TrimSpace(b.textOf(`//code[contains(concat(" ", @class, " "), " key ")]`))
	if !licenceKeyRE.MatchString(key) {
		t.Fatalf("the created page shows licence key %q", key)
	}
	b.sees("ライセンスキー (el9)", "今しか表示されません")
	b.shot("contract-created")
	var show struct {
		SupportID string   `json:"support_id"`
		Customer  string   `json:"customer"`
		Products  []string `json:"products"`
		Quantity  int      `json:"quantity"`
		Start     string   `json:"start"`
		End       string   `json:"end"`
		Contact   string   `json:"contact"`
		Valid     bool     `json:"valid"`
	}
	v.mustJSON(&show, "contract", "show", sid)
	if show.SupportID != sid || show.Customer != customer || fmt.Sprint(show.Products) != "[el9]" || show.Quantity != 4 ||
		show.Start != start || show.End != end || show.Contact != contact || !show.Valid {
		t.Errorf("contract show %s: %+v", sid, show)
	}
	h := namedHost(t, 1300, "app01.console-kogyo.example.jp")
	h.mustEnmei("register", "--server", v.url, "--key", key)
	if got := h.identity().SupportID; got != sid {
		t.Errorf("the host registered with the page's key is on %q, want %s", got, sid)
	}
	if s := b.follow("", "契約を開く"); s != http.StatusOK {
		t.Fatalf("opening the new contract: %d", s)
	}
	b.at("/admin/contracts/" + sid)
	b.sees(customer, "app01.console-kogyo.example.jp")

	// A rollback to the older publication, through its confirmation.
	before := len(v.publications("el9-x86_64"))
	if s := b.follow("", "製品とリポジトリ"); s != http.StatusOK {
		t.Fatalf("opening the repositories: %d", s)
	}
	if s := b.follow("", "el9-x86_64"); s != http.StatusOK {
		t.Fatalf("opening el9-x86_64: %d", s)
	}
	b.at("/admin/repos/el9-x86_64")
	if n := b.count(fmt.Sprintf(`//tr[th[normalize-space(.)="%d"]]//a[normalize-space(.)="ロールバック"]`, newer)); n != 0 {
		t.Errorf("the current publication %d offers a rollback to itself", newer)
	}
	b.shot("repo")
	if s := b.follow(fmt.Sprintf(`//tr[th[normalize-space(.)="%d"]]`, older), "ロールバック"); s != http.StatusOK {
		t.Fatalf("opening the rollback confirmation: %d", s)
	}
	b.at(fmt.Sprintf("/admin/repos/el9-x86_64/publications/%d/rollback", older))
	b.sees(fmt.Sprintf("公開 %d のパッケージ", older))
	b.shot("rollback-confirm")
	if s := b.press("ロールバックする"); s != http.StatusOK {
		t.Fatalf("confirming the rollback: %d", s)
	}
	b.at("/admin/repos/el9-x86_64")
	pubs := v.publications("el9-x86_64")
	var cur *pubRow
	for i := range pubs {
		if pubs[i].Current {
			cur = &pubs[i]
		}
	}
	if len(pubs) != before+1 || cur == nil || cur.ID <= newer || cur.RollbackOf != older {
		t.Fatalf("publications after the rollback: %+v; want one more, current, with with rollback_of %d", pubs, older)
	}
	b.sees(fmt.Sprintf("ロールバックしました。公開 %d が現在の公開です。", cur.ID), fmt.Sprintf("(%d のロールバック)", older))
	b.shot("rolled-back")
}

// TestConsoleViewerRefused: a viewer sees the console without the buttons
// that change things; forms it submits anyway (a rollback, a new contract, a
// seat release, reached by typing their URLs) are refused with 403 and
// change nothing.
func TestConsoleViewerRefused(t *testing.T) {
	v, c := portalVendor(t, 3)
	older, _ := twoPublications(t, v)
	v.serve()
	h := namedHost(t, 1400, "web01.tesuto-shoji.example.jp")
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	hostID := h.identity().HostID
	const email, password = "auditor@vendor.example", "only looking, never touching"
	link := addUser(t, v, email, "viewer")
	pubsBefore := v.publications("el9-x86_64")
	contractsBefore := v.must("--json", "contract", "list")

	b := newBrowser(t, "console-viewer")
	setPassword(t, b, link, password)
	b.sees(email, "閲覧者", c.SupportID)
	if n := b.count(linkX("新規契約")); n != 0 {
		t.Errorf("a viewer's contract list has %d New-contract buttons", n)
	}
	b.shot("contracts")
	// Its contract page has no release buttons, its repository page no
	// rollback buttons.
	if s := b.follow("", c.SupportID); s != http.StatusOK {
		t.Fatalf("opening the contract: %d", s)
	}
	b.sees("web01.tesuto-shoji.example.jp")
	if n := b.count(linkX("解放")); n != 0 {
		t.Errorf("a viewer's contract page has %d release buttons", n)
	}
	b.open(v.url + "/admin/repos/el9-x86_64")
	if n := b.count(linkX("ロールバック")); n != 0 {
		t.Errorf("a viewer's repository page has %d rollback buttons", n)
	}

	forbidden := func(what string) {
		t.Helper()
		if s := b.press(what); s != http.StatusForbidden {
			t.Errorf("a viewer pressing %s: %d, want 403", what, s)
		}
		b.sees("この操作を行う権限がありません")
	}
	// A rollback, by typing the confirmation page's URL.
	b.open(fmt.Sprintf("%s/admin/repos/el9-x86_64/publications/%d/rollback", v.url, older))
	forbidden("ロールバックする")
	b.shot("rollback-refused")
	// A new contract.
	b.open(v.url + "/admin/contracts/new")
	b.fill("お客様", "株式会社不正")
	b.check("EL9 ELS")
	b.fill("数量", "100")
	b.fill("技術担当者", "evil@example.jp")
	forbidden("契約を作成")
	b.shot("new-contract-refused")
	// A seat release.
	b.open(fmt.Sprintf("%s/admin/contracts/%s/hosts/%s/release", v.url, c.SupportID, hostID))
	forbidden("解放する")
	b.shot("release-refused")

	if after := v.publications("el9-x86_64"); fmt.Sprint(after) != fmt.Sprint(pubsBefore) {
		t.Errorf("publications changed: %+v → %+v", pubsBefore, after)
	}
	if after := v.must("--json", "contract", "list"); after != contractsBefore {
		t.Errorf("contracts changed:\n%s\n→\n%s", contractsBefore, after)
	}
	var show struct {
		Hosts []struct {
			HostID string `json:"host_id"`
		} `json:"hosts"`
	}
	v.mustJSON(&show, "contract", "show", c.SupportID)
	if len(show.Hosts) != 1 || show.Hosts[0].HostID != hostID {
		t.Errorf("hosts after the refused release: %+v, want %s", show.Hosts, hostID)
	}
	if s := repoStatus(t, v, h.identity()); s != http.StatusOK {
		t.Errorf("the host's credential gets %d after the refused release, want 200", s)
	}
}
