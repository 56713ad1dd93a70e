package admin

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/server"
)

type serveOptions struct {
	addr      string
	publicURL string
	tls       string
	demo      bool
}

func (a *app) serveCommand() *cobra.Command {
	var o serveOptions
	cmd := &cobra.Command{
		Use:   "serve [--addr HOST:PORT] [--public-url URL] [--tls off|CERT,KEY] [--demo]",
		Short: "serve the API and the repositories",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.serve(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address")
	f.StringVar(&o.publicURL, "public-url", "", "URL hosts use to reach this server (default: from --addr)")
	f.StringVar(&o.tls, "tls", "off", "off, or CERT,KEY: PEM files of the server certificate and key")
	f.BoolVar(&o.demo, "demo", false, "seed the demo catalogue (once) and print how to try it")
	return cmd
}

func (a *app) serve(ctx context.Context, o serveOptions) error {
	var tlsCfg *tls.Config
	switch {
	case o.tls == "off" || o.tls == "":
	case o.tls == "auto":
		return errs.E(errs.Invalid, "--tls auto needs enmei's own CA, which is not available yet: pass --tls CERT,KEY with your certificate")
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
	if err := a.open(ctx); err != nil {
		return err
	}
	key, err := a.key(ctx)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w: choose another --addr", o.addr, err)
	}
	defer ln.Close()
	public := o.publicURL
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
	if o.demo {
		if err := a.seedDemo(ctx, key, public); err != nil {
			return fmt.Errorf("seeding the demo: %w", err)
		}
	}
	srv := server.New(server.Config{Store: a.st, Blobs: a.blobs, Key: key, Now: a.now, Log: a.log})
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		TLSConfig:         tlsCfg,
		ErrorLog:          nil,
	}
	bg, stop := context.WithCancel(context.Background())
	defer stop()
	go srv.Run(bg)
	errc := make(chan error, 1)
	go func() {
		if tlsCfg != nil {
			errc <- hs.ServeTLS(ln, "", "")
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	a.log.Info("enmeid serving", "addr", ln.Addr().String(), "url", public, "db", a.cfg.DB, "blobs", a.cfg.Blobs)
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serving: %w", err)
		}
	case <-ctx.Done():
		a.log.Info("stopping: finishing requests in flight")
		shut, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := hs.Shutdown(shut); err != nil {
			return fmt.Errorf("stopping: %w", err)
		}
	}
	return nil
}
