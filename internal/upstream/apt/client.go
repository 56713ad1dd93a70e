package apt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/proxyenv"
)

// Getter fetches a URL. It is an interface so the caller can share its own
// HTTP client or fetcher; the response's status is checked here.
type Getter interface {
	Get(ctx context.Context, url string, header http.Header) (*http.Response, error)
}

const userAgent = "enmei-upstream-apt/1"

// clientGetter is a Getter over an *http.Client.
type clientGetter struct{ c *http.Client }

func (g clientGetter) Get(ctx context.Context, rawURL string, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", userAgent)
	}
	return g.c.Do(req)
}

// requestHeader is sent with every request. Identity encoding keeps the
// bytes those of the file: a server that marks Packages.gz as gzip-encoded
// would otherwise have net/http unpack it, and its SHA256 would not match.
func requestHeader() http.Header {
	return http.Header{"Accept-Encoding": {"identity"}}
}

// NewClient returns an HTTP client for mirroring: it goes through the
// proxy HTTPS_PROXY (https URLs) or HTTP_PROXY (http URLs) names, in either
// case, unless NO_PROXY exempts the host, sending the user:password of the
// proxy URL as Basic credentials. Unlike net/http's ProxyFromEnvironment it
// reads the environment now, not once per process, and also proxies
// loopback hosts: a proxy that is set is meant. Connecting, the TLS
// handshake and waiting for response headers are bounded; a transfer is
// not, as a package may be large (Download detects stalls itself).
func NewClient() *http.Client {
	return newClient(os.Getenv)
}

func newClient(getenv func(string) string) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = proxyFunc(getenv)
	tr.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 15 * time.Second
	tr.ResponseHeaderTimeout = 60 * time.Second
	tr.MaxIdleConnsPerHost = 16
	return &http.Client{Transport: tr}
}

// clients keeps one default client per proxy setting, so connections are
// reused across calls while a changed environment still takes effect.
var clients sync.Map

func defaultClient() *http.Client {
	key := strings.Join([]string{envVar(os.Getenv, "HTTP_PROXY"), envVar(os.Getenv, "HTTPS_PROXY"), envVar(os.Getenv, "NO_PROXY")}, "\x00")
	if c, ok := clients.Load(key); ok {
		return c.(*http.Client)
	}
	c, _ := clients.LoadOrStore(key, NewClient())
	return c.(*http.Client)
}

func envVar(getenv func(string) string, k string) string {
	if v := getenv(k); v != "" {
		return v
	}
	return getenv(strings.ToLower(k))
}

// proxyFunc picks the proxy of a request from the environment read now
// (see proxyenv).
func proxyFunc(getenv func(string) string) func(*http.Request) (*url.URL, error) {
	snap := map[string]string{}
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"} {
		snap[k] = envVar(getenv, k)
	}
	return proxyenv.Request(func(k string) string { return snap[strings.ToUpper(k)] })
}

// fetchSmall GETs a metadata file of at most limit bytes. found is false
// when the server has no such file (HTTP 404 or 410).
func fetchSmall(ctx context.Context, g Getter, rawURL string, limit int64) (data []byte, found bool, err error) {
	resp, err := g.Get(ctx, rawURL, requestHeader())
	if err != nil {
		return nil, false, reachErr(ctx, rawURL, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return nil, false, nil
	case resp.StatusCode != http.StatusOK:
		return nil, false, statusErr(rawURL, resp)
	}
	data, err = readAllLimit(resp.Body, limit)
	if errors.Is(err, errTooLarge) {
		return nil, true, errs.Wrap(errs.Invalid, errTooLarge, fmt.Sprintf("%s is larger than the %d bytes expected: the mirror serves a wrong or altered file; try another mirror", redact(rawURL), limit))
	}
	if err != nil {
		return nil, false, reachErr(ctx, rawURL, err)
	}
	return data, true, nil
}

func readAllLimit(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, errTooLarge
	}
	return data, nil
}

// reachErr explains a failed request; a cancelled context is returned as
// it is, since the caller asked for the stop.
func reachErr(ctx context.Context, rawURL string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errs.KindOf(err) != errs.Other {
		return err
	}
	return errs.Wrap(errs.Unavailable, err, fmt.Sprintf("cannot fetch %s: %v: check the URL, the network and the proxy (HTTPS_PROXY, HTTP_PROXY)", redact(rawURL), err))
}

// statusErr explains an HTTP status other than 200.
func statusErr(rawURL string, resp *http.Response) error {
	u := redact(rawURL)
	switch c := resp.StatusCode; {
	case c == http.StatusProxyAuthRequired:
		return errs.E(errs.Unauthorized, "the proxy refused to fetch %s without valid credentials (HTTP 407): put them in the proxy URL, like http://user:password@proxy.example.jp:3128", u)
	case c == http.StatusUnauthorized || c == http.StatusForbidden:
		return errs.E(errs.Unauthorized, "the mirror refused %s (HTTP %s): check the URL and any credentials it needs", u, resp.Status)
	}
	return errs.E(errs.Unavailable, "the mirror answered HTTP %s for %s: try again later, or check the URL", resp.Status, u)
}
