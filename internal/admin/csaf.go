package admin

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/advisory/csaf"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/publish"
	"github.com/enmei-project/enmei/internal/sign"
	"github.com/enmei-project/enmei/internal/tracker"
)

// buildCSAF brings the signed CSAF tree up to date with the tracker: only
// changed documents are signed again (with the repositories' key, which
// this process holds), their files are stored as blobs, and the new
// manifest becomes current in one write. A lease keeps gc from taking the
// new blobs before the manifest names them.
func (a *app) buildCSAF(ctx context.Context, svc *tracker.Service) (*csaf.Manifest, error) {
	key, err := a.key(ctx)
	if err != nil {
		return nil, err
	}
	lease := "csaf-" + entitle.NewSecret()
	now := time.Now()
	if err := a.st.TakeLease(ctx, lease, now, now.Add(publish.LeaseTTL)); err != nil {
		return nil, err
	}
	defer a.st.DropLease(context.WithoutCancel(ctx), lease)
	old, _, err := csaf.LoadStored(ctx, a.st, a.blobs)
	if err != nil {
		return nil, err
	}
	sn, err := svc.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	pub, err := key.PublicKey().ArmoredPublic()
	if err != nil {
		return nil, err
	}
	vendor := sign.VendorName(key.UserID())
	if vendor == "" {
		vendor = "enmei"
	}
	opts := csaf.Options{PublicURL: a.publicURL(), Publisher: vendor, ContactDetails: key.UserID(),
		PublicKeyArmored: pub, Fingerprint: key.PublicKey().Fingerprint(), Now: a.now,
		AdvisoryURL: func(id string) string { return a.publicURL() + "/security/advisory/" + id }}
	m, err := csaf.Build(ctx, old, sn, a.st.CVEHistory, key, opts, csaf.PutBlob(a.blobs))
	if err != nil {
		return nil, err
	}
	if err := csaf.Store(ctx, a.st, a.blobs, m); err != nil {
		return nil, err
	}
	return m, nil
}

func (a *app) csafCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "csaf",
		Short: "sign and publish the CSAF documents again (after a failed update, or a new public URL or key)",
		Long: `Bring the CSAF 2.0 documents served under /.well-known/csaf/ up to date with the
tracker: one security advisory per released advisory and one VEX document per
CVE, signed with the repositories' key. enmeid advisory add/publish and cve set
do this on their own; run this after one of them reported that the CSAF update
failed, or after changing ENMEI_PUBLIC_URL or the signing key.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			svc, err := a.tracker(ctx)
			if err != nil {
				return err
			}
			if !strings.HasPrefix(a.publicURL(), "https://") {
				fmt.Fprintf(a.stderr, "enmeid: warning: the public URL %s is not https; CSAF requires documents served over HTTPS (set ENMEI_PUBLIC_URL)\n", a.publicURL())
			}
			m, err := a.buildCSAF(ctx, svc)
			if err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"documents": m.Stats.Documents, "signed": m.Stats.Signed, "seq": m.Seq})
			}
			fmt.Fprintf(a.stderr, "CSAF: %d documents, %d signed now; provider metadata at %s/.well-known/csaf/provider-metadata.json\n",
				m.Stats.Documents, m.Stats.Signed, a.publicURL())
			return nil
		},
	}
}
