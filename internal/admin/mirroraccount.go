package admin

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

// issueMirrorAccount makes (or replaces) a contract's mirror account and
// returns its ID and password; only the password's hash is stored.
func (a *app) issueMirrorAccount(ctx context.Context, supportID string) (id, password string, err error) {
	id, password = entitle.NewMirrorID(), entitle.NewSecret()
	err = a.st.PutMirrorAccount(ctx, store.MirrorAccount{ID: id, SupportID: supportID, SecretHash: entitle.Hash(password), CreatedAt: a.now()})
	return id, password, err
}

func (a *app) printMirrorAccount(id, password string) {
	fmt.Fprintf(a.stdout, "mirror account: %s\nmirror password: %s\nrepositories:   %s/repos/REPO/ (HTTP Basic; e.g. baseurl for dnf reposync)\n", id, password, a.publicURL())
	fmt.Fprintln(a.stderr, "The mirror password is shown only now: it is stored hashed. enmeid contract mirror-account issues a new one.")
}

// mirrorAccountID is the contract's mirror account, "" if it has none.
func mirrorAccountID(ctx context.Context, a *app, c store.Contract) string {
	m, err := a.st.ContractMirrorAccount(ctx, c.SupportID)
	if err != nil {
		return ""
	}
	return m.ID
}

func (a *app) mirrorAccountCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "mirror-account SUPPORT_ID",
		Short: "issue the contract's mirror account (for the customer's dnf reposync, apt-mirror or enmeid repo sync), replacing the one it had",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := a.contract(ctx, args[0])
			if err != nil {
				return err
			}
			if !c.AllowMirror {
				return errs.E(errs.Invalid, "contract %s does not allow mirroring: allow it first with enmeid contract terms %s --allow-mirror", c.SupportID, c.SupportID)
			}
			id, password, err := a.issueMirrorAccount(ctx, c.SupportID)
			if err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"support_id": c.SupportID, "mirror_account": id, "mirror_password": password})
			}
			a.printMirrorAccount(id, password)
			return nil
		},
	}
}

func (a *app) termsCommand() *cobra.Command {
	var mirror, offline bool
	cmd := &cobra.Command{
		Use:   "terms SUPPORT_ID [--allow-mirror[=false]] [--allow-offline[=false]]",
		Short: "change a contract's individual terms: mirror use (a mirror account, no seat) and offline use (companion disks with packages)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := a.contract(ctx, args[0])
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("allow-mirror") {
				c.AllowMirror = mirror
			}
			if cmd.Flags().Changed("allow-offline") {
				c.AllowOffline = offline
			}
			if err := a.st.SetContractTerms(ctx, c.SupportID, c.AllowMirror, c.AllowOffline); err != nil {
				return err
			}
			var id, password string
			if c.AllowMirror && mirrorAccountID(ctx, a, c) == "" {
				if id, password, err = a.issueMirrorAccount(ctx, c.SupportID); err != nil {
					return fmt.Errorf("contract %s allows mirroring now, but its mirror account was not issued (%w): issue it with enmeid contract mirror-account %s", c.SupportID, err, c.SupportID)
				}
			}
			if a.cfg.JSON {
				out := map[string]any{"support_id": c.SupportID, "allow_mirror": c.AllowMirror, "allow_offline": c.AllowOffline}
				if id != "" {
					out["mirror_account"], out["mirror_password"] = id, password
				}
				return a.printJSON(out)
			}
			fmt.Fprintf(a.stdout, "contract %s: mirror use %s, offline use %s\n", c.SupportID, allowed(c.AllowMirror), allowed(c.AllowOffline))
			if id != "" {
				a.printMirrorAccount(id, password)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&mirror, "allow-mirror", false, "allow mirroring (issues a mirror account when the contract has none); =false stops the account at once")
	cmd.Flags().BoolVar(&offline, "allow-offline", false, "allow companion disks with packages; =false stops offering them to this customer")
	return cmd
}

func allowed(b bool) string {
	if b {
		return "allowed"
	}
	return "not allowed"
}
