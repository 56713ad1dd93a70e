package admin

import (
	"fmt"
	"regexp"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/agentrepo"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/exitcode"
	"github.com/enmei-project/enmei/internal/store"
)

var osVersionShape = regexp.MustCompile(`^[0-9]+(\.[0-9]+)*$`)

func (a *app) productCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "product", Short: "manage products"}
	var p store.Product
	add := &cobra.Command{
		Use:   "add ID --name NAME --format rpm|deb|maven [--os ID --os-version V] [--eol DATE]",
		Short: "add a product",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p.ID = args[0]
			if err := checkID("product", p.ID); err != nil {
				return err
			}
			if p.ID == agentrepo.ProductID {
				return usagef("the product name %s is reserved for the agent's public repository (enmeid agent publish): choose another", p.ID)
			}
			switch p.Format {
			case "rpm", "deb", "maven":
			default:
				return usagef("--format must be rpm, deb or maven, not %q", p.Format)
			}
			if p.OSVersion != "" && p.OSID == "" {
				return usagef("--os-version needs --os (the os-release ID, e.g. almalinux)")
			}
			if p.OSID != "" {
				if err := checkID("OS", p.OSID); err != nil {
					return err
				}
			}
			if p.OSVersion != "" && !osVersionShape.MatchString(p.OSVersion) {
				return usagef("--os-version %q is not a version like 9 or 22.04", p.OSVersion)
			}
			if p.EOL != "" {
				if _, err := entitle.ParseDate(p.EOL); err != nil {
					return err
				}
			}
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			if err := a.st.AddProduct(cmd.Context(), p); err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(productJSON(p))
			}
			fmt.Fprintf(a.stderr, "product %s added (%s)\n", p.ID, p.Format)
			return nil
		},
	}
	add.Flags().StringVar(&p.Name, "name", "", "display name")
	add.Flags().StringVar(&p.Format, "format", "", "delivery format: rpm, deb or maven")
	add.Flags().StringVar(&p.EOL, "eol", "", "end of service already known, YYYY-MM-DD (new contracts and renewals stop a year before)")
	add.Flags().BoolVar(&p.InitialOnly, "initial-only", false, "an option sold only with a customer's first contract (e.g. the ELS option)")
	add.Flags().StringVar(&p.OSID, "os", "", "bind the product to hosts of this OS (os-release ID, e.g. almalinux): register refuses others before taking a seat")
	add.Flags().StringVar(&p.OSVersion, "os-version", "", "with --os: the OS version it serves (os-release VERSION_ID or its major part, e.g. 9)")
	add.MarkFlagRequired("name")
	add.MarkFlagRequired("format")
	cmd.AddCommand(add, a.productLifecycleCommand(), a.productEndCommand(), a.productUpgradePathCommand())
	return cmd
}

func (a *app) productLifecycleCommand() *cobra.Command {
	var l entitle.Lifecycle
	cmd := &cobra.Command{
		Use:   "lifecycle ID [--full-until DATE] [--security-until DATE] [--extended-until DATE]",
		Short: "set a product's lifecycle phases (enmei status shows a host's phase)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := entitle.CheckLifecycle(l); err != nil {
				return exitcode.AsUsage(err)
			}
			if err := a.open(ctx); err != nil {
				return err
			}
			p, err := a.st.Product(ctx, args[0])
			if err != nil {
				return err
			}
			f := cmd.Flags()
			if f.Changed("full-until") {
				p.FullUntil = l.FullUntil
			}
			if f.Changed("security-until") {
				p.SecurityUntil = l.SecurityUntil
			}
			if f.Changed("extended-until") {
				p.ExtendedUntil = l.ExtendedUntil
			}
			if err := entitle.CheckLifecycle(p.Lifecycle()); err != nil {
				return err
			}
			if err := a.st.UpdateProduct(ctx, p); err != nil {
				return err
			}
			phase := entitle.PhaseAt(p.Lifecycle(), a.now())
			if a.cfg.JSON {
				out := productJSON(p)
				out["phase"], out["phase_until"] = phase.Name, phase.Until
				return a.printJSON(out)
			}
			fmt.Fprintf(a.stdout, "%s: full until %s, security until %s, extended until %s; now: %s %s\n", p.ID,
				orDash(p.FullUntil), orDash(p.SecurityUntil), orDash(p.ExtendedUntil), orDash(phase.Name), phase.Until)
			return nil
		},
	}
	cmd.Flags().StringVar(&l.FullUntil, "full-until", "", "last day of full support, YYYY-MM-DD")
	cmd.Flags().StringVar(&l.SecurityUntil, "security-until", "", "last day of security support, YYYY-MM-DD")
	cmd.Flags().StringVar(&l.ExtendedUntil, "extended-until", "", "last day of the extended (ELS) period, YYYY-MM-DD")
	return cmd
}

func (a *app) productEndCommand() *cobra.Command {
	var date string
	var force bool
	cmd := &cobra.Command{
		Use:   "end ID --date DATE [--force]",
		Short: "announce a product's end of service (at least one year ahead)",
		Long: `Announce the last day of a product's service. It must be at least one year
ahead (--force allows an exceptional earlier end, with a warning). New contracts
and renewals for the product are refused from one year before that date;
contracts already sold run to their end.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			end, err := entitle.ParseDate(date)
			if err != nil {
				return exitcode.AsUsage(err)
			}
			now := a.now()
			today := now.In(entitle.Tokyo).Format(entitle.DateLayout)
			if date < today {
				return usagef("--date %s is in the past", date)
			}
			if soon := end.AddDate(-1, 0, 0).Format(entitle.DateLayout); soon < today {
				if !force {
					return errs.E(errs.Invalid, "the end of service %s is less than one year ahead: customers are told at least a year before; pass --force for an exceptional earlier end", date)
				}
				fmt.Fprintf(a.stderr, "enmeid: warning: %s ends on %s, less than one year ahead (--force)\n", args[0], date)
			}
			if err := a.open(ctx); err != nil {
				return err
			}
			p, err := a.st.Product(ctx, args[0])
			if err != nil {
				return err
			}
			p.EOL = date
			if err := a.st.UpdateProduct(ctx, p); err != nil {
				return err
			}
			d, err := a.desk(ctx)
			if err != nil {
				return err
			}
			to, err := d.Announce(ctx, p.ID, endAnnouncement(p, "ja"), endAnnouncement(p, "en"))
			if err != nil {
				return fmt.Errorf("%s now ends on %s, but the announcement could not be queued: %w", p.ID, date, err)
			}
			if a.cfg.JSON {
				out := productJSON(p)
				out["announced_to"] = to
				return a.printJSON(out)
			}
			fmt.Fprintf(a.stdout, "%s ends on %s; new contracts and renewals are refused from %s; announced to %d technical contact(s)\n",
				p.ID, date, entitle.SalesEnd(date), len(to))
			return nil
		},
	}
	cmd.Flags().StringVar(&date, "date", "", "last day of service, YYYY-MM-DD (Asia/Tokyo)")
	cmd.Flags().BoolVar(&force, "force", false, "allow an end less than one year ahead (exceptional)")
	cmd.MarkFlagRequired("date")
	return cmd
}

func (a *app) repoCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "repo", Short: "manage repositories"}
	var r store.Repo
	add := &cobra.Command{
		Use:   "add ID --product PRODUCT [--arch ARCH] [--suite SUITE --component COMP]",
		Short: "add a repository of a product (rpm: one per arch or noarch; deb: suite/component)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			r.ID = args[0]
			if err := checkID("repository", r.ID); err != nil {
				return err
			}
			if err := a.open(ctx); err != nil {
				return err
			}
			p, err := a.st.Product(ctx, r.ProductID)
			if err != nil {
				return err
			}
			if agentrepo.Reserved(p) {
				return usagef("product %s is the agent's public repository, which has its own two repositories: publish the agent with enmeid agent publish", p.ID)
			}
			r.Format = p.Format
			switch p.Format {
			case "deb":
				if r.Suite == "" {
					r.Suite = "stable"
				}
				if r.Component == "" {
					r.Component = "main"
				}
				if err := checkID("suite", r.Suite); err != nil {
					return err
				}
				if err := checkID("component", r.Component); err != nil {
					return err
				}
			case "rpm":
				if r.Suite != "" || r.Component != "" {
					return usagef("--suite and --component are for deb products; %s is %s", p.ID, p.Format)
				}
			default:
				return usagef("product %s delivers %s, which has no package repository yet", p.ID, p.Format)
			}
			// The key first: a repository must not be recorded without the
			// signed, empty publication hosts are configured against.
			pub, err := a.publisher(cmd)
			if err != nil {
				return err
			}
			if err := a.st.AddRepo(ctx, r); err != nil {
				return err
			}
			// An empty, signed publication at once: hosts may be configured
			// before the first ELS package exists.
			if _, err := pub.Republish(ctx, r.ID); err != nil {
				return err
			}
			if r, err = a.st.Repo(ctx, r.ID); err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(repoJSON(r))
			}
			fmt.Fprintf(a.stderr, "repository %s added to product %s\n", r.ID, r.ProductID)
			return nil
		},
	}
	add.Flags().StringVar(&r.ProductID, "product", "", "product ID")
	add.Flags().StringVar(&r.Arch, "arch", "", "architecture (rpm: x86_64, aarch64, noarch; deb: amd64, arm64…); src (rpm) or source (deb) for a source repository")
	add.Flags().StringVar(&r.Suite, "suite", "", "deb suite (default stable)")
	add.Flags().StringVar(&r.Component, "component", "", "deb component (default main)")
	add.MarkFlagRequired("product")
	cmd.AddCommand(add, a.repoSyncCommand(), a.repoKeyCommand())
	return cmd
}

// checkID keeps identifiers to characters that are safe in URLs, paths and
// configuration files.
func checkID(what, id string) error {
	if id == "" || len(id) > 64 {
		return usagef("%s ID must be 1–64 characters", what)
	}
	for i, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || (i > 0 && (c == '-' || c == '_' || c == '.'))
		if !ok {
			return usagef("%s ID %q may only hold a-z, 0-9, '-', '_' and '.', starting with a letter or digit", what, id)
		}
	}
	return nil
}

func productJSON(p store.Product) map[string]any {
	return map[string]any{"id": p.ID, "name": p.Name, "format": p.Format, "eol": p.EOL, "os": p.OSID, "os_version": p.OSVersion,
		"full_until": p.FullUntil, "security_until": p.SecurityUntil, "extended_until": p.ExtendedUntil, "initial_only": p.InitialOnly,
		"sales_end": entitle.SalesEnd(p.EOL)}
}

func repoJSON(r store.Repo) map[string]any {
	out := map[string]any{"id": r.ID, "product": r.ProductID, "format": r.Format, "arch": r.Arch,
		"suite": r.Suite, "component": r.Component, "current_publication": r.Current}
	if r.Mirror != nil {
		out["mirror"] = map[string]any{"url": r.Mirror.URL, "frozen": r.Mirror.Frozen, "revision": r.Mirror.Revision, "synced_at": r.Mirror.SyncedAt}
	}
	return out
}

// endAnnouncement is the end-of-service mail, subject and body, naming the
// product in the subject.
func endAnnouncement(p store.Product, lang string) [2]string {
	sales := entitle.SalesEnd(p.EOL)
	if lang == "en" {
		return [2]string{fmt.Sprintf("[End of service] %s (%s) ends on %s", p.Name, p.ID, p.EOL),
			fmt.Sprintf("The service for %s (%s) ends on %s.\n\nFrom %s, new contracts and renewals for it are no longer sold.\nYour contract runs to its end date as agreed. Please plan the move to a supported version.\n", p.Name, p.ID, p.EOL, sales)}
	}
	return [2]string{fmt.Sprintf("[サービス終了のお知らせ] %s（%s）は %s に終了します", p.Name, p.ID, p.EOL),
		fmt.Sprintf("%s（%s）のサービスは %s をもって終了します。\n\n%s 以降、新規契約および契約更新はお受けできません。\nご契約中のサービスは契約の終了日まで提供します。サポート対象のバージョンへの移行をご検討ください。\n", p.Name, p.ID, p.EOL, sales)}
}
