package agent

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) unregisterCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "unregister",
		Short: "Return this host's seat and remove everything register wrote",
		Long: `Return this host's seat to the contract, then remove every file enmei register
wrote (repository configuration, credentials, signing key, /etc/enmei/host.json).
If the server cannot be reached nothing is removed, so the command can be retried.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.unregister(cmd.Context())
		},
	}
}

func (a *app) unregister(ctx context.Context) error {
	st, err := LoadState(a.root)
	if err != nil {
		return err
	}
	c, err := st.client(a.root, a.env)
	if err != nil {
		return err
	}
	defer c.close()
	err = c.do(ctx, "POST", "/api/v1/unregister", st.HostID, st.Secret, nil, nil)
	released := true
	switch {
	case err == nil:
	case isUnauthorized(err):
		// The server no longer knows the credential: the seat was already
		// released (enmeid seat release, or an earlier unregister).
		released = false
	default:
		return fmt.Errorf("%w (nothing was removed; run enmei unregister again once the server answers)", err)
	}
	if err := removeFiles(a.root, append(st.Files, statePath)); err != nil {
		return fmt.Errorf("%w: the seat is returned; remove the remaining files by hand", err)
	}
	if released {
		fmt.Fprintf(a.stderr, "Unregistered: the seat of %s is free again and enmei's configuration is removed.\n", st.SupportID)
	} else {
		fmt.Fprintf(a.stderr, "Note: %s no longer knows this host (its seat was already released); enmei's configuration is removed.\n", st.Server)
	}
	return nil
}
