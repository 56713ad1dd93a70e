package hostbundle

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Repository configuration is redacted by construction: each format is
// parsed and only its structure is written back (sections, keys, fields,
// machines), with the value of every key naming a credential replaced and
// every URL's password removed. Comments and lines that do not parse are
// left out rather than copied, since nobody can tell what they hold; the
// header each file gets says how many.

// sensitiveWords mark a key whose value is a credential (or, for
// sslclientkey and apt's SslKey, the path of a private key).
var sensitiveWords = []string{"password", "passwd", "secret", "token", "credential", "apikey", "api_key", "api-key",
	"sslclientkey", "sslkey", "ssl_client_key", "private"}

// sensitiveKey reports whether a configuration key names a credential:
// password, proxy_password, Acquire::https::SslKey, any key containing
// "password", "secret" or "token". username and proxy_username are not:
// an enmei host's user name is its host ID, which support needs.
func sensitiveKey(k string) bool {
	k = strings.ToLower(k)
	for _, w := range sensitiveWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// cleanValue is a configuration value as the bundle shows it.
func cleanValue(key, v string) string {
	if sensitiveKey(key) {
		if v == "" {
			return ""
		}
		return redacted
	}
	v = stripURLs(v)
	// A proxy written without a scheme ("user:pw@proxy:3128") is no URL
	// to stripURLs.
	if strings.Contains(strings.ToLower(key), "proxy") && !strings.Contains(v, "://") {
		v, _ = stripUserinfo(v, func(string) string { return redacted })
	}
	return v
}

// header is the first line of a re-emitted file, in its comment syntax.
func header(comment, src string, dropped int) string {
	s := fmt.Sprintf("%s Re-emitted by enmei support-bundle from %s: credentials are %s", comment, src, redacted)
	if dropped > 0 {
		s += fmt.Sprintf("; %d comment or unparsed lines left out", dropped)
	}
	return s + ".\n"
}

// keyRE is what dnf, yum and their plugins accept as a key; anything else
// before an "=" (a base64 line, say) is no key and is left out.
var keyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.$-]{0,63}$`)

// reemitINI re-emits dnf/yum INI (.repo files, dnf.conf, yum.conf, plugin
// configuration): sections, and keys with their values cleaned.
// Continuation lines (indented, such as a second baseurl) follow their
// key: cleaned, or left out after a credential.
func reemitINI(data []byte, src string) []byte {
	var b strings.Builder
	dropped := 0
	key, inKey := "", false
	for line := range strings.Lines(string(data)) {
		line = strings.TrimRight(line, "\r\n")
		t := strings.TrimSpace(line)
		switch {
		case t == "":
			b.WriteString("\n")
			inKey = false
		case t[0] == '#' || t[0] == ';':
			dropped++
		case line[0] == ' ' || line[0] == '\t':
			if !inKey {
				dropped++
			} else if !sensitiveKey(key) {
				b.WriteString("    " + cleanValue(key, t) + "\n")
			}
		case t[0] == '[' && t[len(t)-1] == ']':
			b.WriteString("[" + stripURLs(strings.TrimSpace(t[1:len(t)-1])) + "]\n")
			inKey = false
		default:
			i := strings.IndexAny(t, "=:")
			k := ""
			if i > 0 {
				k = strings.TrimSpace(t[:i])
			}
			if !keyRE.MatchString(k) {
				dropped++
				inKey = false
				continue
			}
			key, inKey = k, true
			b.WriteString(k + "=" + cleanValue(k, strings.TrimSpace(t[i+1:])) + "\n")
		}
	}
	return []byte(header("#", src, dropped) + b.String())
}

// reemitVar re-emits a dnf/yum variable file (/etc/dnf/vars/NAME): its
// value, or <redacted> when the name says it is a credential.
func reemitVar(data []byte, src string) []byte {
	name := path.Base(src)
	var b strings.Builder
	dropped := 0
	for line := range strings.Lines(string(data)) {
		t := strings.TrimSpace(line)
		switch {
		case t == "":
		case strings.HasPrefix(t, "#"):
			dropped++
		default:
			b.WriteString(cleanValue(name, t) + "\n")
		}
	}
	return []byte(header("#", src, dropped) + b.String())
}

// reemitSourcesList re-emits apt's one-line sources (sources.list and
// *.list): the deb and deb-src lines, their URIs without passwords.
func reemitSourcesList(data []byte, src string) []byte {
	var b strings.Builder
	dropped := 0
	for line := range strings.Lines(string(data)) {
		t := strings.TrimSpace(line)
		if t == "" {
			b.WriteString("\n")
			continue
		}
		// apt reads "#" as the start of a comment anywhere on a line.
		t, comment, _ := strings.Cut(t, "#")
		f := strings.Fields(t)
		if len(f) == 0 || (f[0] != "deb" && f[0] != "deb-src") {
			dropped++
			continue
		}
		if comment != "" {
			dropped++
		}
		b.WriteString(stripURLs(strings.Join(f, " ")) + "\n")
	}
	return []byte(header("#", src, dropped) + b.String())
}

// fieldRE is a deb822 field name.
var fieldRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// reemitDeb822 re-emits apt's deb822 sources (*.sources): fields with
// their values cleaned, continuation lines (an inline Signed-By key) with
// their field.
func reemitDeb822(data []byte, src string) []byte {
	var b strings.Builder
	dropped := 0
	field, inField := "", false
	for line := range strings.Lines(string(data)) {
		line = strings.TrimRight(line, "\r\n")
		t := strings.TrimSpace(line)
		switch {
		case t == "":
			b.WriteString("\n")
			inField = false
		case line[0] == '#':
			dropped++
		case line[0] == ' ' || line[0] == '\t':
			if !inField {
				dropped++
			} else if !sensitiveKey(field) {
				b.WriteString(" " + cleanValue(field, t) + "\n")
			}
		default:
			name, v, ok := strings.Cut(t, ":")
			if !ok || !fieldRE.MatchString(name) {
				dropped++
				inField = false
				continue
			}
			field, inField = name, true
			b.WriteString(name + ": " + cleanValue(name, strings.TrimSpace(v)) + "\n")
		}
	}
	return []byte(header("#", src, dropped) + b.String())
}

// reemitNetrc re-emits apt's auth.conf (netrc(5) syntax, as apt reads
// it): one line per machine with its login, the password <redacted>.
// Tokens run across lines, so the one-line and multi-line forms read the
// same.
func reemitNetrc(data []byte, src string) []byte {
	type machine struct{ name, login, port string }
	var ms []machine
	dropped := 0
	var toks []string
	for line := range strings.Lines(string(data)) {
		for _, tok := range strings.Fields(line) {
			if strings.HasPrefix(tok, "#") {
				dropped++
				break
			}
			toks = append(toks, tok)
		}
	}
	var cur *machine
	for i := 0; i < len(toks); i++ {
		next := func() string {
			if i+1 < len(toks) {
				i++
				return toks[i]
			}
			return ""
		}
		switch toks[i] {
		case "machine":
			ms = append(ms, machine{name: stripURLs(next())})
			cur = &ms[len(ms)-1]
		case "default":
			ms = append(ms, machine{name: "default"})
			cur = &ms[len(ms)-1]
		case "login":
			if v := next(); cur != nil {
				cur.login = v
			}
		case "port":
			if v := next(); cur != nil {
				cur.port = v
			}
		case "password", "account":
			next() // never emitted: every machine line says <redacted>
		default:
			dropped++
		}
	}
	var b strings.Builder
	for _, m := range ms {
		if m.name == "default" {
			b.WriteString("default")
		} else {
			b.WriteString("machine " + m.name)
		}
		if m.port != "" {
			b.WriteString(" port " + m.port)
		}
		if m.login != "" {
			b.WriteString(" login " + m.login)
		}
		b.WriteString(" password " + redacted + "\n")
	}
	return []byte(header("#", src, dropped) + b.String())
}

// aptTok is a token of apt.conf(5) syntax.
type aptTok struct {
	kind byte // 'w' word, 's' quoted string, '{', '}' or ';'
	text string
}

// errAptConf is a file apt.conf's grammar as read here does not cover;
// it is left out rather than guessed at.
var errAptConf = errors.New("not apt.conf syntax enmei can read")

// lexAptConf splits apt.conf text into tokens, dropping comments (//,
// /* */, #) and #clear and #include directives, which it counts.
func lexAptConf(s string) ([]aptTok, int, error) {
	var toks []aptTok
	dropped := 0
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case strings.HasPrefix(s[i:], "//") || c == '#':
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				j = len(s) - i
			}
			i += j
			dropped++
		case strings.HasPrefix(s[i:], "/*"):
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return nil, 0, fmt.Errorf("%w: a /* comment is not closed", errAptConf)
			}
			i += j + 4
			dropped++
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, 0, fmt.Errorf("%w: a quoted value is not closed", errAptConf)
			}
			toks = append(toks, aptTok{'s', s[i+1 : i+1+j]})
			i += j + 2
		case c == '{' || c == '}' || c == ';':
			toks = append(toks, aptTok{c, ""})
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n{};\"", rune(s[j])) {
				j++
			}
			toks = append(toks, aptTok{'w', s[i:j]})
			i = j
		}
	}
	return toks, dropped, nil
}

// reemitAptConf re-emits apt.conf(5) (apt.conf and apt.conf.d/*) in its
// flat form, one `Full::Key "value";` per setting, whatever nesting the
// file used; values under keys naming a credential are <redacted> and
// URLs (Acquire::http::Proxy) lose their passwords. A file it cannot
// parse is an error, and left out.
func reemitAptConf(data []byte, src string) ([]byte, error) {
	toks, dropped, err := lexAptConf(string(data))
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	var scope, stmt []aptTok
	emit := func() error {
		var key, value string
		prefix := ""
		for _, s := range scope {
			prefix += s.text + "::"
		}
		switch {
		case len(stmt) == 0:
			return nil
		case len(stmt) == 1 && stmt[0].kind == 's': // a list item in a block
			key, value = prefix, stmt[0].text
		case len(stmt) == 1:
			key = prefix + stmt[0].text
		case len(stmt) == 2 && stmt[0].kind == 'w':
			key, value = prefix+stmt[0].text, stmt[1].text
		default:
			return fmt.Errorf("%w: a setting has %d parts", errAptConf, len(stmt))
		}
		// Values come from apt's quotes or words, neither of which can
		// hold a '"', so quoting them back needs no escaping.
		fmt.Fprintf(&b, "%s \"%s\";\n", stripURLs(key), cleanValue(key, value))
		stmt = stmt[:0]
		return nil
	}
	for _, t := range toks {
		switch t.kind {
		case 'w', 's':
			stmt = append(stmt, t)
		case ';':
			if err := emit(); err != nil {
				return nil, err
			}
		case '{':
			if len(stmt) != 1 || stmt[0].kind != 'w' {
				return nil, fmt.Errorf("%w: a block has no name", errAptConf)
			}
			scope = append(scope, stmt[0])
			stmt = stmt[:0]
		case '}':
			// apt accepts the last setting of a block without its ";".
			if err := emit(); err != nil {
				return nil, err
			}
			if len(scope) == 0 {
				return nil, fmt.Errorf("%w: a } closes no block", errAptConf)
			}
			scope = scope[:len(scope)-1]
		}
	}
	if len(scope) > 0 || len(stmt) > 0 {
		return nil, fmt.Errorf("%w: the file ends inside a setting or block", errAptConf)
	}
	return []byte(header("//", src, dropped) + b.String()), nil
}
