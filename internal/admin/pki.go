package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/account"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/notify"
	"github.com/enmei-project/enmei/internal/pki"
	"github.com/enmei-project/enmei/internal/store"
)

// The CA certificate is shared through the database (every replica
// verifies with it); its key stays in a file of the data directory.
const caSetting = "pki-ca-cert"

// CertLinkTTL is how long a certificate download link works.
const CertLinkTTL = 14 * 24 * time.Hour

func (a *app) caKeyFile() string { return filepath.Join(a.cfg.Data, "ca-key.pem") }

// ca returns the vendor's CA, made on first need: its certificate in the
// database, its key in <data>/ca-key.pem (mode 0600).
func (a *app) ca(ctx context.Context) (*pki.CA, error) {
	for attempt := 0; attempt < 3; attempt++ {
		certPEM, err := a.st.Setting(ctx, caSetting)
		if err == nil {
			keyPEM, err := os.ReadFile(a.caKeyFile())
			if errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("the CA's key file %s is missing: copy it from the server where the CA was made (its certificate is in the database)", a.caKeyFile())
			}
			if err != nil {
				return nil, fmt.Errorf("reading the CA key: %w", err)
			}
			return pki.LoadCA(certPEM, keyPEM)
		}
		if !errs.Is(err, errs.NotFound) {
			return nil, err
		}
		if err := a.makeCA(ctx); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		// Made here or by another process at the same moment: load it.
	}
	return nil, fmt.Errorf("the CA key file %s exists but the database holds no CA certificate: move the file away to make a new CA, or restore the database", a.caKeyFile())
}

// caLoader returns a.ca memoised once it succeeds: the CA never changes
// while serving, and every mutual-TLS request and certificate download
// needs it, so it is not re-read from the database and the key file each
// time.
func (a *app) caLoader() func(ctx context.Context) (*pki.CA, error) {
	var mu sync.Mutex
	var ca *pki.CA
	return func(ctx context.Context) (*pki.CA, error) {
		mu.Lock()
		defer mu.Unlock()
		if ca != nil {
			return ca, nil
		}
		c, err := a.ca(ctx)
		if err != nil {
			return nil, err
		}
		ca = c
		return ca, nil
	}
}

func (a *app) makeCA(ctx context.Context) error {
	host := "enmei"
	if u, err := url.Parse(a.publicURL()); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	certPEM, keyPEM, err := pki.NewCA("enmei CA "+host, "enmei", a.now())
	if err != nil {
		return err
	}
	if err := os.MkdirAll(a.cfg.Data, 0o750); err != nil {
		return err
	}
	// O_EXCL: of two processes making a CA at once, one writes the key.
	f, err := os.OpenFile(a.caKeyFile(), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(keyPEM); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("writing the CA key: %w", err)
	}
	if err := errors.Join(f.Sync(), f.Close()); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing the CA key: %w", err)
	}
	stored, err := a.st.PutSettingIfAbsent(ctx, caSetting, certPEM)
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	if !bytes.Equal(stored, certPEM) {
		// Another replica made the CA first, with its own key file.
		os.Remove(f.Name())
		return fmt.Errorf("another server made the CA at the same moment: copy its key file %s here", a.caKeyFile())
	}
	a.log.Info("made the CA for client and server certificates", "key", a.caKeyFile())
	fmt.Fprintf(a.stderr, "enmeid: made the CA in %s (mode 0600): back it up with the signing key; enmeid ca export prints its certificate\n", a.caKeyFile())
	return nil
}

func (a *app) caCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "ca", Short: "the CA of client and server certificates"}
	cmd.AddCommand(&cobra.Command{
		Use:   "export",
		Short: "print the CA certificate (PEM); makes the CA on first use",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			ca, err := a.ca(ctx)
			if err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"certificate": string(ca.CertPEM()), "subject": ca.Cert.Subject.String(),
					"not_after": ca.Cert.NotAfter.UTC()})
			}
			_, err = a.stdout.Write(ca.CertPEM())
			return err
		},
	})
	return cmd
}

func (a *app) certCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "cert", Short: "contracts' client certificates (SBOM service)"}
	var replace bool
	issue := &cobra.Command{
		Use:   "issue SUPPORT_ID [--replace]",
		Short: "issue the contract's client certificate: prints a one-time download URL (14 days) and mails it to the technical contact",
		Long: `Issue the contract's one client certificate, valid 5 years. The printed URL (also
mailed to the technical contact) opens a page where the customer chooses the
PKCS#12 password (letters and digits only, at least 12); the key pair is made
then, and the private key is never stored. The URL works once, for 14 days.
A second certificate is refused unless --replace, which revokes the current one.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := a.contract(ctx, args[0])
			if err != nil {
				return err
			}
			if _, err := a.ca(ctx); err != nil { // made now, not at download
				return err
			}
			now := a.now()
			nb, na := pki.ClientValidity(now)
			cert := store.Certificate{Serial: pki.NewSerial().Text(16), SupportID: c.SupportID, NotBefore: nb, NotAfter: na, IssuedAt: now}
			token, hash := account.NewToken()
			link := store.Link{Hash: hash, Purpose: account.LinkCertificate, Subject: cert.Serial, CreatedAt: now, ExpiresAt: now.Add(CertLinkTTL)}
			download := a.publicURL() + "/cert/download?token=" + token
			from, err := defaultMailFrom(a.env("ENMEI_MAIL_FROM"), a.publicURL())
			if err != nil {
				return err
			}
			m, err := notify.NewMail(notify.Letter{From: from, To: c.Contact, Date: now, Lang: "ja",
				Subject: "【enmei】クライアント証明書のご案内 / Your client certificate",
				Text:    certMail(c, cert, download)})
			if err != nil {
				return fmt.Errorf("composing the certificate mail: %w", err)
			}
			if err := a.st.IssueCertificate(ctx, cert, link, &m, replace); err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"download_url": download, "serial": cert.Serial, "not_after": na.UTC(), "support_id": c.SupportID})
			}
			fmt.Fprintln(a.stdout, download)
			fmt.Fprintf(a.stderr, "client certificate %s of %s issued, valid until %s; the download link (once, 14 days) was also queued for %s\n",
				cert.Serial, c.SupportID, na.In(entitle.Tokyo).Format(entitle.DateLayout), c.Contact)
			return nil
		},
	}
	issue.Flags().BoolVar(&replace, "replace", false, "replace the contract's certificate (the 5-year renewal): the current one is revoked")
	var reason string
	revoke := &cobra.Command{
		Use:   "revoke SUPPORT_ID [--reason TEXT]",
		Short: "revoke the contract's client certificate",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			certs, err := a.st.ContractCertificates(ctx, args[0])
			if err != nil {
				return err
			}
			var revoked []string
			for _, c := range certs {
				if c.RevokedAt.IsZero() {
					if err := a.st.RevokeCertificate(ctx, c.Serial, reason, a.now()); err != nil {
						return err
					}
					revoked = append(revoked, c.Serial)
				}
			}
			if len(revoked) == 0 {
				if _, err := a.st.Contract(ctx, args[0]); err != nil {
					return err
				}
				return errs.E(errs.NotFound, "contract %s has no certificate that is not revoked", args[0])
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"support_id": args[0], "revoked": revoked})
			}
			fmt.Fprintf(a.stderr, "revoked %s of %s: it is refused from now on\n", strings.Join(revoked, ", "), args[0])
			return nil
		},
	}
	revoke.Flags().StringVar(&reason, "reason", "revoked by the vendor", "why (shown to the customer's agent)")
	cmd.AddCommand(issue, revoke)
	return cmd
}

func certMail(c store.Contract, cert store.Certificate, link string) string {
	until := cert.NotAfter.In(entitle.Tokyo).Format(entitle.DateLayout)
	return fmt.Sprintf(`%[1]s
技術担当者様

サポートID %[2]s のクライアント証明書 (SBOM 取得用) を発行しました。
次のページで PKCS#12 ファイルのパスワード (英数字12文字以上) を決めて、
ファイルをダウンロードしてください。鍵はその時に作られ、当社には保存されません。

%[3]s

このリンクは14日間、1回だけ有効です。証明書の有効期限: %[4]s

--

Dear technical contact of %[1]s,

a client certificate (for SBOM downloads) was issued for support ID %[2]s.
Open the page above, choose the password of the PKCS#12 file (letters and
digits, at least 12) and download it. The key is made then and never kept
by us. The link works once, for 14 days. The certificate is valid until %[4]s.

--
enmei
`, c.Customer, c.SupportID, link, until)
}
