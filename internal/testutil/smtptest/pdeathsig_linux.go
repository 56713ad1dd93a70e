package smtptest

import (
	"os/exec"
	"syscall"
)

// setPdeathsig kills aiosmtpd should the test binary die without cleanup.
func setPdeathsig(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
