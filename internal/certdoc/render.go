package certdoc

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"

	"github.com/signintech/gopdf"

	"github.com/enmei-project/enmei/internal/errs"
)

// ipaexGothic is IPAex Gothic from Debian's fonts-ipaexfont-gothic, unmodified
// as the IPA Font License requires; see font/IPA_Font_License.txt. It is a
// TrueType font, which gopdf can subset: a certificate embeds only the glyphs
// it uses, tens of kilobytes rather than 6 MB.
//
//go:embed font/ipaexg.ttf
var ipaexGothic []byte

// fontFamily is also the font's name in the PDF, where a subset font's name
// starts with a six-letter tag (ISO 32000-1 §9.6.4); gopdf subsets but adds
// no tag, so the family carries one.
const fontFamily = "ENMEIA+IPAexGothic"

// loadFont parses the font once per process, saving every later certificate
// about 4 ms and 3.5 MB of garbage (a certificate takes about 10 ms, mostly
// compressing the font subset). gopdf copies the parsed font into each
// document and keeps the per-document subset there, so the container can be
// shared by concurrent calls to Write.
var loadFont = sync.OnceValues(func() (*gopdf.FontContainer, error) {
	fc := &gopdf.FontContainer{}
	if err := fc.AddTTFFontData(fontFamily, ipaexGothic); err != nil {
		return nil, fmt.Errorf("embedded font: %w", err)
	}
	return fc, nil
})

// Layout in points on A4 portrait (gopdf.PageSizeA4 is 595×842).
const (
	pageW, pageH = 595.0, 842.0
	margin       = 50.0
	bottom       = pageH - margin
	textW        = pageW - 2*margin
	labelW       = 220.0
	valueX       = margin + labelW + 10
	valueW       = pageW - margin - valueX
	indent       = 16.0 // numbered steps and commands in "how to register"

	sizeTitle   = 18.0
	sizeHeading = 12.0
	sizeBody    = 9.0
	leading     = 1.5                    // line height as a multiple of the font size
	rowPad      = 5.0                    // space above and below the text of a table row
	continued   = 2 * sizeBody * leading // the header of a continuation page
)

// renderer lays text out top to bottom, breaking lines and pages itself so
// that no value is ever clipped: gopdf draws text where it is told, even off
// the page. The first error sticks and turns later calls into no-ops, which
// keeps the layout code a plain list of rows.
type renderer struct {
	pdf    *gopdf.GoPdf
	id     string
	y      float64
	size   float64
	widths map[rune]float64 // at size; reset when the size changes
	color  rgb              // of the text drawn next
	err    error
}

func (r *renderer) setSize(size float64) {
	if r.err != nil || size == r.size {
		return
	}
	r.err = r.pdf.SetFont(fontFamily, "", size)
	r.size, r.widths = size, map[rune]float64{}
}

type rgb struct{ r, g, b uint8 }

var (
	black = rgb{0, 0, 0}
	grey  = rgb{70, 70, 70} // labels
	blue  = rgb{0, 60, 140} // commands to type
	red   = rgb{160, 0, 0}  // the re-issue warning
)

func (r *renderer) lineH() float64 { return r.size * leading }

// newPage starts a page; continuation pages repeat the support ID so that a
// loose sheet can be matched to its certificate.
func (r *renderer) newPage() {
	r.pdf.AddPage()
	r.y = margin
	if r.pdf.GetNumberOfPages() > 1 {
		size, color := r.size, r.color
		r.setSize(sizeBody)
		r.color = black
		r.text(margin, "サポート証明書 / Support Certificate "+r.id+"（続き / continued）")
		r.y += continued
		r.setSize(size)
		r.color = color
	}
}

// need starts a new page unless h more points fit on this one. A block taller
// than a whole page is not moved: its lines break across pages instead.
func (r *renderer) need(h float64) {
	if r.y+h > bottom && h <= bottom-margin-continued {
		r.newPage()
	}
}

func (r *renderer) text(x float64, s string) {
	if r.err != nil || s == "" {
		return
	}
	// Text puts the baseline at y; this centres the glyphs in the line.
	r.pdf.SetTextColor(r.color.r, r.color.g, r.color.b)
	r.pdf.SetXY(x, r.y+r.size*1.1)
	r.err = r.pdf.Text(s)
}

// width measures one character, refusing one the font lacks: gopdf would
// silently print a space instead, and a customer name must not lose a
// character unnoticed.
func (r *renderer) width(c rune) float64 {
	if w, ok := r.widths[c]; ok || r.err != nil {
		return w
	}
	ok, err := r.pdf.IsCurrFontContainGlyph(c)
	if err == nil && !ok {
		err = errs.E(errs.Invalid, "the character %q (U+%04X) is not in the embedded Japanese font", c, c)
	}
	var w float64
	if err == nil {
		w, err = r.pdf.MeasureTextWidth(string(c))
	}
	if err != nil {
		r.err = err
		return 0
	}
	r.widths[c] = w
	return w
}

// wide reports whether c is CJK (or full-width), where Japanese allows a line
// break on either side; Latin text only breaks at spaces.
func wide(c rune) bool { return c >= 0x2E80 }

// noBreakBefore holds closing punctuation that Japanese typesetting never puts
// at the start of a line (kinsoku); it may hang into the margin instead.
const noBreakBefore = "、。，．）」』：！？"

// split breaks s into lines at most width wide. A Latin word wider than a
// whole line (a long URL) is broken between characters rather than clipped.
func (r *renderer) split(s string, width float64) []string {
	var lines []string
	var line, word []rune // the line so far, and the unbreakable run after it
	var lineW, wordW float64
	flush := func() {
		lines = append(lines, strings.TrimRight(string(line), " "))
		line, lineW = nil, 0
	}
	// place moves the pending word onto the line, first breaking the line
	// if the word does not fit, and breaking the word if it fits nowhere.
	place := func() {
		if lineW+wordW > width && len(line) > 0 {
			flush()
		}
		for _, c := range word {
			w := r.width(c)
			if lineW+w > width && len(line) > 0 && !strings.ContainsRune(noBreakBefore, c) {
				flush()
			}
			line, lineW = append(line, c), lineW+w
		}
		word, wordW = word[:0], 0
	}
	for _, c := range s {
		w := r.width(c)
		switch {
		case c == ' ':
			place()
			if len(line) > 0 && lineW+w <= width {
				line, lineW = append(line, c), lineW+w
			}
		case wide(c) && !strings.ContainsRune(noBreakBefore, c):
			place()
			word, wordW = append(word, c), w
		default:
			word, wordW = append(word, c), wordW+w
		}
	}
	place()
	if len(line) > 0 || len(lines) == 0 {
		flush()
	}
	return lines
}

type line struct {
	x float64
	s string
}

// wrap splits s for a column at x, width wide. Continuation lines are
// indented by hang, so that a wrapped entry still reads as one entry.
func (r *renderer) wrap(x, width, hang float64, s string) []line {
	var lines []line
	for i, l := range r.split(s, width-hang) {
		lines = append(lines, line{x + float64(min(i, 1))*hang, l})
	}
	return lines
}

// row prints one table row: the bilingual label on the left and the values
// on the right, each starting on a new line, its continuation lines indented
// so that wrapped values stay apart; a rule follows.
func (r *renderer) row(label string, values ...string) {
	r.setSize(sizeBody)
	labels := r.split(label, labelW)
	var vals []line
	for _, v := range values {
		vals = append(vals, r.wrap(valueX, valueW, sizeBody, v)...)
	}
	n := max(len(labels), len(vals))
	r.need(float64(n)*r.lineH() + 2*rowPad)
	r.y += rowPad
	for i := range n {
		r.need(r.lineH())
		if i < len(labels) {
			r.color = grey
			r.text(margin, labels[i])
			r.color = black
		}
		if i < len(vals) {
			r.text(vals[i].x, vals[i].s)
		}
		r.y += r.lineH()
	}
	r.y += rowPad
	r.rule()
}

func (r *renderer) rule() {
	r.pdf.SetLineWidth(0.5)
	r.pdf.SetStrokeColor(170, 170, 170)
	r.pdf.Line(margin, r.y, pageW-margin, r.y)
}

func (r *renderer) heading(size float64, s string) {
	r.setSize(size)
	r.block(0, 0, s)
	r.y += r.lineH() / 3
}

// para prints body text across the page, x points in from the margin.
func (r *renderer) para(x float64, s string) {
	r.setSize(sizeBody)
	r.block(x, 0, s)
}

// step starts a numbered step of instructions; para(indent, …) continues it.
func (r *renderer) step(number, s string) {
	r.setSize(sizeBody)
	r.need(r.lineH())
	r.text(margin, number)
	r.block(indent, 0, s)
}

// code prints a command to type, in colour so that it stands out.
func (r *renderer) code(s string) {
	r.setSize(sizeBody)
	r.color = blue
	r.block(2*indent, 2*sizeBody, s)
	r.color = black
}

func (r *renderer) block(x, hang float64, s string) {
	for _, l := range r.wrap(margin+x, textW-x, hang, s) {
		r.need(r.lineH())
		r.text(l.x, l.s)
		r.y += r.lineH()
	}
}

func (r *renderer) gap(h float64) { r.y += h }
