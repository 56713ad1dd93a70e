package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/quote"
)

func TestYen(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 84000: "84,000", 504000: "504,000", 1234567: "1,234,567", -48000: "-48,000"} {
		if got := yen(n); got != want {
			t.Errorf("yen(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestQuotePage(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	resp, body := f.do(c, "GET", "/quote", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, `action="/quote"`) || !strings.Contains(body, `value="2026-11-24"`) {
		t.Fatalf("quote form = %d:\n%s", resp.StatusCode, body)
	}
	if _, home := f.do(c, "GET", "/", nil); !strings.Contains(home, `href="/quote"`) {
		t.Error("the home page does not link to the quote page")
	}
	form := url.Values{"signed": {"2026-12-15"}, "name": {"基幹系"}, "physical": {"2"}, "hv_hosts": {"3"}, "hv_vms": {"7"},
		"cloud_projects": {"0"}, "cloud_vms": {"0"}, "cloud_official_images": {"1"}, "prefer": {"cheapest"}}
	want, err := quote.Compute(quote.Input{Signed: "2026-12-15", Systems: []quote.System{{Name: "基幹系", Physical: 2,
		Hypervisor: &quote.Hypervisor{Hosts: 3, VMs: 7}}}}, quote.DefaultPrices)
	must(t, err)
	sq := want.Systems[0]
	resp, body = f.do(c, "POST", "/quote", form)
	if resp.StatusCode != 200 {
		t.Fatalf("quote = %d:\n%s", resp.StatusCode, body)
	}
	for _, s := range []string{want.SupportStart, "基幹系", `<strong id="quote-total">` + yen(want.Total) + `</strong>`, "スタンダード (物理サーバー)",
		"スタンダード (仮想マシン)", "HA/FT の待機系も数えます", "スタンダードの方が仮想化プラットフォームより安くなります",
		"別の選択肢: 仮想化プラットフォーム — " + yen(sq.Alternatives[0].Amount) + " 円"} {
		if !strings.Contains(body, s) {
			t.Errorf("quote page lacks %q", s)
		}
	}
	for _, l := range sq.Lines {
		row := `<td class="num">` + strconv.Itoa(l.Count) + `</td><td class="num">` + yen(l.UnitPrice) + `</td><td class="num">` + yen(l.Amount) + `</td>`
		if !strings.Contains(body, row) {
			t.Errorf("quote page lacks the line %s", row)
		}
	}
	if yen(want.Total) != "504,000" || yen(sq.Alternatives[0].Amount) != "888,000" {
		t.Errorf("the example changed: total %d, alternative %d", want.Total, sq.Alternatives[0].Amount)
	}
	// The form keeps what was typed.
	if !strings.Contains(body, `name="hv_vms" type="number" min="0" max="100000" value="7"`) {
		t.Error("the form lost its values")
	}
	// English.
	_, body = f.do(c, "POST", "/quote", form, "Accept-Language", "en")
	for _, s := range []string{"Standard for physical", "Standard for virtual", "Total per year", "JPY " + yen(sq.Alternatives[0].Amount), yen(want.Total)} {
		if !strings.Contains(body, s) {
			t.Errorf("English quote page lacks %q", s)
		}
	}
}

func TestQuoteRefusals(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	base := url.Values{"signed": {"2026-12-15"}, "cloud_official_images": {"1"}, "prefer": {"cheapest"}}
	with := func(kv ...string) url.Values {
		v := url.Values{}
		for k, vs := range base {
			v[k] = vs
		}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	cases := []struct {
		name   string
		form   url.Values
		status int
		want   string
	}{
		{"VMs without hosts", with("hv_vms", "3"), http.StatusUnprocessableEntity, "物理ホストの台数が 0 です"},
		{"cloud VMs without projects", with("cloud_vms", "3"), http.StatusUnprocessableEntity, "リソースグループ・プロジェクトの数が 0 です"},
		{"unofficial images", with("cloud_projects", "1", "cloud_vms", "3", "cloud_official_images", ""), http.StatusUnprocessableEntity, "公式 AlmaLinux イメージ"},
		{"nothing", with(), http.StatusUnprocessableEntity, "AlmaLinux が稼働する台数が入力されていません"},
		{"platform with 4 VMs", with("hv_hosts", "1", "hv_vms", "4", "prefer", "platform"), http.StatusUnprocessableEntity, "5 台以上の場合にご利用いただけます (この構成は 4 台)"},
		{"a bad prefer", with("physical", "1", "prefer", "cheap"), http.StatusUnprocessableEntity, "この構成ではお見積りできません"},
		{"a negative count", with("physical", "-1"), http.StatusBadRequest, "0 から 100000 までの整数"},
		{"not a number", with("physical", "two"), http.StatusBadRequest, "0 から 100000 までの整数"},
		{"a bad date", with("physical", "1", "signed", "15/12/2026"), http.StatusBadRequest, "ご契約予定日を正しく"},
	}
	for _, tc := range cases {
		resp, body := f.do(c, "POST", "/quote", tc.form)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.want) || !strings.Contains(body, `role="alert"`) ||
			!strings.Contains(body, `action="/quote"`) {
			t.Errorf("%s = %d, want %d with %q", tc.name, resp.StatusCode, tc.status, tc.want)
		}
	}
	resp, body := f.do(c, "POST", "/quote", with("hv_vms", "3"), "Accept-Language", "en")
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "no hosts") {
		t.Errorf("English refusal = %d", resp.StatusCode)
	}
}

// TestQuoteRulesTranslated: every kind of line the quote package writes has
// its rule in the catalogs, so no page shows the package's English in
// Japanese.
func TestQuoteRulesTranslated(t *testing.T) {
	systems := []quote.System{
		{Physical: 1},
		{Physical: 1, Hypervisor: &quote.Hypervisor{Hosts: 1, AlmaLinuxHost: true, VMs: 2}},
		{Physical: 1, Hypervisor: &quote.Hypervisor{Hosts: 1, AlmaLinuxHost: true, VMs: 5}},
		{Physical: 1, Hypervisor: &quote.Hypervisor{Hosts: 2, VMs: 9}, Cloud: &quote.Cloud{Projects: 1, VMs: 6, OfficialImages: true}},
	}
	seen := map[string]bool{}
	for _, s := range systems {
		s.Name = "s"
		q, err := quote.Compute(quote.Input{Signed: "2026-12-15", Systems: []quote.System{s}}, quote.DefaultPrices)
		must(t, err)
		lines := q.Systems[0].Lines
		for _, alt := range q.Systems[0].Alternatives {
			lines = append(lines, alt.Lines...)
		}
		for _, l := range lines {
			seen[l.Rule] = true
		}
	}
	known := map[string]bool{}
	for _, r := range quoteRules {
		known[r.rule] = true
	}
	for rule := range seen {
		if !known[rule] {
			t.Errorf("the quote rule %q has no translation in quoteRules", rule)
		}
	}
	if len(seen) != len(quoteRules) {
		t.Errorf("the systems produced %d kinds of rule, quoteRules has %d", len(seen), len(quoteRules))
	}
	cats, err := loadCatalogs()
	must(t, err)
	for _, r := range quoteRules {
		for _, lang := range Langs {
			if cats[lang][r.key] == "" {
				t.Errorf("%s is missing from %s.toml", r.key, lang)
			}
		}
	}
}
