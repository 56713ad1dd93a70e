package admin

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/publish"
)

func (a *app) publisher(cmd *cobra.Command) (*publish.Publisher, error) {
	ctx := cmd.Context()
	if err := a.open(ctx); err != nil {
		return nil, err
	}
	key, err := a.key(ctx)
	if err != nil {
		return nil, err
	}
	p := &publish.Publisher{Store: a.st, Blobs: a.blobs, Key: key, Now: a.now}
	// A debug knob for crash tests: die by SIGKILL after every blob of the new
	// publication is written and before it becomes current.
	if a.env("ENMEI_DEBUG_CRASH_BEFORE_COMMIT") == "1" {
		p.BeforeCommit = func() error {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute)
			return nil
		}
	}
	if isTerminal(a.stderr) {
		p.Progress = func(done, total int, name string) {
			fmt.Fprintf(a.stderr, "\r\033[Kingesting %d/%d %s", done+1, total, name)
			if done+1 == total {
				fmt.Fprintln(a.stderr)
			}
		}
	}
	return p, nil
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (a *app) publishCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "publish REPO FILE|DIR…",
		Short: "ingest packages and publish a new signed snapshot atomically",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.publisher(cmd)
			if err != nil {
				return err
			}
			res, err := p.Publish(cmd.Context(), args[0], args[1:])
			if err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"repo": args[0], "publication": res.Publication.ID,
					"packages": res.Publication.Packages, "added": res.Added})
			}
			fmt.Fprintf(a.stdout, "publication %d of %s: %d packages (%d given)\n",
				res.Publication.ID, args[0], res.Publication.Packages, res.Added)
			return nil
		},
	}
}

func (a *app) publicationCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "publication", Short: "list publications of a repository, or roll back to one"}
	list := &cobra.Command{
		Use:   "list REPO",
		Short: "list a repository's publications, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			repo, err := a.st.Repo(ctx, args[0])
			if err != nil {
				return err
			}
			pubs, err := a.st.Publications(ctx, args[0])
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			if !a.cfg.JSON {
				fmt.Fprintln(tw, "ID\tCREATED\tPACKAGES\tCURRENT")
			}
			for _, p := range pubs {
				if a.cfg.JSON {
					if err := a.printJSON(map[string]any{"id": p.ID, "repo": p.RepoID, "created_at": p.CreatedAt.UTC(),
						"packages": p.Packages, "current": p.ID == repo.Current}); err != nil {
						return err
					}
					continue
				}
				cur := ""
				if p.ID == repo.Current {
					cur = "*"
				}
				fmt.Fprintf(tw, "%d\t%s\t%d\t%s\n", p.ID, p.CreatedAt.Local().Format(time.DateTime), p.Packages, cur)
			}
			return tw.Flush()
		},
	}
	rollback := &cobra.Command{
		Use:   "rollback REPO ID",
		Short: "make an earlier publication current again",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil {
				return usagef("publication ID %q is not a number", args[1])
			}
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			p := &publish.Publisher{Store: a.st, Blobs: a.blobs, Now: a.now}
			if err := p.Rollback(ctx, args[0], id); err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"repo": args[0], "current": id})
			}
			fmt.Fprintf(a.stderr, "repository %s now serves publication %d\n", args[0], id)
			return nil
		},
	}
	cmd.AddCommand(list, rollback)
	return cmd
}

func (a *app) signingKeyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "signing-key", Short: "the repositories' OpenPGP key"}
	cmd.AddCommand(&cobra.Command{
		Use:   "export",
		Short: "print the repositories' OpenPGP public key (armored)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			k, err := a.key(cmd.Context())
			if err != nil {
				return err
			}
			pub, err := k.ArmoredPublic()
			if err != nil {
				return err
			}
			_, err = a.stdout.Write(pub)
			return err
		},
	})
	return cmd
}
