package pkgfacts

import (
	"reflect"
	"testing"

	"github.com/enmei-project/enmei/internal/pkgfmt/deb"
	"github.com/enmei-project/enmei/internal/pkgfmt/rpm"
)

func TestResolve(t *testing.T) {
	pkgs := []Facts{
		{Format: "rpm", Name: "app", Version: "1.0-1", Requires: []string{"libfoo.so.1()(64bit)", "/bin/sh", "rpmlib(PayloadIsZstd)", "app-data", "missing"}},
		{Format: "rpm", Name: "foo-libs", Version: "2.0-1", Provides: []string{"libfoo.so.1()(64bit)"}},
		{Format: "rpm", Name: "foo-libs", Epoch: "1", Version: "1.0-1", Provides: []string{"libfoo.so.1()(64bit)"}}, // epoch 1 is newer
		{Format: "rpm", Name: "bash", Version: "5.1-6", Files: []File{{Path: "/bin/sh"}, {Path: "/bin/bash", SHA256: "ab"}}},
		{Format: "rpm", Name: "app-data", Version: "1.0-1", Requires: []string{"app-data", "/bin/bash"}},
	}
	got := Resolve(pkgs)
	want := [][]int{{2, 3, 4}, {}, {}, {}, {3}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Resolve = %v, want %v", got, want)
	}

	debs := []Facts{
		{Format: "deb", Name: "app", Version: "1.0", Requires: []string{"libc6", "mail-transport-agent"}},
		{Format: "deb", Name: "libc6", Version: "2.36-9"},
		{Format: "deb", Name: "libc6", Version: "2.36-9+deb12u4"},
		{Format: "deb", Name: "postfix", Version: "3.7", Provides: []string{"mail-transport-agent"}},
		{Format: "deb", Name: "exim4", Version: "4.96", Provides: []string{"mail-transport-agent"}},
	}
	got = Resolve(debs)
	// The newest libc6; of two providers, the first by name (exim4).
	if !reflect.DeepEqual(got[0], []int{2, 4}) {
		t.Errorf("deb deps = %v, want [2 4]", got[0])
	}
}

func TestEncodeDecode(t *testing.T) {
	f := Facts{Format: "rpm", Name: "x", Epoch: "2", Version: "1-1", Arch: "noarch", Files: []File{{Path: "/a", SHA256: "00"}}, Requires: []string{"y"}}
	b, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	g, err := Decode(b)
	if err != nil || !reflect.DeepEqual(f, g) || g.EVR() != "2:1-1" {
		t.Errorf("round trip = %+v, %v", g, err)
	}
	if _, err := Decode([]byte("{")); err == nil {
		t.Error("garbage decoded")
	}
}

func TestFromDeb(t *testing.T) {
	info := &deb.Info{Package: "app", Version: "2:1.4-3", Architecture: "amd64", SHA256: "ff",
		Control: []byte("Package: app\nVersion: 2:1.4-3\nArchitecture: amd64\nPre-Depends: dpkg (>= 1.15)\nDepends: libc6 (>= 2.36) [amd64], default-mta | mail-transport-agent,\n python3:any <!nocheck>\nProvides: app-api (= 1), www-browser\nDescription: an app\n long text\n")}
	f := FromDeb(info)
	if f.Epoch != "2" || f.Version != "1.4-3" || f.Summary != "an app" || f.SHA256 != "ff" {
		t.Errorf("facts = %+v", f)
	}
	if want := []string{"dpkg", "libc6", "default-mta|mail-transport-agent", "python3"}; !reflect.DeepEqual(f.Requires, want) {
		t.Errorf("Requires = %q, want %q", f.Requires, want)
	}
	if want := []string{"app-api", "www-browser"}; !reflect.DeepEqual(f.Provides, want) {
		t.Errorf("Provides = %q, want %q", f.Provides, want)
	}
}

func TestFromRPM(t *testing.T) {
	h := &rpm.Header{Name: "app", HasEpoch: true, Epoch: 1, Version: "2.0", Release: "3.el9", Arch: "x86_64", SourceRPM: "app-2.0-3.el9.src.rpm",
		License: "MIT and ASL 2.0", Summary: "アプリ",
		Provides: []rpm.Dep{{Name: "app"}, {Name: "app(x86-64)"}}, Requires: []rpm.Dep{{Name: "libc.so.6()(64bit)"}, {Name: "/bin/sh"}, {Name: "/bin/sh"}},
		Files: []rpm.FileEntry{{Path: "/usr/bin/app", SHA256: "aa"}, {Path: "/usr/share/app", Type: "dir"}, {Path: "/var/log/app.log", Type: "ghost", SHA256: "bb"}}}
	f := FromRPM(h, "cc")
	if f.EVR() != "1:2.0-3.el9" || f.License != "MIT and ASL 2.0" || f.SHA256 != "cc" || f.SourceRPM != h.SourceRPM {
		t.Errorf("facts = %+v", f)
	}
	if !reflect.DeepEqual(f.Provides, []string{"app(x86-64)"}) || !reflect.DeepEqual(f.Requires, []string{"libc.so.6()(64bit)", "/bin/sh"}) {
		t.Errorf("provides %q requires %q", f.Provides, f.Requires)
	}
	if f.Files[0].SHA256 != "aa" || f.Files[1].SHA256 != "" || f.Files[2].SHA256 != "" {
		t.Errorf("files = %+v", f.Files)
	}
}
