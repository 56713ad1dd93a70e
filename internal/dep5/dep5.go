// Package dep5 reads Debian's machine-readable copyright files (DEP-5,
// https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/), the
// /usr/share/doc/<package>/copyright of a deb, into one licence expression.
// Both sides of enmei need it: the host inventory reads the file from an
// installed system, the publisher from the .deb it publishes, and the two
// must agree so a host SBOM and the vendor's package SBOM name the same
// licence.
package dep5

import (
	"slices"
	"strings"
	"unicode"
)

// License reads a DEP-5 copyright file into an SPDX-like expression: the
// first line of the License field of the header paragraph and of every
// Files paragraph (stand-alone License paragraphs only give texts), each
// with DEP-5's lower-case "and", "or" and "with" upper-cased and its commas
// dropped (DEP-5 uses a comma to lower an operator's precedence; that
// grouping is not kept), parenthesised when it has an operator, then the
// distinct ones sorted and joined with " AND ". Names stay Debian's short
// names ("GPL-2+", "Expat"), which are close to SPDX identifiers but not
// always the same. A file whose first paragraph has no Format field naming
// the format is not machine-readable: "".
func License(text string) string {
	paras := deb822(text)
	if len(paras) == 0 {
		return ""
	}
	format := strings.ToLower(paras[0]["format"])
	if !strings.Contains(format, "copyright-format") && !strings.Contains(format, "dep5") && !strings.Contains(format, "dep-5") {
		return ""
	}
	var exprs []string
	for i, p := range paras {
		if i > 0 && !hasKey(p, "files") {
			continue
		}
		first, _, _ := strings.Cut(p["license"], "\n")
		if e := licenseExpr(first); e != "" && !slices.Contains(exprs, e) {
			exprs = append(exprs, e)
		}
	}
	if len(exprs) > 1 {
		for i, e := range exprs {
			if strings.Contains(e, " ") {
				exprs[i] = "(" + e + ")"
			}
		}
	}
	slices.Sort(exprs)
	return strings.Join(exprs, " AND ")
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// licenseExpr normalises one DEP-5 license short name or expression.
// Control characters split words like spaces do: the expression ends up in
// SBOM fields that cannot carry them, and a copyright file holding one must
// not make the package's SBOM unwritable.
func licenseExpr(s string) string {
	words := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) || unicode.IsControl(r) })
	for i, w := range words {
		switch strings.ToLower(w) {
		case "and", "or", "with":
			words[i] = strings.ToUpper(w)
		}
	}
	return strings.Join(words, " ")
}

// deb822 splits text into paragraphs of fields (names lower-cased; a value
// continued over several lines keeps them, trimmed, joined by "\n").
// Malformed lines are skipped: a copyright file is informative, not
// something to fail an inventory or a publish over.
func deb822(text string) []map[string]string {
	var paras []map[string]string
	var cur map[string]string
	field := ""
	for line := range strings.Lines(text) {
		line = strings.TrimRight(line, "\r\n")
		if strings.TrimSpace(line) == "" {
			cur, field = nil, ""
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if cur != nil && field != "" {
				cur[field] += "\n" + strings.TrimSpace(line)
			}
			continue
		}
		if line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			field = ""
			continue
		}
		if cur == nil {
			cur = map[string]string{}
			paras = append(paras, cur)
		}
		field = strings.ToLower(strings.TrimSpace(k))
		cur[field] = strings.TrimSpace(v)
	}
	return paras
}
