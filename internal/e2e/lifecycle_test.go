package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestLifecycle: a product's phase shows on enmei status (JSON, English and
// Japanese); an end of service is announced at least a year ahead (or with
// --force), and from a year before it new contracts and renewals for the
// product are refused with the date while other products sell on; an
// initial-only option is sold only with a customer's first contract.
func TestLifecycle(t *testing.T) {
	v := newVendor(t, "")
	v.catalog()
	now := today()
	past, future := date(now.AddDate(-1, 0, 0)), date(now.AddDate(3, 0, 0))
	v.must("product", "lifecycle", "el9", "--full-until", date(now.AddDate(-2, 0, 0)), "--security-until", past, "--extended-until", future)
	if r := v.admin("product", "lifecycle", "el9", "--full-until", future, "--security-until", past); r.code != 2 {
		t.Errorf("phases out of order: exit %d, want 2\n%s", r.code, r.stderr)
	}
	c := v.contract("el9", 2, date(now.AddDate(0, -1, 0)), date(now.AddDate(1, 0, 0)))
	v.serve()
	h := newHost(t, almaRelease, machineID(900))
	h.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
	var st struct {
		Phase      string `json:"phase"`
		PhaseUntil string `json:"phase_until"`
	}
	must(t, json.Unmarshal([]byte(h.mustEnmei("--json", "status")), &st))
	if st.Phase != "extended" || st.PhaseUntil != future {
		t.Errorf("status --json phase = %+v, want extended until %s", st, future)
	}
	if out := h.mustEnmei("status"); !strings.Contains(out, "extended lifecycle support (ELS) until "+future) {
		t.Errorf("status does not say the phase:\n%s", out)
	}
	h.env = []string{"LANG=ja_JP.UTF-8"}
	if out := h.mustEnmei("status"); !strings.Contains(out, "延長サポート (ELS) 期間、"+future+" まで") {
		t.Errorf("status in Japanese does not say the phase:\n%s", out)
	}

	soon := date(now.AddDate(0, 6, 0))
	if r := v.admin("product", "end", "el9", "--date", soon); r.code != 1 || !strings.Contains(r.stderr, "--force") {
		t.Errorf("an end six months ahead without --force: exit %d\n%s", r.code, r.stderr)
	}
	if r := v.admin("product", "end", "el9", "--date", soon, "--force"); r.code != 0 || !strings.Contains(r.stderr, "warning") ||
		!strings.Contains(r.stdout, "announced to 1 technical contact") {
		t.Errorf("product end --force: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if o := v.must("outbox", "list"); !strings.Contains(o, "サービス終了のお知らせ") || !strings.Contains(o, soon) || !strings.Contains(o, "ops@example.co.jp") {
		t.Errorf("the end of service was not mailed to the technical contact:\n%s", o)
	}
	args := []string{"contract", "add", "--customer", "後発株式会社", "--product", "el9", "--quantity", "1",
		"--start", date(now), "--end", date(now.AddDate(1, 0, 0)), "--contact", "ops@example.co.jp"}
	if r := v.admin(args...); r.code == 0 || !strings.Contains(r.stderr, soon) || !strings.Contains(r.stderr, "no longer sold") {
		t.Errorf("a new contract within a year of the end: exit %d\n%s", r.code, r.stderr)
	}
	if r := v.admin("contract", "renew", c.SupportID, "--end", date(now.AddDate(2, 0, 0))); r.code == 0 || !strings.Contains(r.stderr, soon) {
		t.Errorf("a renewal within a year of the end: exit %d\n%s", r.code, r.stderr)
	}
	args[5] = "deb12"
	v.must(args...) // other products are unaffected

	v.must("product", "add", "els-option", "--name", "ELS option", "--format", "rpm", "--initial-only")
	first := []string{"contract", "add", "--customer", "初回株式会社", "--product", "els-option", "--quantity", "1",
		"--start", date(now), "--end", date(now.AddDate(1, 0, 0)), "--contact", "ops@example.co.jp"}
	v.must(first...)
	if r := v.admin(first...); r.code == 0 || !strings.Contains(r.stderr, "first contract") {
		t.Errorf("the initial-only option on a later contract: exit %d\n%s", r.code, r.stderr)
	}
}
