package csaf

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/package-url/packageurl-go"

	"github.com/enmei-project/enmei/internal/advisory"
)

// mandatoryTests runs the CSAF 2.0 mandatory tests (section 6.1) that can
// fail for documents of the kinds enmei writes (security advisories and
// VEX, no product groups or relationships), on the document as JSON, and
// returns one message per failure, each starting with the test number.
// csaf_checker runs these only through a remote validator service, which
// a test here cannot reach.
func mandatoryTests(data []byte) []string {
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	var out []string
	fail := func(test, format string, args ...any) {
		out = append(out, test+" "+fmt.Sprintf(format, args...))
	}
	obj := func(v any) map[string]any { m, _ := v.(map[string]any); return m }
	arr := func(v any) []any { a, _ := v.([]any); return a }
	strs := func(v any) []string {
		var s []string
		for _, x := range arr(v) {
			if x, ok := x.(string); ok {
				s = append(s, x)
			}
		}
		return s
	}
	document := obj(doc["document"])
	category, _ := document["category"].(string)
	tree := obj(doc["product_tree"])
	vulns := arr(doc["vulnerabilities"])

	// 6.1.1, 6.1.2: product IDs defined once, and every reference defined.
	defined := map[string]int{}
	var branchNames []string // product_version names, for 6.1.31
	var walk func(branches []any)
	walk = func(branches []any) {
		for _, b := range branches {
			b := obj(b)
			if b["category"] == "product_version" {
				branchNames = append(branchNames, fmt.Sprint(b["name"]))
			}
			if p := obj(b["product"]); p != nil {
				defined[fmt.Sprint(p["product_id"])]++
				if h := obj(p["product_identification_helper"]); h != nil {
					if u, ok := h["purl"].(string); ok {
						// 6.1.13 PURL
						if _, err := packageurl.FromString(u); err != nil {
							fail("6.1.13", "invalid purl %q: %v", u, err)
						}
					}
				}
			}
			walk(arr(b["branches"]))
		}
	}
	walk(arr(tree["branches"]))
	for _, p := range arr(tree["full_product_names"]) {
		defined[fmt.Sprint(obj(p)["product_id"])]++
	}
	for id, n := range defined {
		if n > 1 {
			fail("6.1.2", "product ID %s defined %d times", id, n)
		}
	}
	ref := func(where string, ids []string) {
		for _, id := range ids {
			if defined[id] == 0 {
				fail("6.1.1", "%s references undefined product ID %s", where, id)
			}
		}
	}

	// 6.1.31: no version ranges in product_version names.
	for _, n := range branchNames {
		if strings.HasPrefix(n, "<") || strings.HasPrefix(n, ">") {
			fail("6.1.31", "product_version %q is a range", n)
		}
		for _, w := range strings.Fields(strings.ToLower(n)) {
			switch w {
			case "after", "all", "before", "earlier", "later", "prior", "versions":
				fail("6.1.31", "product_version %q reads as a range", n)
			}
		}
	}

	// 6.1.27.4, 6.1.27.11: the profiles need a product tree and
	// vulnerabilities.
	if category == "csaf_vex" || category == "csaf_security_advisory" {
		if len(tree) == 0 {
			fail("6.1.27.4", "no product tree")
		}
		if len(vulns) == 0 {
			fail("6.1.27.11", "no vulnerabilities")
		}
	}

	seenCVE := map[string]bool{}
	for i, v := range vulns {
		v := obj(v)
		where := fmt.Sprintf("vulnerabilities[%d]", i)
		cve, _ := v["cve"].(string)
		if cve != "" {
			if seenCVE[cve] {
				fail("6.1.23", "%s listed twice", cve)
			}
			seenCVE[cve] = true
		}
		if len(arr(v["notes"])) == 0 && (category == "csaf_vex" || category == "csaf_security_advisory") {
			fail("6.1.27.5", "%s has no notes", where)
		}
		ps := obj(v["product_status"])
		if category == "csaf_security_advisory" && len(ps) == 0 {
			fail("6.1.27.6", "%s has no product_status", where)
		}
		if category == "csaf_vex" {
			if len(arr(ps["fixed"]))+len(arr(ps["known_affected"]))+len(arr(ps["known_not_affected"]))+len(arr(ps["under_investigation"])) == 0 {
				fail("6.1.27.7", "%s has no VEX product status", where)
			}
			if cve == "" && len(arr(v["ids"])) == 0 {
				fail("6.1.27.8", "%s has neither cve nor ids", where)
			}
		}
		// 6.1.6: one status group per product.
		groups := map[string]string{}
		for key, group := range map[string]string{
			"first_affected": "affected", "known_affected": "affected", "last_affected": "affected",
			"known_not_affected": "not affected", "first_fixed": "fixed", "fixed": "fixed",
			"under_investigation": "under investigation",
		} {
			ids := strs(ps[key])
			ref(where+".product_status."+key, ids)
			for _, id := range ids {
				if g, ok := groups[id]; ok && g != group {
					fail("6.1.6", "%s: %s is both %s and %s", where, id, g, group)
				}
				groups[id] = group
			}
		}
		remediated := map[string]bool{}
		for j, r := range arr(v["remediations"]) {
			r := obj(r)
			ids := strs(r["product_ids"])
			if len(ids) == 0 && len(arr(r["group_ids"])) == 0 {
				fail("6.1.29", "%s.remediations[%d] names no product", where, j)
			}
			ref(fmt.Sprintf("%s.remediations[%d]", where, j), ids)
			for _, id := range ids {
				remediated[id] = true
			}
		}
		impact := map[string]bool{}
		for j, th := range arr(v["threats"]) {
			th := obj(th)
			ids := strs(th["product_ids"])
			ref(fmt.Sprintf("%s.threats[%d]", where, j), ids)
			if th["category"] == "impact" {
				for _, id := range ids {
					impact[id] = true
				}
			}
		}
		flagged := map[string]int{}
		for j, f := range arr(v["flags"]) {
			f := obj(f)
			ids := strs(f["product_ids"])
			if len(ids) == 0 && len(arr(f["group_ids"])) == 0 {
				fail("6.1.32", "%s.flags[%d] names no product", where, j)
			}
			ref(fmt.Sprintf("%s.flags[%d]", where, j), ids)
			for _, id := range ids {
				impact[id] = true
				flagged[id]++
			}
		}
		for id, n := range flagged {
			if n > 1 {
				fail("6.1.33", "%s: %s has %d VEX justification flags", where, id, n)
			}
		}
		if category == "csaf_vex" {
			for _, id := range strs(ps["known_not_affected"]) {
				if !impact[id] {
					fail("6.1.27.9", "%s: known_not_affected %s has no impact statement", where, id)
				}
			}
			for _, id := range strs(ps["known_affected"]) {
				if !remediated[id] {
					fail("6.1.27.10", "%s: known_affected %s has no action statement", where, id)
				}
			}
		}
		scored := map[string]bool{}
		for j, s := range arr(v["scores"]) {
			s := obj(s)
			ids := strs(s["products"])
			ref(fmt.Sprintf("%s.scores[%d]", where, j), ids)
			c := obj(s["cvss_v3"])
			if c == nil {
				continue
			}
			for _, id := range ids {
				key := id + "/" + fmt.Sprint(c["version"])
				if scored[key] {
					fail("6.1.7", "%s: %s has two CVSS v%s scores", where, id, c["version"])
				}
				scored[key] = true
			}
			vec, _ := c["vectorString"].(string)
			if !strings.HasPrefix(vec, "CVSS:"+fmt.Sprint(c["version"])+"/") {
				fail("6.1.10", "%s.scores[%d]: version %v and vector %s disagree", where, j, c["version"], vec)
			}
			score, err := advisory.Score3(vec)
			if err != nil {
				fail("6.1.8", "%s.scores[%d]: %v", where, j, err)
				continue
			}
			if c["baseScore"] != score || c["baseSeverity"] != strings.ToUpper(advisory.Rating(score)) {
				fail("6.1.9", "%s.scores[%d]: %v %v, computed %v %s", where, j, c["baseScore"], c["baseSeverity"], score, strings.ToUpper(advisory.Rating(score)))
			}
		}
	}

	// Revision history: 6.1.14, 6.1.16, 6.1.18, 6.1.21, 6.1.22.
	tr := obj(document["tracking"])
	type rev struct {
		date time.Time
		num  int
	}
	var revs []rev
	nums := map[int]bool{}
	for _, r := range arr(tr["revision_history"]) {
		r := obj(r)
		n, err := strconv.Atoi(fmt.Sprint(r["number"]))
		if err != nil {
			fail("6.1.30", "revision number %v is not an integer like the others", r["number"])
			continue
		}
		d, err := time.Parse(time.RFC3339, fmt.Sprint(r["date"]))
		if err != nil {
			fail("schema", "revision date %v: %v", r["date"], err)
		}
		if nums[n] {
			fail("6.1.22", "revision %d listed twice", n)
		}
		nums[n] = true
		revs = append(revs, rev{d, n})
	}
	byDate := append([]rev(nil), revs...)
	sort.SliceStable(byDate, func(i, j int) bool { return byDate[i].date.Before(byDate[j].date) })
	for i := 1; i < len(byDate); i++ {
		if byDate[i].num < byDate[i-1].num {
			fail("6.1.14", "revision history is not sorted by date and number")
			break
		}
	}
	for i := 1; i <= len(revs); i++ {
		if !nums[i] {
			fail("6.1.21", "revision %d is missing", i)
		}
	}
	if len(byDate) > 0 {
		if latest := byDate[len(byDate)-1].num; fmt.Sprint(latest) != tr["version"] {
			fail("6.1.16", "version %v is not the latest revision %d", tr["version"], latest)
		}
	}
	if tr["status"] == "final" && tr["version"] == "0" {
		fail("6.1.18", "a final document with version 0")
	}
	if lang, _ := document["lang"].(string); lang != "en" && lang != "ja" {
		fail("6.1.12", "language %q", lang)
	}
	return out
}
