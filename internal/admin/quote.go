package admin

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/exitcode"
	"github.com/enmei-project/enmei/internal/quote"
	"github.com/enmei-project/enmei/internal/store"
)

func (a *app) quoteCommand() *cobra.Command {
	var pricesFile string
	cmd := &cobra.Command{
		Use:   "quote FILE.yaml [--prices PRICES.yaml]",
		Short: "count and price AlmaLinux support subscriptions for the systems a YAML file describes",
		Long: `Count the subscriptions a system needs by the AlmaLinux support menu's rules
(Standard for physical, Standard for virtual, the virtualisation platform) and
price them (JPY per year, before tax). Every line says which rule produced it;
the option not chosen is shown as the alternative. A system that cannot be
supported as described (the platform with fewer than 5 AlmaLinux VMs,
unofficial cloud images) is refused with the reason (exit 1).

--prices reads the vendor's price table (standard_physical, standard_virtual,
platform, platform_min_vms); fields left out keep the list prices.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return errs.E(errs.Invalid, "cannot read %s: %v", args[0], err)
			}
			in, err := quote.Parse(args[0], data)
			if err != nil {
				return err
			}
			prices := quote.DefaultPrices
			if pricesFile != "" {
				pd, err := os.ReadFile(pricesFile)
				if err != nil {
					return errs.E(errs.Invalid, "cannot read %s: %v", pricesFile, err)
				}
				if prices, err = quote.ParsePrices(pricesFile, pd); err != nil {
					return err
				}
			}
			q, err := quote.Compute(in, prices)
			if err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(q)
			}
			w := a.stdout
			fmt.Fprintf(w, "support starts: %s\n", q.SupportStart)
			for _, s := range q.Systems {
				fmt.Fprintf(w, "\n%s: %s, %s JPY/year (%s)\n", s.Name, s.Choice, yen(s.Amount), s.Why)
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				for _, l := range s.Lines {
					fmt.Fprintf(tw, "  %s\t× %d\t@ %s\t= %s\t%s\n", l.Subscription, l.Count, yen(l.UnitPrice), yen(l.Amount), l.Rule)
				}
				tw.Flush()
				for _, alt := range s.Alternatives {
					var parts []string
					for _, l := range alt.Lines {
						parts = append(parts, fmt.Sprintf("%s × %d", l.Subscription, l.Count))
					}
					fmt.Fprintf(w, "  alternative: %s, %s JPY/year (%s)\n", alt.Choice, yen(alt.Amount), strings.Join(parts, " + "))
				}
			}
			fmt.Fprintf(w, "\ntotal: %s JPY/year before tax\n", yen(q.Total))
			return nil
		},
	}
	cmd.Flags().StringVar(&pricesFile, "prices", "", "the vendor's price table (YAML); default: the list prices")
	return cmd
}

// yen writes an amount with thousands separators.
func yen(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// quotePlans maps a quote's subscriptions to contract plans.
var quotePlans = map[string]string{"standard-physical": entitle.PlanPhysical, "standard-virtual": entitle.PlanVirtual, "platform": entitle.PlanPlatform}

// contractsFromQuote sells what a quote counted: for each system, one
// contract per subscription (its lines of one kind added up), valid for a
// year from the quote's support start. Every contract is checked before
// the first is made, so a refused quote makes none.
func (a *app) contractsFromQuote(ctx context.Context, base store.Contract, file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return usagef("--from-quote: %v", err)
	}
	in, err := quote.Parse(file, data)
	if err != nil {
		return err
	}
	q, err := quote.Compute(in, quote.DefaultPrices)
	if err != nil {
		return err
	}
	start, err := entitle.ParseDate(q.SupportStart)
	if err != nil {
		return err
	}
	var todo []store.Contract
	for _, sys := range q.Systems {
		counts := map[string]int{}
		var order []string
		for _, l := range sys.Lines {
			if counts[l.Subscription] == 0 {
				order = append(order, l.Subscription)
			}
			counts[l.Subscription] += l.Count
		}
		for _, sub := range order {
			c := base
			c.Plan, c.Quantity = quotePlans[sub], counts[sub]
			c.Start, c.End = q.SupportStart, start.AddDate(1, 0, -1).Format(entitle.DateLayout)
			if c.Plan == "" {
				return fmt.Errorf("the quote's subscription %q has no contract plan", sub)
			}
			if err := entitle.CheckNew(c); err != nil {
				return exitcode.AsUsage(err)
			}
			todo = append(todo, c)
		}
	}
	type made struct {
		SupportID   string            `json:"support_id"`
		Plan        string            `json:"plan"`
		Quantity    int               `json:"quantity"`
		Start       string            `json:"start"`
		End         string            `json:"end"`
		LicenseKeys map[string]string `json:"license_keys"`
	}
	var out []made
	for _, c := range todo {
		c, issued, err := a.newContract(ctx, c, "")
		if err != nil {
			return fmt.Errorf("after %d contract(s) of the quote: %w", len(out), err)
		}
		m := made{SupportID: c.SupportID, Plan: c.Plan, Quantity: c.Quantity, Start: c.Start, End: c.End, LicenseKeys: map[string]string{}}
		for i, k := range issued.Keys {
			m.LicenseKeys[c.Products[i]] = k
		}
		out = append(out, m)
	}
	if a.cfg.JSON {
		return a.printJSON(map[string]any{"support_start": q.SupportStart, "total": q.Total, "contracts": out})
	}
	for _, m := range out {
		fmt.Fprintf(a.stdout, "support ID:  %s  (%s, %d, %s – %s)\n", m.SupportID, m.Plan, m.Quantity, m.Start, m.End)
		for p, k := range m.LicenseKeys {
			fmt.Fprintf(a.stdout, "licence key: %s  (%s)\n", k, p)
		}
	}
	fmt.Fprintln(a.stderr, "The licence keys are shown only now: they are stored hashed and cannot be shown again.")
	return nil
}
