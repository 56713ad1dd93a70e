package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Runner runs a cluster tool and returns its standard output. A tool that
// fails returns a *ToolError carrying its standard error.
type Runner interface {
	Run(ctx context.Context, name string, args ...string) (stdout []byte, err error)
}

// ExecRunner runs tools as processes, with Env added to enmei's own
// environment (later entries win, so CIB_file=… in Env overrides one
// inherited).
type ExecRunner struct {
	Env []string
}

// waitDelay bounds how long Run waits for the output pipes after the tool
// was killed: crm_standby is a shell script whose crm_attribute child would
// otherwise keep them open.
const waitDelay = 2 * time.Second

// Run runs name with args. When ctx ends the tool's whole process group is
// killed, so a hung tool (or its children) cannot outlive the caller's
// timeout.
func (r ExecRunner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), r.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != syscall.ESRCH {
			return err
		}
		return os.ErrProcessDone
	}
	cmd.WaitDelay = waitDelay
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err == nil {
		return stdout.Bytes(), nil
	}
	te := &ToolError{Cmd: commandLine(name, args), Code: -1, Stderr: oneLine(stderr.String()), Err: err}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		te.Code = ee.ExitCode()
	}
	if ctx.Err() != nil {
		te.Err = ctx.Err()
	}
	return stdout.Bytes(), te
}

// ToolError is a cluster tool that could not be run or exited non-zero.
type ToolError struct {
	Cmd    string // the command line, shortened
	Code   int    // exit code, -1 when it did not exit by itself
	Stderr string // its standard error on one line
	Err    error
}

func (e *ToolError) Error() string {
	msg := fmt.Sprintf("%s: %v", e.Cmd, e.Err)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

func (e *ToolError) Unwrap() error { return e.Err }

// exitCode is err's tool exit code, or -1.
func exitCode(err error) int {
	var te *ToolError
	if errors.As(err, &te) {
		return te.Code
	}
	return -1
}

// stderrOf is err's tool standard error, or "".
func stderrOf(err error) string {
	var te *ToolError
	if errors.As(err, &te) {
		return te.Stderr
	}
	return ""
}

// commandLine shows a command for an error message, with long arguments
// (XML, scripts) cut short.
func commandLine(name string, args []string) string {
	parts := []string{name}
	for _, a := range args {
		if len(a) > 60 {
			a = a[:57] + "..."
		}
		if strings.ContainsAny(a, " \t\n") {
			a = fmt.Sprintf("%q", a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// maxStderr bounds a tool's standard error in a message: a CIB that fails
// schema validation makes the tools print the same lines hundreds of times.
const maxStderr = 600

// oneLine joins s's distinct non-blank lines with "; ", shortened to
// maxStderr bytes.
func oneLine(s string) string {
	var out []string
	seen := map[string]bool{}
	for l := range strings.SplitSeq(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || seen[l] {
			continue
		}
		seen[l] = true
		out = append(out, l)
	}
	j := strings.Join(out, "; ")
	if len(j) > maxStderr {
		j = j[:maxStderr-3] + "..."
	}
	return j
}
