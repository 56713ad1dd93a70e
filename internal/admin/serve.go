package admin

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/adminapi"
	"github.com/enmei-project/enmei/internal/advisory/csaf"
	"github.com/enmei-project/enmei/internal/agentrepo"
	"github.com/enmei-project/enmei/internal/desk"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/exitcode"
	"github.com/enmei-project/enmei/internal/mavenrepo"
	"github.com/enmei-project/enmei/internal/notify"
	"github.com/enmei-project/enmei/internal/obs"
	"github.com/enmei-project/enmei/internal/pki"
	"github.com/enmei-project/enmei/internal/registersh"
	"github.com/enmei-project/enmei/internal/sbomapi"
	"github.com/enmei-project/enmei/internal/server"
	"github.com/enmei-project/enmei/internal/sign"
	"github.com/enmei-project/enmei/internal/store/sqlstore"
	"github.com/enmei-project/enmei/internal/tracker"
	"github.com/enmei-project/enmei/internal/version"
	"github.com/enmei-project/enmei/internal/web"
)

// ErrInterrupted and ErrTerminated are the causes main cancels the context
// with on SIGINT and SIGTERM. An interactive Ctrl-C skips the drain time,
// which is there for load balancers.
var (
	ErrInterrupted = obs.ErrStopNow
	ErrTerminated  = errors.New("terminated")
)

type serveOptions struct {
	addr        string
	smtp        string
	mailFrom    string
	tls         string
	demo        bool
	metricsAddr string
	drain       time.Duration
	shutdown    time.Duration
	apiRate     float64
	apiBurst    int
	trusted     []string
	noticeEvery time.Duration
	smtpListen  string
	supportAddr string
	noMigrate   bool
}

func (a *app) serveCommand() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve [--addr HOST:PORT] [--public-url URL] [--tls off|CERT,KEY] [--demo]",
		Short: "serve the API and the repositories",
		Long: `Serve the registration API and the licence-gated repositories.

GET /healthz answers while the process is up; GET /readyz answers 200 while the
database and blob store answer and 503 while draining; GET /metrics serves
Prometheus metrics (on --metrics-addr instead when it is given).

On SIGTERM or SIGINT, enmeid reports not ready, keeps serving for --drain-time
so a load balancer notices, then stops accepting and gives running downloads up
to --shutdown-timeout to finish. A normal stop exits 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("smtp") {
				o.smtp = a.env("ENMEI_SMTP")
			}
			if !cmd.Flags().Changed("mail-from") {
				o.mailFrom = a.env("ENMEI_MAIL_FROM")
			}
			return a.serve(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address")
	f.StringVar(&o.smtp, "smtp", "", "send mail through this server: smtp://HOST:PORT, smtp+starttls://USER:PASS@HOST:587 or smtps://… (ENMEI_SMTP; without it mail waits in the outbox)")
	f.StringVar(&o.mailFrom, "mail-from", "", "From address of outgoing mail (ENMEI_MAIL_FROM; default enmei@<public URL host>)")
	f.BoolVar(&o.noMigrate, "no-migrate", false, "do not migrate the database; refuse to start unless enmeid migrate brought it to this version (rolling upgrades)")
	f.StringVar(&o.smtpListen, "smtp-listen", "", "receive customer mail to the support desk over SMTP on this address (e.g. 127.0.0.1:2525, behind the mail server)")
	f.StringVar(&o.supportAddr, "support-address", "", "the support desk's mail address (saved; see enmeid support config)")
	f.DurationVar(&o.noticeEvery, "notice-interval", 5*time.Second, "how often tracker changes become subscriber mail and webhook deliveries")
	f.StringVar(&o.tls, "tls", "off", "off; auto (a certificate from enmei's CA for --addr and --public-url); or CERT,KEY: PEM files of the server certificate and key")
	f.BoolVar(&o.demo, "demo", false, "seed the demo catalogue (once) and print how to try it")
	f.StringVar(&o.metricsAddr, "metrics-addr", "", "serve /metrics on this separate address instead of --addr (e.g. 127.0.0.1:9090)")
	f.DurationVar(&o.drain, "drain-time", 5*time.Second, "on stop, how long to report not ready before closing the listener")
	f.DurationVar(&o.shutdown, "shutdown-timeout", 30*time.Second, "on stop, how long running requests (downloads) may take to finish")
	f.Float64Var(&o.apiRate, "api-rate", 5, "requests per second each client address may make to /api/v1/*")
	f.IntVar(&o.apiBurst, "api-burst", 60, "burst of /api/v1/* requests each client address may make")
	f.StringSliceVar(&o.trusted, "trusted-proxy", nil, "load balancer or reverse proxy address or CIDR whose X-Forwarded-For is believed (repeatable)")
	return cmd
}

func (a *app) serve(ctx context.Context, o serveOptions) error {
	var tlsCfg *tls.Config
	switch {
	case o.tls == "off" || o.tls == "":
	case o.tls == "auto":
		// Made below, once the database is open.
	default:
		parts := strings.Split(o.tls, ",")
		if len(parts) != 2 {
			return usagef("--tls must be off or CERT,KEY (two PEM files), not %q", o.tls)
		}
		cert, err := tls.LoadX509KeyPair(parts[0], parts[1])
		if err != nil {
			return errs.Wrap(errs.Invalid, err, fmt.Sprintf("cannot load the TLS certificate %s and key %s: %v", parts[0], parts[1], err))
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	if o.apiRate <= 0 || o.apiBurst <= 0 {
		return usagef("--api-rate and --api-burst must be positive")
	}
	var trusted []netip.Prefix
	for _, t := range o.trusted {
		p, err := netip.ParsePrefix(t)
		if err != nil {
			a, aerr := netip.ParseAddr(t)
			if aerr != nil {
				return usagef("--trusted-proxy %q is not an IP address or CIDR", t)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		trusted = append(trusted, p.Masked())
	}
	openCtx := ctx
	if o.noMigrate {
		openCtx = sqlstore.NoMigrate(ctx)
	}
	if err := a.open(openCtx); err != nil {
		return err
	}
	// serve signs nothing: it only migrates a key an older enmei kept in
	// the database, and hands out the public key.
	if err := a.custody().Migrate(ctx); err != nil {
		return err
	}
	loadCA := a.caLoader()
	if o.tls == "auto" {
		if a.cfg.PublicURL != "" && !strings.HasPrefix(a.cfg.PublicURL, "https://") {
			return usagef("--tls auto serves HTTPS, but --public-url %s is not https://", a.cfg.PublicURL)
		}
		ca, err := loadCA(ctx)
		if err != nil {
			return err
		}
		names, err := pki.ServerNames(o.addr, a.cfg.PublicURL)
		if err != nil {
			return usagef("--tls auto: %v", err)
		}
		cert, err := ca.IssueServer(names, a.now())
		if err != nil {
			return fmt.Errorf("--tls auto: %w", err)
		}
		tlsCfg = ca.ServerTLS(cert)
		a.log.Info("serving HTTPS with a certificate from enmei's CA (enmeid ca export prints it)", "names", strings.Join(names, ","))
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w: choose another --addr", o.addr, err)
	}
	defer ln.Close()
	public := a.cfg.PublicURL
	if public == "" {
		scheme := "http"
		if tlsCfg != nil {
			scheme = "https"
		}
		host := ln.Addr().String()
		if h, p, err := net.SplitHostPort(host); err == nil && (h == "::" || h == "0.0.0.0") {
			host = net.JoinHostPort("127.0.0.1", p)
		}
		public = scheme + "://" + host
	}
	public = strings.TrimRight(public, "/")
	if tlsCfg == nil {
		if h, _, err := net.SplitHostPort(o.addr); err == nil {
			if ip := net.ParseIP(h); ip == nil || !ip.IsLoopback() {
				a.log.Warn("serving plain HTTP on a non-loopback address: host credentials cross the network unencrypted; use --tls CERT,KEY")
			}
		}
	}
	var smtpCfg notify.SMTPConfig
	if o.smtp != "" {
		c, err := notify.ParseSMTPURL(o.smtp)
		if err != nil {
			return exitcode.AsUsage(err)
		}
		smtpCfg = c
	}
	mailFrom, err := defaultMailFrom(o.mailFrom, public)
	if err != nil {
		return err
	}
	if o.demo {
		// The demo publishes, so it is the one case where serve signs.
		key, err := a.key(ctx)
		if err != nil {
			return err
		}
		if err := a.seedDemo(ctx, key, public); err != nil {
			return fmt.Errorf("seeding the demo: %w", err)
		}
	}

	pubKey := a.publicKeyLoader()
	o11y := obs.New(obs.Options{Log: a.log})
	o11y.AddCheck("database", a.st.Ping)
	o11y.AddCheck("blobs", func(ctx context.Context) error {
		_, err := a.blobs.Stat(ctx, strings.Repeat("0", 64))
		if errs.Is(err, errs.NotFound) {
			return nil // answered
		}
		return err
	})
	// The tracker in serve only reads: releases, which sign, happen in
	// enmeid advisory publish.
	trk := &tracker.Service{Store: a.st, Now: a.now, Log: a.log, PublicURL: public}
	// The desk reads mail (--smtp-listen), serves the portal's tickets and
	// takes the bundles hosts attach to their tickets.
	supportDesk, err := a.desk(ctx)
	if err != nil {
		return err
	}
	srv := server.New(server.Config{Store: a.st, Blobs: a.blobs, PublicKey: pubKey, Now: a.now, Log: a.log,
		APIRate: o.apiRate, APIBurst: o.apiBurst, TrustedProxies: trusted, Tracker: trk, PublicURL: public, Desk: supportDesk,
		Hooks: server.Hooks{
			Registration: o11y.Registration,
			Host:         func(r *http.Request, id string) { obs.SetHostID(r.Context(), id) },
		}})
	a.released = srv.ForgetHost
	sender := &notify.Sender{Outbox: a.st, SMTP: smtpCfg, Now: a.now, Log: a.log}
	vendor := "enmei"
	if k, err := pubKey(ctx); err == nil && sign.VendorName(k.UserID()) != "" {
		vendor = sign.VendorName(k.UserID())
	}
	sboms := sbomapi.New(sbomapi.Config{Store: a.st, Blobs: a.blobs, Now: a.now, Log: a.log, Vendor: vendor,
		Tool: "enmei-" + version.Get().Version, BaseURL: public,
		Verify: func(ctx context.Context, cert *x509.Certificate, now time.Time) (string, error) {
			ca, err := loadCA(ctx)
			if err != nil {
				return "", err
			}
			return ca.VerifyClient(cert, now)
		}})
	// The Maven repositories of maven products; the portal tells it when a
	// developer's password changes, and renders its directory pages.
	var mvn *mavenrepo.Handler
	portal, err := web.New(web.Config{Store: a.st, Ops: a.ops(), Now: a.now, Log: a.log, PublicURL: public, Desk: supportDesk,
		AllowPasswordReset: a.cfg.AllowPasswordReset,
		PasswordChanged:    func(name string) { mvn.PasswordChanged(name) },
		MailFrom:           mailFrom, MailQueued: sender.Wake, ClientAddr: srv.ClientAddr, Demo: o.demo, CA: loadCA, SBOM: sboms, Tracker: trk, Subscriptions: a.st,
		Fingerprint: func(ctx context.Context) (string, error) {
			k, err := pubKey(ctx)
			if errs.Is(err, errs.NotFound) {
				return "", nil
			}
			if err != nil {
				return "", err
			}
			return k.Fingerprint(), nil
		}})
	if err != nil {
		return fmt.Errorf("loading the portal: %w", err)
	}
	portal.Register(srv.Handle)
	mvn = mavenrepo.NewHandler(mavenrepo.Config{Store: a.st, Blobs: a.blobs, Now: a.now, Log: a.log, ClientAddr: srv.ClientAddr,
		Publisher: &mavenrepo.Publisher{Store: a.st, Blobs: a.blobs, Now: a.now, Log: a.log},
		Session:   portal.DeveloperSession,
		RenderListing: func(w http.ResponseWriter, r *http.Request, l mavenrepo.Listing) {
			wl := web.Listing{Product: l.Product, ProductName: l.ProductName, Path: l.Path}
			for _, e := range l.Entries {
				wl.Entries = append(wl.Entries, web.ListingEntry(e))
			}
			portal.RenderListing(w, r, wl)
		}})
	mvn.Register(srv.Handle)
	adminapi.New(adminapi.Config{Store: a.st, Ops: a.ops(), Now: a.now, Log: a.log}).Register(srv.Handle)
	sboms.Register(srv.Handle)
	agentrepo.Register(srv.Handle, agentrepo.Config{PublicURL: public, PublicKey: pubKey, Repo: a.st.Repo, Log: a.log})
	registersh.Register(srv.Handle, registersh.Config{PublicURL: public, PublicKey: pubKey, Log: a.log})
	// CSAF documents, signed by enmeid advisory commands and served here
	// from the manifest they stored.
	csafTree := &csaf.Current{Settings: a.st, Blobs: a.blobs}
	csafHandler := csaf.Handler(csafTree.Manifest, csafTree.Open)
	srv.Handle(csaf.CSAFPath, csafHandler)
	srv.Handle(csaf.SecurityTxtPath, csafHandler)
	srv.Handle("GET /healthz", http.HandlerFunc(o11y.Healthz))
	srv.Handle("GET /readyz", http.HandlerFunc(o11y.Readyz))
	var metricsSrv *http.Server
	if o.metricsAddr == "" {
		srv.Handle("GET /metrics", o11y.MetricsHandler())
	} else {
		// Seats per contract name customers' support IDs: only on the
		// separate listener, which the vendor keeps private.
		o11y.MustRegister(obs.NewSeatsCollector(func(ctx context.Context) ([]obs.SeatCount, error) {
			counts, err := a.st.SeatCounts(ctx, time.Now())
			out := make([]obs.SeatCount, len(counts))
			for i, c := range counts {
				out[i] = obs.SeatCount{SupportID: c.SupportID, Product: c.ProductID, Used: c.Used, Quantity: c.Quantity}
			}
			return out, err
		}, 5*time.Second, 10*time.Second))

		mln, err := net.Listen("tcp", o.metricsAddr)
		if err != nil {
			return fmt.Errorf("cannot listen on %s: %w: choose another --metrics-addr", o.metricsAddr, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", o11y.MetricsHandler())
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go metricsSrv.Serve(mln)
		defer metricsSrv.Close()
		a.log.Info("metrics on a separate listener", "addr", mln.Addr().String())
	}
	hs := &http.Server{
		Handler:           o11y.Middleware(srv.Mux()),
		ReadHeaderTimeout: 10 * time.Second,
		// Request bodies are small API documents: a client that sends one
		// slowly must not hold a connection. Downloads are responses, which
		// ReadTimeout does not bound.
		ReadTimeout:    30 * time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxHeaderBytes: 64 << 10,
		TLSConfig:      tlsCfg,
	}
	bg, stop := context.WithCancel(context.Background())
	defer stop()
	go srv.Run(bg)
	go portal.Cleanup(bg)
	// Revocations made elsewhere (another replica, a command) drop this
	// replica's caches within a second instead of their TTL.
	go watchGeneration(bg, a.st, time.Second, a.log, srv.Purge, func() {
		if mvn != nil {
			mvn.Purge()
		}
	})
	// Tracker changes become mail to subscribers and webhook POSTs.
	notices := &tracker.Notifier{Store: a.st, Now: a.now, Log: a.log, Compose: portal.NoticeMail, PublicURL: public, Queued: sender.Wake,
		Every: o.noticeEvery}
	go notices.Run(bg)
	go (&tracker.WebhookSender{Store: a.st, Now: a.now, Log: a.log, Every: o.noticeEvery}).Run(bg)
	if o.smtp != "" {
		go sender.Run(bg)
		a.log.Info("sending mail", "smtp", smtpCfg.String(), "from", mailFrom)
	} else {
		a.log.Info("no --smtp: mail waits in the outbox (enmeid outbox list)")
	}
	if o.supportAddr != "" {
		c, err := desk.LoadConfig(ctx, a.st)
		if err != nil {
			return err
		}
		if c.Address != strings.ToLower(o.supportAddr) {
			c.Address = strings.ToLower(o.supportAddr)
			if err := desk.SaveConfig(ctx, a.st, c); err != nil {
				return usagef("--support-address: %v", err)
			}
		}
	}
	if o.smtpListen != "" {
		d := supportDesk
		c, err := desk.LoadConfig(ctx, a.st)
		if err != nil {
			return err
		}
		sln, err := net.Listen("tcp", o.smtpListen)
		if err != nil {
			return fmt.Errorf("cannot listen on %s: %w: choose another --smtp-listen", o.smtpListen, err)
		}
		domain := c.Address[strings.LastIndexByte(c.Address, '@')+1:]
		ss := d.SMTPServer(c.Address, domain, sender.Wake)
		go ss.Serve(sln)
		defer ss.Close()
		a.log.Info("receiving support mail over SMTP", "addr", sln.Addr().String(), "for", c.Address)
	}
	a.log.Info("enmeid serving", "addr", ln.Addr().String(), "url", public, "db", Redact(a.cfg.DB), "blobs", Redact(a.cfg.Blobs))
	err = obs.Serve(ctx, hs, ln, o11y, o.drain, o.shutdown, a.log)
	if errors.Is(err, obs.ErrForcedClose) {
		a.log.Warn("stopped: some downloads did not finish within --shutdown-timeout and were cut", "err", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("serving: %w", err)
	}
	a.log.Info("stopped")
	return nil
}

// defaultMailFrom checks --mail-from, or makes enmei@<host of the public URL>.
func defaultMailFrom(from, public string) (string, error) {
	if from == "" {
		host := "localhost"
		if u, err := url.Parse(public); err == nil && u.Hostname() != "" && net.ParseIP(u.Hostname()) == nil {
			host = u.Hostname()
		}
		return "enmei <enmei@" + host + ">", nil
	}
	if _, err := mail.ParseAddress(from); err != nil {
		return "", usagef("--mail-from %q is not an e-mail address", from)
	}
	return from, nil
}

// publicKeyLoader returns the public signing key, read from the database on
// first need and kept: it never changes once made.
func (a *app) publicKeyLoader() func(ctx context.Context) (*sign.PublicKey, error) {
	var mu sync.Mutex
	var key *sign.PublicKey
	return func(ctx context.Context) (*sign.PublicKey, error) {
		mu.Lock()
		defer mu.Unlock()
		if key != nil {
			return key, nil
		}
		k, err := a.custody().Public(ctx)
		if errs.Is(err, errs.NotFound) {
			return nil, errs.E(errs.NotFound, "the vendor has not published a repository yet, so there is no signing key to trust: try again later")
		}
		if err != nil {
			return nil, err
		}
		key = k
		return key, nil
	}
}

// watchGeneration polls the store's generation every interval and calls
// purge when it moved.
func watchGeneration(ctx context.Context, st interface {
	Generation(context.Context) (int64, error)
}, every time.Duration, log *slog.Logger, purge ...func()) {
	last, err := st.Generation(ctx)
	if err != nil {
		log.Warn("reading the cache generation", "err", err)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		g, err := st.Generation(ctx)
		if err != nil || g == last {
			continue
		}
		last = g
		for _, p := range purge {
			p()
		}
	}
}
