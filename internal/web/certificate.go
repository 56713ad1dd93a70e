package web

import (
	"context"
	"fmt"
	"math/big"
	"net/http"

	"github.com/enmei-project/enmei/internal/account"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/pki"
)

// The one-time certificate download: the link mailed by enmeid cert issue
// opens a page where the customer chooses the PKCS#12 password; the key
// pair is made when the form is sent, wrapped, and handed over, and only the
// certificate is kept.

func (p *Portal) certificateRoutes(page func(string, http.HandlerFunc)) {
	page("GET /cert/download", p.certForm)
	page("POST /cert/download", p.certDownload)
}

func (p *Portal) certForm(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusOK, "cert_download", &view{Title: "cert.title", Data: r.URL.Query().Get("token")})
}

// certDownload checks the password before it uses the link, so a refused
// password does not use it up.
func (p *Portal) certDownload(w http.ResponseWriter, r *http.Request) {
	v := &view{Title: "cert.title", L: p.locale(r)}
	token := r.PostFormValue("token")
	v.Data = token
	pw := r.PostFormValue("password")
	if again := r.PostFormValue("password2"); again != "" && again != pw {
		v.Error = v.L.T("admin.password_mismatch")
		p.render(w, r, http.StatusBadRequest, "cert_download", v)
		return
	}
	if err := pki.CheckPassword(pw); err != nil {
		v.Error = v.L.T("cert.password_rule")
		p.render(w, r, http.StatusBadRequest, "cert_download", v)
		return
	}
	if p.cfg.CA == nil {
		p.fail(w, r, v, errs.E(errs.Invalid, "this server does not issue certificates"))
		return
	}
	l, ok := p.useLink(w, r, v, token, account.LinkCertificate)
	if !ok {
		return
	}
	name, p12, err := p.makeCertificate(r.Context(), l.Subject, pw)
	if err != nil {
		p.fail(w, r, v, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-pkcs12")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.p12"`, name))
	w.Write(p12)
}

// makeCertificate makes the key pair and the certificate of serial, stores
// the certificate, and returns the PKCS#12 and a file name.
func (p *Portal) makeCertificate(ctx context.Context, serial, password string) (string, []byte, error) {
	cert, err := p.cfg.Store.Certificate(ctx, serial)
	if err != nil {
		return "", nil, err
	}
	if !cert.RevokedAt.IsZero() {
		return "", nil, errs.E(errs.Forbidden, "this certificate was revoked (%s): ask your vendor for a new one", cert.RevokeReason)
	}
	c, err := p.cfg.Store.Contract(ctx, cert.SupportID)
	if err != nil {
		return "", nil, err
	}
	ca, err := p.cfg.CA(ctx)
	if err != nil {
		return "", nil, err
	}
	n, ok := new(big.Int).SetString(serial, 16)
	if !ok {
		return "", nil, fmt.Errorf("certificate serial %q is not hexadecimal", serial)
	}
	key, err := pki.NewKey()
	if err != nil {
		return "", nil, err
	}
	der, err := ca.IssueClient(key.Public(), pki.ClientSubject{SupportID: c.SupportID, Customer: c.Customer}, n, cert.NotBefore, cert.NotAfter)
	if err != nil {
		return "", nil, err
	}
	p12, err := pki.PKCS12(key, der, ca.Cert, password)
	if err != nil {
		return "", nil, err
	}
	if err := p.cfg.Store.CompleteCertificate(ctx, serial, der, p.cfg.Now()); err != nil {
		return "", nil, err
	}
	p.cfg.Log.Info("client certificate downloaded", "support_id", c.SupportID, "serial", serial)
	return c.SupportID, p12, nil
}

// CertRow is a certificate as the contract page shows it.
type CertRow struct {
	Serial, NotAfter, Status string
}

func (p *Portal) certRows(ctx context.Context, l *Locale, supportID string) ([]CertRow, error) {
	certs, err := p.cfg.Store.ContractCertificates(ctx, supportID)
	if err != nil {
		return nil, err
	}
	rows := make([]CertRow, len(certs))
	for i, c := range certs {
		status := l.T("cert.active")
		switch {
		case !c.RevokedAt.IsZero():
			status = l.T("cert.revoked", l.Time(c.RevokedAt), c.RevokeReason)
		case c.DownloadedAt.IsZero():
			status = l.T("cert.not_downloaded")
		case p.cfg.Now().After(c.NotAfter):
			status = l.T("cert.expired")
		}
		rows[i] = CertRow{Serial: c.Serial, NotAfter: l.Time(c.NotAfter), Status: status}
	}
	return rows, nil
}
