package certdoc

import (
	"bytes"
	"compress/zlib"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf16"

	"github.com/enmei-project/enmei/internal/errs"
)

const fpr = "0123456789ABCDEF0123456789ABCDEF01234567"

func firstIssue() Document {
	return Document{
		SupportID: "SUP-2026-0042",
		Customer:  "株式会社テスト商事",
		EndUser:   "日本エンドユーザー株式会社",
		Plan:      "server",
		Products: []Product{
			{ID: "alma9-els", Name: "AlmaLinux 9 延長サポート"},
			{ID: "php74", Name: "PHP 7.4 ELS"},
		},
		Quantity:    25,
		Start:       "2026-04-01",
		End:         "2027-03-31",
		Contact:     "infra@test-shoji.example.jp",
		Fingerprint: fpr,
		LicenseKeys: map[string]string{
			"alma9-els": "EK-0123A-BCDEF-GHJKM-NPQRS-TVWXY",
			"php74":     "EK-9876Z-YXWVT-SRQPN-MKJHG-FEDCB",
		},
		PortalURL: "https://els.example.com",
		// 16:00 UTC is already the next day in Tokyo.
		IssuedAt: time.Date(2026, 3, 31, 16, 0, 0, 0, time.UTC),
	}
}

func reissue() Document {
	d := firstIssue()
	d.Reissue, d.LicenseKeys = true, nil
	return d
}

func developer() Document {
	d := firstIssue()
	d.Plan, d.LicenseKeys = "developer", nil
	d.DeveloperAccount, d.InitialPassword = "dev-test-shoji", "Pw-7Qx!rT2zLm"
	return d
}

// poppler runs a poppler-utils tool. The checks depend on it, so a missing
// tool fails the test rather than skipping it.
func poppler(t testing.TB, tool string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Fatalf("%s not found: install poppler-utils", tool)
	}
	out, err := exec.Command(tool, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
	return string(out)
}

type rendered struct {
	raw  []byte
	path string
	text string // pdftotext -layout
}

func render(t *testing.T, d Document) rendered {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, d); err != nil {
		t.Fatalf("Write: %v", err)
	}
	path := filepath.Join(t.TempDir(), "cert.pdf")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("CERTDOC_KEEP"); dir != "" { // to look at the output by eye
		os.WriteFile(filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".pdf"), buf.Bytes(), 0o644)
	}
	return rendered{buf.Bytes(), path, poppler(t, "pdftotext", "-layout", "-enc", "UTF-8", path, "-")}
}

// squash removes all white space, so that text wrapped over several lines
// (or a fingerprint printed in groups) can be compared with its source.
func squash(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
}

func TestFirstIssue(t *testing.T) {
	d := firstIssue()
	r := render(t, d)
	want := []string{
		"サポート証明書 / Support Certificate",
		"株式会社テスト商事", "日本エンドユーザー株式会社", "SUP-2026-0042",
		"AlmaLinux 9 延長サポート (alma9-els)", "PHP 7.4 ELS (php74)",
		"EK-0123A-BCDEF-GHJKM-NPQRS-TVWXY", "EK-9876Z-YXWVT-SRQPN-MKJHG-FEDCB",
		"2026-04-01 – 2027-03-31 (Asia/Tokyo)", "2026-04-01 (Asia/Tokyo)",
		"infra@test-shoji.example.jp", "25", "サーバー / server",
		"0123 4567 89AB CDEF 0123 4567 89AB CDEF 0123 4567",
		"enmei register --server https://els.example.com --key EK-0123A-BCDEF-GHJKM-NPQRS-TVWXY",
		"enmei register --server https://els.example.com --key EK-9876Z-YXWVT-SRQPN-MKJHG-FEDCB",
		"https://els.example.com/login",
		"登録方法 / How to register",
		"初回発行の証明書にのみ記載されます", "appear only on this first issue",
	}
	want = append(want, labels...)
	for _, w := range want {
		if !strings.Contains(r.text, w) {
			t.Errorf("pdftotext output lacks %q", w)
		}
	}
	if !strings.Contains(squash(r.text), fpr) {
		t.Errorf("pdftotext output lacks the fingerprint %s", fpr)
	}
	for _, no := range []string{"開発者アカウント", "再発行", "Re-issue"} {
		if strings.Contains(r.text, no) {
			t.Errorf("a first-issue server certificate shows %q", no)
		}
	}
	// The leak detector used for re-issues must find what it looks for.
	for _, key := range d.LicenseKeys {
		if where := leaks(t, r, key); where == "" {
			t.Errorf("leaks does not find licence key %s in a first issue", key)
		}
	}
	if t.Failed() {
		t.Log(r.text)
	}
}

// labels are the bilingual field labels of a server certificate.
var labels = []string{
	"サポートID / Support ID", "お客様 / Customer", "エンドユーザー / End user",
	"製品 / Products", "プラン / Plan", "数量 / Quantity", "有効期間 / Validity",
	"技術担当者 / Technical contact", "署名鍵フィンガープリント / Signing-key fingerprint",
	"ライセンスキー / Licence key", "発行日 / Date of issue",
}

func TestFontsEmbedded(t *testing.T) {
	r := render(t, firstIssue())
	out := poppler(t, "pdffonts", r.path)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 3 {
		t.Fatalf("pdffonts lists no fonts:\n%s", out)
	}
	// Columns: name type… encoding emb sub uni object ID; the type has a
	// space in it ("CID TrueType"), so count from the right.
	for _, l := range lines[2:] {
		f := strings.Fields(l)
		if len(f) < 7 || f[len(f)-5] != "yes" || f[len(f)-4] != "yes" || f[len(f)-3] != "yes" {
			t.Errorf("font not embedded as a subset with a ToUnicode map (emb, sub, uni): %s", l)
		}
	}
	if len(r.raw) > 200_000 {
		t.Errorf("certificate is %d bytes: the font is not subset", len(r.raw))
	}
}

func TestReissue(t *testing.T) {
	first := firstIssue()
	r := render(t, reissue())
	for _, w := range []string{
		"再発行 / Re-issue: licence keys and passwords are not shown",
		"the licence key from the original certificate",
		"https://els.example.com/login", "株式会社テスト商事", "SUP-2026-0042",
	} {
		if !strings.Contains(r.text, w) {
			t.Errorf("re-issue lacks %q", w)
		}
	}
	if strings.Contains(r.text, "EK-") {
		t.Errorf("re-issue shows a licence key:\n%s", r.text)
	}
	for _, key := range first.LicenseKeys {
		if where := leaks(t, r, key); where != "" {
			t.Errorf("re-issue carries licence key %s in %s", key, where)
		}
	}
	if strings.Contains(r.text, "初回発行の証明書にのみ") {
		t.Error("re-issue claims to be the first issue")
	}
}

func TestDeveloperPlan(t *testing.T) {
	d := developer()
	r := render(t, d)
	for _, w := range []string{"開発者 / developer", "開発者アカウント / Developer account", "初期パスワード / Initial password", d.DeveloperAccount, d.InitialPassword, "and the initial password"} {
		if !strings.Contains(r.text, w) {
			t.Errorf("developer certificate lacks %q", w)
		}
	}

	d.Reissue, d.InitialPassword = true, ""
	r = render(t, d)
	if where := leaks(t, r, developer().InitialPassword); where != "" {
		t.Errorf("developer re-issue carries the password in %s", where)
	}
	if !strings.Contains(r.text, "初期パスワード / Initial password") || !strings.Contains(r.text, "Not shown on a re-issue") {
		t.Errorf("developer re-issue does not say the password is not shown:\n%s", r.text)
	}
}

// leaks reports where in the PDF secret appears: in the extracted text, in
// the raw bytes, in any inflated stream, or UTF-16 hex-encoded as gopdf
// writes the document information. "" means nowhere.
func leaks(t *testing.T, r rendered, secret string) string {
	t.Helper()
	if strings.Contains(r.text, secret) {
		return "the text"
	}
	var u16 []byte
	for _, c := range utf16.Encode([]rune(secret)) {
		u16 = append(u16, byte(c>>8), byte(c))
	}
	needles := [][]byte{[]byte(secret), []byte(strings.ToUpper(hex.EncodeToString(u16))), []byte(hex.EncodeToString(u16))}
	haystacks := map[string][]byte{"the raw bytes": r.raw}
	for i, m := range regexp.MustCompile(`(?s)stream\r?\n(.*?)endstream`).FindAllSubmatch(r.raw, -1) {
		if zr, err := zlib.NewReader(bytes.NewReader(m[1])); err == nil {
			b, _ := io.ReadAll(zr)
			haystacks["inflated stream "+strconv.Itoa(i)] = b
		}
	}
	for where, h := range haystacks {
		for _, n := range needles {
			if bytes.Contains(h, n) {
				return where
			}
		}
	}
	return ""
}

func TestManyProductsLongName(t *testing.T) {
	d := firstIssue()
	d.Customer = "株式会社テスト商事ホールディングス東日本統括本部情報システム部門基盤運用グループ第二チーム（長い名前の確認用）"
	d.EndUser = "Nihon End User Kabushiki Kaisha, Infrastructure Platform Operations Division, Tokyo Head Office"
	d.Products, d.LicenseKeys = nil, map[string]string{}
	for i := range 6 {
		id := fmt.Sprintf("product-%d", i+1)
		d.Products = append(d.Products, Product{ID: id, Name: fmt.Sprintf("長期サポート製品 %d Enterprise Linux Extended Lifecycle Support", i+1)})
		d.LicenseKeys[id] = fmt.Sprintf("EK-%05d-BCDEF-GHJKM-NPQRS-TVWXY", i+1)
	}
	d.PortalURL = "https://els-portal.customer-support.example.co.jp/enmei/very/long/path/for/wrapping"
	r := render(t, d)
	flat := squash(r.text)
	for _, p := range d.Products {
		if !strings.Contains(flat, squash(productName(p))) {
			t.Errorf("product %s is missing", p.ID)
		}
		if !strings.Contains(r.text, d.LicenseKeys[p.ID]) {
			t.Errorf("licence key of %s is missing or broken across lines", p.ID)
		}
	}
	for _, w := range []string{d.Customer, d.EndUser, d.PortalURL + "/login"} {
		if !strings.Contains(flat, squash(w)) {
			t.Errorf("%q is missing", w)
		}
	}
	assertOnPage(t, r)
}

// assertOnPage checks that every word lies inside the page's printable area,
// so that nothing is cut off at the edge.
func assertOnPage(t *testing.T, r rendered) {
	t.Helper()
	out := poppler(t, "pdftotext", "-bbox", r.path, "-")
	words := regexp.MustCompile(`<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>`).FindAllStringSubmatch(out, -1)
	if len(words) < 50 {
		t.Fatalf("pdftotext -bbox found only %d words", len(words))
	}
	for _, w := range words {
		xMax, _ := strconv.ParseFloat(w[3], 64)
		yMax, _ := strconv.ParseFloat(w[4], 64)
		// Closing Japanese punctuation may hang a few points past the margin.
		if xMax > pageW-margin+12 || yMax > pageH-margin+12 {
			t.Errorf("%q reaches (%.0f, %.0f), outside the printable area", w[5], xMax, yMax)
		}
	}
}

func TestManyProductsBreakPages(t *testing.T) {
	d := firstIssue()
	d.Products, d.LicenseKeys = nil, map[string]string{}
	for i := range 60 {
		id := fmt.Sprintf("p%02d", i)
		d.Products = append(d.Products, Product{ID: id, Name: "Product " + id})
		d.LicenseKeys[id] = fmt.Sprintf("EK-%05d-BCDEF-GHJKM-NPQRS-TVWXY", i)
	}
	r := render(t, d)
	if pages := strings.Count(r.text, "\f"); pages < 2 {
		t.Errorf("60 products fit on %d page(s)", pages)
	}
	if !strings.Contains(r.text, "SUP-2026-0042（続き / continued）") {
		t.Error("continuation page does not repeat the support ID")
	}
	for _, p := range d.Products {
		if !strings.Contains(r.text, "--key "+d.LicenseKeys[p.ID]) {
			t.Errorf("register command for %s is missing", p.ID)
		}
	}
	assertOnPage(t, r)
}

func TestValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Document)
		want string
	}{
		{"no support ID", func(d *Document) { d.SupportID = "" }, "support certificate: the support ID is missing"},
		{"no customer", func(d *Document) { d.Customer = " " }, "customer name is missing"},
		{"no products", func(d *Document) { d.Products = nil }, "lists no products"},
		{"unknown plan", func(d *Document) { d.Plan = "gold" }, `plan "gold"`},
		{"no quantity", func(d *Document) { d.Quantity = 0 }, "quantity 0"},
		{"bad date", func(d *Document) { d.End = "2027/03/31" }, "not two YYYY-MM-DD dates"},
		{"dates reversed", func(d *Document) { d.Start, d.End = d.End, d.Start }, "not two YYYY-MM-DD dates in order"},
		{"short fingerprint", func(d *Document) { d.Fingerprint = "ABCD" }, "not 40 hex digits"},
		{"no contact", func(d *Document) { d.Contact = "" }, "contact's e-mail is missing"},
		{"no portal", func(d *Document) { d.PortalURL = "" }, "portal URL is missing"},
		{"no issue date", func(d *Document) { d.IssuedAt = time.Time{} }, "issue date is missing"},
		{"missing key", func(d *Document) { delete(d.LicenseKeys, "php74") }, `no licence key for product "php74"`},
		{"key for another product", func(d *Document) { d.LicenseKeys["other"] = "EK-X" }, `product "other"`},
		{"re-issue with key", func(d *Document) { d.Reissue = true }, "re-issue must not carry licence keys or passwords"},
		{"re-issue with password", func(d *Document) { *d = reissue(); d.InitialPassword = "x" }, "re-issue must not carry"},
		{"character not in font", func(d *Document) { d.Customer = "株式会社\U0001F600" }, "not in the embedded Japanese font"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := firstIssue()
			tc.edit(&d)
			var buf bytes.Buffer
			err := Write(&buf, d)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Write = %v, want an error containing %q", err, tc.want)
			}
			if !errs.Is(err, errs.Invalid) {
				t.Errorf("error %v is not of kind Invalid", err)
			}
			if d.SupportID != "" && !strings.HasPrefix(err.Error(), "support certificate "+d.SupportID+": ") {
				t.Errorf("error %q does not name the certificate", err)
			}
			if buf.Len() != 0 {
				t.Errorf("Write wrote %d bytes despite the error", buf.Len())
			}
		})
	}
	// The developer plan needs no licence key.
	if err := Write(io.Discard, developer()); err != nil {
		t.Errorf("developer plan without licence keys: %v", err)
	}
}

// The font container is shared; concurrent certificates must not mix glyphs.
func TestConcurrentAndDeterministic(t *testing.T) {
	docs := []Document{firstIssue(), reissue(), developer()}
	want := make([][]byte, len(docs))
	for i, d := range docs {
		var b bytes.Buffer
		if err := Write(&b, d); err != nil {
			t.Fatal(err)
		}
		want[i] = b.Bytes()
	}
	var wg sync.WaitGroup
	for n := range 12 {
		wg.Go(func() {
			var b bytes.Buffer
			if err := Write(&b, docs[n%len(docs)]); err != nil {
				t.Error(err)
			} else if !bytes.Equal(b.Bytes(), want[n%len(docs)]) {
				t.Errorf("certificate %d differs when rendered concurrently", n%len(docs))
			}
		})
	}
	wg.Wait()
}

func BenchmarkWrite(b *testing.B) {
	d := firstIssue()
	var size int
	for b.Loop() {
		var buf bytes.Buffer
		if err := Write(&buf, d); err != nil {
			b.Fatal(err)
		}
		size = buf.Len()
	}
	b.ReportMetric(float64(size), "bytes/pdf")
}
