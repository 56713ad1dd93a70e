package admin

import (
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/advisory"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/store"
)

func (a *app) webhookCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "webhook", Short: "signed webhooks for tracker changes"}
	var products, statuses []string
	add := &cobra.Command{
		Use:   "add URL [--product P]… [--status S]…",
		Short: "POST every matching CVE change to URL, signed with a new secret (printed once)",
		Long: `POST every matching tracker change (a CVE's status for a product, including
releases) to URL as JSON: {"type": "cve.changed", "cve", "product", "from", "to",
"statement", "source", "at", "url"}. Each request carries X-Enmei-Timestamp
(Unix seconds) and X-Enmei-Signature: sha256=HEX, the HMAC-SHA256 of
"TIMESTAMP.BODY" with the secret printed here; check it, and refuse old
timestamps. Deliveries are retried with backoff until a 2xx answer.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := url.Parse(args[0])
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return usagef("%q is not an http(s) URL", args[0])
			}
			for _, s := range statuses {
				if _, err := advisory.ParseStatus(s); err != nil {
					return usagef("--status: %v", err)
				}
			}
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			for _, p := range products {
				if _, err := a.st.Product(ctx, p); err != nil {
					return err
				}
			}
			w := store.Webhook{ID: "wh_" + strings.ToLower(entitle.NewSecret()[:12]), URL: u.String(), Secret: entitle.NewSecret(),
				Products: products, Statuses: statuses, CreatedAt: a.now()}
			if err := a.st.AddWebhook(ctx, w); err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"id": w.ID, "url": w.URL, "secret": w.Secret})
			}
			fmt.Fprintf(a.stdout, "webhook %s added for %s\nsecret (shown once; keep it with the receiver): %s\n", w.ID, w.URL, w.Secret)
			return nil
		},
	}
	add.Flags().StringArrayVar(&products, "product", nil, "only this product's changes (repeatable; default all)")
	add.Flags().StringArrayVar(&statuses, "status", nil, "only changes to this status (repeatable; default all)")
	cmd.AddCommand(add)
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "list webhooks and their latest deliveries",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			hooks, err := a.st.Webhooks(ctx)
			if err != nil {
				return err
			}
			ds, err := a.st.Deliveries(ctx, 1000)
			if err != nil {
				return err
			}
			if a.cfg.JSON {
				for _, h := range hooks {
					if err := a.printJSON(map[string]any{"id": h.ID, "url": h.URL, "products": nonNilList(h.Products), "statuses": nonNilList(h.Statuses), "created_at": h.CreatedAt}); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tURL\tPRODUCTS\tSTATUSES\tSENT\tQUEUED\tFAILED\tLAST ERROR")
			for _, h := range hooks {
				counts := map[string]int{}
				last := ""
				for _, d := range ds {
					if d.WebhookID == h.ID {
						counts[d.Status]++
						if last == "" && d.LastError != "" {
							last = d.LastError
						}
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", h.ID, h.URL, orAll(h.Products), orAll(h.Statuses), counts["sent"], counts["queued"], counts["failed"], orDash(last))
			}
			return tw.Flush()
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "remove ID",
		Short: "remove a webhook and its pending deliveries",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			if err := a.st.DeleteWebhook(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "webhook %s removed\n", args[0])
			return nil
		},
	})
	return cmd
}

func orAll(s []string) string {
	if len(s) == 0 {
		return "all"
	}
	return strings.Join(s, ",")
}
