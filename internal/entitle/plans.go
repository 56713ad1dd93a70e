package entitle

import (
	"time"

	"github.com/enmei-project/enmei/internal/errs"
)

// The AlmaLinux support menu's subscriptions (PRODUCT.md §8): physical and
// virtual seats register like servers; a platform contract counts the
// physical hosts, and any number of its VMs register under it.
const (
	PlanPhysical = "physical"
	PlanVirtual  = "virtual"
	PlanPlatform = "platform"
)

// BareMetal is what systemd-detect-virt prints on a physical machine.
const BareMetal = "none"

// CheckVirt refuses a host the contract's plan does not cover: a virtual
// subscription covers virtual machines, not bare metal. An unknown answer
// ("", the tool missing) is not refused.
func CheckVirt(c Contract, virt string) error {
	if c.Plan == PlanVirtual && virt == BareMetal {
		return errs.E(errs.Entitlement, "contract %s is a subscription for virtual machines, and this host is bare metal (systemd-detect-virt: none): register it with a physical or platform subscription's key", c.SupportID)
	}
	return nil
}

// SeatCounted reports whether a host takes a seat: every host does, except
// the virtual machines of a platform contract (its quantity is the hosts).
func SeatCounted(c Contract, virt string) bool {
	return !(c.Plan == PlanPlatform && virt != "" && virt != BareMetal)
}

// CheckUpdates refuses repository access that the plan does not include: a
// platform contract gives technical support only in a product's extended
// phase, unless it has the ELS updates option.
func CheckUpdates(c Contract, l Lifecycle, now time.Time) error {
	if c.Plan != PlanPlatform || c.ELSUpdates {
		return nil
	}
	if p := PhaseAt(l, now); p.Name == PhaseExtended {
		return errs.E(errs.Entitlement, "contract %s is a virtualisation-platform subscription: in the extended support phase it includes technical support only, and updates need the ELS updates option (ask your vendor to add it)", c.SupportID)
	}
	return nil
}
