package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/enmei-project/enmei/internal/blob"
	"github.com/enmei-project/enmei/internal/bundle"
	"github.com/enmei-project/enmei/internal/bytesize"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/manifest"
	"github.com/enmei-project/enmei/internal/pkgfmt/deb"
	"github.com/enmei-project/enmei/internal/pkgfmt/rpm"
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
	var agents []string
	var withPackages bool
	create := &cobra.Command{
		Use:   "create REPO [--out FILE.iso] [--publication ID] [--formats F,…] [--agent PKG]… [--with-packages]",
		Short: "write an ISO companion disk with the SBOM of every package of a publication, the agent's packages, the signing key and a signed MANIFEST (with --with-packages also the publication itself, to install from), and offer it on the portal",
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
			if withPackages && repo.Format != "rpm" && repo.Format != "deb" {
				return errs.E(errs.Invalid, "--with-packages puts an rpm or deb repository on the disk to install from, and %s is a %s repository", repo.ID, repo.Format)
			}
			prod, err := a.st.Product(ctx, repo.ProductID)
			if err != nil {
				return err
			}
			// The publication itself, checked blob by blob before any
			// work is done: it is streamed into the image from the store.
			var repoFiles []bundle.File
			var repoSize int64
			packageFiles := 0
			if withPackages {
				m, err := manifest.Load(ctx, a.blobs, pub.Manifest)
				if err != nil {
					return err
				}
				repoFiles = bundle.PublicationFiles(m, func(sum string) (io.ReadCloser, error) {
					r, _, err := a.blobs.Open(ctx, sum)
					if err != nil {
						return nil, err
					}
					return struct {
						io.Reader
						io.Closer
					}{blob.ContextReader(ctx, r), r}, nil
				})
				g, gctx := errgroup.WithContext(ctx)
				g.SetLimit(16) // an S3 store takes a round trip per blob
				for _, f := range repoFiles {
					g.Go(func() error { return a.checkPublicationBlob(gctx, repo.ID, pub.ID, f) })
					repoSize += f.Size
				}
				if err := g.Wait(); err != nil {
					return err
				}
				packageFiles = len(m.Packages)
			}
			key, err := a.key(ctx)
			if err != nil {
				return err
			}
			agentFiles, err := readAgentPackages(agents, key)
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
			var agentNames []string
			for _, f := range agentFiles {
				files = append(files, f)
				agentNames = append(agentNames, path.Base(f.Path))
			}
			idx, _ := json.MarshalIndent(index, "", " ")
			files = append(files, bundle.File{Path: bundle.IndexPath, Data: idx})
			what, install := "SBOMs", ""
			if withPackages {
				guide := bundle.InstallGuide{Repo: repo.ID, Format: repo.Format, Publication: pub.ID, Suite: repo.Suite, Component: repo.Component}
				// A mirror's packages carry the distribution's signatures:
				// dnf needs its key beside the vendor's (apt checks only
				// the vendor's InRelease).
				if repo.Format == "rpm" && repo.Mirror != nil && strings.TrimSpace(repo.Mirror.Key) != "" {
					guide.Upstream = true
					files = append(files, bundle.File{Path: bundle.UpstreamKeyPath(repo.ID), Data: []byte(strings.TrimRight(repo.Mirror.Key, "\n") + "\n")})
				}
				what, install = "packages and SBOMs", guide.Readme()
				files = append(files, repoFiles...)
			}
			files = append(files, bundle.File{Path: "README.txt", Data: []byte(fmt.Sprintf(
				"enmei companion disk: %s of %s, publication %d (%d packages).\nUse it with: enmei sbom --offline PATH\nMANIFEST lists every file with its SHA-256; MANIFEST.asc is its signature by the key in KEYS/.\n%s%s",
				what, repo.ID, pub.ID, set.Len(), agentReadme(agentNames), install))})
			pubKey, err := key.ArmoredPublic()
			if err != nil {
				return err
			}
			target := out
			if target == "" {
				// Only for the portal: made in the staging directory, which
				// gc cleans if this run dies.
				if err := os.MkdirAll(a.stagingDir(), 0o700); err != nil {
					return err
				}
				target = filepath.Join(a.stagingDir(), fmt.Sprintf("enmei-publish-disk-%s-%d.iso", repo.ID, os.Getpid()))
				defer os.Remove(target)
			}
			contents := bundle.Contents{Label: "ENMEI_" + repo.ID, Files: files, PublicKey: pubKey}
			if progress && withPackages {
				contents.Progress = copyProgress(a.stderr, a.now)
			}
			err = bundle.Create(target, contents,
				func(m []byte) ([]byte, error) { return key.DetachSignArmored(bytes.NewReader(m)) })
			if progress && withPackages {
				fmt.Fprintln(a.stderr)
			}
			if err != nil {
				return err
			}
			offer, err := a.offerDisk(ctx, target, bundle.Offered{Repo: repo.ID, Publication: pub.ID, Packages: set.Len(), Agent: agentNames,
				WithPackages: withPackages, CreatedAt: a.now().UTC()})
			if err != nil {
				return err
			}
			if a.cfg.JSON {
				return a.printJSON(map[string]any{"repo": repo.ID, "publication": pub.ID, "packages": set.Len(), "files": len(files), "out": out,
					"sha256": offer.SHA256, "size": offer.Size, "agent": agentNames, "with_packages": withPackages, "package_files": packageFiles})
			}
			where := out
			if where == "" {
				where = "(not written to a file)"
			}
			published := ""
			if withPackages {
				published = fmt.Sprintf(", the publication itself under %s/ (%d package files, %d files in all, %s)", bundle.RepoDir, packageFiles, len(repoFiles), bytesize.About(repoSize))
			}
			fmt.Fprintf(a.stderr, "companion disk %s: SBOMs of %d packages of %s (publication %d)%s and %d agent packages, signed by %s; customers download it from the portal at %s/sbom\n",
				where, set.Len(), repo.ID, pub.ID, published, len(agentNames), sign.FormatFingerprint(key.Fingerprint()), a.publicURL())
			return nil
		},
	}
	f := create.Flags()
	f.StringVar(&out, "out", "", "also write the ISO to this file")
	f.StringArrayVar(&agents, "agent", nil, "an enmei agent package (.rpm or .deb) to put on the disk under agent/ (repeatable)")
	f.Int64Var(&pubID, "publication", 0, "publication ID (default: the current one)")
	f.BoolVar(&withPackages, "with-packages", false, "also put the publication itself on the disk under repo/ (every package and the signed metadata, as served), so hosts install from the disk with dnf, yum or apt")
	var all []string
	for _, x := range sbom.Formats() {
		all = append(all, string(x))
	}
	f.StringVar(&formats, "formats", strings.Join(all, ","), "SBOM formats to put on the disk")
	cmd.AddCommand(create)
	return cmd
}

// readAgentPackages reads the agent's packages for the disk: an RPM is
// signed with the repositories' key on the way (so it installs with
// gpgcheck from the disk), a .deb is checked whole; anything else is
// refused before any work is done.
func readAgentPackages(paths []string, key *sign.Key) ([]bundle.File, error) {
	var out []bundle.File
	seen := map[string]bool{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, errs.E(errs.Invalid, "cannot read the agent package %s: %v", p, err)
		}
		var name string
		switch {
		case bytes.HasPrefix(data, []byte{0xed, 0xab, 0xee, 0xdb}):
			var signed bytes.Buffer
			h, err := rpm.Sign(bytes.NewReader(data), &signed, key)
			if err != nil {
				return nil, errs.E(errs.Invalid, "the agent package %s is not a usable RPM: %v", p, err)
			}
			name, data = h.Filename(), signed.Bytes()
		case bytes.HasPrefix(data, []byte("!<arch>\n")):
			info, err := deb.Inspect(bytes.NewReader(data))
			if err != nil {
				return nil, errs.E(errs.Invalid, "the agent package %s is not a usable Debian package: %v", p, err)
			}
			name = info.Filename()
		default:
			return nil, errs.E(errs.Invalid, "the agent package %s is neither an RPM nor a Debian package", p)
		}
		if seen[name] {
			return nil, errs.E(errs.Invalid, "the agent package %s is given twice (--agent %s)", name, p)
		}
		seen[name] = true
		out = append(out, bundle.File{Path: "agent/" + name, Data: data})
	}
	return out, nil
}

func agentReadme(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return "agent/ holds the enmei agent's packages: install the one for the host (rpm -i or dpkg -i) before using the disk.\n"
}

// checkPublicationBlob makes sure the blob behind a file of the publication
// is in the store with the size the manifest gives, before a disk is made.
func (a *app) checkPublicationBlob(ctx context.Context, repo string, pub int64, f bundle.File) error {
	served := strings.TrimPrefix(f.Path, bundle.RepoDir+"/")
	info, err := a.blobs.Stat(ctx, f.SHA256)
	if errs.Is(err, errs.NotFound) {
		return errs.E(errs.NotFound, "%s of publication %d of %s (blob %s) is missing from the blob store, so no disk was written: restore the blob store from a backup, or publish the repository again", served, pub, repo, f.SHA256)
	}
	if err != nil {
		return fmt.Errorf("checking %s of publication %d of %s in the blob store: %w", served, pub, repo, err)
	}
	if info.Size != f.Size {
		return errs.E(errs.Invalid, "%s of publication %d of %s (blob %s) is %d bytes in the blob store, not the %d its manifest gives, so no disk was written: the blob store is damaged", served, pub, repo, f.SHA256, info.Size, f.Size)
	}
	return nil
}

// copyProgress reports on a terminal how much of the publication has been
// copied onto the disk, at most four times a second.
func copyProgress(w io.Writer, now func() time.Time) func(done, total int64) {
	var last time.Time
	return func(done, total int64) {
		if t := now(); done == total || t.Sub(last) >= 250*time.Millisecond {
			last = t
			fmt.Fprintf(w, "\r\033[Kpublication %s of %s", bytesize.About(done), bytesize.About(total))
		}
	}
}

// offerDisk stores the ISO at path in the blob store and records it as the
// disk the portal offers for o.Repo.
func (a *app) offerDisk(ctx context.Context, path string, o bundle.Offered) (bundle.Offered, error) {
	f, err := os.Open(path)
	if err != nil {
		return o, fmt.Errorf("storing the companion disk: %w", err)
	}
	defer f.Close()
	info, err := a.blobs.Put(ctx, f)
	if err != nil {
		return o, fmt.Errorf("storing the companion disk: %w", err)
	}
	o.SHA256, o.Size = info.Sum, info.Size
	rec, err := o.Encode()
	if err != nil {
		return o, err
	}
	if err := a.st.PutSetting(ctx, bundle.OfferSetting(o.Repo), rec); err != nil {
		return o, fmt.Errorf("recording the companion disk: %w", err)
	}
	return o, nil
}
