package admin

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/advisory"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/exitcode"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/tracker"
)

// tracker returns the security tracker; releases republish repositories
// with the signing key, which this process holds.
func (a *app) tracker(ctx context.Context) (*tracker.Service, error) {
	if err := a.open(ctx); err != nil {
		return nil, err
	}
	svc := &tracker.Service{Store: a.st, Now: a.now, Log: a.log, PublicURL: a.publicURL()}
	svc.Republish = func(ctx context.Context, repoID string) error {
		p, err := a.publisherCtx(ctx)
		if err != nil {
			return err
		}
		_, err = p.Republish(ctx, repoID)
		return err
	}
	svc.Changed = func(ctx context.Context) error {
		_, err := a.buildCSAF(ctx, svc)
		return err
	}
	return svc, nil
}

// snapshot returns the tracker and its current snapshot.
func (a *app) snapshot(ctx context.Context) (*tracker.Service, *tracker.Snapshot, error) {
	svc, err := a.tracker(ctx)
	if err != nil {
		return nil, nil, err
	}
	sn, err := svc.Snapshot(ctx)
	return svc, sn, err
}

// updateinfo renders a repository's updateinfo for publish.
func (a *app) updateinfo(ctx context.Context, repo store.Repo) ([]byte, error) {
	svc := &tracker.Service{Store: a.st, Now: a.now, Log: a.log, PublicURL: a.publicURL()}
	return svc.Updateinfo(ctx, repo)
}

func (a *app) advisoryCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "advisory", Short: "add, release and list security advisories"}
	var publishToo bool
	add := &cobra.Command{
		Use:   "add FILE… [--publish]",
		Short: "add or update advisories from YAML or JSON files (one advisory or a list per file)",
		Long: `Add or update advisories from YAML or JSON files; a file holds one advisory or a
list of them. Fields: id (optional: the next PREFIX-YYYY:NNNN is given), type
(security, bugfix, enhancement), severity (critical, important, moderate, low),
title and description ({ja, en}), issued (YYYY-MM-DD), updated, cves ([{id, cvss,
cvss4, published}]), packages ([{repo, nevra}]: rpm name-[E:]V-R.arch, deb
name_version_arch) and references ([{url, title, type}] or URLs).

Every file is checked before anything is stored. Added advisories are drafts
until released (enmeid advisory publish, or --publish here); their CVEs get a
tracker record (in-testing) for each product unless they have one.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var all []advisory.Advisory
			for _, name := range args {
				data, err := os.ReadFile(name)
				if err != nil {
					return errs.Wrap(errs.Invalid, err, fmt.Sprintf("cannot read %s: check the path and permissions", name))
				}
				advs, err := advisory.Parse(name, data)
				if err != nil {
					return err
				}
				all = append(all, advs...)
			}
			svc, err := a.tracker(ctx)
			if err != nil {
				return err
			}
			added, err := svc.Add(ctx, all)
			if err != nil {
				return err
			}
			var repos []string
			if publishToo {
				ids := make([]string, len(added))
				for i, adv := range added {
					ids[i] = adv.ID
				}
				if repos, err = svc.Release(ctx, ids); err != nil {
					return err
				}
			}
			if a.cfg.JSON {
				for _, adv := range added {
					if err := a.printJSON(map[string]any{"id": adv.ID, "type": adv.Type, "severity": adv.Severity,
						"cves": len(adv.CVEs), "packages": len(adv.Packages), "released": publishToo}); err != nil {
						return err
					}
				}
				return nil
			}
			fmt.Fprintf(a.stderr, "%d advisories added (%s)\n", len(added), idRange(added))
			if publishToo {
				fmt.Fprintf(a.stderr, "released; new metadata for %d repositories: %s\n", len(repos), strings.Join(repos, ", "))
			}
			return nil
		},
	}
	add.Flags().BoolVar(&publishToo, "publish", false, "release them at once (one new publication per repository)")
	cmd.AddCommand(add)

	cmd.AddCommand(&cobra.Command{
		Use:   "publish ID…",
		Short: "release advisories: updateinfo of their rpm repositories (a new publication), feeds, tracker, notices",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			svc, err := a.tracker(ctx)
			if err != nil {
				return err
			}
			repos, err := svc.Release(ctx, args)
			if err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"released": args, "repos": nonNilList(repos)})
			}
			fmt.Fprintf(a.stderr, "released %s; new metadata for: %s\n", strings.Join(args, ", "), orNone(repos))
			return nil
		},
	})

	var released, drafts bool
	list := &cobra.Command{
		Use:   "list [--released|--drafts]",
		Short: "list advisories",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			_, sn, err := a.snapshot(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			if !a.cfg.JSON {
				fmt.Fprintln(tw, "ID\tTYPE\tSEVERITY\tISSUED\tRELEASED\tCVES\tTITLE")
			}
			for _, adv := range sn.Advisories() {
				isReleased := !adv.Released.IsZero()
				if released && !isReleased || drafts && isReleased {
					continue
				}
				if a.cfg.JSON {
					if err := a.printJSON(adv); err != nil {
						return err
					}
					continue
				}
				rel := "draft"
				if isReleased {
					rel = adv.Released.In(entitle.Tokyo).Format("2006-01-02 15:04")
				}
				var cves []string
				for _, c := range adv.CVEs {
					cves = append(cves, c.ID)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", adv.ID, adv.Type, adv.Severity, adv.Issued, rel, strings.Join(cves, ","), adv.Title.In("en"))
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&released, "released", false, "only released advisories")
	list.Flags().BoolVar(&drafts, "drafts", false, "only advisories not released yet")
	cmd.AddCommand(list)

	cmd.AddCommand(&cobra.Command{
		Use:   "show ID",
		Short: "print one advisory as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			adv, err := a.st.Advisory(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return a.printJSON(adv)
		},
	})
	cmd.AddCommand(a.trackerConfigCommand(), a.csafCommand())
	return cmd
}

func (a *app) trackerConfigCommand() *cobra.Command {
	var prefix, osvPrefix, publicDue string
	var addHolidays, removeHolidays []string
	cmd := &cobra.Command{
		Use:   "config [--prefix P] [--osv-prefix P] [--public-due on|off] [--vendor-holiday DATE]… [--remove-vendor-holiday DATE]…",
		Short: "show or change the tracker settings (ID prefix, OSV prefix, public due dates, vendor holidays)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			svc, err := a.tracker(ctx)
			if err != nil {
				return err
			}
			c, err := svc.Config(ctx)
			if err != nil {
				return err
			}
			changed := false
			if cmd.Flags().Changed("prefix") {
				c.Prefix, changed = prefix, true
			}
			if cmd.Flags().Changed("osv-prefix") {
				c.OSVPrefix, changed = osvPrefix, true
			}
			if cmd.Flags().Changed("public-due") {
				switch publicDue {
				case "on":
					c.HideDue = false
				case "off":
					c.HideDue = true
				default:
					return usagef("--public-due must be on or off, not %q", publicDue)
				}
				changed = true
			}
			for _, d := range addHolidays {
				if !slices.Contains(c.VendorHolidays, d) {
					c.VendorHolidays = append(c.VendorHolidays, d)
				}
				changed = true
			}
			for _, d := range removeHolidays {
				var kept []string
				for _, v := range c.VendorHolidays {
					if v != d {
						kept = append(kept, v)
					}
				}
				c.VendorHolidays, changed = kept, true
			}
			if changed {
				if err := svc.SetConfig(ctx, c); err != nil {
					return err
				}
			}
			if a.cfg.JSON {
				return a.printJSON(c)
			}
			due := "on"
			if c.HideDue {
				due = "off"
			}
			fmt.Fprintf(a.stdout, "advisory ID prefix: %s\nOSV ID prefix: %s\npublic due dates: %s\nvendor holidays: %s\n",
				c.Prefix, c.OSVPrefix, due, orNone(c.VendorHolidays))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&prefix, "prefix", "", "prefix of advisory IDs the tracker assigns (PREFIX-YYYY:NNNN)")
	f.StringVar(&osvPrefix, "osv-prefix", "", "prefix of OSV record IDs: your registered OSV prefix, or x_NAME")
	f.StringVar(&publicDue, "public-due", "", "show due dates on public pages and feeds: on or off")
	f.StringArrayVar(&addHolidays, "vendor-holiday", nil, "add a vendor holiday YYYY-MM-DD (repeatable)")
	f.StringArrayVar(&removeHolidays, "remove-vendor-holiday", nil, "remove a vendor holiday (repeatable)")
	return cmd
}

func (a *app) cveCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "cve", Short: "the CVE tracker: set statuses and list CVEs"}
	var in tracker.SetCVE
	var statement, justification, cvss, published string
	var packages []string
	set := &cobra.Command{
		Use:   "set CVE --product P --status S [--statement TEXT] [--cvss VECTOR] [--published DATE]",
		Short: "set a CVE's status for a product",
		Long: `Set a CVE's status for a product. Statuses: needs-triage, in-research,
in-progress, in-testing, in-rollout, released, ignored, not-vulnerable,
already-fixed. ignored and not-vulnerable need a --statement (it is published as
the reason). A CVSS v3.1 (or v4.0) vector gives the score; a score of 7.0 or more
makes the CVE targeted, due 14 business days after --published on the Japanese
calendar. --override target|skip with --reason decides against that guideline
(the reason stays internal); --override policy returns to it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			in.CVE = args[0]
			fl := cmd.Flags()
			if fl.Changed("statement") {
				in.Statement = &statement
			}
			if fl.Changed("justification") {
				in.Justification = &justification
			}
			if fl.Changed("cvss") {
				in.CVSS = &cvss
			}
			if fl.Changed("published") {
				in.Published = &published
			}
			if fl.Changed("package") {
				in.Packages = packages
			}
			if in.Override != "" && in.Override != "policy" && strings.TrimSpace(in.OverrideReason) == "" {
				return usagef("--override %s needs --reason (kept internal)", in.Override)
			}
			svc, err := a.tracker(ctx)
			if err != nil {
				return err
			}
			r, err := svc.Set(ctx, in)
			if err != nil {
				return err
			}
			sn, err := svc.Snapshot(ctx)
			if err != nil {
				return err
			}
			rows, _ := sn.Rows(tracker.Filter{Product: r.Product, Q: r.CVE}, svc.Today(), false, 0, 0)
			for _, row := range rows {
				if row.CVE == r.CVE {
					if a.cfg.JSON {
						return a.printJSON(row)
					}
					fmt.Fprintf(a.stderr, "%s %s: %s%s\n", row.CVE, row.Product, row.Status, dueText(row))
				}
			}
			return nil
		},
	}
	f := set.Flags()
	f.StringVar(&in.Product, "product", "", "product ID")
	f.StringVar(&in.Status, "status", "", "status (see above)")
	f.StringVar(&statement, "statement", "", "public statement (required for ignored and not-vulnerable)")
	f.StringVar(&justification, "justification", "", "for not-vulnerable: a CSAF justification (component_not_present, vulnerable_code_not_present, vulnerable_code_cannot_be_controlled_by_adversary, vulnerable_code_not_in_execute_path, inline_mitigations_already_exist)")
	f.StringVar(&cvss, "cvss", "", "CVSS v3.1 or v4.0 vector")
	f.StringVar(&published, "published", "", "disclosure date YYYY-MM-DD (the deadline counts from it)")
	f.StringArrayVar(&packages, "package", nil, "affected package name (repeatable), so the tracker and enmei scan find it")
	f.StringVar(&in.Override, "override", "", "decide against the guideline: target, skip, or policy to return to it")
	f.StringVar(&in.OverrideReason, "reason", "", "why (internal)")
	set.MarkFlagRequired("product")
	cmd.AddCommand(set)

	var filter tracker.Filter
	var minScore, maxScore float64
	list := &cobra.Command{
		Use:   "list [--product P] [--status S] [--overdue]",
		Short: "the tracker: CVEs per product with status, score, due date and business days left",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if cmd.Flags().Changed("min-score") {
				filter.MinScore = &minScore
			}
			if cmd.Flags().Changed("max-score") {
				filter.MaxScore = &maxScore
			}
			if err := filter.Check(); err != nil {
				return exitcode.AsUsage(err)
			}
			svc, sn, err := a.snapshot(ctx)
			if err != nil {
				return err
			}
			rows, _ := sn.Rows(filter, svc.Today(), false, 0, 0)
			if a.cfg.JSON {
				for _, row := range rows {
					if err := a.printJSON(row); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CVE\tPRODUCT\tSTATUS\tSCORE\tPUBLISHED\tTARGETED\tDUE\tDAYS LEFT")
			for _, row := range rows {
				due, left := "-", "-"
				if row.Due != nil {
					due, left = *row.Due, fmt.Sprint(*row.BusinessDaysLeft)
				}
				if row.Overdue {
					left += " (overdue)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%.1f\t%s\t%v\t%s\t%s\n", row.CVE, row.Product, row.Status, row.Score, orDash(row.Published), row.Targeted, due, left)
			}
			return tw.Flush()
		},
	}
	lf := list.Flags()
	lf.StringVar(&filter.Product, "product", "", "only this product")
	lf.StringVar(&filter.Status, "status", "", "only this status")
	lf.StringVar(&filter.Severity, "severity", "", "only this CVSS rating: critical, high, medium, low, none")
	lf.Float64Var(&minScore, "min-score", 0, "only scores at or above")
	lf.Float64Var(&maxScore, "max-score", 10, "only scores at or below")
	lf.StringVar(&filter.Since, "since", "", "only CVEs disclosed on or after YYYY-MM-DD")
	lf.StringVarP(&filter.Q, "query", "q", "", "CVE ID or package name")
	lf.BoolVar(&filter.Overdue, "overdue", false, "only targeted CVEs past their due date and not closed")
	cmd.AddCommand(list)

	cmd.AddCommand(&cobra.Command{
		Use:   "show CVE",
		Short: "a CVE's records for every product, with the history of changes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			id := strings.ToUpper(args[0])
			_, sn, err := a.snapshot(ctx)
			if err != nil {
				return err
			}
			recs := sn.CVE(id)
			if len(recs) == 0 {
				return errs.E(errs.NotFound, "%s is not on the tracker: add it with enmeid cve set or an advisory", id)
			}
			hist, err := a.st.CVEHistory(ctx, id)
			if err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"cve": id, "records": recs, "history": hist})
			}
			for _, r := range recs {
				fmt.Fprintf(a.stdout, "%s %s: %s, score %.1f, published %s, fixed by %s\n", r.CVE, r.Product, r.Status, r.Score, orDash(r.Published), orNone(r.Fixed))
				if r.Statement != "" {
					fmt.Fprintf(a.stdout, "  statement: %s\n", r.Statement)
				}
				if r.Override != nil {
					fmt.Fprintf(a.stdout, "  override (internal): targeted=%v: %s\n", r.Override.Targeted, r.Override.Reason)
				}
			}
			for _, h := range hist {
				fmt.Fprintf(a.stdout, "%s %s %s → %s (%s)\n", h.At.In(entitle.Tokyo).Format("2006-01-02 15:04"), h.Product, orDash(string(h.From)), h.To, h.Source)
			}
			return nil
		},
	})
	return cmd
}

func dueText(row tracker.Row) string {
	if row.Due == nil {
		return ""
	}
	s := fmt.Sprintf(", due %s (%d business days left)", *row.Due, *row.BusinessDaysLeft)
	if row.Overdue {
		s += ", overdue"
	}
	return s
}

func idRange(advs []advisory.Advisory) string {
	switch len(advs) {
	case 0:
		return "none"
	case 1:
		return advs[0].ID
	case 2:
		return advs[0].ID + ", " + advs[1].ID
	}
	return advs[0].ID + " … " + advs[len(advs)-1].ID
}

func nonNilList(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
