package sbom

import (
	"testing"

	"github.com/package-url/packageurl-go"
)

func TestPURL(t *testing.T) {
	tests := []struct {
		name string
		pkg  Package
		want string
	}{
		{
			name: "rpm with epoch and upstream (the ARCHITECTURE.md example)",
			pkg: Package{Format: FormatRPM, Name: "openssl", Epoch: "1", Version: "3.0.7-27.el9", Arch: "x86_64",
				Distro: almalinux94, SourceRPM: "openssl-3.0.7-27.el9.src.rpm"},
			want: "pkg:rpm/almalinux/openssl@3.0.7-27.el9?arch=x86_64&epoch=1&upstream=openssl-3.0.7-27.el9.src.rpm&distro=almalinux-9.4",
		},
		{
			name: "rpm without epoch",
			pkg: Package{Format: FormatRPM, Name: "openssl", Version: "3.0.7-27.el9", Arch: "x86_64",
				Distro: almalinux94, SourceRPM: "openssl-3.0.7-27.el9.src.rpm"},
			want: "pkg:rpm/almalinux/openssl@3.0.7-27.el9?arch=x86_64&upstream=openssl-3.0.7-27.el9.src.rpm&distro=almalinux-9.4",
		},
		{
			name: "rpm epoch 0 is kept when given",
			pkg:  Package{Format: FormatRPM, Name: "bash", Epoch: "0", Version: "5.1.8-9.el9", Arch: "x86_64", Distro: almalinux94},
			want: "pkg:rpm/almalinux/bash@5.1.8-9.el9?arch=x86_64&epoch=0&distro=almalinux-9.4",
		},
		{
			name: "rpm name needing escaping",
			pkg: Package{Format: FormatRPM, Name: "libstdc++", Version: "11.4.1-3.el9", Arch: "x86_64",
				Distro: almalinux94, SourceRPM: "gcc-11.4.1-3.el9.src.rpm"},
			want: "pkg:rpm/almalinux/libstdc%2B%2B@11.4.1-3.el9?arch=x86_64&upstream=gcc-11.4.1-3.el9.src.rpm&distro=almalinux-9.4",
		},
		{
			name: "rpm noarch, rhel namespace is redhat as in syft, distro keeps rhel",
			pkg:  Package{Format: FormatRPM, Name: "tzdata", Version: "2024a-1.el9", Arch: "noarch", Distro: Distro{ID: "rhel", VersionID: "9.4"}},
			want: "pkg:rpm/redhat/tzdata@2024a-1.el9?arch=noarch&distro=rhel-9.4",
		},
		{
			name: "rpm, unknown distro: no namespace, no distro qualifier",
			pkg:  Package{Format: FormatRPM, Name: "zlib", Version: "1.2.11-40.el9", Arch: "x86_64"},
			want: "pkg:rpm/zlib@1.2.11-40.el9?arch=x86_64",
		},
		{
			name: "distro qualifier needs both ID and VERSION_ID",
			pkg:  Package{Format: FormatRPM, Name: "zlib", Version: "1.2.11-40.el9", Arch: "x86_64", Distro: Distro{ID: "almalinux"}},
			want: "pkg:rpm/almalinux/zlib@1.2.11-40.el9?arch=x86_64",
		},
		{
			name: "deb (the ARCHITECTURE.md example; '+' percent-encoded)",
			pkg:  Package{Format: FormatDeb, Name: "base-files", Version: "12.4+deb12u5", Arch: "amd64", Distro: debian12},
			want: "pkg:deb/debian/base-files@12.4%2Bdeb12u5?arch=amd64&distro=debian-12",
		},
		{
			name: "deb with epoch: a qualifier, not in the version",
			pkg:  Package{Format: FormatDeb, Name: "libpam-runtime", Epoch: "1", Version: "1.5.2-6+deb12u1", Arch: "all", Distro: debian12},
			want: "pkg:deb/debian/libpam-runtime@1.5.2-6%2Bdeb12u1?arch=all&epoch=1&distro=debian-12",
		},
		{
			name: "deb name with '+' and tilde version",
			pkg:  Package{Format: FormatDeb, Name: "libstdc++6", Version: "12.2.0-14~bpo11", Arch: "amd64", Distro: debian12},
			want: "pkg:deb/debian/libstdc%2B%2B6@12.2.0-14~bpo11?arch=amd64&distro=debian-12",
		},
		{
			name: "deb ignores SourceRPM",
			pkg:  Package{Format: FormatDeb, Name: "bash", Version: "5.2.15-2", Arch: "amd64", Distro: debian12, SourceRPM: "bash.src.rpm"},
			want: "pkg:deb/debian/bash@5.2.15-2?arch=amd64&distro=debian-12",
		},
		{
			name: "ubuntu",
			pkg:  Package{Format: FormatDeb, Name: "openssl", Version: "3.0.2-0ubuntu1.15", Arch: "amd64", Distro: Distro{ID: "ubuntu", VersionID: "22.04"}},
			want: "pkg:deb/ubuntu/openssl@3.0.2-0ubuntu1.15?arch=amd64&distro=ubuntu-22.04",
		},
		{
			name: "qualifier values are escaped",
			pkg:  Package{Format: FormatRPM, Name: "x", Version: "1-1", Arch: "x86_64", SourceRPM: "x 1&2.src.rpm"},
			want: "pkg:rpm/x@1-1?arch=x86_64&upstream=x%201%262.src.rpm",
		},
		{name: "os has no purl", pkg: Package{Format: FormatOS, Name: "almalinux", Version: "9.4"}, want: ""},
		{name: "unknown format", pkg: Package{Format: "apk", Name: "musl", Version: "1.2.4-r2"}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PURL(tt.pkg)
			if got != tt.want {
				t.Fatalf("PURL() = %q\nwant     %q", got, tt.want)
			}
			if got == "" {
				return
			}
			// It parses back to the same parts (packageurl-go, the reference).
			p, err := packageurl.FromString(got)
			if err != nil {
				t.Fatalf("packageurl-go cannot parse %q: %v", got, err)
			}
			q := p.Qualifiers.Map()
			if p.Name != tt.pkg.Name || p.Version != tt.pkg.Version || q["arch"] != tt.pkg.Arch || q["epoch"] != tt.pkg.Epoch {
				t.Errorf("parsed back as %+v", p)
			}
		})
	}
}
