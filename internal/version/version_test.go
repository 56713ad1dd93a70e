package version

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-03-04T05:06:07Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	tests := []struct {
		name     string
		bi       *debug.BuildInfo
		ldV, ldC string
		want     Info
	}{
		{
			name: "devel build without VCS details (-buildvcs=false)",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Path: "github.com/enmei-project/enmei/cmd/enmeid", Main: debug.Module{Version: "(devel)"}},
			want: Info{Program: "enmeid", Version: Devel, GoVersion: "go1.26.8"},
		},
		{
			name: "VCS details",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Path: "github.com/enmei-project/enmei/cmd/enmei", Main: debug.Module{Version: "(devel)"}, Settings: vcs},
			want: Info{Program: "enmei", Version: Devel, Commit: "0123456789abcdef0123456789abcdef01234567", GoVersion: "go1.26.8", Modified: true, BuildTime: "2026-03-04T05:06:07Z"},
		},
		{
			name: "link-time version wins over the module version",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Path: "github.com/enmei-project/enmei/cmd/enmeid", Main: debug.Module{Version: "v1.0.0"}, Settings: vcs[:2]},
			ldV:  "v1.2.3",
			want: Info{Program: "enmeid", Version: "v1.2.3", Commit: "0123456789abcdef0123456789abcdef01234567", GoVersion: "go1.26.8"},
		},
		{
			name: "link-time commit wins over vcs.revision",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Path: "x/enmeid", Main: debug.Module{Version: "(devel)"}, Settings: vcs[:2]},
			ldC:  "fedcba9876543210",
			want: Info{Program: "enmeid", Version: Devel, Commit: "fedcba9876543210", GoVersion: "go1.26.8"},
		},
		{
			name: "go install module@v1.4.0",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Path: "github.com/enmei-project/enmei/cmd/enmeid", Main: debug.Module{Version: "v1.4.0"}},
			want: Info{Program: "enmeid", Version: "v1.4.0", GoVersion: "go1.26.8"},
		},
		{
			name: "go install module@commit: revision from the pseudo-version",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.8", Path: "github.com/enmei-project/enmei/cmd/enmeid", Main: debug.Module{Version: "v0.0.0-20260102150405-abcdef123456"}},
			want: Info{Program: "enmeid", Version: "v0.0.0-20260102150405-abcdef123456", Commit: "abcdef123456", GoVersion: "go1.26.8"},
		},
		{
			name: "no build info",
			bi:   nil,
			want: Info{Program: filepath.Base(os.Args[0]), Version: Devel, GoVersion: runtime.Version()},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fromBuildInfo(tt.bi, tt.ldV, tt.ldC); got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestPseudoRevision(t *testing.T) {
	for v, want := range map[string]string{
		"v0.0.0-20260102150405-abcdef123456":       "abcdef123456",
		"v1.2.4-0.20260102150405-abcdef123456":     "abcdef123456",
		"v1.2.3-pre.0.20260102150405-abcdef123456": "abcdef123456",
		"v0.0.0-20260102150405-abcdef123456+dirty": "abcdef123456",
		"v1.2.3":                             "",
		"v1.2.3-rc1":                         "",
		"v1.2.3-beta-abcdef123456":           "",
		"v0.0.0-20260102150405-ABCDEF123456": "",
		"(devel)":                            "",
		"":                                   "",
	} {
		if got := pseudoRevision(v); got != want {
			t.Errorf("pseudoRevision(%q) = %q, want %q", v, got, want)
		}
	}
}

func TestString(t *testing.T) {
	for _, tt := range []struct {
		i    Info
		want string
	}{
		{Info{Program: "enmeid", Version: "v1.2.3", Commit: "abc1234", GoVersion: "go1.26.8"}, "enmeid v1.2.3 (commit abc1234, go1.26.8)"},
		{Info{Program: "enmei", Version: Devel, Commit: "0123456789abcdef0123", GoVersion: "go1.26.8", Modified: true, BuildTime: "2026-03-04T05:06:07Z"},
			"enmei devel (commit 0123456789ab, modified, 2026-03-04T05:06:07Z, go1.26.8)"},
		{Info{Program: "enmeid", Version: Devel, GoVersion: "go1.26.8"}, "enmeid devel (go1.26.8)"},
		{Info{Version: "v1.2.3", GoVersion: "go1.26.8"}, "v1.2.3 (go1.26.8)"},
	} {
		if got := tt.i.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.i, got, tt.want)
		}
	}
}

func TestGet(t *testing.T) {
	i := Get()
	if i.GoVersion != runtime.Version() {
		t.Errorf("GoVersion = %q, want %q", i.GoVersion, runtime.Version())
	}
	if version == "" && i.Version != Devel {
		// Test binaries are never built at a module version.
		t.Errorf("Version = %q, want %q", i.Version, Devel)
	}
	if i.Program != "version.test" {
		t.Errorf("Program = %q, want version.test", i.Program)
	}
}

// TestLinkerOverride builds a real binary with -ldflags -X, the way release
// builds set the version, and runs it.
func TestLinkerOverride(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool is needed to build the test binary: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "printversion")
	const pkg = "github.com/enmei-project/enmei/internal/version"
	build := exec.Command(goTool, "build", "-o", bin,
		"-ldflags", "-X "+pkg+".version=v1.2.3 -X "+pkg+".commit=abc1234def5678",
		"./testdata/printversion")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatalf("running %s: %v", bin, err)
	}
	got := strings.TrimSpace(string(out))
	want := "v1.2.3|abc1234def5678|printversion v1.2.3 (commit abc1234def56"
	if !strings.HasPrefix(got, want) || !strings.HasSuffix(got, runtime.Version()+")") {
		t.Errorf("output %q, want prefix %q and the Go version", got, want)
	}
}
