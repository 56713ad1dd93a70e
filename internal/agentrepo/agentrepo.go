// Package agentrepo is the agent's own public repository: the vendor
// publishes the packages of enmei itself (`enmeid agent publish`) into two
// reserved repositories, one for dnf/yum and one for apt, which enmeid serves
// under /agent/ without credentials, together with /install.sh, a script that
// sets that repository and its signing key up on a host and installs the
// agent. Hosts then update the agent with their package manager from the same
// repository. The repositories belong to a reserved product that is never
// sold: no licence key, seat or contract refers to it.
package agentrepo

import (
	"bytes"
	"context"
	_ "embed"
	"io"
	"os"
	"strings"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/pkgfmt/deb"
	"github.com/enmei-project/enmei/internal/pkgfmt/rpm"
	"github.com/enmei-project/enmei/internal/shellscript"
	"github.com/enmei-project/enmei/internal/sign"
	"github.com/enmei-project/enmei/internal/store"
)

const (
	// ProductID is the reserved product the agent's repositories belong to.
	ProductID = "enmei-agent"
	// Format marks the reserved product: not a format packages are sold in.
	Format = store.FormatAgent
	// RPMRepo and DebRepo are the reserved repositories' IDs.
	RPMRepo = "enmei-agent-rpm"
	DebRepo = "enmei-agent-deb"
	// Suite and Component are the apt repository's.
	Suite     = "stable"
	Component = "main"
	// Package is the agent's package name; the repositories take only it
	// and packages named enmei-… (companions such as an SELinux policy).
	Package = "enmei"
)

// Store is what Ensure needs.
type Store interface {
	AddProduct(ctx context.Context, p store.Product) error
	Product(ctx context.Context, id string) (store.Product, error)
	AddRepo(ctx context.Context, r store.Repo) error
	Repo(ctx context.Context, id string) (store.Repo, error)
}

// Repos are the reserved repositories, rpm first.
var Repos = []store.Repo{
	{ID: RPMRepo, ProductID: ProductID, Format: "rpm"},
	{ID: DebRepo, ProductID: ProductID, Format: "deb", Suite: Suite, Component: Component},
}

// Ensure creates the reserved product and repositories when they are not
// there yet, and refuses a product of the reserved name that a vendor made
// for something else.
func Ensure(ctx context.Context, st Store) error {
	err := st.AddProduct(ctx, store.Product{ID: ProductID, Name: "enmei agent (public)", Format: Format})
	if errs.Is(err, errs.Exists) {
		p, perr := st.Product(ctx, ProductID)
		if perr != nil {
			return perr
		}
		if p.Format != Format {
			return errs.E(errs.Exists, "product %s exists as a %s product, but the name is reserved for the agent's public repository: the agent cannot be published on this server until that product is renamed", ProductID, p.Format)
		}
	} else if err != nil {
		return err
	}
	for _, r := range Repos {
		err := st.AddRepo(ctx, r)
		if errs.Is(err, errs.Exists) {
			got, gerr := st.Repo(ctx, r.ID)
			if gerr != nil {
				return gerr
			}
			if got.ProductID != ProductID {
				return errs.E(errs.Exists, "repository %s belongs to product %s, but the name is reserved for the agent's public repository", r.ID, got.ProductID)
			}
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Reserved reports whether a product is the agent's reserved one, which is
// never sold and takes no repositories but its own.
func Reserved(p store.Product) bool { return p.ID == ProductID || p.Format == Format }

// RepoFor maps the first element of a path under /agent/ to a repository.
func RepoFor(kind string) (string, bool) {
	switch kind {
	case "rpm":
		return RPMRepo, true
	case "deb":
		return DebRepo, true
	}
	return "", false
}

// Sort reads each file's package name and sorts the files into the
// repositories that take them. Anything but an RPM or a Debian package of
// the agent is refused before anything is published: the repository is
// public, so a product's package put there by mistake would be given away.
func Sort(paths []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, p := range paths {
		format, name, err := inspect(p)
		if err != nil {
			return nil, err
		}
		if name != Package && !strings.HasPrefix(name, Package+"-") {
			return nil, errs.E(errs.Invalid, "%s is the package %s, not the agent's: the agent's repository is public and takes only packages named %s or %s-…; publish other packages into a product's repository with enmeid publish", p, name, Package, Package)
		}
		repo := RPMRepo
		if format == "deb" {
			repo = DebRepo
		}
		out[repo] = append(out[repo], p)
	}
	return out, nil
}

func inspect(p string) (format, name string, err error) {
	f, err := os.Open(p)
	if err != nil {
		return "", "", errs.E(errs.Invalid, "cannot read %s: %v", p, err)
	}
	defer f.Close()
	magic := make([]byte, 8)
	if _, err := io.ReadFull(f, magic); err != nil {
		return "", "", errs.E(errs.Invalid, "%s is neither an RPM nor a Debian package (too short)", p)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", "", err
	}
	switch {
	case bytes.HasPrefix(magic, []byte{0xed, 0xab, 0xee, 0xdb}):
		// Reading the header is all that is wanted; the signed copy is
		// made by the publish that follows.
		h, err := rpm.ReadHeader(f)
		if err != nil {
			return "", "", errs.E(errs.Invalid, "%s is not a usable RPM: %v", p, err)
		}
		return "rpm", h.Name, nil
	case bytes.Equal(magic, []byte("!<arch>\n")):
		info, err := deb.Inspect(f)
		if err != nil {
			return "", "", errs.E(errs.Invalid, "%s is not a usable Debian package: %v", p, err)
		}
		return "deb", info.Package, nil
	}
	return "", "", errs.E(errs.Invalid, "%s is neither an RPM nor a Debian package", p)
}

//go:embed install.sh
var script string

var scriptTmpl = shellscript.Parse("install.sh", script)

// Script returns /install.sh for a server reachable at publicURL whose
// repositories are signed by key.
func Script(publicURL string, key *sign.PublicKey) ([]byte, error) {
	return shellscript.Render(scriptTmpl, publicURL, key, map[string]string{
		"Suite":     Suite,
		"Component": Component,
		"Package":   Package,
	})
}

// Unpublished is /install.sh before the vendor published the agent: a
// script that says so, so `curl … | sh` tells the user rather than failing
// half-way.
const Unpublished = `#!/bin/sh
echo "install.sh: this server does not offer the enmei agent yet (its vendor publishes it with: enmeid agent publish FILE…); ask your vendor, or install the agent's package by hand" >&2
exit 1
`
