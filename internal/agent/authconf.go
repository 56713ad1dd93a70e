package agent

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// apt before 1.5 reads no /etc/apt/auth.conf.d, only /etc/apt/auth.conf,
// a file that is the user's as much as enmei's. There register keeps the
// credentials in a block between these marker lines and leaves every other
// line as it was; unregister takes the block out again. apt's netrc parser
// knows no comments: it skips tokens other than machine, login and password,
// so the markers must never contain those words.
const (
	aptAuthConf = "/etc/apt/auth.conf"
	blockBegin  = "# BEGIN enmei (managed by enmei register; do not edit)"
	blockEnd    = "# END enmei"
)

// legacyAuthLines are the auth.conf lines apt before 1.5 matches. Its
// parser (apt-pkg/contrib/netrc.cc up to 1.4) compares a machine token
// first with the URI's host alone, then as a prefix of host+path: the host
// never carries the port, and the scheme is no part of either, so a token
// with "https://" or ":8443" never matches. A token with a path matches
// every URI under it, over http and https alike, and apt's own manual asks
// that several entries for one host all carry a path, which these do.
func legacyAuthLines(s settings, host string) string {
	var b strings.Builder
	for _, r := range s.repos {
		fmt.Fprintf(&b, "machine %s%s login %s password %s\n", host, r.Path, r.hostID, r.secret)
	}
	return b.String()
}

// withBlock returns content with enmei's managed block replaced by body, or
// removed when body is empty; every other line stays as it was. A new block
// goes at the end, after a line break if the file lacks its last one.
func withBlock(content []byte, body string) []byte {
	var out bytes.Buffer
	lines := strings.SplitAfter(string(content), "\n")
	// A block whose end marker someone deleted ends at its last machine
	// line instead, so the user's lines after it are kept.
	ended := false
	for _, line := range lines {
		ended = ended || strings.TrimSpace(line) == blockEnd
	}
	placed, inBlock := false, false
	put := func() {
		if body != "" && !placed {
			out.WriteString(blockBegin + "\n" + body + blockEnd + "\n")
		}
		placed = true
	}
	for _, line := range lines {
		switch t := strings.TrimSpace(line); {
		case inBlock && !ended && !strings.HasPrefix(t, "machine "):
			inBlock = false
			out.WriteString(line)
		case inBlock:
			if t == blockEnd {
				inBlock = false
			}
		case t == blockBegin:
			inBlock = true
			put()
		default:
			out.WriteString(line)
		}
	}
	if !placed && body != "" {
		if out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte("\n")) {
			out.WriteByte('\n')
		}
		put()
	}
	return out.Bytes()
}

// authConfFile is /etc/apt/auth.conf under root with enmei's block set to
// body; created reports that there was no such file before.
func authConfFile(root, body string) (f file, created bool, err error) {
	old, err := os.ReadFile(filepath.Join(root, aptAuthConf))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		created = true
	case err != nil:
		return file{}, false, fmt.Errorf("reading %s: %w", aptAuthConf, err)
	}
	return file{aptAuthConf, withBlock(old, body), 0o600}, created, nil
}

// removeAuthBlock takes enmei's block out of /etc/apt/auth.conf under root,
// and removes the file when enmei created it and nothing but blank lines is
// left. A missing file or block is fine.
func removeAuthBlock(root string, created bool) error {
	p := filepath.Join(root, aptAuthConf)
	old, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", aptAuthConf, err)
	}
	rest := withBlock(old, "")
	if bytes.Equal(rest, old) {
		return nil
	}
	if created && len(bytes.TrimSpace(rest)) == 0 {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing %s: %w", aptAuthConf, err)
		}
		return nil
	}
	mode := fs.FileMode(0o600)
	if fi, err := os.Stat(p); err == nil {
		mode = fi.Mode().Perm()
	}
	return writeFiles(root, []file{{aptAuthConf, rest, mode}})
}
