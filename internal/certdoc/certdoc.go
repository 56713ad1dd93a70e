// Package certdoc renders a customer's support certificate as a bilingual
// (Japanese and English) A4 PDF. The certificate is the one paper the
// customer's administrators keep: it proves the support contract to their
// auditors and, on the first issue only, carries the licence keys needed to
// register hosts. Japanese customers expect Japanese text that they can search
// and copy, so the IPAex Gothic font is embedded (subset, with a ToUnicode
// map) instead of relying on fonts on the reader's machine.
package certdoc

import (
	"cmp"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/signintech/gopdf"

	"github.com/enmei-project/enmei/internal/errs"
)

// Product is one product covered by the contract.
type Product struct{ ID, Name string }

// Document is everything printed on a support certificate.
type Document struct {
	SupportID   string
	Customer    string // may be Japanese, e.g. "株式会社テスト商事"
	EndUser     string // may be ""
	Plan        string // "server", "container" or "developer"
	Products    []Product
	Quantity    int
	Start, End  string // YYYY-MM-DD
	Contact     string // technical contact e-mail
	Fingerprint string // signing-key fingerprint, 40 hex digits (spaces allowed)

	// Secrets: present only on the first issue (enmeid contract add --certificate-out).
	LicenseKeys                       map[string]string // product ID → licence key; nil on re-issue
	DeveloperAccount, InitialPassword string            // developer plan; "" otherwise

	PortalURL string    // e.g. "https://els.example.com", used in "how to register"
	IssuedAt  time.Time // printed as YYYY-MM-DD in Asia/Tokyo
	Reissue   bool      // a re-issue carries no licence key or password and says so
}

// tokyo is fixed rather than loaded from tzdata: Japan has no daylight saving
// and the binary must not depend on /usr/share/zoneinfo.
var tokyo = time.FixedZone("Asia/Tokyo", 9*3600)

var planNames = map[string]string{
	"server":    "サーバー / server",
	"container": "コンテナ / container",
	"developer": "開発者 / developer",
}

// Write validates d and writes its certificate to w as a PDF.
func Write(w io.Writer, d Document) error {
	if err := validate(d); err != nil {
		return wrap(d, err)
	}
	fc, err := loadFont()
	if err != nil {
		return wrap(d, err)
	}
	pdf := &gopdf.GoPdf{}
	pdf.Start(gopdf.Config{PageSize: *gopdf.PageSizeA4, Unit: gopdf.UnitPT})
	pdf.SetInfo(gopdf.PdfInfo{
		Title:        "サポート証明書 / Support Certificate " + d.SupportID,
		Creator:      "enmei",
		CreationDate: d.IssuedAt.In(tokyo),
	})
	if err := pdf.AddTTFFontFromFontContainer(fontFamily, fc); err != nil {
		return wrap(d, err)
	}
	r := &renderer{pdf: pdf, id: d.SupportID}
	r.newPage()
	r.certificate(d)
	if r.err == nil {
		_, r.err = pdf.WriteTo(w)
	}
	if r.err != nil {
		return wrap(d, r.err)
	}
	return nil
}

func wrap(d Document, err error) error {
	if d.SupportID == "" {
		return fmt.Errorf("support certificate: %w", err)
	}
	return fmt.Errorf("support certificate %s: %w", d.SupportID, err)
}

// validate refuses documents that would print a misleading certificate, and
// above all a re-issue that would leak a secret.
func validate(d Document) error {
	invalid := func(format string, args ...any) error { return errs.E(errs.Invalid, format, args...) }
	switch {
	case strings.TrimSpace(d.SupportID) == "":
		return invalid("the support ID is missing")
	case strings.TrimSpace(d.Customer) == "":
		return invalid("the customer name is missing")
	case len(d.Products) == 0:
		return invalid("the certificate lists no products")
	case planNames[d.Plan] == "":
		return invalid("the plan %q is not one of server, container or developer", d.Plan)
	case d.Quantity < 1:
		return invalid("the quantity %d is not a positive number", d.Quantity)
	case strings.TrimSpace(d.Contact) == "":
		return invalid("the technical contact's e-mail is missing")
	case strings.TrimSpace(d.PortalURL) == "":
		return invalid("the portal URL is missing")
	case d.IssuedAt.IsZero():
		return invalid("the issue date is missing")
	}
	start, err1 := time.Parse(time.DateOnly, d.Start)
	end, err2 := time.Parse(time.DateOnly, d.End)
	if err1 != nil || err2 != nil || end.Before(start) {
		return invalid("the validity %q – %q is not two YYYY-MM-DD dates in order", d.Start, d.End)
	}
	if !isFingerprint(d.Fingerprint) {
		return invalid("the signing-key fingerprint %q is not 40 hex digits", d.Fingerprint)
	}
	known := map[string]bool{}
	for _, p := range d.Products {
		if strings.TrimSpace(p.ID) == "" {
			return invalid("a product has no ID")
		}
		known[p.ID] = true
	}
	if d.Reissue {
		if len(d.LicenseKeys) > 0 || d.InitialPassword != "" {
			return invalid("a re-issue must not carry licence keys or passwords")
		}
		return nil
	}
	for id := range d.LicenseKeys {
		if !known[id] {
			return invalid("there is a licence key for product %q, which the certificate does not list", id)
		}
	}
	if d.Plan != "developer" {
		for _, p := range d.Products {
			if strings.TrimSpace(d.LicenseKeys[p.ID]) == "" {
				return invalid("the first issue has no licence key for product %q", p.ID)
			}
		}
	}
	return nil
}

func isFingerprint(s string) bool {
	s = strings.ReplaceAll(s, " ", "")
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

// groupFingerprint prints the fingerprint as gpg does, in groups of four, so
// that a person can compare it with the output of enmei register.
func groupFingerprint(s string) string {
	s = strings.ToUpper(strings.ReplaceAll(s, " ", ""))
	var groups []string
	for i := 0; i < len(s); i += 4 {
		groups = append(groups, s[i:min(i+4, len(s))])
	}
	return strings.Join(groups, " ")
}

func productName(p Product) string {
	if p.Name == "" || p.Name == p.ID {
		return p.ID
	}
	return p.Name + " (" + p.ID + ")"
}

// certificate lays out the whole document.
func (r *renderer) certificate(d Document) {
	portal := strings.TrimRight(d.PortalURL, "/")
	issued := d.IssuedAt.In(tokyo).Format(time.DateOnly)

	r.heading(sizeTitle, "サポート証明書 / Support Certificate")
	if d.Reissue {
		r.color = red
		r.heading(sizeHeading, "再発行 / Re-issue: licence keys and passwords are not shown")
		r.color = black
		r.para(0, "この証明書は再発行です。ライセンスキーとパスワードは記載していません。当初の証明書に記載されたものをご使用ください。")
		r.para(0, "This certificate is a re-issue. Use the licence keys and passwords printed on the original certificate.")
	}
	r.gap(8)
	r.rule()
	r.row("サポートID / Support ID", d.SupportID)
	r.row("お客様 / Customer", d.Customer)
	r.row("エンドユーザー / End user", cmp.Or(d.EndUser, "なし / none"))
	var products []string
	for _, p := range d.Products {
		products = append(products, productName(p))
	}
	r.row("製品 / Products", products...)
	r.row("プラン / Plan", planNames[d.Plan])
	r.row("数量 / Quantity", strconv.Itoa(d.Quantity))
	r.row("有効期間 / Validity", d.Start+" – "+d.End+" (Asia/Tokyo)")
	r.row("技術担当者 / Technical contact", d.Contact)
	r.row("署名鍵フィンガープリント / Signing-key fingerprint", groupFingerprint(d.Fingerprint))
	if d.Reissue {
		r.row("ライセンスキー / Licence key", "再発行のため記載しません / Not shown on a re-issue")
	} else {
		for _, p := range d.Products {
			if key := d.LicenseKeys[p.ID]; key != "" {
				r.row("ライセンスキー / Licence key", productName(p), key)
			}
		}
	}
	if d.Plan == "developer" {
		r.row("開発者アカウント / Developer account", cmp.Or(d.DeveloperAccount, "-"))
		if d.Reissue {
			r.row("初期パスワード / Initial password", "再発行のため記載しません / Not shown on a re-issue")
		} else {
			r.row("初期パスワード / Initial password", cmp.Or(d.InitialPassword, "-"))
		}
	}
	r.row("発行日 / Date of issue", issued+" (Asia/Tokyo)"+orIf(d.Reissue, "（再発行 / Re-issue）"))

	r.gap(16)
	r.heading(sizeHeading, "登録方法 / How to register")
	r.step("1.", "各ホストで root として次のコマンドを実行してください。製品ごとにライセンスキーが異なります。")
	r.para(indent, "On each host, run the following as root. Each product has its own licence key.")
	if len(d.LicenseKeys) == 0 {
		r.code("enmei register --server " + portal + " --key <licence key>")
		if d.Reissue {
			r.para(indent, "<licence key> には、当初の証明書に記載されたライセンスキーを指定してください。")
			r.para(indent, "For <licence key>, use the licence key from the original certificate.")
		}
	}
	for _, p := range d.Products {
		if key := d.LicenseKeys[p.ID]; key != "" {
			r.code("enmei register --server " + portal + " --key " + key)
		}
	}
	r.para(indent, "署名鍵を確かめてから登録するには、--fingerprint に上記のフィンガープリントを指定してください。")
	r.para(indent, "To check the signing key before a seat is taken, add --fingerprint with the fingerprint above.")
	r.gap(4)
	r.step("2.", "ポータル "+portal+"/login に、サポートID（"+d.SupportID+"）と技術担当者のメールアドレス（"+d.Contact+"）でログインできます。")
	r.para(indent, "Log in to the portal at "+portal+"/login with the support ID ("+d.SupportID+") and the technical contact's e-mail ("+d.Contact+").")

	r.gap(12)
	if d.Reissue {
		r.para(0, "再発行 / Re-issue: licence keys and passwords are not shown. ライセンスキーとパスワードは当初の証明書をご覧ください。")
	} else {
		r.para(0, "ライセンスキー"+orIf(d.InitialPassword != "", "と初期パスワード")+"はこの初回発行の証明書にのみ記載されます。大切に保管してください。")
		r.para(0, "The licence keys"+orIf(d.InitialPassword != "", " and the initial password")+" appear only on this first issue of the certificate: keep it safe.")
	}
}

func orIf(cond bool, s string) string {
	if cond {
		return s
	}
	return ""
}
