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
	"github.com/enmei-project/enmei/internal/proxyenv"
)

// requestTimeout bounds one API call, proxy and TLS handshake included.
const requestTimeout = 30 * time.Second

// client talks to enmeid's API.
type client struct {
	server string // without trailing slash
	proxy  *url.URL
	http   *http.Client
}

// proxyFor picks the proxy for server: the --proxy flag, else HTTPS_PROXY
// (https servers) or HTTP_PROXY (http servers) from env, either case, unless
// NO_PROXY names the server. It returns "" for a direct connection. Unlike
// net/http's ProxyFromEnvironment it does proxy loopback servers: an explicit
// setting is meant, and tests rely on it.
func proxyFor(server, flag string, env func(string) string) string {
	if flag != "" {
		return proxyenv.Normalize(flag)
	}
	u, err := url.Parse(server)
	if err != nil {
		return ""
	}
	return proxyenv.For(u, env)
}

// newClient makes a client for server, trusting caFile in addition to the
// system roots and going through proxy when it is not "".
func newClient(server, caFile, proxy string) (*client, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageErr("--server must be an http:// or https:// URL like https://els.example.jp, not %q", server)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // only the proxy chosen by proxyFor, never the process environment
	tr.TLSHandshakeTimeout = 15 * time.Second
	c := &client{server: strings.TrimRight(server, "/")}
	if proxy != "" {
		pu, err := url.Parse(proxy)
		if err != nil || pu.Host == "" || (pu.Scheme != "http" && pu.Scheme != "https") {
			return nil, usageErr("the proxy %q is not a URL like http://user:password@proxy.example.jp:3128", proxyenv.Redact(proxy))
		}
		c.proxy = pu
		tr.Proxy = http.ProxyURL(pu)
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, errs.E(errs.Invalid, "cannot read the CA file %s: %v: pass the PEM file of the CA that signed the server's certificate", caFile, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errs.E(errs.Invalid, "%s holds no PEM certificate: pass the CA certificate (-----BEGIN CERTIFICATE-----)", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	c.http = &http.Client{Transport: tr, Timeout: requestTimeout}
	return c, nil
}

// close releases the client's idle connections.
func (c *client) close() { c.http.CloseIdleConnections() }

// serverError is an error answer of the server.
type serverError struct {
	Status int
	Body   api.Error
}

func (e *serverError) Error() string { return e.Body.Error }

// do sends a request (in as JSON when not nil, with HTTP Basic auth when
// user is set) and decodes the JSON answer into out when not nil. Only a 2xx
// answer returns nil.
func (c *client) do(ctx context.Context, method, path, user, pass string, in, out any) error {
	data, err := c.send(ctx, method, path, user, pass, in)
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s sent an answer enmei cannot read (%v): check that --server is the enmei server's URL and the agent is up to date", c.server, err)
		}
	}
	return nil
}

// getText fetches a document that is not JSON, like the signing key.
func (c *client) getText(ctx context.Context, path string) (string, error) {
	data, err := c.send(ctx, "GET", path, "", "", nil)
	return string(data), err
}

// send makes one request and returns the body of a 2xx answer; any other
// answer is an error of the kind the server named.
func (c *client) send(ctx context.Context, method, path, user, pass string, in any) ([]byte, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encoding the request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, body)
	if err != nil {
		return nil, fmt.Errorf("making the request: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "enmei-agent")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.unreachable(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, c.unreachable(err)
	}
	if resp.StatusCode >= 300 || resp.StatusCode == http.StatusProxyAuthRequired {
		return nil, c.answerError(resp, data, path)
	}
	if resp.StatusCode < 200 {
		return nil, errs.E(errs.Other, "%s answered %s to %s, not an enmei answer: check that --server is the enmei server's URL", c.server, resp.Status, path)
	}
	return data, nil
}

// answerError turns a non-2xx answer into an error of the kind the server
// named.
func (c *client) answerError(resp *http.Response, data []byte, path string) error {
	if resp.StatusCode == http.StatusProxyAuthRequired {
		return errs.E(errs.Unavailable, "the proxy %s refused the request (407 Proxy Authentication Required): check the proxy user and password in --proxy or the proxy environment variable", c.proxyName())
	}
	var e api.Error
	if json.Unmarshal(data, &e) != nil || e.Error == "" {
		return errs.E(errs.Other, "%s answered %s to %s, not an enmei answer: check that --server is the enmei server's URL", c.server, resp.Status, path)
	}
	se := &serverError{Status: resp.StatusCode, Body: e}
	switch e.Kind {
	case "entitlement", "unauthorized", "forbidden":
		return errs.Wrap(errs.Entitlement, se, e.Error)
	case "invalid":
		return errs.Wrap(errs.Invalid, se, e.Error)
	case "not_found":
		return errs.Wrap(errs.NotFound, se, e.Error)
	}
	return errs.Wrap(errs.Other, se, e.Error)
}

// isUnauthorized reports whether err is the server's 401: the credential is
// not (or no longer) valid.
func isUnauthorized(err error) bool {
	var se *serverError
	return errors.As(err, &se) && se.Status == http.StatusUnauthorized
}

func (c *client) proxyName() string {
	if c.proxy == nil {
		return ""
	}
	return c.proxy.Redacted()
}

// unreachable turns a transport error into the one sentence the user sees.
func (c *client) unreachable(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		verify   *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &unknown) || errors.As(err, &verify) || errors.As(err, &hostname):
		return errs.Wrap(errs.Unavailable, err, fmt.Sprintf("cannot reach %s: its TLS certificate is not trusted (%v): pass the CA that signed it with --ca FILE, or check the URL", c.server, err))
	case c.proxy != nil:
		return errs.Wrap(errs.Unavailable, err, fmt.Sprintf("cannot reach %s through the proxy %s: %v: check the URL, the proxy and its credentials, and the network", c.server, c.proxyName(), err))
	}
	env := "HTTPS_PROXY"
	if strings.HasPrefix(c.server, "http:") {
		env = "HTTP_PROXY"
	}
	return errs.Wrap(errs.Unavailable, err, fmt.Sprintf("cannot reach %s: %v: check the URL, the network or the proxy (--proxy or %s)", c.server, err, env))
}
