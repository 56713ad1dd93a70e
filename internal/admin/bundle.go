package admin

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/bundle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/sbom"
	"github.com/enmei-project/enmei/internal/sbomapi"
	"github.com/enmei-project/enmei/internal/sign"
	"github.com/enmei-project/enmei/internal/version"
)

func (a *app) bundleCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "bundle", Short: "offline companion disks"}
	var out string
	var pubID int64
	var formats string
	create := &cobra.Command{
		Use:   "create REPO --out FILE.iso [--publication ID] [--formats F,…]",
		Short: "write an ISO companion disk with the SBOM of every package of a publication, the signing key and a signed MANIFEST",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var fs []sbom.Format
			for _, f := range splitList(formats) {
				pf, err := sbom.ParseFormat(f)
				if err != nil {
					return usagef("--formats: %v", err)
				}
				fs = append(fs, pf)
			}
			if err := a.open(ctx); err != nil {
				return err
			}
			repo, err := a.st.Repo(ctx, args[0])
			if err != nil {
				return err
			}
			if pubID == 0 {
				pubID = repo.Current
			}
			if pubID == 0 {
				return errs.E(errs.NotFound, "repository %s has no publication yet: publish to it first", repo.ID)
			}
			pub, err := a.st.Publication(ctx, pubID)
			if err != nil || pub.RepoID != repo.ID {
				return errs.E(errs.NotFound, "repository %s has no publication %d: see enmeid publication list %s", repo.ID, pubID, repo.ID)
			}
			prod, err := a.st.Product(ctx, repo.ProductID)
			if err != nil {
				return err
			}
			key, err := a.key(ctx)
			if err != nil {
				return err
			}
			set, err := sbomapi.LoadSet(ctx, a.st, a.blobs, pub)
			if err != nil {
				return err
			}
			distro := sbom.Distro{ID: prod.OSID, VersionID: prod.OSVersion}
			if distro.ID == "" {
				distro.ID = prod.ID
			}
			vendor := sign.VendorName(key.UserID())
			meta := sbom.Meta{Distro: distro, Supplier: vendor, Author: vendor, Tool: "enmei-" + version.Get().Version,
				BaseURL: a.publicURL(), Salt: strconv.FormatInt(pub.ID, 10), Created: pub.CreatedAt}
			index := bundle.Index{Repo: repo.ID, Publication: pub.ID, Packages: map[string]bundle.IndexEntry{}}
			var files []bundle.File
			progress := isTerminal(a.stderr)
			for i := 0; i < set.Len(); i++ {
				f := set.Facts(i)
				doc := set.Document(i, meta)
				paths := map[string]string{}
				base := strings.NewReplacer(":", "_", "/", "_").Replace(f.Name + "-" + f.EVR() + "." + f.Arch)
				for _, format := range fs {
					var buf bytes.Buffer
					if err := sbom.Write(&buf, doc, format); err != nil {
						return fmt.Errorf("SBOM of %s: %w", base, err)
					}
					p := "sbom/" + string(format) + "/" + base + format.Ext()
					files = append(files, bundle.File{Path: p, Data: buf.Bytes()})
					paths[string(format)] = p
				}
				index.Packages[bundle.IndexKey(f.Name, f.EVR(), f.Arch)] = bundle.IndexEntry{SHA256: f.SHA256, Supplier: vendor, Files: paths}
				if progress {
					fmt.Fprintf(a.stderr, "\r\033[KSBOMs %d/%d", i+1, set.Len())
				}
			}
			if progress {
				fmt.Fprintln(a.stderr)
			}
			idx, _ := json.MarshalIndent(index, "", " ")
			files = append(files, bundle.File{Path: bundle.IndexPath, Data: idx})
			files = append(files, bundle.File{Path: "README.txt", Data: []byte(fmt.Sprintf(
				"enmei companion disk: SBOMs of %s, publication %d (%d packages).\nUse it with: enmei sbom --offline PATH\nMANIFEST lists every file with its SHA-256; MANIFEST.asc is its signature by the key in KEYS/.\n",
				repo.ID, pub.ID, set.Len()))})
			pubKey, err := key.ArmoredPublic()
			if err != nil {
				return err
			}
			err = bundle.Create(out, bundle.Contents{Label: "ENMEI_" + repo.ID, Files: files, PublicKey: pubKey},
				func(m []byte) ([]byte, error) { return key.DetachSignArmored(bytes.NewReader(m)) })
			if err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"repo": repo.ID, "publication": pub.ID, "packages": set.Len(), "files": len(files), "out": out})
			}
			fmt.Fprintf(a.stderr, "companion disk %s: SBOMs of %d packages of %s (publication %d), signed by %s\n",
				out, set.Len(), repo.ID, pub.ID, sign.FormatFingerprint(key.Fingerprint()))
			return nil
		},
	}
	f := create.Flags()
	f.StringVar(&out, "out", "", "ISO file to write")
	f.Int64Var(&pubID, "publication", 0, "publication ID (default: the current one)")
	var all []string
	for _, x := range sbom.Formats() {
		all = append(all, string(x))
	}
	f.StringVar(&formats, "formats", strings.Join(all, ","), "SBOM formats to put on the disk")
	create.MarkFlagRequired("out")
	cmd.AddCommand(create)
	return cmd
}
