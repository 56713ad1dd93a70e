// Package quote counts and prices AlmaLinux support subscriptions for a
// described system by the rules of the AlmaLinux support menu (PRODUCT.md
// §8): Standard for physical servers, Standard for virtual machines, and the
// virtualisation-platform subscription per host (or per public-cloud
// project) with unlimited VMs. It is pure: a quote is computed from the
// input and a price table, every line says which rule produced it, and the
// option not chosen is returned as the alternative.
package quote

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
)

// Subscriptions, as they appear in quote lines.
const (
	StandardPhysical = "standard-physical"
	StandardVirtual  = "standard-virtual"
	Platform         = "platform"
)

// Choices of a system.
const (
	ChoiceStandard = "standard"
	ChoicePlatform = "platform"
)

// Prices is the vendor's price table (JPY per year, before tax) and the
// platform threshold. Defaults are the seed's.
type Prices struct {
	StandardPhysical int `json:"standard_physical"`
	StandardVirtual  int `json:"standard_virtual"`
	Platform         int `json:"platform"`
	// PlatformMinVMs is the fewest AlmaLinux VMs in a system for the
	// platform subscription to be sold.
	PlatformMinVMs int `json:"platform_min_vms"`
}

// DefaultPrices are the AlmaLinux support menu's list prices.
var DefaultPrices = Prices{StandardPhysical: 84000, StandardVirtual: 48000, Platform: 240000, PlatformMinVMs: 5}

// Input is a quote request: one or more systems and the signing date.
type Input struct {
	Signed  string   `json:"signed"` // YYYY-MM-DD
	Systems []System `json:"systems"`
}

// System is one system to count. Every count is "at most at the same
// time": HA/FT standby nodes included, VMs that move between hosts counted
// once, autoscaling at its maximum.
type System struct {
	Name       string      `json:"name"`
	Physical   int         `json:"physical"` // physical servers running AlmaLinux directly
	Hypervisor *Hypervisor `json:"hypervisor,omitempty"`
	Cloud      *Cloud      `json:"cloud,omitempty"`
	Prefer     string      `json:"prefer,omitempty"` // cheapest (default), standard or platform
}

// Hypervisor is a virtualisation platform (VMware, Hyper-V, or AlmaLinux KVM).
type Hypervisor struct {
	Hosts         int  `json:"hosts"`          // physical hosts that may run an AlmaLinux guest
	AlmaLinuxHost bool `json:"almalinux_host"` // the hosts themselves run AlmaLinux (KVM)
	VMs           int  `json:"vms"`            // AlmaLinux guests running at the same time, at most
}

// Cloud is a public cloud.
type Cloud struct {
	Projects       int  `json:"projects"` // resource groups / projects holding AlmaLinux VMs
	VMs            int  `json:"vms"`      // at most at the same time (autoscaling at its maximum)
	OfficialImages bool `json:"official_images"`
}

// Line is one subscription of a quote.
type Line struct {
	Subscription string `json:"subscription"`
	Count        int    `json:"count"`
	UnitPrice    int    `json:"unit_price"`
	Amount       int    `json:"amount"`
	Rule         string `json:"rule"`
}

// Option is one way of covering a system.
type Option struct {
	Choice string `json:"choice"`
	Lines  []Line `json:"lines"`
	Amount int    `json:"amount"`
}

// SystemQuote is a system's chosen option and the alternative.
type SystemQuote struct {
	Name         string   `json:"name"`
	Choice       string   `json:"choice"`
	Lines        []Line   `json:"lines"`
	Amount       int      `json:"amount"`
	Why          string   `json:"why"`
	Alternatives []Option `json:"alternatives"`
}

// Quote is the answer: when support starts, each system, and the total.
type Quote struct {
	SupportStart string        `json:"support_start"`
	Systems      []SystemQuote `json:"systems"`
	Total        int           `json:"total"`
}

// Parse reads a quote request in YAML or JSON (unknown fields refused).
func Parse(name string, data []byte) (Input, error) {
	var in Input
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return in, errs.E(errs.Invalid, "%s is empty: describe the systems in YAML (signed:, systems:)", name)
	}
	js := trimmed
	if trimmed[0] != '{' {
		var err error
		if js, err = yaml.YAMLToJSON(trimmed); err != nil {
			return in, errs.E(errs.Invalid, "%s is neither valid YAML nor JSON: %v", name, err)
		}
	}
	d := json.NewDecoder(bytes.NewReader(js))
	d.DisallowUnknownFields()
	if err := d.Decode(&in); err != nil {
		return in, errs.E(errs.Invalid, "%s: %v (fields: signed, systems: name, physical, hypervisor {hosts, almalinux_host, vms}, cloud {projects, vms, official_images}, prefer)", name, err)
	}
	return in, nil
}

// ParsePrices reads a price table; fields left out keep their defaults.
func ParsePrices(name string, data []byte) (Prices, error) {
	p := DefaultPrices
	js, err := yaml.YAMLToJSON(data)
	if err == nil {
		d := json.NewDecoder(bytes.NewReader(js))
		d.DisallowUnknownFields()
		err = d.Decode(&p)
	}
	if err != nil {
		return p, errs.E(errs.Invalid, "%s: %v (fields: standard_physical, standard_virtual, platform, platform_min_vms)", name, err)
	}
	if p.StandardPhysical < 0 || p.StandardVirtual < 0 || p.Platform < 0 || p.PlatformMinVMs < 1 {
		return p, errs.E(errs.Invalid, "%s: prices must not be negative and platform_min_vms must be at least 1", name)
	}
	return p, nil
}

// SupportStart is the first day of the month after the month of signing.
func SupportStart(signed string) (string, error) {
	t, err := entitle.ParseDate(signed)
	if err != nil {
		return "", errs.E(errs.Invalid, "signed: %q is not a date: write it as YYYY-MM-DD", signed)
	}
	first := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, entitle.Tokyo).AddDate(0, 1, 0)
	return first.Format(entitle.DateLayout), nil
}

// Compute quotes every system. A system that cannot be supported as asked
// is refused with an Invalid error naming it and the rule.
func Compute(in Input, p Prices) (Quote, error) {
	var q Quote
	var err error
	if q.SupportStart, err = SupportStart(in.Signed); err != nil {
		return q, err
	}
	if len(in.Systems) == 0 {
		return q, errs.E(errs.Invalid, "the quote describes no system: add at least one under systems:")
	}
	seen := map[string]bool{}
	for i, s := range in.Systems {
		if strings.TrimSpace(s.Name) == "" {
			s.Name = fmt.Sprintf("system %d", i+1)
		}
		if seen[s.Name] {
			return q, errs.E(errs.Invalid, "two systems are called %q: give each a name of its own", s.Name)
		}
		seen[s.Name] = true
		sq, err := system(s, p)
		if err != nil {
			return q, err
		}
		q.Systems = append(q.Systems, sq)
		q.Total += sq.Amount
	}
	return q, nil
}

func system(s System, p Prices) (SystemQuote, error) {
	refuse := func(format string, args ...any) (SystemQuote, error) {
		return SystemQuote{}, errs.E(errs.Invalid, "system %q cannot be supported as described: "+format, append([]any{s.Name}, args...)...)
	}
	hv, cl := s.Hypervisor, s.Cloud
	if hv == nil {
		hv = &Hypervisor{}
	}
	if cl == nil {
		cl = &Cloud{OfficialImages: true}
	}
	if s.Physical < 0 || hv.Hosts < 0 || hv.VMs < 0 || cl.Projects < 0 || cl.VMs < 0 {
		return refuse("counts cannot be negative")
	}
	if hv.VMs > 0 && hv.Hosts == 0 {
		return refuse("the hypervisor has %d AlmaLinux VMs but no hosts: give hypervisor.hosts, every physical host that may run an AlmaLinux guest", hv.VMs)
	}
	if cl.VMs > 0 && cl.Projects == 0 {
		return refuse("the cloud has %d AlmaLinux VMs but no projects: give cloud.projects (resource groups / projects holding them)", cl.VMs)
	}
	if cl.VMs > 0 && !cl.OfficialImages {
		return refuse("only the official AlmaLinux images of each public cloud are supported; rebuild the VMs from the official images")
	}
	if s.Physical+hv.VMs+cl.VMs == 0 && !(hv.AlmaLinuxHost && hv.Hosts > 0) {
		return refuse("it runs no AlmaLinux: give physical, hypervisor or cloud counts")
	}
	prefer := s.Prefer
	if prefer == "" {
		prefer = "cheapest"
	}
	if prefer != "cheapest" && prefer != ChoiceStandard && prefer != ChoicePlatform {
		return refuse("prefer is %q, not cheapest, standard or platform", prefer)
	}

	line := func(sub string, count, unit int, rule string) Line {
		return Line{Subscription: sub, Count: count, UnitPrice: unit, Amount: count * unit, Rule: rule}
	}
	physRule := "one Standard for physical per physical server running AlmaLinux; HA/FT standby nodes count too"
	var standard Option
	standard.Choice = ChoiceStandard
	if s.Physical > 0 {
		standard.Lines = append(standard.Lines, line(StandardPhysical, s.Physical, p.StandardPhysical, physRule))
	}
	if hv.AlmaLinuxHost && hv.Hosts > 0 {
		standard.Lines = append(standard.Lines, line(StandardPhysical, hv.Hosts, p.StandardPhysical,
			"AlmaLinux as the KVM host: each host needs Standard for physical besides its guests' Standard for virtual"))
	}
	if hv.VMs > 0 {
		standard.Lines = append(standard.Lines, line(StandardVirtual, hv.VMs, p.StandardVirtual,
			"one Standard for virtual per AlmaLinux guest, counted by the most running at the same time (vMotion/VM-HA moves count once, standby guests count), whatever the number of hypervisor hosts"))
	}
	if cl.VMs > 0 {
		standard.Lines = append(standard.Lines, line(StandardVirtual, cl.VMs, p.StandardVirtual,
			"one Standard for virtual per public-cloud VM from an official image, autoscaling counted at the most that can run at once"))
	}
	standard.Amount = sum(standard.Lines)

	vms := hv.VMs + cl.VMs
	var platform *Option
	if vms >= p.PlatformMinVMs {
		o := Option{Choice: ChoicePlatform}
		if s.Physical > 0 {
			o.Lines = append(o.Lines, line(StandardPhysical, s.Physical, p.StandardPhysical,
				physRule+" (servers outside the virtualisation platform)"))
		}
		if hv.Hosts > 0 && hv.VMs > 0 {
			rule := "the platform subscription: one per physical host that may run an AlmaLinux guest, any number of VMs (5 or more AlmaLinux VMs; not mixed with Standard for virtual)"
			if hv.AlmaLinuxHost {
				rule += "; for AlmaLinux KVM hosts it replaces Standard for physical + Standard for virtual"
			}
			o.Lines = append(o.Lines, line(Platform, hv.Hosts, p.Platform, rule))
		}
		if cl.VMs > 0 {
			o.Lines = append(o.Lines, line(Platform, cl.Projects, p.Platform,
				"the platform subscription in a public cloud: one per resource group / project holding AlmaLinux VMs"))
		}
		o.Amount = sum(o.Lines)
		platform = &o
	}

	var chosen Option
	var alt []Option
	var why string
	switch {
	case prefer == ChoicePlatform && platform == nil:
		return refuse("the platform subscription needs %d or more AlmaLinux VMs in the system, and it has %d: quote it with Standard (prefer: standard or cheapest)", p.PlatformMinVMs, vms)
	case prefer == ChoicePlatform:
		chosen, alt, why = *platform, []Option{standard}, "platform, as asked (prefer: platform)"
	case prefer == ChoiceStandard || platform == nil:
		chosen, why = standard, "Standard, as asked (prefer: standard)"
		if platform == nil {
			why = fmt.Sprintf("Standard: the platform subscription needs %d or more AlmaLinux VMs and the system has %d", p.PlatformMinVMs, vms)
		} else {
			alt = []Option{*platform}
		}
	case platform.Amount <= standard.Amount:
		// On a tie the platform wins: it keeps covering VMs added later.
		chosen, alt, why = *platform, []Option{standard}, "the platform subscription costs the same or less, and covers any number of VMs"
	default:
		chosen, alt, why = standard, []Option{*platform}, "Standard costs less than the platform subscription"
	}
	if alt == nil {
		alt = []Option{}
	}
	return SystemQuote{Name: s.Name, Choice: chosen.Choice, Lines: chosen.Lines, Amount: chosen.Amount, Why: why, Alternatives: alt}, nil
}

func sum(lines []Line) int {
	n := 0
	for _, l := range lines {
		n += l.Amount
	}
	return n
}
