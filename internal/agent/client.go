package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/errs"
)

// client talks to enmeid.
type client struct {
	server string // without trailing slash
	http   *http.Client
}

// proxyFor picks the proxy for server: --proxy, else HTTPS_PROXY/HTTP_PROXY
// from env (NO_PROXY honoured). It returns "" for a direct connection.
func proxyFor(server, flag string, env func(string) string) string {
	if flag != "" {
		return flag
	}
	get := func(k string) string {
		if v := env(k); v != "" {
			return v
		}
		return env(strings.ToLower(k))
	}
	u, err := url.Parse(server)
	if err != nil {
		return ""
	}
	for _, np := range strings.Split(get("NO_PROXY"), ",") {
		np = strings.TrimPrefix(strings.TrimSpace(np), ".")
		if np == "*" || (np != "" && (u.Hostname() == np || strings.HasSuffix(u.Hostname(), "."+np))) {
			return ""
		}
	}
	if u.Scheme == "https" {
		return get("HTTPS_PROXY")
	}
	return get("HTTP_PROXY")
}

func newClient(server, caFile, proxy string) (*client, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageErr("--server must be an http:// or https:// URL, not %q", server)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	if proxy != "" {
		pu, err := url.Parse(proxy)
		if err != nil || pu.Host == "" {
			return nil, usageErr("the proxy %q is not a URL like http://proxy.example:3128", proxy)
		}
		tr.Proxy = http.ProxyURL(pu)
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, errs.E(errs.Invalid, "cannot read the CA file %s: %v", caFile, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errs.E(errs.Invalid, "%s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &client{server: strings.TrimRight(server, "/"), http: &http.Client{Transport: tr, Timeout: 60 * time.Second}}, nil
}

// do sends a request and decodes a JSON answer into out (if not nil).
func (c *client) do(ctx context.Context, method, path string, auth [2]string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "enmei-agent")
	if auth[0] != "" {
		req.SetBasicAuth(auth[0], auth[1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return unreachable(c.server, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return unreachable(c.server, err)
	}
	if resp.StatusCode >= 300 {
		var e api.Error
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			if resp.StatusCode == http.StatusProxyAuthRequired {
				return errs.E(errs.Unavailable, "the proxy refused the connection (407): check the proxy user and password")
			}
			return errs.E(errs.Other, "%s answered %s: is this an enmei server?", c.server, resp.Status)
		}
		switch e.Kind {
		case "entitlement", "unauthorized", "forbidden":
			return errs.E(errs.Entitlement, "%s", e.Error)
		case "invalid":
			return errs.E(errs.Invalid, "%s", e.Error)
		case "not_found":
			return errs.E(errs.NotFound, "%s", e.Error)
		}
		return errs.E(errs.Other, "%s", e.Error)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s sent an answer enmei cannot read: %w", c.server, err)
		}
	}
	return nil
}

func unreachable(server string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return errs.Wrap(errs.Unavailable, err, fmt.Sprintf("cannot reach %s: %v: check the URL, the network, the proxy and (for https) the CA", server, err))
}
