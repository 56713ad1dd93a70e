package admin

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/mirror"
)

// freezeLabel is a --until date or --snapshot name: it ends up in messages
// and JSON, so it stays short and plain.
var freezeLabel = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func (a *app) repoSyncCommand() *cobra.Command {
	var (
		o                       mirror.Options
		keyFile, until, snap    string
		arch, components, suite string
		allowExpired            bool
	)
	cmd := &cobra.Command{
		Use:   "sync REPO [--from URL] [--gpgkey FILE] [--arch A,…] [--suite S --component C,…] [--allow-expired] [--dry-run] [--until DATE | --snapshot NAME] [--force]",
		Short: "mirror an upstream dnf or APT repository into REPO, verified and incrementally",
		Long: `sync makes REPO a mirror of an upstream repository: an rpm-md (dnf) one for
an rpm repository, an APT suite for a deb one. It reads the upstream metadata
(repomd.xml, verified with the upstream key when given; InRelease for APT),
downloads only the packages the mirror does not hold yet, in parallel and
resumably, checks each against the metadata's checksum and, for RPMs, its
signature against the upstream key, and publishes them atomically like a
publish, keeping the distribution's signatures. If any package is refused,
the sync names it, exits 1 and the mirror keeps serving what it had.

A source repository (repo add --arch src or --arch source) mirrors the
upstream's source packages: the source RPMs of an rpm-md repository (their
signatures kept), or the Sources index of an APT suite, each source package's
files checked against it.

--from, --gpgkey, --arch, --suite and --component are remembered: later syncs
need only the repository. --until DATE or --snapshot NAME freezes the mirror
at the community's last state after this sync; later syncs are refused
unless --force. A mirror refuses plain publish: the vendor's fixes go to the
product's ELS repositories.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if until != "" && snap != "" {
				return usagef("give --until or --snapshot, not both")
			}
			if until != "" {
				if _, err := time.Parse(time.DateOnly, until); err != nil {
					return usagef("--until must be a date like 2026-05-31, not %q", until)
				}
				o.Freeze = until
			}
			if snap != "" {
				if !freezeLabel.MatchString(snap) {
					return usagef("--snapshot must be a name of letters, digits, '.', '-' and '_', like almalinux-8.10-final")
				}
				o.Freeze = snap
			}
			if keyFile != "" {
				data, err := os.ReadFile(keyFile)
				if err != nil {
					return errs.E(errs.Invalid, "cannot read the upstream key %s: %v: pass the distribution's armored public key file", keyFile, err)
				}
				o.Key = data
			}
			if cmd.Flags().Changed("allow-expired") {
				o.AllowExpired = &allowExpired
			}
			o.Arch = splitList(arch)
			o.Components = splitList(components)
			o.Suite = suite
			if err := a.open(ctx); err != nil {
				return err
			}
			pub, err := a.publisher(cmd)
			if err != nil {
				return err
			}
			o.StageDir = filepath.Join(a.cfg.Data, "sync")
			if isTerminal(a.stderr) {
				o.Progress = a.stderr
			}
			rep, err := mirror.Sync(ctx, a.st, pub, args[0], o)
			if a.cfg.JSON && (err == nil || rep.Upstream != "") {
				if rep.New == nil {
					rep.New = []string{}
				}
				if rep.Refused == nil {
					rep.Refused = []string{}
				}
				if perr := a.printJSON(rep); perr != nil {
					return perr
				}
			} else if !a.cfg.JSON {
				a.printSync(rep)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.From, "from", "", "the upstream repository's URL (remembered)")
	f.StringVar(&keyFile, "gpgkey", "", "the upstream's armored OpenPGP public key: repomd.xml/InRelease and RPM signatures are checked with it (remembered)")
	f.StringVar(&arch, "arch", "", "architectures to mirror, comma-separated (default: the repository's; noarch/all always)")
	f.StringVar(&suite, "suite", "", "APT: the upstream suite (default: the repository's)")
	f.StringVar(&components, "component", "", "APT: upstream components, comma-separated (default: the repository's)")
	f.BoolVar(&o.DryRun, "dry-run", false, "list the packages the sync would add, and change nothing")
	f.StringVar(&until, "until", "", "freeze the mirror after this sync, at the community's state of DATE")
	f.StringVar(&snap, "snapshot", "", "freeze the mirror after this sync under a snapshot name")
	f.BoolVar(&o.Force, "force", false, "sync a frozen mirror anyway")
	f.BoolVar(&allowExpired, "allow-expired", false, "APT: take a Release past its Valid-Until, for a frozen suite no longer re-signed (remembered; =false to stop)")
	f.IntVar(&o.Parallel, "parallel", 4, "downloads at the same time")
	return cmd
}

func (a *app) printSync(r mirror.Report) {
	if r.Upstream == "" {
		return
	}
	if r.DryRun {
		for _, n := range r.New {
			fmt.Fprintf(a.stdout, "would add %s\n", n)
		}
		for _, d := range r.Metadata {
			fmt.Fprintf(a.stdout, "would update the upstream's %s\n", d)
		}
		fmt.Fprintf(a.stdout, "%s: %d upstream packages, %d new (dry run: nothing changed)\n", r.Repo, r.Upstreams, len(r.New))
		return
	}
	for _, x := range r.Refused {
		fmt.Fprintf(a.stderr, "refused %s\n", x)
	}
	switch {
	case len(r.Refused) > 0:
	case r.Publication == 0:
		fmt.Fprintf(a.stdout, "%s is up to date with %s (%d packages)\n", r.Repo, r.Upstream, r.Upstreams)
	default:
		fmt.Fprintf(a.stdout, "publication %d of %s: %d new packages from %s (%d downloaded, %d resumed)\n",
			r.Publication, r.Repo, len(r.New), r.Upstream, r.Downloaded, r.Resumed)
		if len(r.Metadata) > 0 {
			fmt.Fprintf(a.stdout, "updated the upstream's %s\n", strings.Join(r.Metadata, ", "))
		}
	}
	if r.Frozen != "" {
		fmt.Fprintf(a.stdout, "%s is frozen at %s: later syncs need --force\n", r.Repo, r.Frozen)
	}
}

func (a *app) repoKeyCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "key REPO",
		Short: "print the upstream's public key a mirror checks signatures with",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			r, err := a.st.Repo(ctx, args[0])
			if err != nil {
				return err
			}
			if r.Mirror == nil || r.Mirror.Key == "" {
				return errs.E(errs.NotFound, "repository %s has no upstream key: it is not a mirror synced with --gpgkey", args[0])
			}
			_, err = fmt.Fprint(a.stdout, strings.TrimRight(r.Mirror.Key, "\n")+"\n")
			return err
		},
	}
}
