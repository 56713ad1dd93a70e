package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestQuoteCommand: enmeid quote prints the chosen option with its rules,
// --json has the documented shape, --prices applies the vendor's table,
// and an unsupportable system exits 1 with the reason.
func TestQuoteCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	q := write("q.yaml", "signed: 2026-12-15\nsystems:\n  - name: kvm\n    hypervisor: {hosts: 2, almalinux_host: true, vms: 12}\n")
	run := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := Main(context.Background(), append([]string{"--data", dir}, args...), func(string) string { return "" }, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	code, out, errOut := run("quote", q)
	if code != 0 || !strings.Contains(out, "kvm: platform, 480,000 JPY/year") || !strings.Contains(out, "replaces Standard for physical") ||
		!strings.Contains(out, "alternative: standard, 744,000") {
		t.Errorf("quote: exit %d\n%s%s", code, out, errOut)
	}
	var got struct {
		SupportStart string `json:"support_start"`
		Systems      []struct {
			Name, Choice string
			Lines        []map[string]any
			Amount       int
			Alternatives []struct {
				Choice string
				Amount int
			}
		}
		Total int
	}
	code, out, _ = run("--json", "quote", q, "--prices", write("p.yaml", "platform: 200000\n"))
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || got.SupportStart != "2027-01-01" || got.Total != 400000 ||
		got.Systems[0].Choice != "platform" || got.Systems[0].Alternatives[0].Amount != 2*84000+12*48000 {
		t.Errorf("quote --json --prices: exit %d %v\n%s", code, err, out)
	}
	for _, l := range got.Systems[0].Lines {
		for _, k := range []string{"subscription", "count", "unit_price", "amount", "rule"} {
			if _, ok := l[k]; !ok {
				t.Errorf("a line lacks %q: %v", k, l)
			}
		}
	}
	code, _, errOut = run("quote", write("bad.yaml", "signed: 2026-12-15\nsystems:\n  - name: c\n    cloud: {projects: 1, vms: 3, official_images: false}\n"))
	if code != 1 || !strings.Contains(errOut, "official") {
		t.Errorf("unofficial images: exit %d\n%s", code, errOut)
	}
}
