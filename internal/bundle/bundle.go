// Package bundle writes and reads the companion disk: the ISO image that
// carries to an offline customer host what it cannot fetch — the SBOM of
// every package of a publication, the agent's own packages and the OpenPGP
// key that signs the repositories. Nothing on such a disk can be trusted by
// where it came from (it travels on a USB stick or a DVD through hands
// enmei does not control), so the disk holds a MANIFEST of every file's
// SHA-256 and an armored detached OpenPGP signature of it, MANIFEST.asc, and
// a reader only hands out files after the signature has been checked against
// keys the host already trusts and every file has been matched against its
// MANIFEST entry. The layout is plain enough to check by hand on any Linux
// host: `gpg --verify MANIFEST.asc MANIFEST` and `sha256sum -c MANIFEST` in
// the mounted or extracted disk. The image is ISO 9660 with Rock Ridge and
// Joliet names, so long file names survive on Linux and Windows alike.
package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"path"
	"sort"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/enmei-project/enmei/internal/errs"
)

// The fixed names on a companion disk.
const (
	// ManifestPath lists "<sha256>  <path>" for every other file on the
	// disk, sorted by path; `sha256sum -c MANIFEST` checks it.
	ManifestPath = "MANIFEST"
	// SignaturePath is the armored detached OpenPGP signature of MANIFEST.
	SignaturePath = "MANIFEST.asc"
	// KeyPath is the armored public key that signs the repositories (and,
	// normally, MANIFEST). It is listed in MANIFEST like any other file.
	KeyPath = "KEYS/RPM-GPG-KEY-enmei.asc"
)

// Limits a companion disk keeps so that every reader sees the same names.
const (
	// maxNameUnits is the longest path component in UTF-16 code units:
	// xorriso's -joliet-long limit, within the 255-byte Joliet directory
	// record. Rock Ridge would allow more; Windows reads only Joliet.
	maxNameUnits = 103
	// maxDepth keeps every file within ISO 9660's eight directory levels
	// (the root is the first), so no directory is relocated.
	maxDepth = 8
	// maxFileSize is the largest file one ISO 9660 extent holds.
	maxFileSize = 1<<32 - 1
	// maxManifestSize bounds what a reader loads before checking it.
	maxManifestSize = 64 << 20
)

// File is one file to put on a companion disk: its content is Data, or,
// for a file too large to hold in memory (a package of a publication),
// what Open returns, streamed into the image.
type File struct {
	// Path is the slash-separated path on the disk, e.g.
	// "sbom/spdx-json/openssl-1_3.0.7-27.el9.x86_64.spdx.json".
	Path string
	Data []byte

	// Open, when not nil, supplies the content instead of Data (which
	// must then be empty). MANIFEST is signed before any content is read,
	// so Size and SHA256 (lower-case hex) must be known beforehand — a
	// content-addressed blob's size and address — and Create fails, with
	// nothing written, when what Open yields differs from them.
	Open   func() (io.ReadCloser, error)
	Size   int64
	SHA256 string
}

// size is the file's length in bytes.
func (f File) size() int64 {
	if f.Open != nil {
		return f.Size
	}
	return int64(len(f.Data))
}

// Contents is what a companion disk holds besides its MANIFEST and
// signature.
type Contents struct {
	// Label is the volume label; it is upper-cased and reduced to ISO 9660
	// d-characters (A–Z, 0–9, _), at most 32 of them ("ENMEI" if empty).
	Label string
	// Files are the SBOMs, agent packages, README, the publication under
	// RepoDir and so on.
	Files []File
	// PublicKey is the armored OpenPGP public key written to KeyPath.
	PublicKey []byte
	// Progress, when not nil, is called as the content of streamed files
	// (File.Open) is copied: bytes done of total.
	Progress func(done, total int64)
}

// VolumeLabel returns the ISO 9660 volume identifier Create writes for label.
func VolumeLabel(label string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(strings.TrimSpace(label)) {
		if b.Len() == 32 {
			break
		}
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "ENMEI"
	}
	return b.String()
}

// checkPath reports why p cannot name a file on a companion disk, or nil.
func checkPath(p string) error {
	if p == "" {
		return errs.E(errs.Invalid, "a companion disk file has an empty path")
	}
	if !utf8.ValidString(p) {
		return errs.E(errs.Invalid, "the companion disk path %q is not valid UTF-8", p)
	}
	if strings.HasPrefix(p, "/") || path.Clean(p) != p {
		return errs.E(errs.Invalid, "the companion disk path %q is not a clean relative path", p)
	}
	parts := strings.Split(p, "/")
	if len(parts) > maxDepth {
		return errs.E(errs.Invalid, "the companion disk path %q is nested deeper than %d directories", p, maxDepth-1)
	}
	for _, part := range parts {
		if part == "." || part == ".." {
			return errs.E(errs.Invalid, "the companion disk path %q is not a clean relative path", p)
		}
		// ISO readers drop a leading or trailing dot of a file name and
		// Windows a trailing dot or space.
		if strings.HasPrefix(part, ".") || strings.HasSuffix(part, ".") || strings.TrimSpace(part) != part {
			return errs.E(errs.Invalid, "the companion disk path %q has a name beginning or ending with a dot or a space", p)
		}
		for _, r := range part {
			// Joliet forbids * : ; ? \ ; sha256sum escapes \ and newlines.
			if unicode.IsControl(r) || strings.ContainsRune(`*:;?\`, r) || r == utf8.RuneError {
				return errs.E(errs.Invalid, "the companion disk path %q contains %q, which ISO 9660 Joliet names cannot hold", p, r)
			}
		}
		if n := len(utf16.Encode([]rune(part))); n > maxNameUnits {
			return errs.E(errs.Invalid, "the companion disk path %q has a name of %d characters; Joliet allows at most %d", p, n, maxNameUnits)
		}
	}
	return nil
}

// manifestEntry is one MANIFEST line.
type manifestEntry struct {
	sum  string // lower-case hex SHA-256
	path string
}

func sum(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// formatManifest writes entries sorted by path, in sha256sum's text form.
func formatManifest(entries []manifestEntry) []byte {
	sort.Slice(entries, func(i, j int) bool { return entries[i].path < entries[j].path })
	var b bytes.Buffer
	for _, e := range entries {
		b.WriteString(e.sum)
		b.WriteString("  ")
		b.WriteString(e.path)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// parseManifest reads a MANIFEST. It is strict: a line not in the form
// Create writes, an unsafe path or a path listed twice is an error.
func parseManifest(data []byte) ([]manifestEntry, error) {
	if len(data) == 0 {
		return nil, errs.E(errs.Invalid, "the companion disk's MANIFEST is empty")
	}
	if data[len(data)-1] != '\n' {
		return nil, errs.E(errs.Invalid, "the companion disk's MANIFEST does not end with a newline: the disk is damaged or altered")
	}
	lines := strings.Split(string(data[:len(data)-1]), "\n")
	out := make([]manifestEntry, 0, len(lines))
	seen := make(map[string]bool, len(lines))
	for i, line := range lines {
		h, p, ok := strings.Cut(line, "  ")
		if !ok || len(h) != sha256.Size*2 || strings.ToLower(h) != h {
			return nil, errs.E(errs.Invalid, "line %d of the companion disk's MANIFEST is not \"<sha256>  <path>\"", i+1)
		}
		if _, err := hex.DecodeString(h); err != nil {
			return nil, errs.E(errs.Invalid, "line %d of the companion disk's MANIFEST is not \"<sha256>  <path>\"", i+1)
		}
		if err := checkPath(p); err != nil {
			return nil, errs.E(errs.Invalid, "line %d of the companion disk's MANIFEST names an unsafe path %q", i+1, p)
		}
		if p == ManifestPath || p == SignaturePath {
			return nil, errs.E(errs.Invalid, "the companion disk's MANIFEST lists %s itself", p)
		}
		if seen[p] {
			return nil, errs.E(errs.Invalid, "the companion disk's MANIFEST lists %s twice", p)
		}
		seen[p] = true
		out = append(out, manifestEntry{sum: h, path: p})
	}
	return out, nil
}

// IndexPath is where a companion disk lists its SBOMs.
const IndexPath = "sbom/index.json"

// Index is sbom/index.json: what the disk holds for each package, keyed
// "name|[epoch:]version|arch" as a host's package database names it.
type Index struct {
	Repo        string                `json:"repo"`
	Publication int64                 `json:"publication"`
	Packages    map[string]IndexEntry `json:"packages"`
}

// IndexEntry is one package on the disk.
type IndexEntry struct {
	SHA256   string            `json:"sha256"`   // of the package file
	Supplier string            `json:"supplier"` // the vendor
	Files    map[string]string `json:"files"`    // SBOM format → path on the disk
}

// IndexKey is a package's key in the Index.
func IndexKey(name, evr, arch string) string { return name + "|" + evr + "|" + arch }
