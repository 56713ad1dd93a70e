package entitle

import (
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
)

func TestPlans(t *testing.T) {
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, Tokyo)
	extended := Lifecycle{FullUntil: "2027-05-31", SecurityUntil: "2029-05-31", ExtendedUntil: "2035-05-31"}
	security := Lifecycle{FullUntil: "2027-05-31", SecurityUntil: "2032-05-31", ExtendedUntil: "2035-05-31"}
	for _, tc := range []struct {
		plan, virt string
		els        bool
		l          Lifecycle
		virtOK     bool
		counted    bool
		updatesOK  bool
	}{
		{"virtual", "none", false, extended, false, true, true},
		{"virtual", "kvm", false, extended, true, true, true},
		{"virtual", "", false, extended, true, true, true}, // unknown: not refused
		{"physical", "none", false, extended, true, true, true},
		{"server", "kvm", false, extended, true, true, true},
		{"platform", "none", false, security, true, true, true},
		{"platform", "vmware", false, security, true, false, true},
		{"platform", "", false, security, true, true, true},
		{"platform", "kvm", false, extended, true, false, false},
		{"platform", "kvm", true, extended, true, false, true},
	} {
		c := Contract{SupportID: "ENM-P", Plan: tc.plan, ELSUpdates: tc.els}
		err := CheckVirt(c, tc.virt)
		if (err == nil) != tc.virtOK || (err != nil && !errs.Is(err, errs.Entitlement)) {
			t.Errorf("%+v: CheckVirt = %v", tc, err)
		}
		if got := SeatCounted(c, tc.virt); got != tc.counted {
			t.Errorf("%+v: SeatCounted = %v", tc, got)
		}
		err = CheckUpdates(c, tc.l, now)
		if (err == nil) != tc.updatesOK {
			t.Errorf("%+v: CheckUpdates = %v", tc, err)
		}
	}
}
