package agent

import (
	"context"
	"os/exec"
	"strings"
	"time"
)

// hostVirt is what systemd-detect-virt answers: "none" on bare metal, the
// hypervisor or container technology otherwise ("kvm", "vmware", "docker",
// …), "" when it cannot tell (the tool missing). A virtual subscription
// refuses bare metal, and a platform contract seats only bare metal, so
// the server needs the answer. ENMEI_DETECT_VIRT names another command
// printing the same (tests play another machine with it).
func hostVirt(ctx context.Context, env func(string) string) string {
	name := strings.TrimSpace(env("ENMEI_DETECT_VIRT"))
	if name == "" {
		name = "systemd-detect-virt"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// It exits 1 when it prints "none": the output is the answer.
	out, _ := exec.CommandContext(ctx, name).Output()
	v := strings.TrimSpace(string(out))
	if strings.ContainsAny(v, " \t\n/") || len(v) > 32 {
		return ""
	}
	return v
}
