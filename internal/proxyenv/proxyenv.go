// Package proxyenv picks the HTTP proxy for a URL from the environment the
// way curl, dnf and apt users expect: HTTPS_PROXY for https URLs,
// HTTP_PROXY for http ones, upper or lower case, unless NO_PROXY exempts
// the host. Unlike net/http's ProxyFromEnvironment it reads the
// environment it is given on every call (no process-wide cache) and does
// proxy loopback hosts, because an explicit setting is meant (and tests
// rely on it). The agent and the mirror syncs share it.
package proxyenv

import (
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/enmei-project/enmei/internal/errs"
)

// get reads an environment variable in either case, upper first.
func get(env func(string) string, k string) string {
	if v := env(k); v != "" {
		return v
	}
	return env(strings.ToLower(k))
}

// For is the proxy for u from env, or "" for a direct connection.
func For(u *url.URL, env func(string) string) string {
	if Exempt(u, get(env, "NO_PROXY")) {
		return ""
	}
	if u.Scheme == "https" {
		return Normalize(get(env, "HTTPS_PROXY"))
	}
	return Normalize(get(env, "HTTP_PROXY"))
}

// Normalize gives a scheme-less proxy ("proxy:3128") the http:// that curl
// and Go assume.
func Normalize(p string) string {
	p = strings.TrimSpace(p)
	if p != "" && !strings.Contains(p, "://") {
		return "http://" + p
	}
	return p
}

// Request is an http.Transport Proxy function over env. Credentials in
// the proxy URL go out as Basic Proxy-Authorization (net/http does that).
func Request(env func(string) string) func(*http.Request) (*url.URL, error) {
	return func(req *http.Request) (*url.URL, error) {
		p := For(req.URL, env)
		if p == "" {
			return nil, nil
		}
		u, err := url.Parse(p)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return nil, errs.E(errs.Invalid, "the proxy %q is not a URL like http://user:password@proxy.example.jp:3128: correct HTTPS_PROXY or HTTP_PROXY", Redact(p))
		}
		return u, nil
	}
}

// Exempt reports whether the comma-separated NO_PROXY list exempts u: "*",
// host names (".example.jp" and "*.example.jp" for sub-domains; a plain
// name matches sub-domains too, as curl does), IP addresses and CIDR
// ranges, each optionally with ":port".
func Exempt(u *url.URL, list string) bool {
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	ip := net.ParseIP(host)
	for _, e := range strings.Split(list, ",") {
		e = strings.ToLower(strings.TrimSpace(e))
		switch {
		case e == "":
			continue
		case e == "*":
			return true
		}
		if _, cidr, err := net.ParseCIDR(e); err == nil {
			if ip != nil && cidr.Contains(ip) {
				return true
			}
			continue
		}
		if h, p, err := net.SplitHostPort(e); err == nil {
			if p != port {
				continue
			}
			e = h
		}
		e = strings.TrimPrefix(strings.TrimPrefix(strings.Trim(e, "[]"), "*"), ".")
		if e != "" && (host == e || strings.HasSuffix(host, "."+e)) {
			return true
		}
	}
	return false
}

// Redact hides a proxy password in messages.
func Redact(p string) string {
	if u, err := url.Parse(p); err == nil {
		return u.Redacted()
	}
	if i := strings.LastIndex(p, "@"); i >= 0 {
		return "…" + p[i:]
	}
	return p
}
