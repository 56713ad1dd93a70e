package advisory

import (
	"bytes"
	"encoding/xml"
	"path"
)

// updateinfo.xml as createrepo_c/modifyrepo write it and dnf reads it.
type uiUpdates struct {
	XMLName xml.Name   `xml:"updates"`
	Updates []uiUpdate `xml:"update"`
}

type uiUpdate struct {
	From        string        `xml:"from,attr"`
	Status      string        `xml:"status,attr"`
	Type        string        `xml:"type,attr"`
	Version     string        `xml:"version,attr"`
	ID          string        `xml:"id"`
	Title       string        `xml:"title"`
	Issued      uiDate        `xml:"issued"`
	Updated     uiDate        `xml:"updated"`
	Rights      string        `xml:"rights,omitempty"`
	Release     string        `xml:"release,omitempty"`
	Severity    string        `xml:"severity,omitempty"`
	Summary     string        `xml:"summary,omitempty"`
	Description string        `xml:"description"`
	References  []uiReference `xml:"references>reference"`
	Collection  uiCollection  `xml:"pkglist>collection"`
}

type uiDate struct {
	Date string `xml:"date,attr"`
}

type uiReference struct {
	Href  string `xml:"href,attr"`
	ID    string `xml:"id,attr,omitempty"`
	Type  string `xml:"type,attr"`
	Title string `xml:"title,attr,omitempty"`
}

type uiCollection struct {
	Short    string      `xml:"short,attr"`
	Name     string      `xml:"name"`
	Packages []uiPackage `xml:"package"`
}

type uiPackage struct {
	Name     string `xml:"name,attr"`
	Version  string `xml:"version,attr"`
	Release  string `xml:"release,attr"`
	Epoch    string `xml:"epoch,attr"`
	Arch     string `xml:"arch,attr"`
	Src      string `xml:"src,attr,omitempty"`
	Filename string `xml:"filename"`
}

// UpdateinfoOptions describe the repository an updateinfo is for.
type UpdateinfoOptions struct {
	Repo        string // only this repository's packages are listed
	Product     string // collection short name
	ProductName string // collection and release name
	From        string // the issuer, e.g. the vendor's security e-mail
	// CVEURL makes a CVE reference's link (e.g. the tracker's CVE page).
	CVEURL func(cve string) string
	// Lang is the language of titles and descriptions ("en" or "ja").
	Lang string
}

// Updateinfo renders the released advisories that have packages in
// o.Repo as updateinfo.xml; nil when there are none. Each advisory lists
// only that repository's packages, so dnf never offers one it cannot find.
func Updateinfo(advs []Advisory, o UpdateinfoOptions) ([]byte, error) {
	doc := uiUpdates{}
	for _, a := range advs {
		var pkgs []uiPackage
		for _, p := range a.Packages {
			if p.Repo != o.Repo || p.Format != "rpm" {
				continue
			}
			epoch := p.Epoch
			if epoch == "" {
				epoch = "0"
			}
			pkgs = append(pkgs, uiPackage{Name: p.Name, Version: p.Version, Release: p.Release, Epoch: epoch, Arch: p.Arch,
				Filename: path.Base(p.Name + "-" + p.Version + "-" + p.Release + "." + p.Arch + ".rpm")})
		}
		if len(pkgs) == 0 || a.Released.IsZero() {
			continue
		}
		u := uiUpdate{From: o.From, Status: "stable", Type: a.Type, Version: "2", ID: a.ID,
			Title: a.Title.In(o.Lang), Issued: uiDate{a.Issued + " 00:00:00"}, Updated: uiDate{a.Updated + " 00:00:00"},
			Release: o.ProductName, Severity: a.Severity, Summary: a.Title.In(o.Lang), Description: a.Description.In(o.Lang),
			Collection: uiCollection{Short: o.Product, Name: o.ProductName, Packages: pkgs}}
		for _, c := range a.CVEs {
			href := "https://www.cve.org/CVERecord?id=" + c.ID
			if o.CVEURL != nil {
				href = o.CVEURL(c.ID)
			}
			u.References = append(u.References, uiReference{Href: href, ID: c.ID, Type: "cve", Title: c.ID})
		}
		for _, r := range a.References {
			typ := r.Type
			if typ != "bugzilla" && typ != "cve" && typ != "self" {
				typ = "other"
			}
			u.References = append(u.References, uiReference{Href: r.URL, Type: typ, Title: r.Title})
		}
		doc.Updates = append(doc.Updates, u)
	}
	if len(doc.Updates) == 0 {
		return nil, nil
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	b.WriteString("\n")
	return b.Bytes(), nil
}
