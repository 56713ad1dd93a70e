package admin

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/agentrepo"
	"github.com/enmei-project/enmei/internal/publish"
)

func (a *app) agentCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "agent", Short: "publish the agent's own packages into its public repository (served at /agent/ and /install.sh)"}
	pub := &cobra.Command{
		Use:   "publish FILE|DIR…",
		Short: "publish the agent's RPM and deb packages (scripts/package builds them) into the public enmei-agent repository",
		Long: `Publish the agent's packages into its public repository: RPMs into
enmei-agent-rpm (served at /agent/rpm/), Debian packages into enmei-agent-deb
(served at /agent/deb/, suite stable, component main), both signed with the
repositories' key. Anyone can read that repository without credentials, so only
packages named enmei or enmei-… are taken; anything else is refused before
anything is published. Hosts install the agent with
  curl -fsSL PUBLIC_URL/install.sh | sudo sh
and update it with dnf/yum or apt from then on. publication list and
publication rollback work on the two repositories as on any other.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			files, err := publish.Expand(args)
			if err != nil {
				return err
			}
			sorted, err := agentrepo.Sort(files)
			if err != nil {
				return err
			}
			p, err := a.publisher(cmd)
			if err != nil {
				return err
			}
			if err := agentrepo.Ensure(ctx, a.st); err != nil {
				return err
			}
			var out []map[string]any
			for _, r := range agentrepo.Repos {
				if len(sorted[r.ID]) == 0 {
					continue
				}
				res, err := p.Publish(ctx, r.ID, sorted[r.ID], publish.Options{})
				if err != nil {
					return err
				}
				out = append(out, map[string]any{"repo": r.ID, "publication": res.Publication.ID,
					"packages": res.Publication.Packages, "added": res.Added, "reused": res.Reused})
				if !a.cfg.JSON {
					fmt.Fprintf(a.stdout, "publication %d of %s: %d packages (%d given, %d already published)\n",
						res.Publication.ID, r.ID, res.Publication.Packages, res.Added, res.Reused)
				}
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"publications": out})
			}
			fmt.Fprintf(a.stderr, "hosts install the agent with: curl -fsSL %s/install.sh | sudo sh\n", a.publicURL())
			return nil
		},
	}
	cmd.AddCommand(pub)
	return cmd
}
