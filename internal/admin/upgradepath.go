package admin

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/upgradepath"
)

// packageNameShape is what rpm and dpkg accept as a package name, near
// enough: the agent matches it against the installed packages.
var packageNameShape = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$`)

// maxNote bounds a rule's note: it is one remark shown with a refusal.
const maxNote = 300

func (a *app) productUpgradePathCommand() *cobra.Command {
	var pkg, to, via, note string
	var from []string
	var previous int
	var list, remove bool
	cmd := &cobra.Command{
		Use:   "upgrade-path PRODUCT (--package NAME --to LINE (--from LINE,… | --previous-minors N) [--via LINE] [--note TEXT] | --remove --package NAME --to LINE | --list)",
		Short: "declare from which version lines a package may be updated directly (enmei preflight and update refuse the others)",
		Example: `  enmeid product upgrade-path ha --package lifekeeper --to 9.6 --previous-minors 2 --via 9.4 --note "a new licence is needed from 8.1"
  enmeid product upgrade-path ha --package lifekeeper --to 9.6 --from 9.4,9.5 --via 9.4
  enmeid product upgrade-path ha --remove --package lifekeeper --to 9.6
  enmeid product upgrade-path ha --list`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			product := args[0]
			if err := checkID("product", product); err != nil {
				return err
			}
			f := cmd.Flags()
			ruleFlags := []string{"from", "previous-minors", "via", "note"}
			switch {
			case list:
				for _, n := range append(ruleFlags, "package", "to", "remove") {
					if f.Changed(n) {
						return usagef("--list takes no --%s: it lists every rule of the product", n)
					}
				}
			case remove:
				for _, n := range ruleFlags {
					if f.Changed(n) {
						return usagef("--remove takes only --package and --to, not --%s", n)
					}
				}
			}
			if !list {
				if pkg == "" || to == "" {
					return usagef("give --package NAME and --to LINE (or --list)")
				}
				if !packageNameShape.MatchString(pkg) {
					return usagef("--package %.64q is not a package name (letters, digits and . _ + -)", pkg)
				}
				if !upgradepath.ValidLine(to) {
					return usagef("--to %.32q is not a version line like 9.6", to)
				}
			}
			var rule store.UpgradeRule
			if !list && !remove {
				if f.Changed("previous-minors") {
					if f.Changed("from") {
						return usagef("give either --from or --previous-minors, not both")
					}
					lines, err := upgradepath.PreviousMinors(to, previous)
					if err != nil {
						return usagef("--previous-minors: %v", err)
					}
					from = lines
				}
				lines, err := upgradepath.CheckRule(to, from, via)
				if err != nil {
					return usagef("%v", err)
				}
				note = strings.TrimSpace(note)
				if utf8.RuneCountInString(note) > maxNote || strings.ContainsFunc(note, unicode.IsControl) || !utf8.ValidString(note) {
					return usagef("--note must be one line of at most %d characters", maxNote)
				}
				rule = store.UpgradeRule{ProductID: product, Package: pkg, To: to, From: lines, Via: via, Note: note}
			}
			if err := a.open(ctx); err != nil {
				return err
			}
			p, err := a.st.Product(ctx, product)
			if err != nil {
				return err
			}
			switch {
			case list:
				rules, err := a.st.UpgradeRules(ctx, product)
				if err != nil {
					return err
				}
				slices.SortStableFunc(rules, func(x, y store.UpgradeRule) int {
					return cmp.Or(cmp.Compare(x.Package, y.Package), upgradepath.CompareLines(x.To, y.To))
				})
				return a.printUpgradeRules(rules)
			case remove:
				if err := a.st.DeleteUpgradeRule(ctx, product, pkg, to); err != nil {
					return err
				}
				if a.cfg.JSON {
					return a.printJSON(map[string]any{"removed": map[string]any{"product": product, "package": pkg, "to": to}})
				}
				fmt.Fprintf(a.stderr, "upgrade path of %s to %s removed from %s\n", pkg, to, product)
				return nil
			}
			if p.Format != "rpm" && p.Format != "deb" {
				return errs.E(errs.Invalid, "product %s delivers %s, not rpm or deb packages: upgrade paths are for the packages enmei update installs", product, p.Format)
			}
			if err := a.st.PutUpgradeRule(ctx, rule); err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(upgradeRuleJSON(rule))
			}
			fmt.Fprintf(a.stderr, "upgrade path set: %s\n", describeRule(rule))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&pkg, "package", "", "the package name, as rpm or dpkg know it (e.g. lifekeeper)")
	f.StringVar(&to, "to", "", "the target version line (e.g. 9.6)")
	f.StringSliceVar(&from, "from", nil, "the older lines updated directly to --to, comma-separated (e.g. 9.4,9.5)")
	f.IntVar(&previous, "previous-minors", 0, "instead of --from: the N minor lines before --to (9.6 with 2: 9.4,9.5)")
	f.StringVar(&via, "via", "", "the line older versions update to first, one of the from lines (none: they must be reinstalled)")
	f.StringVar(&note, "note", "", "a remark shown with every refusal (e.g. \"a new licence is needed from 8.1\")")
	f.BoolVar(&list, "list", false, "list the product's rules")
	f.BoolVar(&remove, "remove", false, "remove the rule of --package and --to")
	return cmd
}

// describeRule is a rule in one sentence.
func describeRule(r store.UpgradeRule) string {
	older := "older versions must be reinstalled"
	if r.Via != "" {
		older = "older versions update to " + r.Via + " first"
	}
	s := fmt.Sprintf("%s of %s reaches %s directly from %s; %s", r.Package, r.ProductID, r.To, strings.Join(r.From, ", "), older)
	if r.Note != "" {
		s += " (" + r.Note + ")"
	}
	return s
}

func upgradeRuleJSON(r store.UpgradeRule) map[string]any {
	from := r.From
	if from == nil {
		from = []string{}
	}
	return map[string]any{"product": r.ProductID, "package": r.Package, "to": r.To, "from": from, "via": r.Via, "note": r.Note}
}

func (a *app) printUpgradeRules(rules []store.UpgradeRule) error {
	if a.cfg.JSON {
		out := make([]map[string]any, 0, len(rules))
		for _, r := range rules {
			out = append(out, upgradeRuleJSON(r))
		}
		return a.printJSON(out)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PACKAGE\tTO\tFROM\tVIA\tNOTE")
	for _, r := range rules {
		via := r.Via
		if via == "" {
			via = "(reinstall)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Package, r.To, strings.Join(r.From, ","), via, orDash(r.Note))
	}
	return tw.Flush()
}
