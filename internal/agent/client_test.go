package agent

import "testing"

func TestProxyFor(t *testing.T) {
	tests := []struct {
		name, server, flag string
		env                map[string]string
		want               string
	}{
		{"HTTPS_PROXY", "https://els.example.jp", "", map[string]string{"HTTPS_PROXY": "http://p:3128"}, "http://p:3128"},
		{"https_proxy lower case", "https://els.example.jp", "", map[string]string{"https_proxy": "http://lower:3128"}, "http://lower:3128"},
		{"upper case wins", "https://els.example.jp", "", map[string]string{"HTTPS_PROXY": "http://up:1", "https_proxy": "http://low:1"}, "http://up:1"},
		{"flag wins", "https://els.example.jp", "http://flag:8080", map[string]string{"HTTPS_PROXY": "http://p:3128"}, "http://flag:8080"},
		{"flag beats NO_PROXY", "https://els.example.jp", "http://flag:8080", map[string]string{"NO_PROXY": "*"}, "http://flag:8080"},
		{"no scheme", "https://els.example.jp", "", map[string]string{"HTTPS_PROXY": "p:3128"}, "http://p:3128"},
		{"credentials kept", "https://els.example.jp", "", map[string]string{"HTTPS_PROXY": "http://u:p%40ss@p:3128"}, "http://u:p%40ss@p:3128"},
		{"NO_PROXY domain", "https://els.example.jp", "", map[string]string{"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "example.jp"}, ""},
		{"no_proxy leading dot", "https://els.example.jp", "", map[string]string{"HTTPS_PROXY": "http://p:3128", "no_proxy": "localhost,.example.jp"}, ""},
		{"NO_PROXY wildcard domain", "https://els.example.jp", "", map[string]string{"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "*.example.jp"}, ""},
		{"NO_PROXY other domain", "https://els.example.jp", "", map[string]string{"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "ample.jp,example.com"}, "http://p:3128"},
		{"NO_PROXY star", "https://els.example.jp", "", map[string]string{"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "*"}, ""},
		{"NO_PROXY CIDR", "http://10.1.2.3:8080", "", map[string]string{"HTTP_PROXY": "http://p:3128", "NO_PROXY": "10.0.0.0/8"}, ""},
		{"NO_PROXY port match", "https://els.example.jp", "", map[string]string{"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "els.example.jp:443"}, ""},
		{"NO_PROXY port differs", "https://els.example.jp:8443", "", map[string]string{"HTTPS_PROXY": "http://p:3128", "NO_PROXY": "els.example.jp:443"}, "http://p:3128"},
		{"http server uses HTTP_PROXY", "http://127.0.0.1:8080", "", map[string]string{"HTTP_PROXY": "http://p:3128"}, "http://p:3128"},
		{"http server ignores HTTPS_PROXY", "http://127.0.0.1:8080", "", map[string]string{"HTTPS_PROXY": "http://p:3128"}, ""},
		{"https server ignores HTTP_PROXY", "https://els.example.jp", "", map[string]string{"HTTP_PROXY": "http://p:3128"}, ""},
		{"nothing", "https://els.example.jp", "", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := func(k string) string { return tt.env[k] }
			if got := proxyFor(tt.server, tt.flag, env); got != tt.want {
				t.Errorf("proxyFor(%s, %q, %v) = %q, want %q", tt.server, tt.flag, tt.env, got, tt.want)
			}
		})
	}
}

func TestNewClientRejects(t *testing.T) {
	tests := []struct{ name, server, ca, proxy string }{
		{"no scheme", "els.example.jp", "", ""},
		{"ftp", "ftp://els.example.jp", "", ""},
		{"bad proxy", "https://els.example.jp", "", "http://"},
		{"socks proxy", "https://els.example.jp", "", "socks5://p:1080"},
		{"missing CA", "https://els.example.jp", "/nonexistent/ca.pem", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := newClient(tt.server, tt.ca, tt.proxy); err == nil {
				t.Error("newClient succeeded")
			}
		})
	}
}
