package bundle

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/enmei-project/enmei/internal/manifest"
)

// The layout of a disk that carries a publication (enmeid bundle create
// --with-packages).
const (
	// RepoDir holds every file of the publication's manifest under the
	// path the server serves it at: repo/repodata/repomd.xml,
	// repo/dists/bookworm/InRelease, repo/pool/…, the packages.
	RepoDir = "repo"
	// MountPoint is where the disk's README has it mounted.
	MountPoint = "/mnt/enmei"
)

// UpstreamKeyPath is where a disk of a mirror keeps the upstream
// distribution's key, whose signatures the mirrored packages carry.
func UpstreamKeyPath(repo string) string {
	return "KEYS/RPM-GPG-KEY-enmei-upstream-" + repo + ".asc"
}

// PublicationFiles returns the files of a publication's manifest as disk
// files under RepoDir, sorted by path, each streamed from open(sum) when
// the image is written and checked there against the blob's size and
// address (the blob store is content-addressed: a blob's address is its
// SHA-256, which MANIFEST lists).
func PublicationFiles(m *manifest.Manifest, open func(sum string) (io.ReadCloser, error)) []File {
	paths := make([]string, 0, len(m.Files))
	for p := range m.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	files := make([]File, 0, len(paths))
	for _, p := range paths {
		ref := m.Files[p]
		files = append(files, File{
			Path:   RepoDir + "/" + strings.TrimPrefix(p, "/"),
			Open:   func() (io.ReadCloser, error) { return open(ref.Sum) },
			Size:   ref.Size,
			SHA256: ref.Sum,
		})
	}
	return files
}

// InstallGuide describes the publication on a disk, for its README.
type InstallGuide struct {
	Repo        string
	Format      string // "rpm" or "deb"
	Publication int64
	Suite       string // deb
	Component   string // deb
	// Upstream is set when the disk carries the mirror's upstream key at
	// UpstreamKeyPath(Repo).
	Upstream bool
}

// Readme is the README section that tells an operator how to install
// from the disk with no network: a .repo file for dnf and yum, a sources
// line for apt, both checking the signatures with the keys on the disk.
func (g InstallGuide) Readme() string {
	var b strings.Builder
	key := MountPoint + "/" + KeyPath
	fmt.Fprintf(&b, `
Installing from this disk, with no network
------------------------------------------
%[1]s/ holds publication %[2]d of %[3]s exactly as the server
publishes it: every package and the signed repository metadata.
Mount the disk at %[4]s (or copy all of it there):

  mkdir -p %[4]s
  mount -o ro,loop enmei-companion-%[3]s-%[2]d.iso %[4]s

The package manager checks every signature itself. To check the disk
by hand as well, compare the fingerprint of %[5]s
(gpg --show-keys FILE; gpg --with-fingerprint FILE on EL7 and older)
with the one the vendor gave you, then in %[4]s run:

  gpg --import %[5]s
  gpg --verify MANIFEST.asc MANIFEST
  sha256sum --quiet -c MANIFEST
`, RepoDir, g.Publication, g.Repo, MountPoint, KeyPath)
	switch g.Format {
	case "deb":
		fmt.Fprintf(&b, `
Add the disk as an apt source, in /etc/apt/sources.list.d/enmei-offline.list:

  deb [signed-by=%[1]s] file:%[2]s/%[3]s %[4]s %[5]s

then install:

  apt-get update
  apt-get install PACKAGE

apt reads an armored key in signed-by from version 1.4 (Debian 9) on.
On an older apt, add the key with
  apt-key add %[1]s
and leave [signed-by=…] out of the line.
`, key, MountPoint, RepoDir, g.Suite, g.Component)
	default:
		keys := "file://" + key
		if g.Upstream {
			keys += " file://" + MountPoint + "/" + UpstreamKeyPath(g.Repo)
		}
		fmt.Fprintf(&b, `
Write /etc/yum.repos.d/enmei-offline.repo:

  [enmei-offline-%[1]s]
  name=%[1]s from the enmei companion disk (publication %[2]d)
  baseurl=file://%[3]s/%[4]s
  enabled=1
  gpgcheck=1
  repo_gpgcheck=1
  gpgkey=%[5]s

then install from the disk alone (yum takes the same options):

  dnf --disablerepo='*' --enablerepo=enmei-offline-%[1]s install PACKAGE
`, g.Repo, g.Publication, MountPoint, RepoDir, keys)
		if g.Upstream {
			fmt.Fprintf(&b, `
%[1]s mirrors a distribution: its packages carry the
distribution's signatures, checked with the distribution's key
%[2]s; the metadata is signed by the
vendor's key %[3]s.
`, g.Repo, UpstreamKeyPath(g.Repo), KeyPath)
		}
	}
	return b.String()
}
