package admin

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/agentrepo"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/gc"
	"github.com/enmei-project/enmei/internal/publish"
	"github.com/enmei-project/enmei/internal/sign"
)

// stagingDir is where publishes stage signed copies: beside the data, so a
// crash leaves nothing in /tmp and gc can find what it left.
func (a *app) stagingDir() string { return filepath.Join(a.cfg.Data, "tmp") }

func (a *app) publisher(cmd *cobra.Command) (*publish.Publisher, error) {
	return a.publisherCtx(cmd.Context())
}

func (a *app) publisherCtx(ctx context.Context) (*publish.Publisher, error) {
	if err := a.open(ctx); err != nil {
		return nil, err
	}
	key, err := a.key(ctx)
	if err != nil {
		return nil, err
	}
	p := &publish.Publisher{Store: a.st, Blobs: a.blobs, Key: key, Now: a.now, Log: a.log, TempDir: a.stagingDir()}
	p.SkipFacts = a.env("ENMEI_DEBUG_NO_SBOM_FACTS") == "1"
	p.Updateinfo = a.updateinfo
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
	var opts publish.Options
	var pom, dir string
	cmd := &cobra.Command{
		Use:   "publish REPO FILE|DIR… | publish MAVEN_PRODUCT FILE.jar… --pom FILE.pom | publish MAVEN_PRODUCT FILE… [--dir DIR]",
		Short: "ingest packages and publish a new signed snapshot atomically (or artifacts to a maven product)",
		Long: `Ingest packages and publish a new signed snapshot atomically.

Files already published (the same bytes) keep their signed copy, so publishing
a directory again is cheap and changes no package's bytes. A file whose name,
version and architecture match a published package but whose content differs is
refused unless --replace is given.

Source packages go into a source repository of the product (enmeid repo add
ID-source --arch src for rpm, --arch source for deb): source RPMs, and Debian
source packages given by their .dsc (or a directory holding .dsc files), whose
listed files are taken from beside it, each checked against the .dsc's
Checksums-Sha256 before anything is stored. A source repository takes source
packages only, and a binary repository binaries only.

For a maven-format product, give the product ID: FILE.jar… --pom FILE.pom
publishes an artifact at the coordinates its POM names (more files named
artifactId-version-classifier.ext, such as -sources.jar, go beside it), and
other files (source archives, data) go to files/[DIR/]. Checksums and
maven-metadata.xml are written by the server; published files never change.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			if prod, err := a.st.Product(cmd.Context(), args[0]); err == nil && prod.Format == "maven" {
				return a.publishMaven(cmd, prod, args[1:], pom, dir)
			}
			if pom != "" || dir != "" {
				return usagef("--pom and --dir are for maven products; %s is not one", args[0])
			}
			if r, err := a.st.Repo(cmd.Context(), args[0]); err == nil && r.ProductID == agentrepo.ProductID {
				return usagef("%s is the agent's public repository: publish the agent with enmeid agent publish, which checks that only the agent goes there", args[0])
			}
			p, err := a.publisher(cmd)
			if err != nil {
				return err
			}
			res, err := p.Publish(cmd.Context(), args[0], args[1:], opts)
			if err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"repo": args[0], "publication": res.Publication.ID,
					"packages": res.Publication.Packages, "added": res.Added, "reused": res.Reused})
			}
			fmt.Fprintf(a.stdout, "publication %d of %s: %d packages (%d given, %d already published)\n",
				res.Publication.ID, args[0], res.Publication.Packages, res.Added, res.Reused)
			return nil
		},
	}
	cmd.Flags().StringVar(&pom, "pom", "", "maven products: the artifact's pom.xml (groupId, artifactId, version)")
	cmd.Flags().StringVar(&dir, "dir", "", "maven products: publish plain files under files/DIR/")
	cmd.Flags().BoolVar(&opts.Replace, "replace", false, "replace published packages of the same name, version and architecture whose content differs")
	return cmd
}

func (a *app) publicationCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "publication", Short: "list, roll back and prune publications of a repository"}
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
				fmt.Fprintln(tw, "ID\tCREATED\tPACKAGES\tCURRENT\tNOTE")
			}
			for _, p := range pubs {
				if a.cfg.JSON {
					out := map[string]any{"id": p.ID, "repo": p.RepoID, "created_at": p.CreatedAt.UTC(),
						"packages": p.Packages, "current": p.ID == repo.Current}
					if p.RollbackOf != 0 {
						out["rollback_of"] = p.RollbackOf
					}
					if err := a.printJSON(out); err != nil {
						return err
					}
					continue
				}
				cur, note := "", ""
				if p.ID == repo.Current {
					cur = "*"
				}
				if p.RollbackOf != 0 {
					note = fmt.Sprintf("rollback to %d", p.RollbackOf)
				}
				fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\n", p.ID, p.CreatedAt.In(entitle.Tokyo).Format(time.DateTime+" JST"), p.Packages, cur, note)
			}
			return tw.Flush()
		},
	}
	rollback := &cobra.Command{
		Use:   "rollback REPO ID",
		Short: "publish the packages of an earlier publication again, as a new current publication",
		Long: `Publish the packages of an earlier publication again. The result is a new
publication with freshly signed metadata dated now, so hosts that already read a
newer index (apt refuses an older Release) take the rollback at their next update.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil {
				return usagef("publication ID %q is not a number", args[1])
			}
			if err := a.open(cmd.Context()); err != nil {
				return err
			}
			pub, err := a.ops().RollbackTo(cmd.Context(), args[0], id)
			if err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"repo": args[0], "current": pub.ID, "rollback_of": id, "packages": pub.Packages})
			}
			fmt.Fprintf(a.stderr, "repository %s now serves publication %d: the %d packages of publication %d\n", args[0], pub.ID, pub.Packages, id)
			return nil
		},
	}
	var keep int
	prune := &cobra.Command{
		Use:   "prune REPO --keep N",
		Short: "delete all but the current and the N newest publications (enmeid gc then frees their files)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if keep < 0 {
				return usagef("--keep must be 0 or more, not %d", keep)
			}
			if err := a.open(ctx); err != nil {
				return err
			}
			p := &publish.Publisher{Store: a.st, Blobs: a.blobs, Now: a.now, Log: a.log}
			deleted, err := p.Prune(ctx, args[0], keep)
			if err != nil {
				return err
			}
			if a.cfg.JSON {
				if deleted == nil {
					deleted = []int64{}
				}
				return a.printJSON(map[string]any{"repo": args[0], "deleted": deleted})
			}
			fmt.Fprintf(a.stderr, "deleted %d publications of %s; run enmeid gc to free their files\n", len(deleted), args[0])
			return nil
		},
	}
	prune.Flags().IntVar(&keep, "keep", 0, "how many publications to keep besides the current one")
	prune.MarkFlagRequired("keep")
	cmd.AddCommand(list, rollback, prune)
	return cmd
}

func (a *app) gcCommand() *cobra.Command {
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "gc [--grace DURATION]",
		Short: "delete blobs and package records no publication references (safe while serving and publishing)",
		Long: `Delete the blobs and package records that no remaining publication references
and that were last used before the grace period (default 24h), and the temporary
files of publishes that crashed. Safe while enmeid serves and publishes: a publish
in flight protects what it is about to reference. Prints what it freed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if grace < 0 {
				return usagef("--grace must not be negative")
			}
			if err := a.open(ctx); err != nil {
				return err
			}
			c := &gc.Collector{Store: a.st, Blobs: a.blobs, Now: a.now, Log: a.log, StagingDirs: []string{a.stagingDir()}}
			rep, err := c.Run(ctx, grace)
			if err != nil {
				return err
			}
			if a.cfg.JSON {
				rep.Cutoff = rep.Cutoff.UTC()
				return a.printJSON(rep)
			}
			fmt.Fprintf(a.stdout, "freed %d blobs (%s), %d package records and %d temporary files; kept %d unreferenced blobs used since %s\n",
				rep.Blobs, humanBytes(rep.Bytes), rep.Packages, rep.TempFiles, rep.KeptYoung, rep.Cutoff.In(entitle.Tokyo).Format(time.DateTime+" JST"))
			return nil
		},
	}
	cmd.Flags().DurationVar(&grace, "grace", 24*time.Hour, "keep what was used within this long")
	return cmd
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

func (a *app) signingKeyCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "signing-key", Short: "the repositories' OpenPGP key: generate, import, export"}
	export := &cobra.Command{
		Use:   "export",
		Short: "print the repositories' OpenPGP public key (armored)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if err := a.open(ctx); err != nil {
				return err
			}
			pub, err := a.custody().Public(ctx)
			if errs.Is(err, errs.NotFound) {
				// No key yet: make it, as the first publish would.
				var k *sign.Key
				if k, err = a.key(ctx); err == nil {
					pub = k.PublicKey()
				}
			}
			if err != nil {
				return err
			}
			data, err := pub.ArmoredPublic()
			if err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"fingerprint": pub.Fingerprint(), "public_key": string(data)})
			}
			_, err = a.stdout.Write(data)
			return err
		},
	}
	var name, email string
	var bits int
	generate := &cobra.Command{
		Use:   "generate --name NAME --email EMAIL [--bits 4096]",
		Short: "create the repositories' OpenPGP key in the key file (before the first repo add)",
		Long: `Create the repositories' OpenPGP signing key (RSA 4096 by default) with your
identity, in the key file (--signing-key, default <data>/signing-key.asc, mode
0600; protected with ENMEI_SIGNING_PASSPHRASE when it is set). Only the public key
goes into the database. Run it before the first repo add, which signs the new
repository's empty publication and so makes a key on first need. Refused when a
key exists already: hosts trust it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if bits != 3072 && bits != 4096 {
				return usagef("--bits must be 3072 or 4096, not %d", bits)
			}
			if err := a.open(ctx); err != nil {
				return err
			}
			k, err := a.custody().Generate(ctx, name, "", email, bits)
			if err != nil {
				return err
			}
			return a.printKey(k)
		},
	}
	generate.Flags().StringVar(&name, "name", "", "the key's name, e.g. \"Example ELS repositories\"")
	generate.Flags().StringVar(&email, "email", "", "the key's e-mail address")
	generate.Flags().IntVar(&bits, "bits", 4096, "RSA key size: 3072 or 4096")
	generate.MarkFlagRequired("name")
	generate.MarkFlagRequired("email")
	importCmd := &cobra.Command{
		Use:   "import FILE",
		Short: "use an existing armored OpenPGP private key (a vendor's release key)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			data, err := os.ReadFile(args[0])
			if err != nil {
				return errs.Wrap(errs.Invalid, err, fmt.Sprintf("cannot read %s: %v", args[0], err))
			}
			if err := a.open(ctx); err != nil {
				return err
			}
			k, err := a.custody().Import(ctx, data)
			if err != nil {
				return err
			}
			return a.printKey(k)
		},
	}
	cmd.AddCommand(export, generate, importCmd)
	return cmd
}

func (a *app) printKey(k *sign.Key) error {
	if a.cfg.JSON {
		return a.printJSON(map[string]any{"fingerprint": k.Fingerprint(), "user_id": k.UserID(), "file": a.cfg.SigningKey})
	}
	fmt.Fprintf(a.stdout, "fingerprint: %s\nuser ID:     %s\nkey file:    %s\n", sign.FormatFingerprint(k.Fingerprint()), k.UserID(), a.cfg.SigningKey)
	fmt.Fprintln(a.stderr, "Back up the key file: enmei cannot make the same key again, and hosts trust it.")
	return nil
}
