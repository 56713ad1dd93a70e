package admin

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/quote"
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
