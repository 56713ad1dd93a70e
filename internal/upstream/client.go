package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/proxyenv"
)

// stallTimeout ends a transfer that has sent nothing for this long: the
// client has no overall timeout, since a large package on a slow link may
// take hours, but a connection that went silent must not hang a sync.
var stallTimeout = 2 * time.Minute

var errStalled = errors.New("the transfer stalled")

// defaultClient is shared by every Source without its own Client, so
// parallel downloads reuse connections.
var defaultClient = sync.OnceValue(func() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = proxyFromEnv
	tr.TLSHandshakeTimeout = 15 * time.Second
	tr.ResponseHeaderTimeout = time.Minute
	tr.MaxIdleConnsPerHost = 16
	// .gz files must arrive as stored: their checksums are of those bytes.
	tr.DisableCompression = true
	return &http.Client{Transport: tr}
})

func (s *Source) client() *http.Client {
	if s.Client != nil {
		return s.Client
	}
	return defaultClient()
}

// proxyFromEnv picks the proxy for a request as curl and dnf do, reading
// the environment on every request (see proxyenv).
var proxyFromEnv = proxyenv.Request(os.Getenv)

// get sends a GET for u (with a Range from offset when offset > 0) and
// returns the response of a 2xx answer; other answers become errors naming
// what was asked for. The caller closes the body.
func (s *Source) get(ctx context.Context, u *url.URL, offset int64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("requesting %s: %w", u.Redacted(), err)
	}
	req.Header.Set("User-Agent", "enmeid-repo-sync")
	// Without this a client of the caller's might ask for gzip and unpack a
	// .gz file on the way, changing the bytes the checksums are of.
	req.Header.Set("Accept-Encoding", "identity")
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, err := s.client().Do(req)
	if err != nil {
		return nil, s.unreachable(ctx, u, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 || resp.StatusCode == http.StatusRequestedRangeNotSatisfiable {
		return resp, nil
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotFound, http.StatusGone:
		return nil, &statusError{url: u, status: resp.Status, err: errs.E(errs.NotFound,
			"%s is not on the upstream server (%s): check the repository URL; a mirror in the middle of an update can also answer this, so try again later", u.Redacted(), resp.Status)}
	case http.StatusProxyAuthRequired:
		return nil, &statusError{url: u, status: resp.Status, err: errs.E(errs.Unavailable,
			"the proxy%s refused the request for %s (407 Proxy Authentication Required): check the user and password in HTTPS_PROXY or HTTP_PROXY (http://user:password@proxy:port)", s.proxyName(u), u.Redacted())}
	case http.StatusUnauthorized, http.StatusForbidden:
		// Some proxies (tinyproxy) answer a wrong proxy password with 401.
		if p := s.proxyName(u); p != "" {
			return nil, &statusError{url: u, status: resp.Status, err: errs.E(errs.Forbidden,
				"the upstream server or the proxy%s refused %s (%s): check the user and password in HTTPS_PROXY or HTTP_PROXY, and those in the repository URL if it needs an account", p, u.Redacted(), resp.Status)}
		}
		return nil, &statusError{url: u, status: resp.Status, err: errs.E(errs.Forbidden,
			"the upstream server refused %s (%s): check the repository URL, and the account in it (https://user:password@host/…) if the repository is not public", u.Redacted(), resp.Status)}
	}
	return nil, &statusError{url: u, status: resp.Status, retry: true, err: errs.E(errs.Unavailable,
		"the upstream server answered %s for %s: try again later or use another mirror", resp.Status, u.Redacted())}
}

// statusError is an HTTP answer other than success; retry marks the ones a
// second attempt may cure (5xx and the like).
type statusError struct {
	url    *url.URL
	status string
	retry  bool
	err    error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// proxyName is " http://proxy:3128" (password hidden) when the default
// client sends u through a proxy, else "".
func (s *Source) proxyName(u *url.URL) string {
	if s.Client != nil {
		return ""
	}
	if p := proxyenv.For(u, os.Getenv); p != "" {
		return " " + proxyenv.Redact(p)
	}
	return ""
}

// unreachable turns a transport error into the one sentence the user sees.
func (s *Source) unreachable(ctx context.Context, u *url.URL, err error) error {
	if errors.Is(context.Cause(ctx), errStalled) {
		return errs.Wrap(errs.Unavailable, errStalled, fmt.Sprintf("%s did not answer within %v: try again later or use another mirror", u.Redacted(), stallTimeout))
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		verify   *tls.CertificateVerificationError
		domain   *errs.Error
	)
	switch {
	case errors.As(err, &domain):
		return err // a bad proxy setting, already worded
	case errors.As(err, &unknown) || errors.As(err, &verify) || errors.As(err, &hostname):
		return errs.Wrap(errs.Unavailable, err, fmt.Sprintf("cannot reach %s: its TLS certificate is not trusted (%v): check the URL, or add the CA that signed it to the system's trust store", u.Redacted(), err))
	}
	if p := s.proxyName(u); p != "" {
		return errs.Wrap(errs.Unavailable, err, fmt.Sprintf("cannot reach %s through the proxy%s: %v: check the URL, the proxy and its credentials, and the network", u.Redacted(), p, err))
	}
	return errs.Wrap(errs.Unavailable, err, fmt.Sprintf("cannot reach %s: %v: check the URL and the network, or set HTTPS_PROXY if a proxy is needed", u.Redacted(), err))
}

// stallWatch ends a transfer that has delivered nothing for stallTimeout:
// requests made with its ctx fail once reads through its reader stop.
type stallWatch struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	t      *time.Timer
}

func newStallWatch(ctx context.Context) *stallWatch {
	w := &stallWatch{}
	w.ctx, w.cancel = context.WithCancelCause(ctx)
	w.t = time.AfterFunc(stallTimeout, func() { w.cancel(errStalled) })
	return w
}

// reader resets the clock on each read from r.
func (w *stallWatch) reader(r io.Reader) io.Reader { return &stallReader{r: r, t: w.t} }

func (w *stallWatch) stop() { w.t.Stop(); w.cancel(nil) }

// err is the error to report for a failed read: the stall, when it was one.
func (w *stallWatch) err(u *url.URL, err error) error {
	if errors.Is(context.Cause(w.ctx), errStalled) {
		return errs.Wrap(errs.Unavailable, errStalled, fmt.Sprintf("the transfer of %s stalled (no data for %v): run the sync again to resume it", u.Redacted(), stallTimeout))
	}
	return err
}

type stallReader struct {
	r io.Reader
	t *time.Timer
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.t.Reset(stallTimeout)
	}
	return n, err
}
