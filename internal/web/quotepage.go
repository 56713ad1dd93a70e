package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/quote"
)

// The quote page: anyone describes one system (physical servers, a
// virtualisation platform, a public cloud) and sees the AlmaLinux support
// subscriptions it needs at the list prices, with the rule behind each
// line and the option not chosen. The rules are the quote package's; this
// page only collects the counts and words the answer.

func (p *Portal) quoteRoutes(page func(string, http.HandlerFunc)) {
	page("GET /quote", p.quoteForm)
	page("POST /quote", p.quoteSubmit)
}

// QuoteForm is the quote form's values, as typed.
type QuoteForm struct {
	Signed        string
	Name          string
	Physical      string
	HVHosts       string
	HVAlmaLinux   bool
	HVVMs         string
	CloudProjects string
	CloudVMs      string
	Official      bool
	Prefer        string
}

// QuoteView is the quote page: the form and, once computed, the answer.
type QuoteView struct {
	Form   QuoteForm
	Result *QuoteResult
}

// QuoteResult is a computed quote in the reader's language.
type QuoteResult struct {
	Name         string
	SupportStart string
	Choice       string
	Why          string
	Lines        []QuoteLine
	Amount       string
	Total        string
	Alternatives []QuoteAlternative
}

// QuoteLine is one subscription of a quote.
type QuoteLine struct {
	Subscription string
	Count        int
	UnitPrice    string
	Amount       string
	Rule         string
}

// QuoteAlternative is the option not chosen.
type QuoteAlternative struct {
	Choice string
	Lines  []QuoteLine
	Amount string
}

// maxQuoteCount bounds every count of the form.
const maxQuoteCount = 100000

func (p *Portal) quoteForm(w http.ResponseWriter, r *http.Request) {
	v := &view{Title: "quote.title"}
	v.Data = QuoteView{Form: QuoteForm{Signed: p.cfg.Now().In(entitle.Tokyo).Format(entitle.DateLayout),
		Physical: "0", HVHosts: "0", HVVMs: "0", CloudProjects: "0", CloudVMs: "0", Official: true, Prefer: "cheapest"}}
	p.render(w, r, http.StatusOK, "quote", v)
}

func (p *Portal) quoteSubmit(w http.ResponseWriter, r *http.Request) {
	v := &view{Title: "quote.title", L: p.locale(r)}
	l := v.L
	f := QuoteForm{Signed: strings.TrimSpace(r.PostFormValue("signed")), Name: strings.TrimSpace(r.PostFormValue("name")),
		Physical: r.PostFormValue("physical"), HVHosts: r.PostFormValue("hv_hosts"), HVAlmaLinux: r.PostFormValue("hv_almalinux_host") != "",
		HVVMs: r.PostFormValue("hv_vms"), CloudProjects: r.PostFormValue("cloud_projects"), CloudVMs: r.PostFormValue("cloud_vms"),
		Official: r.PostFormValue("cloud_official_images") != "", Prefer: r.PostFormValue("prefer")}
	qv := QuoteView{Form: f}
	v.Data = &qv
	refuse := func(status int, msg string) {
		v.Error = msg
		p.render(w, r, status, "quote", v)
	}
	if len(f.Name) > 100 {
		refuse(http.StatusBadRequest, l.T("quote.name_long"))
		return
	}
	var counts [5]int
	for i, s := range []string{f.Physical, f.HVHosts, f.HVVMs, f.CloudProjects, f.CloudVMs} {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > maxQuoteCount {
			refuse(http.StatusBadRequest, l.T("quote.count_invalid", maxQuoteCount))
			return
		}
		counts[i] = n
	}
	if _, err := entitle.ParseDate(f.Signed); err != nil {
		refuse(http.StatusBadRequest, l.T("quote.signed_invalid"))
		return
	}
	prefer := f.Prefer
	if prefer == "" {
		prefer = "cheapest"
	}
	s := quote.System{Name: f.Name, Physical: counts[0], Prefer: prefer,
		Hypervisor: &quote.Hypervisor{Hosts: counts[1], AlmaLinuxHost: f.HVAlmaLinux, VMs: counts[2]},
		Cloud:      &quote.Cloud{Projects: counts[3], VMs: counts[4], OfficialImages: f.Official}}
	if s.Name == "" {
		s.Name = l.T("quote.default_name")
	}
	prices := quote.DefaultPrices
	q, err := quote.Compute(quote.Input{Signed: f.Signed, Systems: []quote.System{s}}, prices)
	if err != nil {
		refuse(http.StatusUnprocessableEntity, quoteRefusal(l, err, s, prices))
		return
	}
	sq := q.Systems[0]
	res := &QuoteResult{Name: sq.Name, SupportStart: q.SupportStart, Choice: quoteChoice(l, sq.Choice),
		Why: quoteWhy(l, sq, prefer, s, prices), Lines: quoteLines(l, sq.Lines), Amount: yen(sq.Amount), Total: yen(q.Total)}
	for _, alt := range sq.Alternatives {
		res.Alternatives = append(res.Alternatives, QuoteAlternative{Choice: quoteChoice(l, alt.Choice), Lines: quoteLines(l, alt.Lines),
			Amount: yen(alt.Amount)})
	}
	qv.Result = res
	p.render(w, r, http.StatusOK, "quote", v)
}

// yen writes an amount of yen with thousands separators.
func yen(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func quoteChoice(l *Locale, choice string) string {
	if choice == quote.ChoicePlatform {
		return l.T("quote.choice_platform")
	}
	return l.T("quote.choice_standard")
}

func quoteSubscription(l *Locale, sub string) string {
	switch sub {
	case quote.StandardPhysical:
		return l.T("quote.sub_physical")
	case quote.StandardVirtual:
		return l.T("quote.sub_virtual")
	case quote.Platform:
		return l.T("quote.sub_platform")
	}
	return sub
}

// quoteRules translates the quote package's rules: each rule it writes
// has a message here (a test computes every kind of line and checks). A
// rule without one is shown as the package wrote it.
var quoteRules = []struct{ rule, key string }{
	{"one Standard for physical per physical server running AlmaLinux; HA/FT standby nodes count too",
		"quote.rule_physical"},
	{"one Standard for physical per physical server running AlmaLinux; HA/FT standby nodes count too (servers outside the virtualisation platform)",
		"quote.rule_physical_outside"},
	{"AlmaLinux as the KVM host: each host needs Standard for physical besides its guests' Standard for virtual",
		"quote.rule_kvm_host"},
	{"one Standard for virtual per AlmaLinux guest, counted by the most running at the same time (vMotion/VM-HA moves count once, standby guests count), whatever the number of hypervisor hosts",
		"quote.rule_virtual"},
	{"one Standard for virtual per public-cloud VM from an official image, autoscaling counted at the most that can run at once",
		"quote.rule_cloud_virtual"},
	{"the platform subscription: one per physical host that may run an AlmaLinux guest, any number of VMs (5 or more AlmaLinux VMs; not mixed with Standard for virtual)",
		"quote.rule_platform"},
	{"the platform subscription: one per physical host that may run an AlmaLinux guest, any number of VMs (5 or more AlmaLinux VMs; not mixed with Standard for virtual); for AlmaLinux KVM hosts it replaces Standard for physical + Standard for virtual",
		"quote.rule_platform_kvm"},
	{"the platform subscription in a public cloud: one per resource group / project holding AlmaLinux VMs",
		"quote.rule_cloud_platform"},
}

func quoteRule(l *Locale, rule string) string {
	for _, r := range quoteRules {
		if r.rule == rule {
			return l.T(r.key)
		}
	}
	return rule
}

func quoteLines(l *Locale, ls []quote.Line) []QuoteLine {
	out := make([]QuoteLine, len(ls))
	for i, x := range ls {
		out[i] = QuoteLine{Subscription: quoteSubscription(l, x.Subscription), Count: x.Count, UnitPrice: yen(x.UnitPrice),
			Amount: yen(x.Amount), Rule: quoteRule(l, x.Rule)}
	}
	return out
}

// vmsOf is the AlmaLinux VMs of a system, as the platform threshold counts.
func vmsOf(s quote.System) int {
	n := 0
	if s.Hypervisor != nil {
		n += s.Hypervisor.VMs
	}
	if s.Cloud != nil {
		n += s.Cloud.VMs
	}
	return n
}

// quoteWhy says why the option was chosen.
func quoteWhy(l *Locale, sq quote.SystemQuote, prefer string, s quote.System, p quote.Prices) string {
	switch {
	case len(sq.Alternatives) == 0:
		return l.T("quote.why_no_platform", p.PlatformMinVMs, vmsOf(s))
	case prefer == quote.ChoicePlatform:
		return l.T("quote.why_platform_asked")
	case prefer == quote.ChoiceStandard:
		return l.T("quote.why_standard_asked")
	case sq.Choice == quote.ChoicePlatform:
		return l.T("quote.why_platform_cheaper")
	}
	return l.T("quote.why_standard_cheaper")
}

// quoteRefusal says why a system cannot be quoted, in the reader's
// language when the reason is one this page knows.
func quoteRefusal(l *Locale, err error, s quote.System, p quote.Prices) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "but no hosts"):
		return l.T("quote.refuse_no_hosts")
	case strings.Contains(msg, "but no projects"):
		return l.T("quote.refuse_no_projects")
	case strings.Contains(msg, "official AlmaLinux images"):
		return l.T("quote.refuse_unofficial")
	case strings.Contains(msg, "runs no AlmaLinux"):
		return l.T("quote.refuse_nothing")
	case strings.Contains(msg, "the platform subscription needs"):
		return l.T("quote.refuse_platform", p.PlatformMinVMs, vmsOf(s))
	}
	return l.T("quote.refused", msg)
}
