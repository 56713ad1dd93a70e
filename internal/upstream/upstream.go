// Package upstream reads and downloads an upstream dnf (rpm-md) repository —
// a distribution's last BaseOS or AppStream, say — so a vendor can mirror it
// beside its ELS repositories. Everything is verified before use:
// repomd.xml against the distribution's key when the upstream signs it
// (dnf's repo_gpgcheck), every metadata file against repomd.xml's checksums,
// every package against primary.xml's checksum and, with a keyring, its RPM
// header signature (dnf's gpgcheck). Packages keep the distribution's
// signatures. Downloads are incremental (Diff, and files already in place are
// not fetched again), parallel and resumable (.part files continued with
// Range requests), and go through HTTPS_PROXY/HTTP_PROXY like dnf does.
package upstream

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"

	"github.com/enmei-project/enmei/internal/errs"
)

// Source is an upstream rpm-md repository. Its methods may be called
// concurrently.
type Source struct {
	// URL is the repository's base, the directory holding repodata/, such as
	// https://repo.almalinux.org/vault/9.4/BaseOS/x86_64/os/.
	URL string
	// Keyring holds the distribution's public keys. nil: no signature is
	// checked, only checksums.
	Keyring openpgp.EntityList
	// AllowUnsignedRepomd accepts an upstream without repodata/repomd.xml.asc
	// although Keyring is set (dnf's repo_gpgcheck=0); the packages'
	// signatures are still checked. A repomd.xml.asc that is present must
	// verify either way.
	AllowUnsignedRepomd bool
	// Arch lists the architectures to keep, e.g. "x86_64" or "x86_64",
	// "i686"; empty keeps all. noarch is kept too, unless "src" alone is
	// listed (a mirror of source RPMs); source packages (src and nosrc)
	// only when "src" is listed.
	Arch []string
	// Client makes the requests. nil: a shared client honouring HTTPS_PROXY,
	// HTTP_PROXY and NO_PROXY (with user:password@ in the proxy URL sent as
	// Basic proxy authentication), with connection timeouts but no overall
	// one, since transfers that stall are ended anyway.
	Client *http.Client
	// Parallel is how many packages are downloaded at once (0: 4).
	Parallel int
	// Attempts is how often a package is tried when its transfer fails, each
	// attempt continuing the .part file (0: 3).
	Attempts int
}

// Metadata is what an upstream repository holds, verified.
type Metadata struct {
	Revision string // repomd.xml's <revision>, often a timestamp
	// Packages are primary.xml's packages, filtered by Source.Arch, in its
	// order.
	Packages []Package
	// Extra are the other documents a mirror republishes: "modules"
	// (modules.yaml, EL8/9 modularity), "group" (comps) and "updateinfo",
	// those the upstream has.
	Extra []ExtraFile
	// RepomdSigned reports that repomd.xml.asc was verified with the
	// Keyring.
	RepomdSigned bool
}

// Package is one package as primary.xml lists it.
type Package struct {
	Name, Epoch, Version, Release, Arch string
	// Href is the location relative to the repository (or to Base), e.g.
	// "Packages/b/bash-5.1.8-9.el9.x86_64.rpm".
	Href string
	// Base is the location's xml:base, rarely set: the package is then at
	// Base+Href instead of under the repository URL.
	Base string
	// ChecksumType and Checksum are the package file's digest as primary.xml
	// gives it: "sha256" mostly, "sha1" or "sha512" possible; hex, lower case.
	ChecksumType, Checksum string
	Size                   int64
	SourceRPM              string // "" for a source package
}

// NEVRA is "name-[epoch:]version-release.arch" (epoch 0 left out), as dnf
// shows a package.
func (p Package) NEVRA() string {
	evr := p.Version + "-" + p.Release
	if p.Epoch != "" && p.Epoch != "0" {
		evr = p.Epoch + ":" + evr
	}
	return p.Name + "-" + evr + "." + p.Arch
}

// ExtraFile is a metadata document beside primary.xml, verified against
// repomd.xml.
type ExtraFile struct {
	// Type is the repomd data type without its compression suffix:
	// "modules", "group" or "updateinfo".
	Type string
	// Href is where the upstream keeps it, e.g. "repodata/…-modules.yaml.xz".
	Href string
	// ChecksumType and Checksum are those of the stored (compressed) file,
	// as repomd.xml gives them and as verified.
	ChecksumType, Checksum string
	// Data is the document, decompressed.
	Data []byte
}

// extraTypes are the repomd data types Metadata brings along, besides
// primary: what a mirror needs for dnf's modules, groups and advisories.
// filelists and other are left out: a republisher regenerates them from the
// packages.
var extraTypes = []string{"modules", "group", "updateinfo"}

// Size limits, so a hostile or broken upstream cannot exhaust memory.
const (
	maxRepomd    = 16 << 20  // repomd.xml
	maxSignature = 1 << 20   // repomd.xml.asc
	maxExtra     = 512 << 20 // an extra document, decompressed, held in memory
	maxPrimary   = 8 << 30   // primary.xml, decompressed, parsed as a stream
)

// base is the repository URL, made a directory so hrefs resolve under it.
func (s *Source) base() (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(s.URL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errs.E(errs.Invalid, "the upstream URL %q is not an http:// or https:// URL: give the repository's base URL, the directory holding repodata/, like https://repo.almalinux.org/almalinux/9/BaseOS/x86_64/os/", s.URL)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		u.RawPath = ""
	}
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

// resolve is ref under base; it must stay an http(s) URL.
func resolve(base *url.URL, ref string) (*url.URL, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return nil, err
	}
	u := base.ResolveReference(r)
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%q is not an http or https location", ref)
	}
	return u, nil
}

type repomd struct {
	Revision string     `xml:"revision"`
	Data     []repoData `xml:"data"`
}

type repoData struct {
	Type         string   `xml:"type,attr"`
	Checksum     checksum `xml:"checksum"`
	OpenChecksum checksum `xml:"open-checksum"`
	Location     struct {
		Href string `xml:"href,attr"`
	} `xml:"location"`
	Size int64 `xml:"size"`
}

type checksum struct {
	Type  string `xml:"type,attr"`
	Value string `xml:",chardata"`
}

// Metadata fetches and verifies the upstream's metadata: repomd.xml (and,
// with a Keyring, its signature repomd.xml.asc), primary.xml and the extra
// documents, each checked against repomd.xml's checksum.
func (s *Source) Metadata(ctx context.Context) (*Metadata, error) {
	base, err := s.base()
	if err != nil {
		return nil, err
	}
	repomdURL, _ := resolve(base, "repodata/repomd.xml")
	raw, err := s.fetchSmall(ctx, repomdURL, maxRepomd)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return nil, errs.Wrap(errs.NotFound, err, fmt.Sprintf("%s has no repodata/repomd.xml, so it is not a dnf repository: give the repository's base URL, the directory holding repodata/", base.Redacted()))
		}
		return nil, err
	}
	md := &Metadata{}
	if s.Keyring != nil {
		ascURL, _ := resolve(base, "repodata/repomd.xml.asc")
		asc, err := s.fetchSmall(ctx, ascURL, maxSignature)
		switch {
		case errs.Is(err, errs.NotFound) && s.AllowUnsignedRepomd:
		case errs.Is(err, errs.NotFound):
			return nil, errs.E(errs.Invalid, "%s publishes no repodata/repomd.xml.asc, so its metadata cannot be checked against the upstream key: use a mirror that signs it, or allow unsigned metadata (the packages' own signatures are still checked)", base.Redacted())
		case err != nil:
			return nil, err
		default:
			if err := verifyRepomd(s.Keyring, raw, asc); err != nil {
				return nil, errs.Wrap(errs.Invalid, err, fmt.Sprintf("repodata/repomd.xml from %s does not carry a valid signature by the upstream key (%v): check that the key given is this distribution's and that the mirror is genuine", base.Redacted(), err))
			}
			md.RepomdSigned = true
		}
	}
	var rm repomd
	if err := xml.Unmarshal(raw, &rm); err != nil {
		return nil, errs.E(errs.Invalid, "repodata/repomd.xml from %s cannot be read (%v): check the repository URL", base.Redacted(), err)
	}
	md.Revision = strings.TrimSpace(rm.Revision)

	primary := pick(rm.Data, "primary")
	if primary == nil {
		return nil, errs.E(errs.Invalid, "repodata/repomd.xml from %s lists no primary metadata (or only a zchunk one, which enmei does not read): check the repository URL", base.Redacted())
	}
	err = s.fetchData(ctx, base, primary, maxPrimary, func(r io.Reader) error {
		pkgs, err := parsePrimary(r, s.keep)
		md.Packages = pkgs
		return err
	})
	if err != nil {
		return nil, err
	}
	for _, typ := range extraTypes {
		d := pick(rm.Data, typ)
		if d == nil {
			continue
		}
		var data []byte
		err := s.fetchData(ctx, base, d, maxExtra, func(r io.Reader) error {
			var err error
			data, err = io.ReadAll(r)
			return err
		})
		if err != nil {
			return nil, err
		}
		md.Extra = append(md.Extra, ExtraFile{Type: typ, Href: d.Location.Href,
			ChecksumType: normalType(d.Checksum.Type), Checksum: normalSum(d.Checksum.Value), Data: data})
	}
	return md, nil
}

// pick is the repomd entry for a data type: the type itself, else a
// compressed variant ("group_gz", "group_xz"); zchunk ones are skipped.
func pick(data []repoData, typ string) *repoData {
	for i := range data {
		if data[i].Type == typ && !strings.HasSuffix(data[i].Location.Href, ".zck") {
			return &data[i]
		}
	}
	for _, suffix := range []string{"_gz", "_xz", "_zst", "_bz2"} {
		for i := range data {
			if data[i].Type == typ+suffix {
				return &data[i]
			}
		}
	}
	return nil
}

// keep applies Source.Arch to a package's architecture.
func (s *Source) keep(arch string) bool {
	switch arch {
	case "src", "nosrc":
		return slices.Contains(s.Arch, "src")
	case "noarch":
		return !slices.Equal(s.Arch, []string{"src"})
	}
	return len(s.Arch) == 0 || slices.Contains(s.Arch, arch)
}

// fetchSmall reads a whole small file.
func (s *Source) fetchSmall(ctx context.Context, u *url.URL, limit int64) ([]byte, error) {
	w := newStallWatch(ctx)
	defer w.stop()
	resp, err := s.get(w.ctx, u, 0)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errs.E(errs.Unavailable, "the upstream server answered %s for %s: try again later or use another mirror", resp.Status, u.Redacted())
	}
	data, err := io.ReadAll(io.LimitReader(w.reader(resp.Body), limit+1))
	if err != nil {
		return nil, w.err(u, s.unreachable(w.ctx, u, err))
	}
	if int64(len(data)) > limit {
		return nil, errs.E(errs.Invalid, "%s is larger than %d bytes, too large for what it should be: check the repository URL", u.Redacted(), limit)
	}
	return data, nil
}

// fetchData streams a metadata file through consume, decompressed, and
// verifies its size and checksums against repomd.xml. consume's result is
// only trusted once the checksum matched: a mismatch is reported instead of
// whatever consume made of the bytes.
func (s *Source) fetchData(ctx context.Context, base *url.URL, d *repoData, limit int64, consume func(io.Reader) error) error {
	href := d.Location.Href
	u, err := resolve(base, href)
	if err != nil || href == "" {
		return errs.E(errs.Invalid, "repodata/repomd.xml from %s gives %s metadata an unusable location %q: check the repository URL", base.Redacted(), d.Type, href)
	}
	h, err := newHash(d.Checksum.Type)
	if err != nil {
		return errs.E(errs.Invalid, "repodata/repomd.xml from %s gives %s a %q checksum, which cannot be verified: use a repository with sha256 checksums", base.Redacted(), href, d.Checksum.Type)
	}
	w := newStallWatch(ctx)
	defer w.stop()
	resp, err := s.get(w.ctx, u, 0)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errs.E(errs.Unavailable, "the upstream server answered %s for %s: try again later or use another mirror", resp.Status, u.Redacted())
	}
	// +1: a longer file is seen, not cut to fit. Without a size in
	// repomd.xml, the decompressed limit bounds the download too.
	rawLimit := limit
	if d.Size > 0 {
		rawLimit = d.Size
	}
	body := io.LimitReader(w.reader(resp.Body), rawLimit+1)
	counted := &countWriter{}
	raw := io.TeeReader(body, io.MultiWriter(h, counted))
	dec, closeDec, decErr := decompress(raw)
	var consumeErr error
	var openSum hash.Hash
	if decErr == nil {
		var r io.Reader = &limitReader{r: dec, n: limit}
		if d.OpenChecksum.Value != "" {
			if openSum, _ = newHash(d.OpenChecksum.Type); openSum != nil {
				r = io.TeeReader(r, openSum)
			}
		}
		consumeErr = consume(r)
		if consumeErr == nil {
			// The rest of the document counts towards its open checksum.
			_, consumeErr = io.Copy(io.Discard, r)
		}
		closeDec()
	}
	// Read to the end whatever happened, so the checksum is of the whole file.
	if _, err := io.Copy(io.Discard, raw); err != nil {
		return w.err(u, s.unreachable(w.ctx, u, err))
	}
	got := hex.EncodeToString(h.Sum(nil))
	want := normalSum(d.Checksum.Value)
	if d.Size > 0 && counted.n != d.Size || got != want {
		what := fmt.Sprintf("%s %s expected, got %s", normalType(d.Checksum.Type), want, got)
		if d.Size > 0 && counted.n != d.Size {
			what = fmt.Sprintf("%d bytes expected, got %d", d.Size, counted.n)
		}
		return errs.E(errs.Invalid, "%s from %s does not match repodata/repomd.xml (%s): the mirror may be in the middle of an update, or altered; try again later or use another mirror", href, base.Redacted(), what)
	}
	if decErr != nil {
		return errs.E(errs.Invalid, "%s from %s cannot be decompressed (%v): use another mirror", href, base.Redacted(), decErr)
	}
	if consumeErr != nil {
		return errs.E(errs.Invalid, "%s from %s cannot be read (%v): use another mirror", href, base.Redacted(), consumeErr)
	}
	if openSum != nil {
		if got, want := hex.EncodeToString(openSum.Sum(nil)), normalSum(d.OpenChecksum.Value); got != want {
			return errs.E(errs.Invalid, "%s from %s, decompressed, does not match repodata/repomd.xml (%s %s expected, got %s): use another mirror", href, base.Redacted(), normalType(d.OpenChecksum.Type), want, got)
		}
	}
	return nil
}

// limitReader fails once more than n bytes were read, where
// io.LimitReader would end quietly and leave a truncated document.
type limitReader struct {
	r io.Reader
	n int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if l.n -= int64(n); l.n < 0 {
		return n, errors.New("it is too large once decompressed")
	}
	return n, err
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// decompress recognises gzip, xz, zstd and bzip2 by their magic numbers and
// passes anything else through: names on mirrors do not always tell.
func decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(6)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Close() }, nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		xr, err := xz.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return xr, func() {}, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, err
		}
		return zr, zr.Close, nil
	case bytes.HasPrefix(magic, []byte("BZh")):
		return bzip2.NewReader(br), func() {}, nil
	case bytes.HasPrefix(magic, []byte("\x00ZCK1")):
		return nil, nil, errors.New("it is zchunk-compressed, which enmei does not read")
	}
	return br, func() {}, nil
}

// newHash is the digest a repodata checksum type names.
func newHash(typ string) (hash.Hash, error) {
	switch normalType(typ) {
	case "sha1":
		return sha1.New(), nil
	case "sha224":
		return sha256.New224(), nil
	case "sha256":
		return sha256.New(), nil
	case "sha384":
		return sha512.New384(), nil
	case "sha512":
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("unsupported checksum type %q", typ)
}

// normalType is a checksum type as newHash names it: old yum wrote "sha"
// for SHA-1.
func normalType(typ string) string {
	typ = strings.ToLower(strings.TrimSpace(typ))
	if typ == "sha" {
		return "sha1"
	}
	return typ
}

func normalSum(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
