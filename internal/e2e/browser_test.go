package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/enmei-project/enmei/internal/testutil/smtptest"
)

// browser is a real Chromium, driven through the DevTools protocol the way a
// person uses the portal: it types into labelled fields, presses buttons by
// their text and follows links. Each test gets its own browser and profile.
type browser struct {
	t    *testing.T
	ctx  context.Context
	name string // file name prefix of the screenshots
	step int
	dir  string
}

// browserTimeout bounds one test's whole browser session; stepTimeout one
// page interaction, so that a missing button fails with its name rather than
// at the end of the test.
const (
	browserTimeout = 90 * time.Second
	stepTimeout    = 20 * time.Second
)

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	for _, n := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found at /usr/bin/chromium: install the Debian package chromium (apt-get install chromium)")
	return ""
}

// screenshotDir is $ENMEI_ARTIFACTS/screenshots, else a temporary directory.
func screenshotDir(t *testing.T) string {
	t.Helper()
	if a := os.Getenv("ENMEI_ARTIFACTS"); a != "" {
		dir := filepath.Join(a, "screenshots")
		must(t, os.MkdirAll(dir, 0o755))
		return dir
	}
	return t.TempDir()
}

// newBrowser starts a headless Chromium set up as in Japan (--lang ja-JP:
// it sends Accept-Language: ja-JP,ja). name prefixes the screenshot files.
func newBrowser(t *testing.T, name string) *browser {
	t.Helper()
	return newBrowserWith(t, name)
}

// newBrowserWith is newBrowser with more allocator options (e.g. the HOME
// that holds a certificate database).
func newBrowserWith(t *testing.T, name string, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	path := chromiumPath(t)
	profile := t.TempDir()
	shots := screenshotDir(t)
	chromeLog := &lockedWriter{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "ja-JP"),
		chromedp.Flag("accept-lang", "ja-JP,ja"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(chromeLog),
	)
	opts = append(opts, extra...)
	// The timeout is on the allocator: it ends the whole browser, which is
	// what a per-test limit should do.
	tctx, tcancel := context.WithTimeout(context.Background(), browserTimeout)
	actx, acancel := chromedp.NewExecAllocator(tctx, opts...)
	ctx, cancel := chromedp.NewContext(actx)
	// Cleanups run last-in first-out: the browser is gone before its
	// profile directory is removed.
	t.Cleanup(func() {
		cancel()
		acancel()
		tcancel()
		if t.Failed() {
			var lines []string
			for _, l := range strings.Split(chromeLog.String(), "\n") {
				if !strings.Contains(l, "dbus") && strings.TrimSpace(l) != "" {
					lines = append(lines, l)
				}
			}
			t.Logf("chromium output (without D-Bus complaints; last 4 KiB):\n%s", tail(strings.Join(lines, "\n"), 4096))
		}
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("starting %s: %v\n%s", path, err, chromeLog.String())
	}
	return &browser{t: t, ctx: ctx, name: name, dir: shots}
}

// lockedWriter collects Chromium's output, which comes from two pipes.
type lockedWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// step runs one action with its own time limit and returns its value; on
// failure it saves a screenshot and fails the test with what the page showed.
func step[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.fail(what, err)
	}
	return v
}

func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	step(b, what, chromedp.Steps(steps...))
}

func (b *browser) fail(what string, err error) {
	b.t.Helper()
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w (nothing matched within %v)", err, stepTimeout)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	shot := b.save(ctx, "FAILED")
	b.t.Fatalf("browser: %s: %v\npage %s (screenshot %s) says:\n%s", what, err, loc, shot, text)
}

// shot writes a PNG screenshot of the whole page, named by test and step.
func (b *browser) shot(step string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if p := b.save(ctx, step); p == "" {
		b.t.Errorf("browser: no screenshot for step %s", step)
	}
}

func (b *browser) save(ctx context.Context, step string) string {
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		b.t.Logf("browser: screenshot %s: %v", step, err)
		return ""
	}
	b.step++
	p := filepath.Join(b.dir, fmt.Sprintf("%s-%02d-%s.png", b.name, b.step, step))
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Logf("browser: %v", err)
		return ""
	}
	return p
}

// xq quotes s as an XPath 1.0 string literal.
func xq(s string) string {
	if !strings.Contains(s, `"`) {
		return `"` + s + `"`
	}
	if !strings.Contains(s, `'`) {
		return `'` + s + `'`
	}
	parts := strings.Split(s, `"`)
	return `concat("` + strings.Join(parts, `", '"', "`) + `")`
}

// field is the XPath of the form control that the label with this text
// (white space trimmed) is for.
func field(label string) string {
	return fmt.Sprintf(`//*[(self::input or self::select or self::textarea) and @id=//label[normalize-space(.)=%s]/@for]`, xq(label))
}

// buttonX is the XPath of a button with this visible text.
func buttonX(text string) string {
	return fmt.Sprintf(`//button[normalize-space(.)=%s]`, xq(text))
}

// linkX is the XPath of a link with this visible text.
func linkX(text string) string {
	return fmt.Sprintf(`//a[normalize-space(.)=%s]`, xq(text))
}

// load runs the steps, waits for the page they lead to, and returns its
// HTTP status.
func (b *browser) load(what string, steps ...chromedp.Action[chromedp.Void]) int64 {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		b.fail(what, err)
	}
	if resp == nil {
		b.fail(what, errors.New("no response for the page"))
	}
	return resp.Status
}

// open goes to a URL, as typing it into the address bar.
func (b *browser) open(u string) int64 {
	b.t.Helper()
	return b.load("open "+u, chromedp.Navigate(u))
}

// fill types value into the field labelled label, after clearing it.
func (b *browser) fill(label, value string) {
	b.t.Helper()
	sel := field(label)
	b.do(fmt.Sprintf("find %q", label), chromedp.WaitVisible(sel))
	if step(b, "read "+label, chromedp.Value(sel)) != "" {
		// Select what is there and delete it, as a person does.
		b.do(fmt.Sprintf("clear %q", label), chromedp.Focus(sel),
			chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)), chromedp.KeyEvent(kb.Backspace))
	}
	b.do(fmt.Sprintf("type into %q", label), chromedp.SendKeys(sel, value))
	if got := step(b, "read "+label, chromedp.Value(sel)); got != value {
		b.t.Fatalf("browser: field %q holds %q after typing %q", label, got, value)
	}
}

// value returns what the field labelled label holds.
func (b *browser) value(label string) string {
	b.t.Helper()
	return step(b, "read "+label, chromedp.Value(field(label)))
}

// check ticks the checkbox labelled label (the label starting with it).
func (b *browser) check(label string) {
	b.t.Helper()
	sel := fmt.Sprintf(`//input[@type="checkbox" and @id=//label[starts-with(normalize-space(.), %s)]/@for]`, xq(label))
	b.do("tick "+label, chromedp.Click(sel, chromedp.NodeVisible))
	if on := step(b, "read "+label, chromedp.Evaluate[bool](fmt.Sprintf(
		`document.evaluate(%s, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue.checked`, jsq(sel)))); !on {
		b.t.Fatalf("browser: checkbox %q is not ticked after clicking it", label)
	}
}

// press clicks the button with this text and returns the status of the page
// that follows.
func (b *browser) press(text string) int64 {
	b.t.Helper()
	sel := buttonX(text)
	b.do("find button "+text, chromedp.WaitVisible(sel))
	return b.load("press "+text, chromedp.Click(sel, chromedp.NodeVisible))
}

// follow clicks the link with this text; within, when not "", is the XPath
// of the element the link must be in (a table row, say).
func (b *browser) follow(within, text string) int64 {
	b.t.Helper()
	sel := within + linkX(text) // within//a[…]: a link anywhere inside
	b.do("find link "+text, chromedp.WaitVisible(sel))
	return b.load("follow "+text, chromedp.Click(sel, chromedp.NodeVisible))
}

// enter focuses the field labelled label and presses Enter, which submits
// its form.
func (b *browser) enter(label string) int64 {
	b.t.Helper()
	sel := field(label)
	return b.load("Enter in "+label, chromedp.Focus(sel), chromedp.KeyEvent(kb.Enter))
}

// count is the number of nodes the XPath matches now (no waiting).
func (b *browser) count(xpath string) int {
	b.t.Helper()
	return step(b, "count "+xpath, chromedp.Evaluate[int](fmt.Sprintf(
		`document.evaluate(%s, document, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null).snapshotLength`, jsq(xpath))))
}

// textOf returns the visible text of the first element the XPath matches
// ("" when none).
func (b *browser) textOf(xpath string) string {
	b.t.Helper()
	return step(b, "text of "+xpath, chromedp.Evaluate[string](fmt.Sprintf(
		`(n => n ? n.innerText : "")(document.evaluate(%s, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue)`, jsq(xpath))))
}

// text is the page's visible text.
func (b *browser) text() string {
	b.t.Helper()
	return b.textOf("/html/body")
}

// lang is the page's <html lang>.
func (b *browser) lang() string {
	b.t.Helper()
	return step(b, "html lang", chromedp.Evaluate[string](`document.documentElement.lang`))
}

// location is the URL the browser shows.
func (b *browser) location() *url.URL {
	b.t.Helper()
	s := step(b, "location", chromedp.Location())
	u, err := url.Parse(s)
	if err != nil {
		b.t.Fatalf("browser: location %q: %v", s, err)
	}
	return u
}

// at fails the test unless the browser is at path.
func (b *browser) at(path string) {
	b.t.Helper()
	if u := b.location(); u.Path != path {
		b.fail("expected page "+path, fmt.Errorf("at %s", u))
	}
}

// sees fails the test unless the page's text has every one of want.
func (b *browser) sees(want ...string) {
	b.t.Helper()
	text := b.text()
	for _, w := range want {
		if !strings.Contains(text, w) {
			b.fail(fmt.Sprintf("expected %q on the page", w), errors.New("not found"))
		}
	}
}

// jsq quotes s as a JavaScript string literal (JSON is one).
func jsq(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// readMail parses a message as received.
func readMail(t *testing.T, msg []byte) smtptest.Mail { return smtptest.Parse(t, msg) }

var loginLinkRE = regexp.MustCompile(`https?://[^\s]+/login/link\?token=[^\s]+`)

// loginLink returns the one login link in a mail's text.
func loginLink(t *testing.T, text string) string {
	t.Helper()
	links := loginLinkRE.FindAllString(text, -1)
	if len(links) != 1 {
		t.Fatalf("want one login link in the mail, found %d:\n%s", len(links), text)
	}
	return links[0]
}
