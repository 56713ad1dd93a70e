package agent

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/errs"
)

func (a *app) unregisterCommand() *cobra.Command {
	var product string
	cmd := &cobra.Command{
		Use:   "unregister [--product PRODUCT]",
		Short: "Return this host's seats and remove what register wrote",
		Long: `Return this host's seats to their contracts (all of them, or with --product
only the registration of that product), then remove every file enmei register
wrote (repository configuration, credentials, signing key, /etc/enmei/host.json),
or, when registrations remain, write the configuration for those alone.
If the server cannot be reached nothing is removed, so the command can be retried.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("product") && strings.TrimSpace(product) == "" {
				return usageErr("--product is empty: give a product ID that enmei status lists")
			}
			return a.unregister(cmd.Context(), strings.TrimSpace(product))
		},
	}
	cmd.Flags().StringVar(&product, "product", "", "return only the seat of this product's registration (default: all)")
	return cmd
}

func (a *app) unregister(ctx context.Context, product string) error {
	unlock, err := lock(ctx, a.root)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := LoadState(a.root)
	if err != nil {
		return err
	}
	var gone, keep []Registration
	for _, r := range st.Registrations {
		if product == "" || r.Product == product {
			gone = append(gone, r)
		} else {
			keep = append(keep, r)
		}
	}
	if len(gone) == 0 {
		var products []string
		for _, r := range st.Registrations {
			products = append(products, r.Product)
		}
		return errs.E(errs.NotFound, "this host has no registration for product %q: it is registered for %s", product, strings.Join(products, ", "))
	}
	c, err := st.client(a.root, a.env)
	if err != nil {
		return err
	}
	defer c.close()

	var done []Registration // seats that are free now
	var failure error
	for _, r := range gone {
		err := c.do(ctx, "POST", "/api/v1/unregister", r.HostID, r.Secret, nil, nil)
		switch {
		case err == nil:
			fmt.Fprintf(a.stderr, "Unregistered: the seat of %s (%s) is free again.\n", r.SupportID, r.Product)
		case isUnauthorized(err):
			// Not "released": this run did not release anything.
			fmt.Fprintf(a.stderr, "Note: %s no longer knows the credential of %s (%s): its seat was already released, by the vendor or an earlier unregister.\n", st.Server, r.SupportID, r.Product)
		default:
			failure = err
		}
		if failure != nil {
			break
		}
		done = append(done, r)
	}
	if len(done) == 0 {
		return fmt.Errorf("%w (nothing was removed; run enmei unregister again once the server answers)", failure)
	}
	// What the server let go of must leave the configuration even if a
	// later call failed, so a retry does not present dead credentials.
	keep = append(keep, gone[len(done):]...)
	if len(keep) == 0 {
		// The block first: host.json, removed last, is what a retry needs.
		if st.AuthConfBlock {
			if err := removeAuthBlock(a.root, st.AuthConfCreated); err != nil {
				return fmt.Errorf("%w: the seats are returned; remove the block between %q and %q by hand, then run enmei unregister again", err, blockBegin, blockEnd)
			}
		}
		if err := removeFiles(a.root, append(st.Files, statePath)); err != nil {
			return fmt.Errorf("%w: the seats are returned; remove the remaining files by hand", err)
		}
		fmt.Fprintln(a.stderr, "enmei's configuration is removed.")
		return failure
	}
	next := *st
	next.Registrations = keep
	files, err := next.files(a.root, nil)
	if err == nil {
		err = writeFiles(a.root, files)
	}
	if err != nil {
		return fmt.Errorf("%w: the seats are returned but the configuration still names them; run enmei unregister --product again", err)
	}
	var stale []string
	for _, f := range st.Files {
		if !slices.Contains(next.Files, f) {
			stale = append(stale, f)
		}
	}
	if err := removeFiles(a.root, stale); err != nil {
		fmt.Fprintf(a.stderr, "enmei: warning: %v: remove it by hand\n", err)
	}
	if st.AuthConfBlock && !next.AuthConfBlock {
		if err := removeAuthBlock(a.root, st.AuthConfCreated); err != nil {
			fmt.Fprintf(a.stderr, "enmei: warning: %v: remove the block between %q and %q by hand\n", err, blockBegin, blockEnd)
		}
	}
	var left []string
	for _, r := range keep {
		left = append(left, r.SupportID+" ("+r.Product+")")
	}
	fmt.Fprintf(a.stderr, "enmei's configuration now holds the remaining registrations: %s\n", strings.Join(left, ", "))
	if failure != nil {
		return fmt.Errorf("%w (the other seats were returned; run enmei unregister again once the server answers)", failure)
	}
	return nil
}
