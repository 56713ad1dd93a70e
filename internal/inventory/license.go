package inventory

import (
	"path"
	"slices"
	"strings"
)

// debLicense is the licence of a deb as its machine-readable copyright
// file (DEP-5, https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/)
// at /usr/share/doc/<name>/copyright states it; "" when the file is
// missing, larger than 4 MiB or not machine-readable. See dep5License.
func debLicense(r *rootDir, name string) string {
	p, err := r.resolve(path.Join("/usr/share/doc", name, "copyright"), true)
	if err != nil {
		return ""
	}
	data, err := readLimited(p, maxCopyright)
	if err != nil {
		return ""
	}
	return dep5License(string(data))
}

// dep5License reads a DEP-5 copyright file into an SPDX-like expression:
// the first line of the License field of the header paragraph and of every
// Files paragraph (stand-alone License paragraphs only give texts), each
// with DEP-5's lower-case "and", "or" and "with" upper-cased and its commas
// dropped (DEP-5 uses a comma to lower an operator's precedence; that
// grouping is not kept), parenthesised when it has an operator, then the
// distinct ones sorted and joined with " AND ". Names stay Debian's short
// names ("GPL-2+", "Expat"), which are close to SPDX identifiers but not
// always the same. A file whose first paragraph has no Format field naming
// the format is not machine-readable: "".
func dep5License(text string) string {
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
func licenseExpr(s string) string {
	words := strings.Fields(strings.ReplaceAll(s, ",", " "))
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
// something to fail the inventory over.
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
