// Package csafcheck runs the real csaf_checker (github.com/gocsaf/csaf/v3,
// v3.7.0) against a CSAF provider in tests and fails the test on any error in
// a requirement a csaf_provider must meet. The checker is installed by the
// project's test script; a missing binary fails, never skips.
package csafcheck

import (
	"context"
	"encoding/json"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const checkerInstall = "GOFLAGS=-mod=mod go install github.com/gocsaf/csaf/v3/cmd/csaf_checker@v3.7.0 (from a directory outside the module)"

// checkerPath finds csaf_checker on PATH, in GOBIN or in GOPATH/bin.
func checkerPath() string {
	if p, err := exec.LookPath("csaf_checker"); err == nil {
		return p
	}
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	for _, gp := range filepath.SplitList(build.Default.GOPATH) {
		dirs = append(dirs, filepath.Join(gp, "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "csaf_checker")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

type checkerReport struct {
	Domains []struct {
		Name         string `json:"name"`
		Passed       bool   `json:"passed"`
		Role         string `json:"role"`
		Requirements []struct {
			Num         int    `json:"num"`
			Description string `json:"description"`
			Messages    []struct {
				Type int    `json:"type"`
				Text string `json:"text"`
			} `json:"messages"`
		} `json:"requirements"`
	} `json:"domains"`
}

// Requirements a csaf_provider may fail because it meets an alternative:
// 10 (DNS path) is one of 8–10 and this provider meets 8 and 9; 15–17
// (ROLIE) are the alternative to the directory-based distribution 11–14.
var alternatives = map[int]bool{10: true, 15: true, 16: true, 17: true}

// Check runs csaf_checker against the provider at host ("127.0.0.1:PORT",
// served over HTTPS with a certificate the checker is told not to verify)
// and fails t on any error in a requirement it must meet.
func Check(t testing.TB, host string) {
	t.Helper()
	bin := checkerPath()
	if bin == "" {
		t.Fatalf("csaf_checker is not installed; install it with: %s", checkerInstall)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "report.json")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--insecure", "--client_timeout", "30s", "-f", "json", "-o", out, host)
	// No user configuration: HOME and the working directory are empty.
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir)
	logs, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("csaf_checker: %v\n%s", err, logs)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("csaf_checker wrote no report: %v\n%s", err, logs)
	}
	var rep checkerReport
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, data)
	}
	if len(rep.Domains) != 1 {
		t.Fatalf("report has %d domains:\n%s", len(rep.Domains), data)
	}
	d := rep.Domains[0]
	if d.Role != "csaf_provider" {
		t.Errorf("role %q", d.Role)
	}
	seen := map[int]bool{}
	for _, r := range d.Requirements {
		seen[r.Num] = true
		verdict := "pass"
		var msgs []string
		for _, m := range r.Messages {
			kind := [...]string{"info", "warn", "ERROR"}[min(max(m.Type, 0), 2)]
			msgs = append(msgs, kind+": "+m.Text)
			if m.Type == 2 {
				verdict = "ERROR"
			} else if m.Type == 1 && verdict == "pass" {
				verdict = "warn"
			}
		}
		t.Logf("requirement %2d %-45s %s\n\t%s", r.Num, r.Description, verdict, strings.Join(msgs, "\n\t"))
		if verdict == "ERROR" && !alternatives[r.Num] {
			t.Errorf("requirement %d (%s) failed: %s", r.Num, r.Description, strings.Join(msgs, "; "))
		}
	}
	for n := 1; n <= 20; n++ {
		if !seen[n] && !alternatives[n] {
			t.Errorf("requirement %d was not checked", n)
		}
	}
	if !d.Passed {
		t.Errorf("csaf_checker does not pass the domain as a csaf_provider:\n%s", data)
	}
}
