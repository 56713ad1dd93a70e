package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMachineIdentity(t *testing.T) {
	const id = "0123456789abcdef0123456789abcdef"
	sum := sha256.Sum256([]byte("enmei-machine-id:" + id))
	digest := hex.EncodeToString(sum[:])
	tests := []struct {
		name    string
		content *string // nil: no file
		want    string  // "" : an error
	}{
		{"missing", nil, ""},
		{"empty", ptr(""), ""},
		{"blank line", ptr("\n"), ""},
		{"uninitialized", ptr("uninitialized\n"), ""},
		{"with newline", ptr(id + "\n"), digest},
		{"without newline", ptr(id), digest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if tt.content != nil {
				writeFile(t, filepath.Join(root, "etc/machine-id"), *tt.content)
			}
			got, err := MachineIdentity(root)
			if tt.want == "" {
				if err == nil || !strings.Contains(err.Error(), "systemd-machine-id-setup") {
					t.Errorf("MachineIdentity = %q, %v; want an error telling to run systemd-machine-id-setup", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("MachineIdentity = %q, %v; want %q", got, err, tt.want)
			}
			if strings.Contains(got, id) {
				t.Error("the identity reveals the raw machine ID")
			}
		})
	}
}

func TestHostname(t *testing.T) {
	root := t.TempDir()
	want, _ := os.Hostname()
	if got := hostname(root); got != want {
		t.Errorf("without etc/hostname: %q, want os.Hostname() %q", got, want)
	}
	writeFile(t, filepath.Join(root, "etc/hostname"), "# comment\n  web01.example.jp \n")
	if got := hostname(root); got != "web01.example.jp" {
		t.Errorf("hostname = %q, want web01.example.jp", got)
	}
}

func ptr(s string) *string { return &s }
