package admin

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/account"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/maven"
	"github.com/enmei-project/enmei/internal/mavenrepo"
	"github.com/enmei-project/enmei/internal/store"
)

func (a *app) accountCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "account", Short: "developer-plan accounts"}
	show := &cobra.Command{
		Use:   "show SUPPORT_ID",
		Short: "show a developer contract's account (never its password)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := a.contract(ctx, args[0])
			if err != nil {
				return err
			}
			acct, err := a.st.ContractDeveloperAccount(ctx, c.SupportID)
			if err != nil {
				return err
			}
			changed := any(nil)
			if !acct.ChangedAt.IsZero() {
				changed = acct.ChangedAt.UTC()
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"support_id": c.SupportID, "account": acct.Name, "created_at": acct.CreatedAt.UTC(),
					"password_changed_at": changed, "products": c.Products, "developers": c.Quantity,
					"valid": entitle.CheckValid(c, a.now()) == nil})
			}
			fmt.Fprintf(a.stdout, "support ID: %s\naccount:    %s\nproducts:   %s\ndevelopers: %d\n", c.SupportID, acct.Name, strings.Join(c.Products, ", "), c.Quantity)
			if acct.ChangedAt.IsZero() {
				fmt.Fprintln(a.stdout, "password:   the initial one (not changed yet)")
			} else {
				fmt.Fprintf(a.stdout, "password:   changed %s\n", acct.ChangedAt.In(entitle.Tokyo).Format("2006-01-02 15:04 JST"))
			}
			return nil
		},
	}
	reset := &cobra.Command{
		Use:   "reset SUPPORT_ID",
		Short: "set a new password for a developer account whose password was lost (only with --allow-password-reset)",
		Long: `Set a new random password for a developer contract's account and print it.
By the service's terms a lost password is not reset; this command works only
when the vendor's policy allows resets: enmeid --allow-password-reset (or
ENMEI_ALLOW_PASSWORD_RESET=1). The old password stops working at once on this
server and within a few seconds on every other replica.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !a.cfg.AllowPasswordReset {
				return errs.E(errs.Forbidden, "lost developer passwords are not reset under the current policy (the service's default): run enmeid with --allow-password-reset (or ENMEI_ALLOW_PASSWORD_RESET=1) if your terms allow resets")
			}
			ctx := cmd.Context()
			c, err := a.contract(ctx, args[0])
			if err != nil {
				return err
			}
			acct, err := a.st.ContractDeveloperAccount(ctx, c.SupportID)
			if err != nil {
				return err
			}
			pw := entitle.NewInitialPassword()
			if err := a.st.SetDeveloperPassword(ctx, acct.Name, account.HashPassword(pw), a.now()); err != nil {
				return err
			}
			a.log.Info("developer password reset", "support_id", c.SupportID, "account", acct.Name)
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"support_id": c.SupportID, "account": acct.Name, "password": pw})
			}
			fmt.Fprintf(a.stdout, "account:  %s\npassword: %s\n", acct.Name, pw)
			fmt.Fprintln(a.stderr, "Pass the password to the technical contact; they should change it at /developer/.")
			return nil
		},
	}
	cmd.AddCommand(show, reset)
	return cmd
}

// publishMaven publishes files to a maven product: an artifact with its POM
// (coordinates from the POM; extra files become classifiers, e.g.
// lib-1.0-sources.jar), or plain files under files/[dir/].
func (a *app) publishMaven(cmd *cobra.Command, prod store.Product, files []string, pom, dir string) error {
	ctx := cmd.Context()
	var uploads []mavenrepo.Upload
	var closers []*os.File
	defer func() {
		for _, f := range closers {
			f.Close()
		}
	}()
	open := func(name string) (*os.File, error) {
		f, err := os.Open(name)
		if err != nil {
			return nil, errs.E(errs.Invalid, "cannot read %s: %v", name, err)
		}
		if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
			f.Close()
			return nil, errs.E(errs.Invalid, "%s is not a regular file: give files, not directories", name)
		}
		closers = append(closers, f)
		return f, nil
	}
	if pom != "" {
		if dir != "" {
			return usagef("--dir places plain files; an artifact's place comes from its --pom")
		}
		pf, err := open(pom)
		if err != nil {
			return err
		}
		c, err := maven.ParsePOM(pf)
		if err != nil {
			return fmt.Errorf("%s: %w", pom, err)
		}
		if _, err := pf.Seek(0, 0); err != nil {
			return err
		}
		uploads = append(uploads, mavenrepo.Upload{Path: c.Dir() + "/" + c.FileName("", "pom"), Body: pf})
		for _, name := range files {
			f, err := open(name)
			if err != nil {
				return err
			}
			classifier, ext, err := classify(filepath.Base(name), c.ArtifactID, c.Version)
			if err != nil {
				return err
			}
			uploads = append(uploads, mavenrepo.Upload{Path: c.Dir() + "/" + c.FileName(classifier, ext), Body: f})
		}
	} else {
		for _, name := range files {
			if strings.HasSuffix(name, ".jar") || strings.HasSuffix(name, ".pom") {
				return usagef("%s is a Maven artifact: publish it with --pom FILE.pom, which gives its groupId, artifactId and version", name)
			}
			f, err := open(name)
			if err != nil {
				return err
			}
			p := mavenrepo.FilesDir + strings.Trim(dir, "/")
			if dir != "" {
				p += "/"
			}
			uploads = append(uploads, mavenrepo.Upload{Path: p + filepath.Base(name), Body: f})
		}
	}
	p := &mavenrepo.Publisher{Store: a.st, Blobs: a.blobs, Now: a.now, Log: a.log}
	res, err := p.Publish(ctx, prod.ID, uploads)
	if err != nil {
		return err
	}
	if a.cfg.JSON {
		return a.printJSON(map[string]any{"product": prod.ID, "publication": res.Publication.ID, "added": nonNil(res.Added), "unchanged": nonNil(res.Unchanged)})
	}
	for _, f := range res.Added {
		fmt.Fprintf(a.stdout, "published /maven/%s/%s\n", prod.ID, f)
	}
	for _, f := range res.Unchanged {
		fmt.Fprintf(a.stdout, "unchanged /maven/%s/%s (already published with these bytes)\n", prod.ID, f)
	}
	if res.Publication.ID != 0 {
		fmt.Fprintf(a.stdout, "publication %d of %s\n", res.Publication.ID, prod.ID)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// classify reads the classifier and extension from an artifact file name
// artifactId-version[-classifier].ext; any other name is refused, so a
// file is never published under a name that says something else.
func classify(name, artifactID, version string) (classifier, ext string, err error) {
	rest, ok := strings.CutPrefix(name, artifactID+"-"+version)
	if !ok {
		return "", "", usagef("%s is not named %s-%s[-classifier].ext as the POM's artifact: rename it (e.g. %s-%s-sources.jar)", name, artifactID, version, artifactID, version)
	}
	switch {
	case strings.HasPrefix(rest, "."):
		return "", rest[1:], nil
	case strings.HasPrefix(rest, "-"):
		classifier, ext, ok = strings.Cut(rest[1:], ".")
		if ok && classifier != "" && ext != "" {
			return classifier, ext, nil
		}
	}
	return "", "", usagef("%s is not named %s-%s[-classifier].ext as the POM's artifact", name, artifactID, version)
}
