package hostbundle

import (
	"bytes"
	"cmp"
	"encoding/json"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// redacted replaces a credential in text.
const redacted = "<redacted>"

// minSecret is the shortest secret the safety net replaces: shorter ones
// would match ordinary text.
const minSecret = 6

// scrubber is the safety net every entry goes through.
type scrubber struct {
	secrets [][]byte // with their escaped forms, longest first
}

func newScrubber(secrets []string) *scrubber {
	seen := map[string]bool{}
	var s scrubber
	for _, sec := range secrets {
		if len(sec) < minSecret {
			continue
		}
		// The forms a secret takes in URLs, JSON and Go-quoted error
		// messages, besides itself.
		j, _ := json.Marshal(sec)
		q := strconv.Quote(sec)
		for _, v := range []string{sec, url.QueryEscape(sec), url.PathEscape(sec),
			strings.TrimPrefix(url.UserPassword("", sec).String(), ":"), string(j[1 : len(j)-1]), q[1 : len(q)-1]} {
			if len(v) >= minSecret && !seen[v] {
				seen[v] = true
				s.secrets = append(s.secrets, []byte(v))
			}
		}
	}
	// Longest first, so a secret containing another is replaced whole.
	slices.SortStableFunc(s.secrets, func(a, b []byte) int { return cmp.Compare(len(b), len(a)) })
	return &s
}

var (
	// A PEM private key block (PKCS#1, PKCS#8, EC, OpenSSH, encrypted),
	// or its beginning when the end is missing.
	privateKeyRE = regexp.MustCompile(`(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z0-9 ]*-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY[A-Z0-9 ]*-----|\z)`)
	// An HTTP Authorization or Proxy-Authorization header as librepo's
	// and apt's debug output quote it: the credentials run to the end of
	// the line (Digest has several fields, quoted).
	authHeaderRE = regexp.MustCompile(`(?i)((?:proxy-)?authorization\s*[:=]\s*"?(?:(?:basic|bearer|digest|negotiate|token)\s+)?)([^\r\n\x00]+)`)
	// key=value, key: value, "key": "value" where the key names a
	// credential (password, proxy_password, passwd, secret, token,
	// api_key, credential), as dnf --setopt, JSON and logs write them.
	// Group 2 is the separator: a colon needs a space or a quoted value
	// after it, so that package names in apt's and dpkg's logs
	// ("passwd:amd64", "libsecret-1-0:amd64") are no credentials.
	credentialRE = regexp.MustCompile(`(?i)((?:passw(?:or)?d|secret|token|api[_-]?key|credentials?)[\w.-]*)("?\s*=\s*|"?\s*:\s*)("[^"\x00-\x1f]*"|'[^'\x00-\x1f]*'|[^\s"',;&\x00-\x1f]+)`)
	// An XML name/value pair whose name is a credential, as in
	// Pacemaker's <nvpair name="passwd" value="..."/>.
	nvpairRE = regexp.MustCompile(`(?i)(name="[^"]*(?:pass|secret|token|key)[^"]*"[^>]*?\svalue=")([^"]*)(")`)
	// A URL's scheme and authority: the user information, if any, is
	// everything before the authority's last "@" (an unescaped "@" in a
	// password is common).
	urlRE = regexp.MustCompile(`(?i)[a-z][a-z0-9+.-]*://([^/\s"']*)`)
)

// scrub returns data with everything the safety net catches replaced, and
// how many replacements it made. Text gets <redacted>; binary content
// (SQLite history) gets as many '*' as the bytes replaced, so the lengths
// and offsets inside the file stay valid and it still opens.
func (s *scrubber) scrub(data []byte, binary bool) ([]byte, int) {
	n := 0
	mask := func(b []byte, text string) []byte {
		n++
		if binary {
			return bytes.Repeat([]byte{'*'}, len(b))
		}
		return []byte(text)
	}
	for _, sec := range s.secrets {
		if bytes.Contains(data, sec) {
			data = replaceAll(data, sec, func(b []byte) []byte { return mask(b, redacted) })
		}
	}
	data = privateKeyRE.ReplaceAllFunc(data, func(b []byte) []byte { return mask(b, "<redacted private key>") })
	// URLs before the key=value patterns, which would otherwise read
	// "https://token1:@host" as a "token" key.
	data = replaceGroup(urlRE, data, 1, func(auth []byte, _ [][]byte) []byte {
		out, changed := stripUserinfo(string(auth), func(hidden string) string { return string(mask([]byte(hidden), redacted)) })
		if !changed {
			return auth
		}
		return []byte(out)
	})
	data = replaceGroup(authHeaderRE, data, 2, func(v []byte, _ [][]byte) []byte {
		if done(v) {
			return v
		}
		return mask(v, redacted)
	})
	data = replaceGroup(credentialRE, data, 3, func(v []byte, m [][]byte) []byte {
		inner, q := v, []byte(nil)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') {
			inner, q = v[1:len(v)-1], v[:1]
		}
		sep := bytes.TrimLeft(m[2], `"`)
		if len(inner) == 0 || done(inner) || (q == nil && bytes.Equal(sep, []byte(":"))) {
			return v
		}
		return slices.Concat(q, mask(inner, redacted), q)
	})
	data = replaceGroup(nvpairRE, data, 2, func(v []byte, _ [][]byte) []byte {
		if len(v) == 0 || done(v) {
			return v
		}
		return mask(v, redacted)
	})
	return data, n
}

// done reports whether v is already redacted, by construction or by an
// earlier step. Only exactly: "<redacted>5" is what replacing the secret
// "abcdef" in "abcdef5" leaves, and is redacted again.
func done(v []byte) bool {
	return string(v) == redacted || len(bytes.Trim(v, "*")) == 0
}

// scrubName applies the known secrets to an entry name: a file name is
// the one place a secret could reach the tar headers.
func (s *scrubber) scrubName(name string) string {
	for _, sec := range s.secrets {
		name = strings.ReplaceAll(name, string(sec), "redacted")
	}
	return name
}

// replaceAll replaces every occurrence of old in data by repl(old).
func replaceAll(data, old []byte, repl func([]byte) []byte) []byte {
	var out []byte
	for {
		i := bytes.Index(data, old)
		if i < 0 {
			return append(out, data...)
		}
		out = append(out, data[:i]...)
		out = append(out, repl(data[i:i+len(old)])...)
		data = data[i+len(old):]
	}
}

// replaceGroup replaces submatch g of every match of re by repl(submatch,
// all submatches), keeping the rest of the match.
func replaceGroup(re *regexp.Regexp, data []byte, g int, repl func(v []byte, m [][]byte) []byte) []byte {
	locs := re.FindAllSubmatchIndex(data, -1)
	if locs == nil {
		return data
	}
	var out []byte
	last := 0
	for _, l := range locs {
		start, end := l[2*g], l[2*g+1]
		if start < 0 {
			continue
		}
		m := make([][]byte, len(l)/2)
		for i := range m {
			if l[2*i] >= 0 {
				m[i] = data[l[2*i]:l[2*i+1]]
			}
		}
		out = append(out, data[last:start]...)
		out = append(out, repl(data[start:end], m)...)
		last = end
	}
	return append(out, data[last:]...)
}

// stripUserinfo redacts the password of a URL authority ("user:pw@host"
// becomes "user:<redacted>@host"): the user name is kept, since it is
// what support needs to tell credentials apart (for enmei, the host ID),
// unless there is no password, for then the user part is itself the
// token (https://TOKEN@host). redact gives the replacement of what is
// hidden; changed is false when there was nothing to hide.
func stripUserinfo(auth string, redact func(string) string) (out string, changed bool) {
	i := strings.LastIndexByte(auth, '@')
	if i < 0 {
		return auth, false
	}
	userinfo, host := auth[:i], auth[i+1:]
	user, pw, hasPW := strings.Cut(userinfo, ":")
	if hasPW && pw != "" && user != "" {
		if pw == redacted || len(strings.Trim(pw, "*")) == 0 {
			return auth, false
		}
		return user + ":" + redact(pw) + "@" + host, true
	}
	if userinfo == redacted || len(strings.Trim(userinfo, "*:")) == 0 {
		return auth, false
	}
	return redact(userinfo) + "@" + host, true
}

// stripURLs redacts the user information of every URL in s, for text
// re-emitted by construction.
func stripURLs(s string) string {
	return string(replaceGroup(urlRE, []byte(s), 1, func(auth []byte, _ [][]byte) []byte {
		out, _ := stripUserinfo(string(auth), func(string) string { return redacted })
		return []byte(out)
	}))
}
