package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/enmei-project/enmei/internal/bundle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/inventory"
	"github.com/enmei-project/enmei/internal/pki"
	"github.com/enmei-project/enmei/internal/sbom"
	"github.com/enmei-project/enmei/internal/sbomapi"
	"github.com/enmei-project/enmei/internal/sign"
	"github.com/enmei-project/enmei/internal/version"
)

// Where cert import keeps the client certificate, and sbom its cache.
const (
	clientCertPath = "/etc/enmei/client.crt"
	clientKeyPath  = "/etc/enmei/client.key"
	clientCAPath   = "/etc/enmei/client-ca.pem"
	sbomCacheDir   = "/var/cache/enmei/sbom"
)

func (a *app) certCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "cert", Short: "the contract's client certificate (SBOM service)"}
	var password string
	imp := &cobra.Command{
		Use:   "import FILE.p12 --password P",
		Short: "store the client certificate and key (mode 0600) under /etc/enmei and trust the CA it carries",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := os.ReadFile(args[0])
			if err != nil {
				return errs.E(errs.Invalid, "cannot read %s: %v", args[0], err)
			}
			key, cert, chain, err := pkcs12.DecodeChain(data, password)
			if err != nil {
				return errs.E(errs.Invalid, "%s cannot be opened with this password (%v): check the password chosen at download", args[0], err)
			}
			sid, err := pki.SupportIDOf(cert)
			if err != nil {
				return errs.E(errs.Invalid, "%s holds no enmei client certificate: %v", args[0], err)
			}
			if len(chain) == 0 {
				return errs.E(errs.Invalid, "%s carries no CA certificate: download it again from the vendor's portal", args[0])
			}
			der, err := x509.MarshalPKCS8PrivateKey(key)
			if err != nil {
				return fmt.Errorf("storing the key: %w", err)
			}
			var cas []byte
			for _, c := range chain {
				cas = append(cas, pki.CertificatePEM(c.Raw)...)
			}
			if err := writeFiles(a.root, []file{
				{clientCertPath, pki.CertificatePEM(cert.Raw), 0o600},
				{clientKeyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600},
				{clientCAPath, cas, 0o644},
			}); err != nil {
				return err
			}
			if a.json {
				return json.NewEncoder(a.stdout).Encode(map[string]any{"support_id": sid, "serial": cert.SerialNumber.Text(16), "not_after": cert.NotAfter.UTC()})
			}
			fmt.Fprintf(a.stderr, "client certificate of %s (serial %s, valid until %s) stored in %s\n", sid, cert.SerialNumber.Text(16),
				cert.NotAfter.Format("2006-01-02"), filepath.Dir(clientCertPath))
			return nil
		},
	}
	imp.Flags().StringVar(&password, "password", "", "the PKCS#12 password chosen at download")
	imp.MarkFlagRequired("password")
	cmd.AddCommand(imp)
	return cmd
}

type sbomOptions struct {
	server, format, output, proxy string
	offline, fingerprint          string
	allowMissing                  bool
}

func (a *app) sbomCommand() *cobra.Command {
	var o sbomOptions
	cmd := &cobra.Command{
		Use:   "sbom [--server URL] [--format F] [--output FILE]",
		Short: "write this host's SBOM: the installed packages, with the vendor's SBOM data for the ones it publishes",
		Long: `Read the installed packages (rpm database: SQLite, BerkeleyDB or NDB; or the dpkg
status), ask the server for their SBOMs with the client certificate (enmei cert
import), keep them under /var/cache/enmei/sbom, and write one SBOM of the host:
the OS as the root component and every installed package. Packages the vendor
does not publish are listed from local data, marked not vendor-verified, and
named on stderr. Formats: ` + strings.Join(formatNames(), ", ") + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.hostSBOM(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "", "the enmei server (default: the one in /etc/enmei/host.json)")
	f.StringVar(&o.format, "format", string(sbom.SPDXJSON), "output format")
	f.StringVar(&o.output, "output", "", "write to FILE instead of standard output")
	f.StringVar(&o.proxy, "proxy", "", "HTTP proxy (default: HTTPS_PROXY / HTTP_PROXY)")
	f.StringVar(&o.offline, "offline", "", "use a companion disk (ISO file or mounted directory) instead of the server")
	f.StringVar(&o.fingerprint, "fingerprint", "", "with --offline: trust the disk's key if it has this fingerprint (from the support certificate)")
	f.BoolVar(&o.allowMissing, "allow-missing", false, "with --offline: succeed although some installed packages are not on the disk")
	return cmd
}

func formatNames() []string {
	var out []string
	for _, f := range sbom.Formats() {
		out = append(out, string(f))
	}
	return out
}

func (a *app) hostSBOM(ctx context.Context, o sbomOptions) error {
	format, err := sbom.ParseFormat(o.format)
	if err != nil {
		return usageErr("--format: %v", err)
	}
	if o.offline == "" && (o.fingerprint != "" || o.allowMissing) {
		return usageErr("--fingerprint and --allow-missing go with --offline PATH")
	}
	st, stErr := LoadState(a.root)
	server := o.server
	if server == "" && o.offline == "" {
		if stErr != nil {
			return usageErr("pass --server URL: this host is not registered, so there is no server to default to")
		}
		server = st.Server
	}
	osr, err := readOSRelease(a.root)
	if err != nil {
		return err
	}
	pkgs, db, err := inventory.Read(ctx, a.root)
	if err != nil {
		return err
	}
	var known map[sbomapi.PackageRef]cached
	if o.offline != "" {
		var trusted [][]byte
		if stErr == nil && st.SigningKey != "" {
			trusted = append(trusted, []byte(st.SigningKey))
		}
		if known, err = a.offlineSBOMs(o, trusted, pkgs); err != nil {
			return err
		}
		if server == "" {
			server = "https://offline.invalid"
		}
	} else {
		c, err := a.sbomClient(server, o.proxy)
		if err != nil {
			return err
		}
		defer c.close()
		if known, err = a.fetchSBOMs(ctx, c, pkgs); err != nil {
			return err
		}
	}
	doc := hostDocument(osr, pkgs, known, hostname(a.root), server)
	var missing []string
	for _, p := range pkgs {
		if _, ok := known[refOf(p)]; !ok {
			missing = append(missing, p.Name+"-"+p.EVR()+"."+p.Arch)
		}
	}
	if o.offline != "" && len(missing) > 0 && !o.allowMissing {
		return errs.E(errs.Other, "%d installed packages are not on the companion disk: %s: use a newer disk, or pass --allow-missing to list them as not vendor-verified",
			len(missing), strings.Join(missing, ", "))
	}
	var buf bytes.Buffer
	if err := sbom.Write(&buf, doc, format); err != nil {
		return fmt.Errorf("writing the host SBOM: %w", err)
	}
	if len(missing) > 0 {
		fmt.Fprintf(a.stderr, "enmei: %d of %d installed packages are not published by the vendor and are listed as not vendor-verified: %s\n",
			len(missing), len(pkgs), strings.Join(missing, ", "))
	}
	if o.output == "" {
		_, err := a.stdout.Write(buf.Bytes())
		return err
	}
	if err := os.WriteFile(o.output, buf.Bytes(), 0o644); err != nil {
		return errs.E(errs.Invalid, "cannot write %s: %v", o.output, err)
	}
	fmt.Fprintf(a.stderr, "host SBOM (%s, %d packages from %s, %d vendor-verified) written to %s\n", format, len(pkgs), db.Kind, len(pkgs)-len(missing), o.output)
	return nil
}

// sbomClient is an API client that presents the imported client
// certificate and trusts the CA it came with.
func (a *app) sbomClient(server, proxyFlag string) (*client, error) {
	certFile, keyFile := filepath.Join(a.root, clientCertPath), filepath.Join(a.root, clientKeyPath)
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, errs.E(errs.Entitlement, "no client certificate under %s: import the one from the vendor's portal with enmei cert import FILE.p12 --password P", filepath.Dir(certFile))
	}
	c, err := newClient(server, "", proxyFor(server, proxyFlag, a.env))
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, p := range []string{clientCAPath, caPath} {
		if b, err := os.ReadFile(filepath.Join(a.root, p)); err == nil {
			pool.AppendCertsFromPEM(b)
		}
	}
	tr := c.http.Transport.(*http.Transport)
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	return c, nil
}

// cached is what the agent keeps of each package the server knew.
type cached struct {
	Product  string `json:"product"`
	Supplier string `json:"supplier"`
	SHA256   string `json:"sha256"`
}

func refOf(p inventory.Package) sbomapi.PackageRef {
	return sbomapi.PackageRef{Name: p.Name, EVR: p.EVR(), Arch: p.Arch}
}

// fetchSBOMs asks the server, in batches, for the packages not in the
// cache, stores each SBOM it returns under the cache directory, and returns
// what is known of every package the vendor publishes.
func (a *app) fetchSBOMs(ctx context.Context, c *client, pkgs []inventory.Package) (map[sbomapi.PackageRef]cached, error) {
	dir := filepath.Join(a.root, sbomCacheDir)
	index := filepath.Join(dir, "index.json")
	known := map[string]cached{}
	if b, err := os.ReadFile(index); err == nil {
		json.Unmarshal(b, &known)
	}
	key := func(r sbomapi.PackageRef) string { return r.Name + "-" + r.EVR + "." + r.Arch }
	var ask []sbomapi.PackageRef
	for _, p := range pkgs {
		if _, ok := known[key(refOf(p))]; !ok {
			ask = append(ask, refOf(p))
		}
	}
	if len(ask) == 0 {
		// Everything is cached: still ask once (an empty batch), so a
		// revoked certificate or an ended contract is noticed on every run.
		if _, err := c.send(ctx, http.MethodPost, "/api/v1/sbom/batch", "", "", sbomapi.BatchRequest{Format: string(sbom.SPDXJSON), Packages: []sbomapi.PackageRef{}}); err != nil {
			return nil, err
		}
	}
	progress := isTerminal(a.stderr) && len(ask) > 0
	const chunk = 1000
	for start := 0; start < len(ask); start += chunk {
		part := ask[start:min(start+chunk, len(ask))]
		if progress {
			fmt.Fprintf(a.stderr, "\r\033[Kasking the vendor for SBOMs: %d/%d", start+len(part), len(ask))
		}
		data, err := c.send(ctx, http.MethodPost, "/api/v1/sbom/batch", "", "", sbomapi.BatchRequest{Format: string(sbom.SPDXJSON), Packages: part})
		if err != nil {
			return nil, err
		}
		var resp sbomapi.BatchResponse
		if err := json.Unmarshal(data, &resp); err != nil {
			return nil, fmt.Errorf("reading the server's SBOMs: %w", err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("making the SBOM cache: %w", err)
		}
		for _, s := range resp.SBOMs {
			known[key(s.PackageRef)] = cached{Product: s.Product, Supplier: s.Supplier, SHA256: s.SHA256}
			name := strings.NewReplacer("/", "_", ":", "_").Replace(key(s.PackageRef)) + sbom.SPDXJSON.Ext()
			if err := os.WriteFile(filepath.Join(dir, name), []byte(s.Document), 0o644); err != nil {
				return nil, fmt.Errorf("caching the SBOM of %s: %w", key(s.PackageRef), err)
			}
		}
	}
	if progress {
		fmt.Fprintln(a.stderr)
	}
	if len(ask) > 0 {
		b, _ := json.Marshal(known)
		if err := os.WriteFile(index, b, 0o644); err != nil {
			return nil, fmt.Errorf("caching the SBOM index: %w", err)
		}
	}
	out := map[sbomapi.PackageRef]cached{}
	for _, p := range pkgs {
		if k, ok := known[key(refOf(p))]; ok {
			out[refOf(p)] = k
		}
	}
	return out, nil
}

// hostDocument is the host's SBOM: the OS as root, containing every
// installed package.
func hostDocument(osr OSRelease, pkgs []inventory.Package, known map[sbomapi.PackageRef]cached, host, server string) sbom.Document {
	distro := sbom.Distro{ID: osr.ID, VersionID: osr.VersionID}
	name := osr.PrettyName
	if name == "" {
		name = osr.ID
	}
	root := sbom.Package{Ref: "os:" + osr.ID + "@" + osr.VersionID, Format: sbom.FormatOS, Name: osr.ID, Version: osr.VersionID,
		Distro: distro, Summary: name, Verified: true}
	var out []sbom.Package
	for _, p := range pkgs {
		sp := sbom.Package{Ref: p.Format + ":" + p.Name + "@" + p.EVR() + "." + p.Arch, Format: p.Format, Name: p.Name, Epoch: p.Epoch,
			Version: p.Version, Arch: p.Arch, Distro: distro, SourceRPM: p.SourceRPM, License: p.License, Summary: p.Summary}
		if k, ok := known[refOf(p)]; ok {
			sp.Verified, sp.Supplier, sp.SHA256 = true, k.Supplier, k.SHA256
		}
		for _, f := range p.Files {
			sp.Files = append(sp.Files, sbom.File{Path: f.Path, SHA256: f.SHA256})
		}
		root.DependsOn = append(root.DependsOn, sp.Ref)
		out = append(out, sp)
	}
	sort.Strings(root.DependsOn)
	id := newUUID()
	if host == "" {
		host = osr.ID
	}
	return sbom.Document{Name: "host " + host, Namespace: strings.TrimRight(server, "/") + "/sbom/host/" + id, Serial: "urn:uuid:" + id,
		Created: time.Now(), Author: host, Tool: "enmei-" + version.Get().Version, Root: root, Packages: out}
}

func newUUID() string {
	var b [16]byte
	io.ReadFull(rand.Reader, b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// offlineSBOMs verifies a companion disk — signed by a key the host
// already trusts, or by the disk's own key when its fingerprint is the one
// given — and returns what it holds of the installed packages, copying
// their SBOMs into the cache. It uses no network.
func (a *app) offlineSBOMs(o sbomOptions, trusted [][]byte, pkgs []inventory.Package) (map[sbomapi.PackageRef]cached, error) {
	d, err := bundle.Open(o.offline)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	if o.fingerprint != "" {
		diskKey, err := d.PublicKey()
		if err != nil {
			return nil, err
		}
		pk, err := sign.ReadPublic(diskKey)
		if err != nil {
			return nil, errs.E(errs.Invalid, "the companion disk's key cannot be read: %v", err)
		}
		want := strings.ToUpper(strings.Join(strings.Fields(o.fingerprint), ""))
		if pk.Fingerprint() != want {
			return nil, errs.E(errs.Invalid, "the companion disk's key has fingerprint %s, not %s: do not trust this disk", sign.FormatFingerprint(pk.Fingerprint()), sign.FormatFingerprint(want))
		}
		trusted = append(trusted, diskKey)
	}
	if len(trusted) == 0 {
		return nil, usageErr("this host trusts no signing key yet: pass --fingerprint with the fingerprint printed on your support certificate")
	}
	if _, err := d.Verify(trusted); err != nil {
		return nil, err
	}
	raw, err := d.ReadFile(bundle.IndexPath)
	if err != nil {
		return nil, err
	}
	var index bundle.Index
	if err := json.Unmarshal(raw, &index); err != nil {
		return nil, errs.E(errs.Invalid, "the companion disk's index is damaged: %v", err)
	}
	dir := filepath.Join(a.root, sbomCacheDir)
	out := map[sbomapi.PackageRef]cached{}
	for _, p := range pkgs {
		e, ok := index.Packages[bundle.IndexKey(p.Name, p.EVR(), p.Arch)]
		if !ok {
			continue
		}
		out[refOf(p)] = cached{Product: index.Repo, Supplier: e.Supplier, SHA256: e.SHA256}
		if path, ok := e.Files[string(sbom.SPDXJSON)]; ok {
			if doc, err := d.ReadFile(path); err == nil && os.MkdirAll(dir, 0o755) == nil {
				name := strings.NewReplacer("/", "_", ":", "_").Replace(p.Name+"-"+p.EVR()+"."+p.Arch) + sbom.SPDXJSON.Ext()
				os.WriteFile(filepath.Join(dir, name), doc, 0o644)
			}
		}
	}
	return out, nil
}

// isTerminal reports whether w is a terminal, where progress is shown.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
