package admin

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/adminapi"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/exitcode"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/support"
	"github.com/enmei-project/enmei/internal/vendorops"
)

// ops returns the vendor operations over the open store. Rollbacks load the
// signing key only when one is asked for.
func (a *app) ops() *vendorops.Ops {
	return &vendorops.Ops{Store: a.st, Now: a.now, Released: a.released,
		Rollback: func(ctx context.Context, repoID string, id int64) (store.Publication, error) {
			p, err := a.publisherCtx(ctx)
			if err != nil {
				return store.Publication{}, err
			}
			return p.Rollback(ctx, repoID, id)
		}}
}

// newContract stores a contract with one licence key per product (or its
// developer account) and returns what it was issued with. With certOut,
// the first-issue support certificate is written there too; if it cannot
// be, no contract is made.
func (a *app) newContract(ctx context.Context, c store.Contract, certOut string) (store.Contract, vendorops.Issued, error) {
	c.CreatedAt = a.now()
	if err := entitle.CheckNew(c); err != nil {
		return c, vendorops.Issued{}, exitcode.AsUsage(err) // every value checked there came from a flag
	}
	if err := a.open(ctx); err != nil {
		return c, vendorops.Issued{}, err
	}
	var staged *stagedFile
	before := func(c store.Contract, issued vendorops.Issued) error {
		if certOut == "" {
			return nil
		}
		pdf, err := a.certificate(ctx, c, &issued)
		if err != nil {
			return err
		}
		staged, err = stageFile(certOut, pdf)
		return err
	}
	c, issued, err := a.ops().NewContractWith(ctx, c, before)
	if staged != nil {
		if err != nil {
			staged.abort()
		} else if err = staged.commit(); err != nil {
			return c, issued, fmt.Errorf("contract %s was created but its certificate could not be written (%w): the secrets are printed below; re-issue the certificate with enmeid contract certificate", c.SupportID, err)
		}
	}
	return c, issued, err
}

// contract opens the store and loads a contract named on the command line.
func (a *app) contract(ctx context.Context, supportID string) (store.Contract, error) {
	if err := a.open(ctx); err != nil {
		return store.Contract{}, err
	}
	return a.st.Contract(ctx, supportID)
}

func (a *app) contractCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "contract", Short: "manage customer contracts"}
	var c store.Contract
	var products, certOut, inquiries, fromQuote string
	add := &cobra.Command{
		Use:   "add --customer NAME --product P[,P…] --plan server|container|developer|physical|virtual|platform --quantity N --start DATE --end DATE --contact EMAIL [--end-user NAME] [--from-quote FILE.yaml]",
		Short: "create a contract; prints the support ID and the licence keys (developer plan: the account and initial password)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c.Products = splitList(products)
			n, err := support.ParseInquiries(inquiries)
			if err != nil || n == 0 {
				return usagef("--inquiries %q is not a number of inquiries per contract year (1–1000) or unlimited", inquiries)
			}
			c.Inquiries = n
			if fromQuote != "" {
				for _, f := range []string{"plan", "quantity", "start", "end"} {
					if cmd.Flags().Changed(f) {
						return usagef("--from-quote sets --%s from the quote: leave it out", f)
					}
				}
				return a.contractsFromQuote(cmd.Context(), c, fromQuote)
			}
			for _, f := range []string{"quantity", "start", "end"} {
				if !cmd.Flags().Changed(f) {
					return usagef("required flag \"%s\" not set (or give --from-quote FILE.yaml)", f)
				}
			}
			c, issued, err := a.newContract(cmd.Context(), c, certOut)
			if err != nil {
				return err
			}
			var mirrorID, mirrorPassword string
			if c.AllowMirror {
				if mirrorID, mirrorPassword, err = a.issueMirrorAccount(cmd.Context(), c.SupportID); err != nil {
					return fmt.Errorf("contract %s was created, but its mirror account was not (%w): issue it with enmeid contract mirror-account %s", c.SupportID, err, c.SupportID)
				}
			}
			keys := issued.Keys
			if a.cfg.JSON {
				out := map[string]any{"support_id": c.SupportID}
				if len(keys) == 1 {
					out["license_key"] = keys[0]
				}
				lk := map[string]string{}
				for i, k := range keys {
					lk[c.Products[i]] = k
				}
				out["license_keys"] = lk
				if issued.Account != "" {
					out["account"], out["password"] = issued.Account, issued.Password
				}
				if mirrorID != "" {
					out["mirror_account"], out["mirror_password"] = mirrorID, mirrorPassword
				}
				out["allow_mirror"], out["allow_offline"] = c.AllowMirror, c.AllowOffline
				return a.printJSON(out)
			}
			fmt.Fprintf(a.stdout, "support ID:  %s\n", c.SupportID)
			for i, k := range keys {
				fmt.Fprintf(a.stdout, "licence key: %s  (%s, %d seats)\n", k, c.Products[i], c.Quantity)
			}
			if issued.Account != "" {
				fmt.Fprintf(a.stdout, "account:     %s\npassword:    %s  (initial)\nproducts:    %s (%d developers)\n",
					issued.Account, issued.Password, strings.Join(c.Products, ", "), c.Quantity)
			}
			fmt.Fprintf(a.stdout, "valid:       %s – %s (Asia/Tokyo)\ncontact:     %s\n", c.Start, c.End, c.Contact)
			if mirrorID != "" {
				a.printMirrorAccount(mirrorID, mirrorPassword)
			}
			if c.AllowOffline {
				fmt.Fprintln(a.stdout, "offline:     allowed (companion disks with packages)")
			}
			if issued.Account != "" {
				fmt.Fprintln(a.stderr, "The initial password is shown only now: it is stored hashed (argon2id); the customer changes it at /developer/.")
			} else {
				fmt.Fprintln(a.stderr, "The licence key is shown only now: it is stored hashed and cannot be shown again.")
			}
			return nil
		},
	}
	f := add.Flags()
	f.StringVar(&c.Customer, "customer", "", "customer company")
	f.StringVar(&c.EndUser, "end-user", "", "end user, for system-integrator deals")
	f.StringVar(&products, "product", "", "product IDs, comma-separated")
	f.StringVar(&c.Plan, "plan", "server", "server, container (seats of hosts), developer (one account, maven products, quantity ≥ 5), or the AlmaLinux menu's physical, virtual (VMs only) and platform (quantity = physical hosts, VMs unlimited)")
	f.BoolVar(&c.ELSUpdates, "els-updates", false, "platform plan: include updates in the extended support phase (the extra option)")
	f.BoolVar(&c.AllowMirror, "allow-mirror", false, "individual term: the customer mirrors the repositories with their own tools (prints a mirror account; it takes no seat)")
	f.BoolVar(&c.AllowOffline, "allow-offline", false, "individual term: the customer downloads companion disks that carry the packages, for sites without network")
	f.StringVar(&fromQuote, "from-quote", "", "sell what enmeid quote counted in FILE.yaml: one contract per subscription of each system, starting on the quote's support start for one year")
	f.IntVar(&c.Quantity, "quantity", 0, "servers (server plan), concurrent containers (container plan) or developers")
	f.StringVar(&c.Start, "start", "", "first day, YYYY-MM-DD (Asia/Tokyo)")
	f.StringVar(&c.End, "end", "", "last day, YYYY-MM-DD (Asia/Tokyo)")
	f.StringVar(&c.Contact, "contact", "", "technical contact e-mail (one address)")
	f.StringVar(&inquiries, "inquiries", "2", "inquiry allowance: new matters per contract year, or unlimited (one investigated at a time)")
	f.StringVar(&c.Lang, "lang", "ja", "language of the desk's mail to the customer: ja or en")
	f.StringVar(&certOut, "certificate-out", "", "also write the support certificate (ja/en PDF, with the licence keys) to this file")
	for _, n := range []string{"customer", "product", "contact"} {
		add.MarkFlagRequired(n)
	}

	show := &cobra.Command{
		Use:   "show SUPPORT_ID",
		Short: "show a contract, its validity, seats and hosts",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := a.contract(ctx, args[0])
			if err != nil {
				return err
			}
			hosts, err := a.st.Hosts(ctx, c.SupportID, a.now())
			if err != nil {
				return err
			}
			used := map[string]int{}
			for _, h := range hosts {
				if h.Uncounted {
					continue // a platform contract's VM takes no seat
				}
				used[h.ProductID]++
			}
			top := 0
			per := make([]map[string]any, 0, len(c.Products))
			for _, p := range c.Products {
				per = append(per, map[string]any{"product": p, "quantity": c.Quantity, "seats_used": used[p]})
				top = max(top, used[p])
			}
			if a.cfg.JSON {
				hs := make([]map[string]any, 0, len(hosts))
				for _, h := range hosts {
					hs = append(hs, map[string]any{"host_id": h.ID, "hostname": h.Hostname, "os": h.OS, "product": h.ProductID,
						"registered_at": h.RegisteredAt.UTC(), "last_seen": h.LastSeen.UTC(), "lease_expires": adminapi.LeaseExpires(h),
						"virt": h.Virt, "takes_seat": !h.Uncounted})
				}
				certs, err := a.st.ContractCertificates(ctx, c.SupportID)
				if err != nil {
					return err
				}
				cs := make([]map[string]any, 0, len(certs))
				for _, ct := range certs {
					cs = append(cs, map[string]any{"serial": ct.Serial, "not_before": ct.NotBefore.UTC(), "not_after": ct.NotAfter.UTC(),
						"downloaded": !ct.DownloadedAt.IsZero(), "revoked": !ct.RevokedAt.IsZero(), "revoke_reason": ct.RevokeReason})
				}
				return a.printJSON(map[string]any{"support_id": c.SupportID, "customer": c.Customer, "end_user": c.EndUser, "certificates": cs,
					"plan": c.Plan, "products": c.Products, "quantity": c.Quantity, "seats_used": top, "per_product": per,
					"start": c.Start, "end": c.End, "contact": c.Contact, "valid": entitle.CheckValid(c, a.now()) == nil,
					"inquiries": inquiriesJSON(c), "lang": c.Language(), "els_updates": c.ELSUpdates,
					"allow_mirror": c.AllowMirror, "allow_offline": c.AllowOffline, "mirror_account": mirrorAccountID(ctx, a, c),
					"hosts": hs})
			}
			validity := "valid now"
			if err := entitle.CheckValid(c, a.now()); err != nil {
				validity = "NOT valid: " + err.Error()
			}
			fmt.Fprintf(a.stdout, "support ID: %s\ncustomer:   %s\n", c.SupportID, c.Customer)
			if c.EndUser != "" {
				fmt.Fprintf(a.stdout, "end user:   %s\n", c.EndUser)
			}
			fmt.Fprintf(a.stdout, "plan:       %s\nproducts:   %s\nvalidity:   %s – %s (Asia/Tokyo), %s\ncontact:    %s\n",
				c.Plan, strings.Join(c.Products, ", "), c.Start, c.End, validity, c.Contact)
			if c.AllowMirror || c.AllowOffline {
				var terms []string
				if c.AllowMirror {
					terms = append(terms, "mirror use (account "+cmp.Or(mirrorAccountID(ctx, a, c), "not issued")+")")
				}
				if c.AllowOffline {
					terms = append(terms, "offline use")
				}
				fmt.Fprintf(a.stdout, "terms:      %s\n", strings.Join(terms, ", "))
			}
			for i, p := range c.Products {
				label := "seats:"
				if i > 0 {
					label = ""
				}
				fmt.Fprintf(a.stdout, "%-11s %d of %d used (%s)\n", label, used[p], c.Quantity, p)
			}
			if len(hosts) > 0 {
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "HOST ID\tHOSTNAME\tPRODUCT\tREGISTERED\tLAST SEEN\tLEASE ENDS")
				for _, h := range hosts {
					lease := "-"
					if h.LeaseTTL != 0 {
						lease = h.LeaseExpires.In(entitle.Tokyo).Format(time.DateTime + " JST")
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", h.ID, h.Hostname, h.ProductID,
						h.RegisteredAt.In(entitle.Tokyo).Format(time.DateTime+" JST"), h.LastSeen.In(entitle.Tokyo).Format(time.DateTime+" JST"), lease)
				}
				return tw.Flush()
			}
			return nil
		},
	}
	var end string
	renew := &cobra.Command{
		Use:   "renew SUPPORT_ID --end DATE",
		Short: "set a contract's end date: later extends it, a past date ends it at once; keys, hosts and certificates stay",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if _, err := entitle.ParseDate(end); err != nil {
				return exitcode.AsUsage(err)
			}
			if err := a.open(ctx); err != nil {
				return err
			}
			c, err := a.ops().Renew(ctx, args[0], end)
			if err != nil {
				return err
			}
			ended := entitle.CheckValid(c, a.now()) != nil
			if ended {
				// Said even with --json: a cancellation must not pass unnoticed.
				fmt.Fprintf(a.stderr, "warning: contract %s has ENDED: its last day is now %s, so its hosts and certificates are refused from now on\n", c.SupportID, end)
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"support_id": c.SupportID, "start": c.Start, "end": end, "valid": !ended})
			}
			if !ended {
				fmt.Fprintf(a.stderr, "contract %s now runs %s – %s; keys and hosts are unchanged\n", c.SupportID, c.Start, end)
			}
			return nil
		},
	}
	renew.Flags().StringVar(&end, "end", "", "new last day, YYYY-MM-DD (Asia/Tokyo)")
	renew.MarkFlagRequired("end")
	list := &cobra.Command{
		Use:   "list",
		Short: "list contracts, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			cs, err := a.st.ListContracts(ctx)
			if err != nil {
				return err
			}
			if a.cfg.JSON {
				out := make([]map[string]any, 0, len(cs))
				for _, c := range cs {
					out = append(out, map[string]any{"support_id": c.SupportID, "customer": c.Customer, "end_user": c.EndUser,
						"plan": c.Plan, "products": c.Products, "quantity": c.Quantity, "start": c.Start, "end": c.End,
						"contact": c.Contact, "valid": entitle.CheckValid(c, a.now()) == nil})
				}
				return a.printJSON(out)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SUPPORT ID\tCUSTOMER\tPLAN\tQUANTITY\tVALIDITY\tPRODUCTS")
			for _, c := range cs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s – %s\t%s\n", c.SupportID, c.Customer, c.Plan, c.Quantity, c.Start, c.End, strings.Join(c.Products, ","))
			}
			return tw.Flush()
		},
	}
	var from, to string
	peaks := &cobra.Command{
		Use:   "peaks SUPPORT_ID [--from DATE] [--to DATE]",
		Short: "the peak of concurrent seats per day and product (what seats that come and go are billed by)",
		Long: `Print, for each day from --from to --to (Asia/Tokyo; default the last 31 days)
and each product of the contract, the most seats held at the same time that
day, ephemeral leases included. Seat history is kept 400 days.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := a.contract(ctx, args[0])
			if err != nil {
				return err
			}
			now := a.now()
			today := now.In(entitle.Tokyo)
			if to == "" {
				to = today.Format(entitle.DateLayout)
			}
			if from == "" {
				from = today.AddDate(0, 0, -30).Format(entitle.DateLayout)
			}
			for _, d := range []string{from, to} {
				if _, err := entitle.ParseDate(d); err != nil {
					return exitcode.AsUsage(err)
				}
			}
			if to < from {
				return usagef("--to %s is before --from %s", to, from)
			}
			days, err := a.ops().DailyPeaks(ctx, c, from, to, now)
			if err != nil {
				return err
			}
			if a.cfg.JSON {
				if days == nil {
					days = []entitle.DailyPeak{}
				}
				return a.printJSON(map[string]any{"support_id": c.SupportID, "quantity": c.Quantity, "days": days})
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DAY\tPRODUCT\tPEAK\tQUANTITY")
			for _, d := range days {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", d.Day, d.ProductID, d.Peak, c.Quantity)
			}
			return tw.Flush()
		},
	}
	peaks.Flags().StringVar(&from, "from", "", "first day, YYYY-MM-DD (Asia/Tokyo)")
	peaks.Flags().StringVar(&to, "to", "", "last day, YYYY-MM-DD (Asia/Tokyo)")
	cmd.AddCommand(add, list, show, renew, peaks, a.certificateCommand(), a.allowanceCommand(), a.termsCommand(), a.mirrorAccountCommand())
	return cmd
}

func (a *app) seatCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "seat", Short: "manage seats"}
	cmd.AddCommand(&cobra.Command{
		Use:   "release SUPPORT_ID HOST_ID",
		Short: "free the seat of a host that was lost without unregistering",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			if err := a.ops().ReleaseSeat(ctx, args[0], args[1]); err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"support_id": args[0], "released": args[1]})
			}
			fmt.Fprintf(a.stderr, "seat of host %s released; within a few seconds it can no longer reach the repositories\n", args[1])
			return nil
		},
	})
	return cmd
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// inquiriesJSON is the allowance as JSON: a number, or "unlimited".
func inquiriesJSON(c store.Contract) any {
	if c.Allowance() == entitle.Unlimited {
		return "unlimited"
	}
	return c.Allowance()
}
