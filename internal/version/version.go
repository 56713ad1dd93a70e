// Package version reports which build of enmeid or enmei is running: the
// release version (set at link time, or the module version when installed
// with go install), the commit and its time as the Go toolchain recorded them,
// and the Go version. Builds made with -buildvcs=false carry no VCS details;
// the fields are then empty and String leaves them out.
package version

import (
	"os"
	"path"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set by release builds, because -buildvcs=false builds record no VCS
// details:
//
//	go build -ldflags "-X github.com/enmei-project/enmei/internal/version.version=v1.2.3 -X github.com/enmei-project/enmei/internal/version.commit=$(git rev-parse HEAD)"
var (
	version string
	commit  string
)

// Devel is the Version of a build with no release version.
const Devel = "devel"

// Info describes the running build.
type Info struct {
	// Program is the binary's name: the last element of its main package
	// path ("enmeid"), or of os.Args[0] when that is unknown.
	Program string
	// Version is the -X version, else the main module's version ("v1.2.3"
	// with go install module@v1.2.3), else Devel.
	Version string
	// Commit is the full VCS revision, or "" when unknown.
	Commit string
	// GoVersion is the toolchain that built the binary ("go1.26.8").
	GoVersion string
	// Modified reports uncommitted changes in the build's working tree.
	Modified bool
	// BuildTime is the commit's time (vcs.time, RFC 3339), or "". The
	// toolchain records no wall-clock build time, so builds stay
	// reproducible.
	BuildTime string
}

// Get returns the running binary's Info.
func Get() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return fromBuildInfo(bi, version, commit)
}

func fromBuildInfo(bi *debug.BuildInfo, ldVersion, ldCommit string) Info {
	i := Info{Version: ldVersion, Commit: ldCommit, GoVersion: runtime.Version()}
	if bi != nil {
		if bi.Path != "" {
			i.Program = path.Base(bi.Path)
		}
		if bi.GoVersion != "" {
			i.GoVersion = bi.GoVersion
		}
		if i.Version == "" && bi.Main.Version != "(devel)" {
			i.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if i.Commit == "" {
					i.Commit = s.Value
				}
			case "vcs.modified":
				i.Modified = s.Value == "true"
			case "vcs.time":
				i.BuildTime = s.Value
			}
		}
		if i.Commit == "" {
			// go install module@commit records no VCS settings, but the
			// pseudo-version ends in the revision.
			i.Commit = pseudoRevision(bi.Main.Version)
		}
	}
	if i.Version == "" {
		i.Version = Devel
	}
	if i.Program == "" && len(os.Args) > 0 {
		i.Program = filepath.Base(os.Args[0])
	}
	return i
}

// pseudoRevision returns the 12-hex-digit revision at the end of a module
// pseudo-version such as v0.0.0-20260102150405-abcdef123456+dirty, or "".
func pseudoRevision(v string) string {
	v, _, _ = strings.Cut(v, "+")
	i := strings.LastIndexByte(v, '-')
	if i < 0 {
		return ""
	}
	rev := v[i+1:]
	stamp := v[:i]
	j := strings.LastIndexAny(stamp, "-.")
	if len(rev) != 12 || j < 0 || len(stamp[j+1:]) != 14 || !isDigits(stamp[j+1:]) || !isHex(rev) {
		return ""
	}
	return rev
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// String is a one-line description such as
// "enmeid v1.2.3 (commit abc123def456, modified, go1.26.8)": the commit is
// shortened to 12 digits, and unknown details are left out.
func (i Info) String() string {
	var b strings.Builder
	if i.Program != "" {
		b.WriteString(i.Program)
		b.WriteByte(' ')
	}
	b.WriteString(i.Version)
	b.WriteString(" (")
	if i.Commit != "" {
		c := i.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		b.WriteString("commit ")
		b.WriteString(c)
		if i.Modified {
			b.WriteString(", modified")
		}
		if i.BuildTime != "" {
			b.WriteString(", ")
			b.WriteString(i.BuildTime)
		}
		b.WriteString(", ")
	}
	b.WriteString(i.GoVersion)
	b.WriteByte(')')
	return b.String()
}

// JSON is what `version --json` prints, for both binaries.
func (i Info) JSON() map[string]any {
	return map[string]any{"program": i.Program, "version": i.Version, "commit": i.Commit,
		"modified": i.Modified, "go_version": i.GoVersion}
}
