package sbom

//go:generate go run gen_licenses.go

import (
	"slices"
	"strings"
)

// Licence handling.
//
// A package declares its licence as free text: the RPM License tag ("MIT",
// "ASL 2.0", "GPLv2+ and BSD", or on newer distributions an SPDX expression)
// or the licence of a Debian copyright file. Both formats want an SPDX
// expression where there is one:
//
//   - the declared string is a valid SPDX license expression over the SPDX
//     License List (identifiers matched case-insensitively and written in
//     their canonical case; operators AND, OR, WITH case-sensitive, as SPDX
//     2.3 Annex D says; "+" and parentheses allowed): SPDX licenseDeclared is
//     the expression; CycloneDX gets licence.id for a single identifier and an
//     expression otherwise;
//   - anything else (including expressions that use LicenseRef-/DocumentRef-
//     references, whose texts enmei does not have): SPDX licenseDeclared is a
//     LicenseRef-<sanitised text> with a hasExtractedLicensingInfos entry
//     whose extractedText is the declared string as found; CycloneDX gets
//     licence.name = the declared string;
//   - empty: NOASSERTION in SPDX, no licence in CycloneDX.
//
// SPDX licenseConcluded is always NOASSERTION: enmei reports what packages
// declare and concludes nothing.

const noAssertion = "NOASSERTION"

var (
	licenseByFold   = foldIndex(spdxLicenseIDs)
	exceptionByFold = foldIndex(spdxExceptionIDs)
)

func foldIndex(ids []string) map[string]string {
	m := make(map[string]string, len(ids))
	for _, id := range ids {
		m[strings.ToLower(id)] = id
	}
	return m
}

// licenseKind says how a declared licence string is written.
type licenseKind int

const (
	licenseNone       licenseKind = iota // "" declared
	licenseExpression                    // valid SPDX expression (expr)
	licenseRef                           // free text, as LicenseRef-… (ref)
)

type licenseInfo struct {
	kind     licenseKind
	declared string // as the package declares it
	expr     string // canonical SPDX expression (licenseExpression)
	single   bool   // expr is one listed licence identifier
	ref      string // "LicenseRef-…" (licenseRef)
}

// spdxDeclared is the value of SPDX licenseDeclared.
func (l licenseInfo) spdxDeclared() string {
	switch l.kind {
	case licenseExpression:
		return l.expr
	case licenseRef:
		return l.ref
	}
	return noAssertion
}

// licenseTable collects the declared strings of a document and names the
// LicenseRefs, so that the names do not depend on package order.
type licenseTable struct {
	infos map[string]licenseInfo
}

func newLicenseTable() *licenseTable {
	return &licenseTable{infos: make(map[string]licenseInfo)}
}

func (t *licenseTable) add(declared string) {
	if _, ok := t.infos[declared]; ok {
		return
	}
	info := licenseInfo{declared: declared}
	switch expr, single, ok := parseLicenseExpression(declared); {
	case strings.TrimSpace(declared) == "":
		info.kind = licenseNone
	case ok:
		info.kind, info.expr, info.single = licenseExpression, expr, single
	default:
		info.kind = licenseRef
	}
	t.infos[declared] = info
}

// finish names the LicenseRefs: "LicenseRef-" + the declared text reduced
// to [A-Za-z0-9.-] (runs of other characters become one '-', at most 64
// characters). When two different texts reduce to the same name, or a text
// reduces to nothing, a hash of the text is appended to keep names unique.
func (t *licenseTable) finish() {
	count := make(map[string]int)
	base := make(map[string]string)
	for declared, info := range t.infos {
		if info.kind != licenseRef {
			continue
		}
		b := licenseRefBase(declared)
		base[declared] = b
		count[b]++
	}
	for declared, b := range base {
		info := t.infos[declared]
		switch {
		case b == "":
			info.ref = "LicenseRef-" + shortHash(declared)
		case count[b] > 1:
			info.ref = "LicenseRef-" + b + "-" + shortHash(declared)
		default:
			info.ref = "LicenseRef-" + b
		}
		t.infos[declared] = info
	}
}

func (t *licenseTable) info(declared string) licenseInfo { return t.infos[declared] }

// refs are the LicenseRef entries, sorted by ID.
func (t *licenseTable) refs() []licenseInfo {
	var out []licenseInfo
	for _, info := range t.infos {
		if info.kind == licenseRef {
			out = append(out, info)
		}
	}
	slices.SortFunc(out, func(a, b licenseInfo) int { return strings.Compare(a.ref, b.ref) })
	return out
}

func licenseRefBase(s string) string {
	var b strings.Builder
	dash := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isIDChar(c) && c != '-' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteByte(c)
		} else {
			dash = true
		}
	}
	out := b.String()
	if len(out) > 64 {
		out = strings.TrimRight(out[:64], "-.")
	}
	return out
}

// parseLicenseExpression checks s against the SPDX 2.3 license expression
// grammar (Annex D) restricted to identifiers of the SPDX License List and
// returns it in canonical form: identifiers in their listed case, single
// spaces around operators, parentheses kept. single reports a lone listed
// licence identifier (no operator, no "+").
func parseLicenseExpression(s string) (expr string, single bool, ok bool) {
	toks := tokenizeLicense(s)
	if len(toks) == 0 {
		return "", false, false
	}
	p := &licenseParser{toks: toks}
	if !p.orExpr() || p.pos != len(p.toks) {
		return "", false, false
	}
	var b strings.Builder
	for i, tok := range p.out {
		if i > 0 && tok != ")" && p.out[i-1] != "(" {
			b.WriteByte(' ')
		}
		b.WriteString(tok)
	}
	single = len(p.out) == 1 && licenseByFold[strings.ToLower(p.out[0])] == p.out[0]
	return b.String(), single, true
}

func tokenizeLicense(s string) []string {
	var toks []string
	start := -1
	flush := func(i int) {
		if start >= 0 {
			toks = append(toks, s[start:i])
			start = -1
		}
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\n', '\r':
			flush(i)
		case '(', ')':
			flush(i)
			toks = append(toks, string(c))
		default:
			if start < 0 {
				start = i
			}
		}
	}
	flush(len(s))
	return toks
}

type licenseParser struct {
	toks []string
	pos  int
	out  []string
}

func (p *licenseParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

// orExpr = andExpr *("OR" andExpr)
func (p *licenseParser) orExpr() bool {
	if !p.andExpr() {
		return false
	}
	for p.peek() == "OR" {
		p.out = append(p.out, "OR")
		p.pos++
		if !p.andExpr() {
			return false
		}
	}
	return true
}

// andExpr = withExpr *("AND" withExpr)
func (p *licenseParser) andExpr() bool {
	if !p.withExpr() {
		return false
	}
	for p.peek() == "AND" {
		p.out = append(p.out, "AND")
		p.pos++
		if !p.withExpr() {
			return false
		}
	}
	return true
}

// withExpr = "(" orExpr ")" / simple ["WITH" exception]
func (p *licenseParser) withExpr() bool {
	if p.peek() == "(" {
		p.out = append(p.out, "(")
		p.pos++
		if !p.orExpr() || p.peek() != ")" {
			return false
		}
		p.out = append(p.out, ")")
		p.pos++
		return true
	}
	if !p.simple() {
		return false
	}
	if p.peek() == "WITH" {
		p.pos++
		exc, ok := exceptionByFold[strings.ToLower(p.peek())]
		if !ok {
			return false
		}
		p.out = append(p.out, "WITH", exc)
		p.pos++
	}
	return true
}

// simple = license-id ["+"]
func (p *licenseParser) simple() bool {
	tok := p.peek()
	if tok == "" || !isIdstring(strings.TrimSuffix(tok, "+")) {
		return false
	}
	// Some deprecated identifiers end in "+" themselves ("GPL-2.0+").
	if id, ok := licenseByFold[strings.ToLower(tok)]; ok {
		p.out = append(p.out, id)
		p.pos++
		return true
	}
	if base, plus := strings.CutSuffix(tok, "+"); plus {
		if id, ok := licenseByFold[strings.ToLower(base)]; ok {
			p.out = append(p.out, id+"+")
			p.pos++
			return true
		}
	}
	return false
}

func isIdstring(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIDChar(s[i]) {
			return false
		}
	}
	return true
}
