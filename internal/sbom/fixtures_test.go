package sbom

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
)

// Fixed inputs for golden files and round trips. Created has a zone and a
// fraction so that the UTC/second-precision rule is exercised.
var (
	fixtureCreated = time.Date(2024, 5, 1, 9, 30, 0, 123456789, time.FixedZone("JST", 9*3600))
	almalinux94    = Distro{ID: "almalinux", VersionID: "9.4"}
	debian12       = Distro{ID: "debian", VersionID: "12"}
)

const (
	fixtureCreatedString = "2024-05-01T00:30:00Z"
	vendor               = "Example ELS K.K."
)

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// packageDocument is the SBOM of one published rpm: epoch, a licence that is
// no SPDX expression, files with and without digests, two dependencies (one
// with a valid SPDX licence).
func packageDocument() Document {
	root := Package{
		Ref:       "rpm:nodejs@1:16.20.2-8.el9_4.x86_64",
		Format:    FormatRPM,
		Name:      "nodejs",
		Epoch:     "1",
		Version:   "16.20.2-8.el9_4",
		Arch:      "x86_64",
		Distro:    almalinux94,
		SourceRPM: "nodejs-16.20.2-8.el9_4.src.rpm",
		License:   "MIT and ASL 2.0 and ISC and BSD",
		Summary:   "JavaScript runtime",
		Supplier:  vendor,
		SHA256:    digest("nodejs-16.20.2-8.el9_4.x86_64.rpm"),
		Files: []File{
			{Path: "/usr/share/doc/nodejs/README.md", SHA256: digest("readme")},
			{Path: "/usr/bin/node", SHA256: digest("node binary")},
			{Path: "/usr/lib/node_modules"}, // directory: no digest
		},
		DependsOn: []string{"rpm:zlib@1.2.11-40.el9.x86_64", "rpm:openssl-libs@1:3.0.7-27.el9.x86_64"},
		Verified:  true,
	}
	return Document{
		Name:      "nodejs-16.20.2-8.el9_4.x86_64",
		Namespace: "https://els.example.jp/sbom/" + root.SHA256,
		Serial:    "urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e",
		Created:   fixtureCreated,
		Author:    vendor,
		Tool:      "enmei-1.2.3",
		Root:      root,
		Packages: []Package{
			{
				Ref:       "rpm:zlib@1.2.11-40.el9.x86_64",
				Format:    FormatRPM,
				Name:      "zlib",
				Version:   "1.2.11-40.el9",
				Arch:      "x86_64",
				Distro:    almalinux94,
				SourceRPM: "zlib-1.2.11-40.el9.src.rpm",
				License:   "zlib",
				Summary:   "Compression and decompression library",
				Supplier:  vendor,
				SHA256:    digest("zlib-1.2.11-40.el9.x86_64.rpm"),
				Verified:  true,
			},
			{
				Ref:       "rpm:openssl-libs@1:3.0.7-27.el9.x86_64",
				Format:    FormatRPM,
				Name:      "openssl-libs",
				Epoch:     "1",
				Version:   "3.0.7-27.el9",
				Arch:      "x86_64",
				Distro:    almalinux94,
				SourceRPM: "openssl-3.0.7-27.el9.src.rpm",
				License:   "ASL 2.0",
				Summary:   "A general purpose cryptography library with TLS implementation",
				Supplier:  vendor,
				SHA256:    digest("openssl-libs-3.0.7-27.el9.x86_64.rpm"),
				DependsOn: []string{"rpm:zlib@1.2.11-40.el9.x86_64"},
				Verified:  true,
			},
		},
	}
}

// hostDocument is a host SBOM: an OS root, an rpm the vendor knows and a
// deb listed from local data only.
func hostDocument() Document {
	return Document{
		Name:      "host web01.example.jp",
		Namespace: "https://els.example.jp/sbom/host/6f1ed002ab5595859014ebf0951522d9",
		Serial:    "urn:uuid:9b2f6c1e-3a4d-4e5f-8a7b-1c2d3e4f5a6b",
		Created:   fixtureCreated,
		Author:    vendor,
		Tool:      "enmei-1.2.3",
		Root: Package{
			Ref:      "os:almalinux@9.4",
			Format:   FormatOS,
			Name:     "almalinux",
			Version:  "9.4",
			Distro:   almalinux94,
			Summary:  "AlmaLinux 9.4 (Seafoam Ocelot)",
			Supplier: "AlmaLinux OS Foundation",
		},
		Packages: []Package{
			{
				Ref:       "deb:base-files@12.4+deb12u5.amd64",
				Format:    FormatDeb,
				Name:      "base-files",
				Version:   "12.4+deb12u5",
				Arch:      "amd64",
				Distro:    debian12,
				License:   "GPL-2.0-or-later and (MIT or BSD-3-Clause)", // lower-case operators: not SPDX
				Summary:   "Debian base system miscellaneous files",
				Supplier:  "Debian",
				Files:     []File{{Path: "/etc/debian_version", SHA256: digest("12.5\n")}, {Path: "/etc/issue", SHA256: digest("Debian GNU/Linux 12 \\n \\l\n")}},
				DependsOn: nil,
				Verified:  false,
			},
			{
				Ref:       "rpm:libstdc++@11.4.1-3.el9.alma.1.x86_64",
				Format:    FormatRPM,
				Name:      "libstdc++",
				Version:   "11.4.1-3.el9.alma.1",
				Arch:      "x86_64",
				Distro:    almalinux94,
				SourceRPM: "gcc-11.4.1-3.el9.alma.1.src.rpm",
				License:   "GPL-3.0-or-later AND (GPL-3.0-or-later WITH GCC-exception-3.1)",
				Summary:   "GNU Standard C++ Library",
				Supplier:  vendor,
				SHA256:    digest("libstdc++-11.4.1-3.el9.alma.1.x86_64.rpm"),
				Files:     []File{{Path: "/usr/lib64/libstdc++.so.6.0.29", SHA256: digest("libstdc++")}, {Path: "/usr/lib64/libstdc++.so.6"}},
				Verified:  true,
			},
		},
	}
}

// largePackageDocument is packageDocument with n files on the root.
func largePackageDocument(n int) Document {
	d := packageDocument()
	d.Root.Files = make([]File, n)
	for i := range d.Root.Files {
		p := fmt.Sprintf("/usr/lib/node_modules/npm/lib/file%04d.js", i)
		d.Root.Files[i] = File{Path: p, SHA256: digest(p)}
	}
	return d
}
