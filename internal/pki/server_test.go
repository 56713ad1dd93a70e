package pki

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
)

func TestServerNames(t *testing.T) {
	for _, tc := range []struct {
		addr, public string
		want         []string // nil for an error
	}{
		{"0.0.0.0:8443", "", []string{"127.0.0.1", "::1", "localhost"}},
		{":8443", "https://Repo.Example.JP/enmei/", []string{"127.0.0.1", "::1", "localhost", "repo.example.jp"}},
		{"[::]:8443", "https://[2001:DB8::1]:8443/", []string{"127.0.0.1", "2001:db8::1", "::1", "localhost"}},
		{"0.0.0.0:8443", "https://localhost:8443/", []string{"127.0.0.1", "::1", "localhost"}},
		{"192.0.2.10:443", "https://192.0.2.10/", []string{"192.0.2.10"}},
		{"192.0.2.10:443", "https://repo.example.jp.", []string{"192.0.2.10", "repo.example.jp"}},
		{"repo.example.jp:443", "https://repo.example.jp", []string{"repo.example.jp"}},
		{"localhost:8443", "", []string{"localhost"}},
		{"[0:0:0:0:0:0:0:1]:8443", "http://localhost:8080", []string{"::1", "localhost"}},
		{"8443", "", nil},
		{"0.0.0.0", "", nil},
		{":8443", "repo.example.jp", nil},
		{":8443", "repo.example.jp:8443", nil},
		{":8443", "ftp://repo.example.jp/", nil},
		{":8443", "https://", nil},
		{":8443", "https://repo.example.jp/%zz", nil},
	} {
		got, err := ServerNames(tc.addr, tc.public)
		if tc.want == nil {
			if !errs.Is(err, errs.Invalid) {
				t.Errorf("ServerNames(%q, %q) = %q, %v; want errs.Invalid", tc.addr, tc.public, got, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ServerNames(%q, %q) = %q, %v; want %q", tc.addr, tc.public, got, err, tc.want)
		}
	}
}

func TestIssueServer(t *testing.T) {
	ca := newCA(t, "enmei CA")
	sc, err := ca.IssueServer([]string{"Repo.Example.JP", "127.0.0.1", "[::1]", "localhost", "repo.example.jp.", "*.mirror.example.jp"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.Certificate) != 2 || string(sc.Certificate[1]) != string(ca.Cert.Raw) {
		t.Fatalf("chain has %d certificates and does not end with the CA", len(sc.Certificate))
	}
	leaf := sc.Leaf
	if leaf == nil || string(leaf.Raw) != string(sc.Certificate[0]) {
		t.Fatal("Leaf is not the first certificate of the chain")
	}
	if !slices.Equal(leaf.DNSNames, []string{"repo.example.jp", "localhost", "*.mirror.example.jp"}) {
		t.Errorf("DNS names = %q", leaf.DNSNames)
	}
	if len(leaf.IPAddresses) != 2 || !leaf.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")) || !leaf.IPAddresses[1].Equal(net.IPv6loopback) {
		t.Errorf("IP addresses = %v", leaf.IPAddresses)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) || leaf.IsCA {
		t.Errorf("usage = %v, CA = %v", leaf.ExtKeyUsage, leaf.IsCA)
	}
	if want := now.Add(397 * 24 * time.Hour); !leaf.NotAfter.Equal(want) {
		t.Errorf("NotAfter = %v, want %v", leaf.NotAfter, want)
	}
	if !samePublicKey(sc.PrivateKey.(crypto.Signer).Public(), leaf.PublicKey) {
		t.Error("the private key is not the certificate's")
	}
	for _, name := range []string{"repo.example.jp", "localhost", "127.0.0.1", "::1", "a.mirror.example.jp"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.ClientAuthPool(), DNSName: name, CurrentTime: now}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.ClientAuthPool(), CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("the server certificate verified for client authentication")
	}

	// Near the CA's end the certificate ends with the CA; past it, none.
	late := ca.Cert.NotAfter.Add(-100 * 24 * time.Hour)
	sc, err = ca.IssueServer([]string{"localhost"}, late)
	if err != nil || !sc.Leaf.NotAfter.Equal(ca.Cert.NotAfter) {
		t.Errorf("near the CA's end: %v, %v", sc.Leaf, err)
	}
	if _, err := ca.IssueServer([]string{"localhost"}, ca.Cert.NotAfter.Add(time.Hour)); !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "CA expired") {
		t.Errorf("past the CA's end: %v", err)
	}

	for _, bad := range [][]string{nil, {}, {""}, {"exa mple.jp"}, {"ünï.example.jp"}, {"-bad.example.jp"}, {"a..b"}, {"fe80::1%eth0"}, {"repo.example.jp", "under_score.jp"}} {
		if _, err := ca.IssueServer(bad, now); !errs.Is(err, errs.Invalid) {
			t.Errorf("IssueServer(%q) = %v, want errs.Invalid", bad, err)
		}
	}
}

// handshakeResult is what both ends of a TLS connection saw.
type handshakeResult struct {
	serverErr, clientErr error
	peer                 []*x509.Certificate // the client certificates the server accepted
	verified             bool                // the server verified a chain for them
}

// handshake connects a TLS client to a TLS server over loopback TCP. The
// server answers "ok" after its handshake, so the client learns of a refusal
// the server makes after the client's handshake is done (TLS 1.3 client
// authentication).
func handshake(t *testing.T, server, client *tls.Config) handshakeResult {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type serverResult struct {
		err   error
		state tls.ConnectionState
	}
	done := make(chan serverResult, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- serverResult{err: err}
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		tc := tls.Server(c, server)
		if err := tc.Handshake(); err != nil {
			done <- serverResult{err: err}
			return
		}
		_, err = tc.Write([]byte("ok"))
		_ = tc.Close()
		done <- serverResult{err: err, state: tc.ConnectionState()}
	}()

	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
	cc := tls.Client(raw, client)
	var r handshakeResult
	if err := cc.Handshake(); err != nil {
		r.clientErr = err
	} else if body, err := io.ReadAll(cc); err != nil {
		r.clientErr = err
	} else if string(body) != "ok" {
		r.clientErr = errors.New("the server said " + string(body))
	}
	raw.Close()
	s := <-done
	r.serverErr = s.err
	r.peer = s.state.PeerCertificates
	r.verified = len(s.state.VerifiedChains) > 0
	return r
}

func TestTLS(t *testing.T) {
	ca := newCA(t, "enmei CA")
	other := newCA(t, "enmei CA")
	names, err := ServerNames("0.0.0.0:8443", "https://repo.example.jp/")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ca.IssueServer(names, now)
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return now }
	serverCfg := func(auth tls.ClientAuthType) *tls.Config {
		c := ca.ServerTLS(sc)
		c.Time = clock
		if auth != tls.VerifyClientCertIfGiven {
			c.ClientAuth = auth
		}
		return c
	}
	roots := ca.ClientAuthPool()
	clientCfg := func(name string) *tls.Config {
		return &tls.Config{RootCAs: roots, ServerName: name, Time: clock}
	}
	asClient := func(key crypto.Signer, cert *x509.Certificate) tls.Certificate {
		return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	}

	cfg := ca.ServerTLS(sc)
	if cfg.ClientAuth != tls.VerifyClientCertIfGiven || cfg.MinVersion != tls.VersionTLS12 || cfg.ClientCAs == nil || len(cfg.Certificates) != 1 {
		t.Fatalf("ServerTLS = %+v", cfg)
	}

	t.Run("server names", func(t *testing.T) {
		for _, name := range []string{"repo.example.jp", "localhost", "127.0.0.1", "::1"} {
			if r := handshake(t, serverCfg(tls.VerifyClientCertIfGiven), clientCfg(name)); r.clientErr != nil || r.serverErr != nil {
				t.Errorf("connecting as %s: client %v, server %v", name, r.clientErr, r.serverErr)
			}
		}
		c := clientCfg("repo.example.jp")
		c.MaxVersion = tls.VersionTLS12
		if r := handshake(t, serverCfg(tls.VerifyClientCertIfGiven), c); r.clientErr != nil {
			t.Errorf("TLS 1.2: %v", r.clientErr)
		}
		for _, name := range []string{"evil.example.jp", "192.0.2.1", "example.jp"} {
			r := handshake(t, serverCfg(tls.VerifyClientCertIfGiven), clientCfg(name))
			var he x509.HostnameError
			if !errors.As(r.clientErr, &he) {
				t.Errorf("connecting as %s: client error %v, want a host name mismatch", name, r.clientErr)
			}
		}
		r := handshake(t, serverCfg(tls.VerifyClientCertIfGiven), &tls.Config{RootCAs: other.ClientAuthPool(), ServerName: "localhost", Time: clock})
		var ue x509.UnknownAuthorityError
		if !errors.As(r.clientErr, &ue) {
			t.Errorf("a client trusting another CA: %v, want unknown authority", r.clientErr)
		}
		c = clientCfg("localhost")
		c.MaxVersion = tls.VersionTLS11
		if r := handshake(t, serverCfg(tls.VerifyClientCertIfGiven), c); r.serverErr == nil {
			t.Error("the server accepted TLS 1.1")
		}
	})

	key, cert := issueClient(t, ca, "ENM-2026-ABC123")
	foreignKey, foreign := issueClient(t, other, "ENM-2026-ABC123")

	t.Run("mutual TLS", func(t *testing.T) {
		for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			c := clientCfg("repo.example.jp")
			c.MaxVersion = v
			c.Certificates = []tls.Certificate{asClient(key, cert)}
			r := handshake(t, serverCfg(tls.VerifyClientCertIfGiven), c)
			if r.clientErr != nil || r.serverErr != nil {
				t.Fatalf("TLS %x: client %v, server %v", v, r.clientErr, r.serverErr)
			}
			if len(r.peer) != 1 || !r.peer[0].Equal(cert) || !r.verified {
				t.Fatalf("TLS %x: the server saw %d client certificates (verified %v)", v, len(r.peer), r.verified)
			}
			if id, err := ca.VerifyClient(r.peer[0], now); err != nil || id != "ENM-2026-ABC123" {
				t.Errorf("TLS %x: VerifyClient = %q, %v", v, id, err)
			}
		}
	})

	t.Run("no client certificate", func(t *testing.T) {
		r := handshake(t, serverCfg(tls.VerifyClientCertIfGiven), clientCfg("localhost"))
		if r.clientErr != nil || r.serverErr != nil || len(r.peer) != 0 {
			t.Errorf("VerifyClientCertIfGiven without a certificate: client %v, server %v, %d certificates", r.clientErr, r.serverErr, len(r.peer))
		}
		r = handshake(t, serverCfg(tls.RequireAndVerifyClientCert), clientCfg("localhost"))
		if r.serverErr == nil || r.clientErr == nil {
			t.Errorf("RequireAndVerifyClientCert without a certificate: client %v, server %v", r.clientErr, r.serverErr)
		}
	})

	// Go's client sends a certificate from Certificates only if its
	// issuer's name is among the CA names the server's CertificateRequest
	// lists: a certificate from a differently named CA is withheld, so
	// VerifyClientCertIfGiven sees no certificate and
	// RequireAndVerifyClientCert refuses the connection. The match is by
	// name only: a certificate from another CA of the same name is sent,
	// and refused.
	t.Run("foreign certificate withheld by Go", func(t *testing.T) {
		elsewhereKey, elsewhere := issueClient(t, newCA(t, "someone else's CA"), "ENM-2026-ABC123")
		c := clientCfg("localhost")
		c.Certificates = []tls.Certificate{asClient(elsewhereKey, elsewhere)}
		r := handshake(t, serverCfg(tls.VerifyClientCertIfGiven), c)
		if r.clientErr != nil || r.serverErr != nil || len(r.peer) != 0 {
			t.Errorf("VerifyClientCertIfGiven: client %v, server %v, %d certificates", r.clientErr, r.serverErr, len(r.peer))
		}
		r = handshake(t, serverCfg(tls.RequireAndVerifyClientCert), c)
		if r.serverErr == nil || r.clientErr == nil {
			t.Errorf("RequireAndVerifyClientCert: client %v, server %v", r.clientErr, r.serverErr)
		}

		c = clientCfg("localhost")
		c.Certificates = []tls.Certificate{asClient(foreignKey, foreign)} // issuer named "enmei CA" too
		r = handshake(t, serverCfg(tls.VerifyClientCertIfGiven), c)
		var ue x509.UnknownAuthorityError
		if !errors.As(r.serverErr, &ue) || r.clientErr == nil {
			t.Errorf("same-named foreign CA: client %v, server %v", r.clientErr, r.serverErr)
		}
	})

	// A client that insists (curl, or GetClientCertificate) and presents a
	// certificate that does not verify fails the handshake in both modes:
	// VerifyClientCertIfGiven does not downgrade it to "no certificate".
	expiredKey, _ := NewKey()
	expiredDER, err := ca.IssueClient(expiredKey.Public(), ClientSubject{"ENM-2021-OLD001", customerJA}, NewSerial(), now.AddDate(-5, 0, -1), now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	expired, _ := x509.ParseCertificate(expiredDER)
	serverAsClient := tls.Certificate{Certificate: sc.Certificate, PrivateKey: sc.PrivateKey}
	for _, tc := range []struct {
		name      string
		cert      tls.Certificate
		check     func(error) bool
		wantAlert string
	}{
		{"foreign", asClient(foreignKey, foreign), func(err error) bool {
			var ue x509.UnknownAuthorityError
			return errors.As(err, &ue)
		}, "unknown certificate authority"},
		{"expired", asClient(expiredKey, expired), func(err error) bool {
			var ie x509.CertificateInvalidError
			return errors.As(err, &ie) && ie.Reason == x509.Expired
		}, "expired certificate"},
		{"server certificate", serverAsClient, func(err error) bool {
			var ie x509.CertificateInvalidError
			return errors.As(err, &ie) && ie.Reason == x509.IncompatibleUsage
		}, "bad certificate"},
	} {
		for _, auth := range []tls.ClientAuthType{tls.VerifyClientCertIfGiven, tls.RequireAndVerifyClientCert} {
			t.Run(tc.name+" "+auth.String(), func(t *testing.T) {
				c := clientCfg("localhost")
				cert := tc.cert
				c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
				r := handshake(t, serverCfg(auth), c)
				if !tc.check(r.serverErr) {
					t.Errorf("server error %v", r.serverErr)
				}
				if r.clientErr == nil || !strings.Contains(r.clientErr.Error(), tc.wantAlert) {
					t.Errorf("client error %v, want the alert %q", r.clientErr, tc.wantAlert)
				}
			})
		}
	}

	// The server reads the contract from the verified certificate; a
	// certificate the CA signed without the URI SAN still works by its CN.
	cnOnly := signWith(t, ca, &x509.Certificate{Subject: pkix.Name{CommonName: "ENM-2026-CN0001"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if id, err := ca.VerifyClient(cnOnly, now); err != nil || id != "ENM-2026-CN0001" {
		t.Errorf("CN-only certificate: %q, %v", id, err)
	}
}
