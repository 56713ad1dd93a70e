package hostbundle

import (
	"errors"
	"strings"
	"syscall"
	"testing"
)

// TestScrub: what the safety net catches in free text, and what it
// leaves.
func TestScrub(t *testing.T) {
	s := newScrubber([]string{"p@ss w0rd!x", "licence-KEY-0001", "tiny"})
	for _, c := range []struct{ name, in, want string }{
		{"secret as is", "key licence-KEY-0001 ok", "key <redacted> ok"},
		{"secret query-escaped", "GET /x?k=p%40ss+w0rd%21x HTTP/1.1", "GET /x?k=<redacted> HTTP/1.1"},
		{"secret path-escaped", "https://h/p%40ss%20w0rd%21x/", "https://h/<redacted>/"},
		{"secret JSON- and Go-quoted", `{"k":"p@ss w0rd!x"} "p@ss w0rd!x"`, `{"k":"<redacted>"} "<redacted>"`},
		{"short secrets are not replaced", "a tiny thing", "a tiny thing"},
		{"URL password", "from https://u:pw@h:8080/x", "from https://u:<redacted>@h:8080/x"},
		{"URL password with an @", "proxy http://u:p@ss@proxy:3128/ failed", "proxy http://u:<redacted>@proxy:3128/ failed"},
		{"URL token as user", "git https://ghp_abcdef@github.com/x", "git https://<redacted>@github.com/x"},
		{"URL user with an empty password", "ftp://TOKEN1234:@h/", "ftp://<redacted>@h/"},
		{"URL without userinfo", "see https://h/a@b and mailto:x@y", "see https://h/a@b and mailto:x@y"},
		{"password=", "--setopt=proxy_password=hunter22 x", "--setopt=proxy_password=<redacted> x"},
		{"JSON secret with a space", `{"secret": "two words", "n": 1}`, `{"secret": "<redacted>", "n": 1}`},
		{"token query parameter", "https://h/r?arch=x86_64&access_token=abc123", "https://h/r?arch=x86_64&access_token=<redacted>"},
		{"package names are no credentials", "Upgrade: passwd:amd64 (1:4.13), libsecret-1-0:amd64 (0.20.5-3)\nSetting up libsecret-1-0:amd64",
			"Upgrade: passwd:amd64 (1:4.13), libsecret-1-0:amd64 (0.20.5-3)\nSetting up libsecret-1-0:amd64"},
		{"key: value", "Password: hunter22\n\"token\":\"abc\"", "Password: <redacted>\n\"token\":\"<redacted>\""},
		{"Authorization Basic", "Authorization: Basic dTpwdw==", "Authorization: Basic <redacted>"},
		{"Proxy-Authorization Digest", `Proxy-Authorization: Digest username="u", response="abc"` + "\nnext", "Proxy-Authorization: Digest <redacted>\nnext"},
		{"nvpair", `<nvpair id="a" name="ipmi_password" value="pw"/><nvpair name="ip" value="10.0.0.1"/>`,
			`<nvpair id="a" name="ipmi_password" value="<redacted>"/><nvpair name="ip" value="10.0.0.1"/>`},
		{"private key", "a\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\nb", "a\n<redacted private key>\nb"},
		{"private key without its end", "a\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\nrest", "a\n<redacted private key>"},
		{"public key", "-----BEGIN PGP PUBLIC KEY BLOCK-----\nmQIN\n", "-----BEGIN PGP PUBLIC KEY BLOCK-----\nmQIN\n"},
	} {
		got, n := s.scrub([]byte(c.in), false)
		if string(got) != c.want {
			t.Errorf("%s: scrub(%q) = %q, want %q", c.name, c.in, got, c.want)
		}
		if (n > 0) != (c.in != c.want) {
			t.Errorf("%s: %d replacements counted", c.name, n)
		}
		// What is redacted already is left alone and not counted again.
		if again, n := s.scrub(got, false); string(again) != string(got) || n != 0 {
			t.Errorf("%s: scrubbing twice gives %q, %d replacements", c.name, again, n)
		}
	}
}

// TestScrubBinary: in binary entries every replacement keeps the length.
func TestScrubBinary(t *testing.T) {
	s := newScrubber([]string{"licence-KEY-0001"})
	in := "\x00\x01licence-KEY-0001\x00https://u:pw12@h/\x00proxy_password=abc\x00"
	got, n := s.scrub([]byte(in), true)
	want := "\x00\x01****************\x00https://u:****@h/\x00proxy_password=***\x00"
	if string(got) != want || n != 3 {
		t.Errorf("scrub = %q (%d), want %q (3)", got, n, want)
	}
}

func TestScrubName(t *testing.T) {
	s := newScrubber([]string{"licence-KEY-0001"})
	if got := s.scrubName("etc/apt/auth.conf.d/licence-KEY-0001.conf"); got != "etc/apt/auth.conf.d/redacted.conf" {
		t.Errorf("scrubName = %q", got)
	}
}

func TestReemitINI(t *testing.T) {
	in := "; comment\n[main]\nbaseurl = https://a/\n  https://u:pw@b/\npassword=pw1\n  continued-pw\nnot a key line\n" +
		"MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvuNMoSfm76oqFvAp8Gy0iz5sxjZmSnXyCdPEovGhLa0VzMaQ8s+CLOyS56YyCFGeJZ==\n" +
		"key: colon-value\n"
	want := "# Re-emitted by enmei support-bundle from /x.repo: credentials are <redacted>; 3 comment or unparsed lines left out.\n" +
		"[main]\nbaseurl=https://a/\n    https://u:<redacted>@b/\npassword=<redacted>\nkey=colon-value\n"
	if got := string(reemitINI([]byte(in), "/x.repo")); got != want {
		t.Errorf("reemitINI =\n%s\nwant\n%s", got, want)
	}
}

func TestReemitNetrc(t *testing.T) {
	in := "machine a.example login u1 password p1\n" +
		"machine b.example\n  login u2\n  password p2 # trailing comment p3\n" +
		"default login anonymous password p4 account p5\n"
	want := "# Re-emitted by enmei support-bundle from /auth.conf: credentials are <redacted>; 1 comment or unparsed lines left out.\n" +
		"machine a.example login u1 password <redacted>\nmachine b.example login u2 password <redacted>\ndefault login anonymous password <redacted>\n"
	got := string(reemitNetrc([]byte(in), "/auth.conf"))
	if got != want {
		t.Errorf("reemitNetrc =\n%s\nwant\n%s", got, want)
	}
	for _, p := range []string{"p1", "p2", "p3", "p4", "p5"} {
		if strings.Contains(got, " "+p) {
			t.Errorf("%s kept", p)
		}
	}
}

func TestReemitAptConf(t *testing.T) {
	got, err := reemitAptConf([]byte("APT { Get::Assume-Yes true; Periodic { Update \"1\" } };\nAcquire::http::Proxy-Password \"pw\";"), "/a")
	want := "// Re-emitted by enmei support-bundle from /a: credentials are <redacted>.\n" +
		"APT::Get::Assume-Yes \"true\";\nAPT::Periodic::Update \"1\";\nAcquire::http::Proxy-Password \"<redacted>\";\n"
	if err != nil || string(got) != want {
		t.Errorf("reemitAptConf = %q, %v; want %q", got, err, want)
	}
	for _, bad := range []string{"A { B \"c\";", "A \"b\" \"c\";", "}", "/* open", "A \"open;", "{ };", "A::B"} {
		if got, err := reemitAptConf([]byte(bad), "/a"); !errors.Is(err, errAptConf) {
			t.Errorf("reemitAptConf(%q) = %q, %v; want errAptConf", bad, got, err)
		}
	}
}

func TestCleanValue(t *testing.T) {
	for _, c := range []struct{ key, in, want string }{
		{"proxy", "carol:pw@proxy:3128", "carol:<redacted>@proxy:3128"},
		{"proxy", "http://proxy:3128", "http://proxy:3128"},
		{"Acquire::http::Proxy", "DIRECT", "DIRECT"},
		{"proxy_password", "", ""},
		{"SECRET_thing", "x", "<redacted>"},
		{"username", "h-0001", "h-0001"},
	} {
		if got := cleanValue(c.key, c.in); got != c.want {
			t.Errorf("cleanValue(%q, %q) = %q, want %q", c.key, c.in, got, c.want)
		}
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{
		"web01.example.jp": "web01.example.jp", "../x": "_._x", "deb host/1": "deb_host_1", "": "localhost",
		strings.Repeat("a", 80): strings.Repeat("a", 64),
	} {
		if got := safeName(in); got != want {
			t.Errorf("safeName(%q) = %q, want %q", in, got, want)
		}
	}
	if got := hostnameOf([]byte("\n# comment\n  db1 \nother\n")); got != "db1" {
		t.Errorf("hostnameOf = %q", got)
	}
}

// TestLinkLoop: a loop of links is an error, not a hang.
func TestLinkLoop(t *testing.T) {
	root := t.TempDir()
	symlink(t, root, "etc/a", "b")
	symlink(t, root, "etc/b", "/etc/a")
	h, err := openHost(root)
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	if _, err := h.readFile("/etc/a", 100); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("err = %v, want ELOOP", err)
	}
	write(t, root, "var/log/fifo-stand-in", "")
	if err := syscall.Mkfifo(root+"/var/log/dnf.log", 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.tail("/var/log/dnf.log", 100); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("FIFO: err = %v", err)
	}
}
