package quote

import (
	"fmt"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/errs"
)

// lines renders a system's lines as "sub×count" for comparison.
func lines(ls []Line) string {
	var out []string
	for _, l := range ls {
		out = append(out, fmt.Sprintf("%s×%d", l.Subscription, l.Count))
	}
	return strings.Join(out, " + ")
}

// TestSeedExamples: every legible example of the AlmaLinux support menu's
// purchase guide (seed 002), as a table case.
func TestSeedExamples(t *testing.T) {
	cases := []struct {
		name   string
		s      System
		choice string
		want   string
		amount int
	}{
		{"physical servers", System{Physical: 1}, ChoiceStandard, "standard-physical×1", 84000},
		{"physical HA/FT cluster: the standby counts", System{Physical: 2}, ChoiceStandard, "standard-physical×2", 168000},
		{"3 guests on VMware/Hyper-V", System{Hypervisor: &Hypervisor{Hosts: 1, VMs: 3}}, ChoiceStandard, "standard-virtual×3", 144000},
		{"4 guests over several hypervisor hosts count by guests", System{Hypervisor: &Hypervisor{Hosts: 2, VMs: 4}}, ChoiceStandard, "standard-virtual×4", 192000},
		{"5 or more guests on one host: the platform, one per host", System{Hypervisor: &Hypervisor{Hosts: 1, VMs: 5}}, ChoicePlatform, "platform×1", 240000},
		{"2 guests: platform not available, Standard for virtual", System{Hypervisor: &Hypervisor{Hosts: 1, VMs: 2}}, ChoiceStandard, "standard-virtual×2", 96000},
		{"AlmaLinux KVM host with guests: physical + virtual", System{Hypervisor: &Hypervisor{Hosts: 1, AlmaLinuxHost: true, VMs: 2}}, ChoiceStandard, "standard-physical×1 + standard-virtual×2", 180000},
		{"AlmaLinux KVM with 5 guests: the platform replaces physical + virtual", System{Hypervisor: &Hypervisor{Hosts: 1, AlmaLinuxHost: true, VMs: 5}}, ChoicePlatform, "platform×1", 240000},
		{"public cloud, 3 VMs", System{Cloud: &Cloud{Projects: 1, VMs: 3, OfficialImages: true}}, ChoiceStandard, "standard-virtual×3", 144000},
		{"public cloud platform: one per resource group", System{Cloud: &Cloud{Projects: 2, VMs: 6, OfficialImages: true}, Prefer: "platform"}, ChoicePlatform, "platform×2", 480000},
		{"VM cluster: 2 guests, standby included", System{Hypervisor: &Hypervisor{Hosts: 2, VMs: 2}}, ChoiceStandard, "standard-virtual×2", 96000},
		{"2 guests and 1 physical server", System{Physical: 1, Hypervisor: &Hypervisor{Hosts: 1, VMs: 2}}, ChoiceStandard, "standard-physical×1 + standard-virtual×2", 180000},
		{"vMotion/VM-HA: the most guests running at once", System{Hypervisor: &Hypervisor{Hosts: 2, VMs: 2}}, ChoiceStandard, "standard-virtual×2", 96000},
		{"VM moves on the platform: every host that may run a guest", System{Hypervisor: &Hypervisor{Hosts: 2, VMs: 6}, Prefer: "platform"}, ChoicePlatform, "platform×2", 480000},
		{"autoscale ①: the most that can run at once", System{Cloud: &Cloud{Projects: 1, VMs: 4, OfficialImages: true}}, ChoiceStandard, "standard-virtual×4", 192000},
		// The seed's caption says 「仮想 x 2本」; its rule and figure mean the platform.
		{"autoscale ②: the platform per resource group", System{Cloud: &Cloud{Projects: 2, VMs: 8, OfficialImages: true}, Prefer: "platform"}, ChoicePlatform, "platform×2", 480000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.s.Name = "s"
			q, err := Compute(Input{Signed: "2026-12-15", Systems: []System{c.s}}, DefaultPrices)
			if err != nil {
				t.Fatal(err)
			}
			got := q.Systems[0]
			if got.Choice != c.choice || lines(got.Lines) != c.want || got.Amount != c.amount || q.Total != c.amount {
				t.Errorf("got %s %s = %d (total %d), want %s %s = %d", got.Choice, lines(got.Lines), got.Amount, q.Total, c.choice, c.want, c.amount)
			}
			for _, l := range got.Lines {
				if l.Rule == "" || l.Amount != l.Count*l.UnitPrice {
					t.Errorf("line %+v: no rule or a wrong amount", l)
				}
			}
		})
	}
}

func TestChoicesAndAlternatives(t *testing.T) {
	// 7 VMs on 3 hosts: platform 720,000 vs virtual 336,000 → Standard, platform as the alternative.
	s := System{Name: "core", Physical: 2, Hypervisor: &Hypervisor{Hosts: 3, VMs: 7}}
	q, err := Compute(Input{Signed: "2026-12-15", Systems: []System{s}}, DefaultPrices)
	if err != nil {
		t.Fatal(err)
	}
	got := q.Systems[0]
	if got.Choice != ChoiceStandard || got.Amount != 2*84000+7*48000 || len(got.Alternatives) != 1 ||
		got.Alternatives[0].Choice != ChoicePlatform || got.Alternatives[0].Amount != 2*84000+3*240000 {
		t.Errorf("quote = %+v", got)
	}
	if q.SupportStart != "2027-01-01" {
		t.Errorf("support start = %s, want the 1st of the month after signing", q.SupportStart)
	}
	// prefer: standard where the platform is cheaper.
	s = System{Name: "big", Hypervisor: &Hypervisor{Hosts: 1, VMs: 20}, Prefer: "standard"}
	q, _ = Compute(Input{Signed: "2026-01-31", Systems: []System{s}}, DefaultPrices)
	if got := q.Systems[0]; got.Choice != ChoiceStandard || got.Amount != 20*48000 || got.Alternatives[0].Amount != 240000 {
		t.Errorf("prefer standard = %+v", got)
	}
	if q.SupportStart != "2026-02-01" {
		t.Errorf("support start = %s", q.SupportStart)
	}
	// Several systems add up; a vendor price table applies.
	prices := DefaultPrices
	prices.StandardVirtual = 50000
	q, err = Compute(Input{Signed: "2026-12-01", Systems: []System{{Name: "a", Physical: 1}, {Name: "b", Cloud: &Cloud{Projects: 1, VMs: 2, OfficialImages: true}}}}, prices)
	if err != nil || q.Total != 84000+2*50000 || len(q.Systems) != 2 {
		t.Errorf("two systems = %+v, %v", q, err)
	}
}

func TestRefusals(t *testing.T) {
	cases := []struct {
		name string
		in   Input
		want string
	}{
		{"platform with fewer than 5 VMs", Input{Signed: "2026-12-15", Systems: []System{{Name: "s", Hypervisor: &Hypervisor{Hosts: 1, VMs: 4}, Prefer: "platform"}}}, "5 or more"},
		{"unofficial cloud images", Input{Signed: "2026-12-15", Systems: []System{{Name: "s", Cloud: &Cloud{Projects: 1, VMs: 3}}}}, "official"},
		{"VMs without hosts", Input{Signed: "2026-12-15", Systems: []System{{Name: "s", Hypervisor: &Hypervisor{VMs: 3}}}}, "hosts"},
		{"no AlmaLinux", Input{Signed: "2026-12-15", Systems: []System{{Name: "s"}}}, "no AlmaLinux"},
		{"negative", Input{Signed: "2026-12-15", Systems: []System{{Name: "s", Physical: -1}}}, "negative"},
		{"bad prefer", Input{Signed: "2026-12-15", Systems: []System{{Name: "s", Physical: 1, Prefer: "cheap"}}}, "prefer"},
		{"bad date", Input{Signed: "15/12/2026", Systems: []System{{Name: "s", Physical: 1}}}, "YYYY-MM-DD"},
		{"no systems", Input{Signed: "2026-12-15"}, "no system"},
		{"same name twice", Input{Signed: "2026-12-15", Systems: []System{{Name: "s", Physical: 1}, {Name: "s", Physical: 1}}}, "two systems"},
	}
	for _, c := range cases {
		_, err := Compute(c.in, DefaultPrices)
		if !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an Invalid error mentioning %q", c.name, err, c.want)
		}
	}
}

func TestParse(t *testing.T) {
	in, err := Parse("q.yaml", []byte(`signed: 2026-12-15
systems:
  - name: core
    physical: 2
    hypervisor: {hosts: 3, almalinux_host: false, vms: 7}
    cloud: {projects: 2, vms: 4, official_images: true}
    prefer: cheapest
`))
	if err != nil || in.Signed != "2026-12-15" || len(in.Systems) != 1 || in.Systems[0].Hypervisor.VMs != 7 || !in.Systems[0].Cloud.OfficialImages {
		t.Fatalf("Parse = %+v, %v", in, err)
	}
	if _, err := Parse("q.yaml", []byte("signed: 2026-12-15\nsystems:\n  - name: x\n    phisical: 2\n")); err == nil || !strings.Contains(err.Error(), "phisical") {
		t.Errorf("a misspelt field = %v", err)
	}
	if _, err := Parse("q.yaml", nil); err == nil {
		t.Error("an empty file parsed")
	}
	p, err := ParsePrices("p.yaml", []byte("standard_virtual: 50000\n"))
	if err != nil || p.StandardVirtual != 50000 || p.Platform != DefaultPrices.Platform {
		t.Errorf("ParsePrices = %+v, %v", p, err)
	}
	if _, err := ParsePrices("p.yaml", []byte("platform_min_vms: 0\n")); err == nil {
		t.Error("a platform threshold of 0 was accepted")
	}
}
