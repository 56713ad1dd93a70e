package web

import (
	"cmp"
	"context"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/enmei-project/enmei/internal/bundle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/sbom"
	"github.com/enmei-project/enmei/internal/sbomapi"
	"github.com/enmei-project/enmei/internal/store"
)

// The SBOM pages: a customer whose browser holds the contract's client
// certificate browses the packages of its products, downloads any
// package's SBOM in every format, and downloads the companion disk. The
// certificate is the login: each request is checked like an API call (the
// contract's current, unrevoked certificate, the contract in force now),
// so there is no session to steal or to outlive a revocation.

// SBOMService is what the SBOM pages need (sbomapi.API).
type SBOMService interface {
	Authenticate(r *http.Request) (store.Contract, error)
	Catalog(ctx context.Context, c store.Contract) ([]sbomapi.RepoPackages, error)
	Document(ctx context.Context, c store.Contract, ref sbomapi.PackageRef, f sbom.Format) (sbomapi.Found, error)
	Disk(ctx context.Context, c store.Contract, repoID string) (bundle.Offered, io.ReadSeekCloser, error)
}

// sbomPageLimit bounds the packages listed per repository; a search
// narrows the list.
const sbomPageLimit = 200

func (p *Portal) sbomRoutes(page func(string, http.HandlerFunc)) {
	page("GET /sbom", p.sbomPage)
	page("GET /sbom/packages/{name}/{evr}/{arch}", p.sbomDownload)
	page("GET /sbom/disk/{repo}", p.sbomDisk)
}

// sbomClient authenticates the request by its client certificate; on
// failure it renders a page that says why and what to do, and returns false.
func (p *Portal) sbomClient(w http.ResponseWriter, r *http.Request) (store.Contract, bool) {
	if p.cfg.SBOM == nil {
		http.NotFound(w, r)
		return store.Contract{}, false
	}
	if r.TLS == nil {
		p.sbomRefuse(w, r, http.StatusForbidden, "sbom.https_only", "")
		return store.Contract{}, false
	}
	c, err := p.cfg.SBOM.Authenticate(r)
	if err == nil {
		return c, true
	}
	switch errs.KindOf(err) {
	case errs.Unauthorized:
		p.sbomRefuse(w, r, http.StatusUnauthorized, "sbom.no_certificate", "")
	case errs.Forbidden, errs.Entitlement:
		p.sbomRefuse(w, r, http.StatusForbidden, "sbom.refused", err.Error())
	default:
		p.fail(w, r, nil, err)
	}
	return store.Contract{}, false
}

type sbomRefusal struct{ Key, Reason string }

func (p *Portal) sbomRefuse(w http.ResponseWriter, r *http.Request, status int, key, reason string) {
	p.render(w, r, status, "sbom_refused", &view{Title: "sbom.title", Data: sbomRefusal{Key: key, Reason: reason}})
}

type sbomView struct {
	SupportID, Customer string
	Query               string
	Formats             []sbom.Format
	Repos               []sbomRepoView
}

type sbomRepoView struct {
	sbomapi.RepoPackages
	Shown   []sbomapi.PackageRef
	Matched int
}

func (p *Portal) sbomPage(w http.ResponseWriter, r *http.Request) {
	c, ok := p.sbomClient(w, r)
	if !ok {
		return
	}
	repos, err := p.cfg.SBOM.Catalog(r.Context(), c)
	if err != nil {
		p.fail(w, r, nil, err)
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	d := sbomView{SupportID: c.SupportID, Customer: c.Customer, Query: q, Formats: sbom.Formats()}
	for _, rp := range repos {
		rv := sbomRepoView{RepoPackages: rp}
		for _, ref := range rp.Packages {
			if q != "" && !strings.Contains(strings.ToLower(ref.Name), strings.ToLower(q)) {
				continue
			}
			rv.Matched++
			if len(rv.Shown) < sbomPageLimit {
				rv.Shown = append(rv.Shown, ref)
			}
		}
		d.Repos = append(d.Repos, rv)
	}
	p.render(w, r, http.StatusOK, "sbom", &view{Title: "sbom.title", Data: d})
}

func (p *Portal) sbomDownload(w http.ResponseWriter, r *http.Request) {
	c, ok := p.sbomClient(w, r)
	if !ok {
		return
	}
	f, err := sbom.ParseFormat(cmp.Or(r.URL.Query().Get("format"), string(sbom.SPDXJSON)))
	if err != nil {
		p.fail(w, r, nil, errs.E(errs.Invalid, "%v", err))
		return
	}
	ref := sbomapi.PackageRef{Name: r.PathValue("name"), EVR: r.PathValue("evr"), Arch: r.PathValue("arch")}
	found, err := p.cfg.SBOM.Document(r.Context(), c, ref, f)
	if err != nil {
		p.fail(w, r, nil, err)
		return
	}
	sbomapi.WriteDocument(w, found, f)
}

func (p *Portal) sbomDisk(w http.ResponseWriter, r *http.Request) {
	c, ok := p.sbomClient(w, r)
	if !ok {
		return
	}
	d, rc, err := p.cfg.SBOM.Disk(r.Context(), c, r.PathValue("repo"))
	if err != nil {
		p.fail(w, r, nil, err)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/x-iso9660-image")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": d.FileName()}))
	// The content never changes under its address: the ETag lets a
	// broken download resume with Range and If-Range.
	w.Header().Set("ETag", strconv.Quote(d.SHA256))
	http.ServeContent(w, r, "", d.CreatedAt, rc)
}

// sbomHref is the download link of one package's SBOM in format f.
func sbomHref(ref sbomapi.PackageRef, f sbom.Format) string {
	return "/sbom/packages/" + url.PathEscape(ref.Name) + "/" + url.PathEscape(ref.EVR) + "/" + url.PathEscape(ref.Arch) + "?format=" + url.QueryEscape(string(f))
}
