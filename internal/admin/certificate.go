package admin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/certdoc"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/vendorops"
)

// certificate renders a contract's support certificate; keys (product →
// licence key) are given only on the first issue.
func (a *app) certificate(ctx context.Context, c store.Contract, issued *vendorops.Issued) ([]byte, error) {
	// The certificate names the key hosts will trust, so one must exist.
	key, err := a.key(ctx)
	if err != nil {
		return nil, err
	}
	d := certdoc.Document{SupportID: c.SupportID, Customer: c.Customer, EndUser: c.EndUser, Plan: c.Plan, Quantity: c.Quantity,
		Start: c.Start, End: c.End, Contact: c.Contact, Fingerprint: key.Fingerprint(), PortalURL: a.publicURL(),
		IssuedAt: a.now(), Reissue: issued == nil}
	if issued != nil {
		d.LicenseKeys = map[string]string{}
		for i, k := range issued.Keys {
			d.LicenseKeys[c.Products[i]] = k
		}
		d.InitialPassword = issued.Password
	}
	switch {
	case c.Plan != "developer":
	case issued != nil:
		// The first issue: the contract is not stored yet.
		d.DeveloperAccount = issued.Account
	default:
		acct, err := a.st.ContractDeveloperAccount(ctx, c.SupportID)
		if err != nil {
			return nil, err
		}
		d.DeveloperAccount = acct.Name
	}
	for _, id := range c.Products {
		p, err := a.st.Product(ctx, id)
		if err != nil {
			return nil, err
		}
		d.Products = append(d.Products, certdoc.Product{ID: p.ID, Name: p.Name})
	}
	var buf bytes.Buffer
	if err := certdoc.Write(&buf, d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// stagedFile is a file written beside its destination and renamed into place
// only when everything else succeeded, so a failure leaves no half-written
// document and a success leaves no stray one.
type stagedFile struct {
	dest, tmp string
}

// stageFile writes data (mode 0600: a first-issue certificate carries licence
// keys) next to dest.
func stageFile(dest string, data []byte) (*stagedFile, error) {
	dir := filepath.Dir(dest)
	f, err := os.CreateTemp(dir, "."+filepath.Base(dest)+".*")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the temporary name would only confuse
		}
		return nil, errs.Wrap(errs.Invalid, err, fmt.Sprintf("cannot write %s: %v: choose another file", dest, err))
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := firstErr(werr, serr, cerr); err != nil {
		os.Remove(f.Name())
		return nil, fmt.Errorf("writing %s: %w", dest, err)
	}
	return &stagedFile{dest: dest, tmp: f.Name()}, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *stagedFile) commit() error {
	if err := os.Rename(s.tmp, s.dest); err != nil {
		os.Remove(s.tmp)
		return fmt.Errorf("writing %s: %w", s.dest, err)
	}
	return nil
}

func (s *stagedFile) abort() { os.Remove(s.tmp) }

func (a *app) certificateCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "certificate SUPPORT_ID --out FILE.pdf",
		Short: "re-issue a contract's support certificate (without licence keys)",
		Long: `Write the contract's support certificate again, in Japanese and English. A
re-issue carries no licence key or password: those appear only on the first
issue (contract add --certificate-out) and cannot be recovered.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			c, err := a.contract(ctx, args[0])
			if err != nil {
				return err
			}
			pdf, err := a.certificate(ctx, c, nil)
			if err != nil {
				return err
			}
			f, err := stageFile(out, pdf)
			if err != nil {
				return err
			}
			if err := f.commit(); err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"support_id": c.SupportID, "certificate": out, "reissue": true})
			}
			fmt.Fprintf(a.stderr, "support certificate of %s re-issued to %s (without licence keys)\n", c.SupportID, out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "PDF file to write")
	cmd.MarkFlagRequired("out")
	return cmd
}
