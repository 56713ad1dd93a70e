package proxyenv

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestProxyFor(t *testing.T) {
	for _, tc := range []struct {
		url  string
		env  map[string]string
		want string
	}{
		{"https://repo.example.org/9/", map[string]string{"HTTPS_PROXY": "http://u:p@proxy:3128", "HTTP_PROXY": "http://other:1"}, "http://u:p@proxy:3128"},
		{"http://repo.example.org/9/", map[string]string{"HTTPS_PROXY": "http://proxy:3128", "http_proxy": "plain:8080"}, "http://plain:8080"},
		{"https://repo.example.org/9/", map[string]string{"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "example.org"}, ""},
		{"https://repo.example.org/9/", map[string]string{"https_proxy": "http://proxy:3128", "no_proxy": "localhost,.example.org"}, ""},
		{"https://10.1.2.3/9/", map[string]string{"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "10.0.0.0/8"}, ""},
		{"https://repo.example.org/9/", map[string]string{"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "other.example"}, "http://proxy:3128"},
		{"https://repo.example.org/9/", nil, ""},
	} {
		u, _ := url.Parse(tc.url)
		if got := For(u, func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("For(%s, %v) = %q, want %q", tc.url, tc.env, got, tc.want)
		}
	}
}

func TestRequestRefusesABadProxy(t *testing.T) {
	f := Request(func(k string) string { return map[string]string{"HTTPS_PROXY": "ftp://u:secret@proxy:21"}[k] })
	u, _ := url.Parse("https://repo.example.org/")
	if _, err := f(&http.Request{URL: u}); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("a non-http proxy: %v (must be refused without its password)", err)
	}
}
