package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TLSMode is how an SMTP connection is secured.
type TLSMode int

const (
	// NoTLS is plain SMTP (smtp://), for a relay on the same host or network.
	NoTLS TLSMode = iota
	// StartTLS requires the STARTTLS upgrade (smtp+starttls://).
	StartTLS
	// ImplicitTLS is TLS from the first byte (smtps://).
	ImplicitTLS
)

// SMTPConfig is where and how the Sender delivers mail. ParseSMTPURL makes
// one from the --smtp URL.
type SMTPConfig struct {
	TLS  TLSMode
	Host string // host name or IP address, without brackets
	Port int
	// Username and Password, when Username is set, authenticate with AUTH
	// PLAIN, which is only done over TLS or to a loopback host.
	Username string
	Password string
	// RootCAs verifies the server certificate; nil means the system roots.
	RootCAs *x509.CertPool
	// HelloName is the name given in EHLO; "" means the host name.
	HelloName string
	// Timeout bounds connecting and each SMTP command; 0 means 30 s.
	Timeout time.Duration
}

// Default ports by TLSMode.
var defaultPorts = [...]int{NoTLS: 25, StartTLS: 587, ImplicitTLS: 465}

var schemes = [...]string{NoTLS: "smtp", StartTLS: "smtp+starttls", ImplicitTLS: "smtps"}

// ParseSMTPURL parses the --smtp URL:
//
//	smtp://host[:port]                      plain SMTP, port 25 by default
//	smtp+starttls://[user:pass@]host[:port] STARTTLS required, port 587
//	smtps://[user:pass@]host[:port]         implicit TLS, port 465
//
// User and password are URL-decoded and used for AUTH PLAIN; smtp:// accepts
// them only for a loopback host. Paths, query parameters and fragments are
// refused. Errors quote the URL with its password redacted.
func ParseSMTPURL(s string) (SMTPConfig, error) {
	red := redactURL(s)
	if strings.TrimSpace(s) == "" {
		return SMTPConfig{}, errors.New("--smtp: no URL given (want smtp://host:port, smtp+starttls://user:pass@host:587 or smtps://user:pass@host:465)")
	}
	u, err := url.Parse(s)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // url.Error repeats the unredacted URL
		}
		return SMTPConfig{}, fmt.Errorf("--smtp %q: not a valid URL: %w", red, err)
	}
	var c SMTPConfig
	switch strings.ToLower(u.Scheme) {
	case "smtp":
		c.TLS = NoTLS
	case "smtp+starttls":
		c.TLS = StartTLS
	case "smtps":
		c.TLS = ImplicitTLS
	case "":
		return SMTPConfig{}, fmt.Errorf("--smtp %q: no scheme (want smtp://, smtp+starttls:// or smtps://)", red)
	default:
		return SMTPConfig{}, fmt.Errorf("--smtp %q: unknown scheme %q (want smtp, smtp+starttls or smtps)", red, u.Scheme)
	}
	if u.Opaque != "" {
		return SMTPConfig{}, fmt.Errorf("--smtp %q: want %s://host:port", red, u.Scheme)
	}
	if u.Path != "" && u.Path != "/" {
		return SMTPConfig{}, fmt.Errorf("--smtp %q: unexpected path %q", red, u.Path)
	}
	if u.RawQuery != "" || u.ForceQuery {
		return SMTPConfig{}, fmt.Errorf("--smtp %q: query parameters are not supported", red)
	}
	if u.Fragment != "" {
		return SMTPConfig{}, fmt.Errorf("--smtp %q: unexpected fragment", red)
	}
	c.Host = u.Hostname()
	if c.Host == "" {
		return SMTPConfig{}, fmt.Errorf("--smtp %q: no host", red)
	}
	c.Port = defaultPorts[c.TLS]
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return SMTPConfig{}, fmt.Errorf("--smtp %q: port %q is not a number from 1 to 65535", red, p)
		}
		c.Port = n
	} else if strings.HasSuffix(u.Host, ":") {
		return SMTPConfig{}, fmt.Errorf("--smtp %q: empty port", red)
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
		if c.Username == "" {
			return SMTPConfig{}, fmt.Errorf("--smtp %q: empty user name", red)
		}
	}
	if err := c.check(); err != nil {
		return SMTPConfig{}, fmt.Errorf("--smtp %q: %w", red, err)
	}
	return c, nil
}

// check refuses a configuration that would send credentials in clear text.
func (c SMTPConfig) check() error {
	if c.Host == "" || c.Port < 1 || c.Port > 65535 {
		return fmt.Errorf("no valid host and port (%q, %d)", c.Host, c.Port)
	}
	if c.TLS < NoTLS || c.TLS > ImplicitTLS {
		return fmt.Errorf("unknown TLS mode %d", c.TLS)
	}
	if c.Username != "" && c.TLS == NoTLS && !isLoopback(c.Host) {
		return errors.New("credentials would cross the network in clear text; use smtp+starttls:// or smtps://")
	}
	return nil
}

// Addr is host:port.
func (c SMTPConfig) Addr() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

// String is the configuration as a URL, with the password redacted.
func (c SMTPConfig) String() string {
	scheme := "smtp"
	if c.TLS >= NoTLS && c.TLS <= ImplicitTLS {
		scheme = schemes[c.TLS]
	}
	u := url.URL{Scheme: scheme, Host: c.Addr()}
	if c.Username != "" {
		u.User = url.UserPassword(c.Username, "xxxxx")
		if c.Password == "" {
			u.User = url.User(c.Username)
		}
	}
	return u.String()
}

// LogValue logs the configuration as String does, password redacted.
func (c SMTPConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

// redactURL hides the password of a URL that may not even parse.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	i := strings.Index(s, "://")
	if i < 0 {
		i = -3
	}
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndexByte(rest[:end], '@')
	if at < 0 {
		return s
	}
	userinfo := rest[:at]
	if colon := strings.IndexByte(userinfo, ':'); colon >= 0 {
		userinfo = userinfo[:colon] + ":xxxxx"
	}
	return s[:i+3] + userinfo + rest[at:]
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// dial connects, says EHLO, secures and authenticates the connection as
// configured. Its errors name the server and the step that failed.
func (c SMTPConfig) dial(ctx context.Context) (*smtp.Client, error) {
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("smtp %s: %w", c.Addr(), err)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	addr := c.Addr()
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", addr, netCause(err))
	}
	tlsConfig := &tls.Config{ServerName: c.Host, RootCAs: c.RootCAs, MinVersion: tls.VersionTLS12}
	if c.TLS == ImplicitTLS {
		tc := tls.Client(conn, tlsConfig)
		hctx, cancel := context.WithTimeout(ctx, timeout)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("smtps %s: TLS handshake: %w", addr, netCause(err))
		}
		conn = tc
	}
	// The command deadlines of go-smtp do not watch ctx: close on cancel.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	client, err := c.handshake(conn, tlsConfig, timeout)
	if !stop() { // ctx ended and conn is closed
		if err == nil {
			err = context.Cause(ctx)
		} else {
			err = fmt.Errorf("%w (%w)", err, context.Cause(ctx))
		}
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("smtp %s: %w", addr, err)
	}
	return client, nil
}

func (c SMTPConfig) handshake(conn net.Conn, tlsConfig *tls.Config, timeout time.Duration) (*smtp.Client, error) {
	var client *smtp.Client
	if c.TLS == StartTLS {
		// The EHLO before STARTTLS says "localhost": go-smtp offers no
		// way to name ourselves there, and the name is re-sent after.
		var err error
		client, err = smtp.NewClientStartTLS(conn, tlsConfig)
		if err != nil {
			return nil, fmt.Errorf("STARTTLS: %w", netCause(err))
		}
	} else {
		client = smtp.NewClient(conn)
	}
	client.CommandTimeout = timeout
	client.SubmissionTimeout = 2 * timeout
	name := c.HelloName
	if name == "" {
		name, _ = os.Hostname()
		if name == "" || strings.ContainsAny(name, " \r\n") {
			name = "localhost"
		}
	}
	if err := client.Hello(name); err != nil {
		return nil, fmt.Errorf("EHLO: %w", netCause(err))
	}
	if c.Username != "" {
		if _, secure := client.TLSConnectionState(); !secure && !isLoopback(c.Host) {
			return nil, errors.New("refusing AUTH over an unencrypted connection")
		}
		if !client.SupportsAuth(sasl.Plain) {
			return nil, errors.New("server does not offer AUTH PLAIN")
		}
		if err := client.Auth(sasl.NewPlainClient("", c.Username, c.Password)); err != nil {
			return nil, fmt.Errorf("AUTH PLAIN as %q: %w", c.Username, netCause(err))
		}
	}
	return client, nil
}

// netCause strips the repetitive layers of a net.OpError ("dial tcp
// 127.0.0.1:25: connect: connection refused" becomes "connection
// refused"); the caller names the address.
func netCause(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err
	}
	var sys *os.SyscallError
	if errors.As(err, &sys) {
		err = sys.Err
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}
