package maven

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// ChecksumExts are the checksum algorithms a Maven repository serves, each
// as the extension of its checksum file (lib-1.0.jar.sha1). Maven clients
// fetch sha1 and md5; newer ones also sha256 and sha512.
var ChecksumExts = []string{"md5", "sha1", "sha256", "sha512"}

// Digests are a file's digests, in lower-case hex.
type Digests struct {
	MD5, SHA1, SHA256, SHA512 string
}

// Get returns the digest for a checksum extension, or "" for an unknown
// one.
func (d Digests) Get(alg string) string {
	switch alg {
	case "md5":
		return d.MD5
	case "sha1":
		return d.SHA1
	case "sha256":
		return d.SHA256
	case "sha512":
		return d.SHA512
	}
	return ""
}

// Sum reads r to the end and returns all its digests, computed in one pass
// so that a large artifact is read once.
func Sum(r io.Reader) (Digests, error) {
	h5, h1, h256, h512 := md5.New(), sha1.New(), sha256.New(), sha512.New()
	if _, err := io.Copy(io.MultiWriter(h5, h1, h256, h512), r); err != nil {
		return Digests{}, fmt.Errorf("reading the file to checksum: %w", err)
	}
	return Digests{
		MD5:    hex.EncodeToString(h5.Sum(nil)),
		SHA1:   hex.EncodeToString(h1.Sum(nil)),
		SHA256: hex.EncodeToString(h256.Sum(nil)),
		SHA512: hex.EncodeToString(h512.Sum(nil)),
	}, nil
}

// maxChecksumFile bounds a checksum file: a SHA-512 digest and a file name.
const maxChecksumFile = 128 + 1 + MaxPathLen + 2

// ParseChecksumFile returns the digest, in lower-case hex, that a checksum
// file holds. The file is one line: the hex digest of an MD5, SHA-1,
// SHA-256 or SHA-512, optionally followed by white space and a file name
// (as sha1sum writes it), optionally followed by a newline. Anything else
// is refused: a client that uploads something else is not uploading a
// checksum.
func ParseChecksumFile(data []byte) (string, error) {
	if len(data) > maxChecksumFile {
		return "", invalid("the checksum file is %d bytes, longer than a digest and a file name; upload just the hex digest", len(data))
	}
	s := strings.TrimRight(string(data), " \t\r\n")
	if s == "" {
		return "", invalid("the checksum file is empty; upload the hex digest")
	}
	if strings.ContainsAny(s, "\r\n") {
		return "", invalid("the checksum file has more than one line; upload just the hex digest")
	}
	digest, name, _ := strings.Cut(strings.ReplaceAll(s, "\t", " "), " ")
	for i := 0; i < len(name); i++ {
		if name[i] < 0x20 || name[i] == 0x7f {
			return "", invalid("the file name in the checksum file contains a control character; upload just the hex digest")
		}
	}
	switch len(digest) {
	case 2 * md5.Size, 2 * sha1.Size, 2 * sha256.Size, 2 * sha512.Size:
	default:
		return "", invalid("the checksum file does not start with an MD5, SHA-1, SHA-256 or SHA-512 digest in hex; upload just the hex digest")
	}
	if _, err := hex.DecodeString(digest); err != nil {
		return "", invalid("the checksum file's digest %q is not hex; upload just the hex digest", digest)
	}
	return strings.ToLower(digest), nil
}
