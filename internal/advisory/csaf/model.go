package csaf

// The CSAF 2.0 document model, reduced to what enmei writes. Fields are
// declared in the alphabetical order of their JSON names, so encoding/json
// writes sorted keys and a document's bytes depend on its content only.

type document struct {
	Document        meta            `json:"document"`
	ProductTree     *productTree    `json:"product_tree,omitempty"`
	Vulnerabilities []vulnerability `json:"vulnerabilities,omitempty"`
}

type meta struct {
	AggregateSeverity *aggregateSeverity `json:"aggregate_severity,omitempty"`
	Category          string             `json:"category"`
	CSAFVersion       string             `json:"csaf_version"`
	Distribution      distribution       `json:"distribution"`
	Lang              string             `json:"lang"`
	Notes             []note             `json:"notes,omitempty"`
	Publisher         publisher          `json:"publisher"`
	References        []reference        `json:"references,omitempty"`
	Title             string             `json:"title"`
	Tracking          tracking           `json:"tracking"`
}

type aggregateSeverity struct {
	Text string `json:"text"`
}

type distribution struct {
	TLP tlp `json:"tlp"`
}

type tlp struct {
	Label string `json:"label"`
	URL   string `json:"url"`
}

type note struct {
	Category string `json:"category"`
	Text     string `json:"text"`
	Title    string `json:"title,omitempty"`
}

type publisher struct {
	Category       string `json:"category"`
	ContactDetails string `json:"contact_details,omitempty"`
	Name           string `json:"name"`
	Namespace      string `json:"namespace"`
}

type reference struct {
	Category string `json:"category"`
	Summary  string `json:"summary"`
	URL      string `json:"url"`
}

type tracking struct {
	CurrentReleaseDate string     `json:"current_release_date"`
	Generator          *generator `json:"generator,omitempty"`
	ID                 string     `json:"id"`
	InitialReleaseDate string     `json:"initial_release_date"`
	RevisionHistory    []revision `json:"revision_history"`
	Status             string     `json:"status"`
	Version            string     `json:"version"`
}

// generator names the engine only: a version or date here would change
// every document's bytes on each upgrade or run, and so re-sign them all.
type generator struct {
	Engine engine `json:"engine"`
}

type engine struct {
	Name string `json:"name"`
}

type revision struct {
	Date    string `json:"date"`
	Number  string `json:"number"`
	Summary string `json:"summary"`
}

type productTree struct {
	Branches []branch `json:"branches,omitempty"`
}

// branch has either Branches or Product (the schema allows exactly three
// properties).
type branch struct {
	Branches []branch         `json:"branches,omitempty"`
	Category string           `json:"category"`
	Name     string           `json:"name"`
	Product  *fullProductName `json:"product,omitempty"`
}

type fullProductName struct {
	Name                        string  `json:"name"`
	ProductID                   string  `json:"product_id"`
	ProductIdentificationHelper *helper `json:"product_identification_helper,omitempty"`
}

type helper struct {
	PURL string `json:"purl,omitempty"`
}

type vulnerability struct {
	CVE           string         `json:"cve"`
	Flags         []vexFlag      `json:"flags,omitempty"`
	Notes         []note         `json:"notes,omitempty"`
	ProductStatus *productStatus `json:"product_status,omitempty"`
	References    []reference    `json:"references,omitempty"`
	ReleaseDate   string         `json:"release_date,omitempty"`
	Remediations  []remediation  `json:"remediations,omitempty"`
	Scores        []score        `json:"scores,omitempty"`
	Threats       []threat       `json:"threats,omitempty"`
}

type vexFlag struct {
	Label      string   `json:"label"`
	ProductIDs []string `json:"product_ids"`
}

type productStatus struct {
	Fixed              []string `json:"fixed,omitempty"`
	KnownAffected      []string `json:"known_affected,omitempty"`
	KnownNotAffected   []string `json:"known_not_affected,omitempty"`
	UnderInvestigation []string `json:"under_investigation,omitempty"`
}

type remediation struct {
	Category   string   `json:"category"`
	Details    string   `json:"details"`
	ProductIDs []string `json:"product_ids"`
	URL        string   `json:"url,omitempty"`
}

type score struct {
	CVSSV3   *cvssV3  `json:"cvss_v3,omitempty"`
	Products []string `json:"products"`
}

type cvssV3 struct {
	BaseScore    float64 `json:"baseScore"`
	BaseSeverity string  `json:"baseSeverity"`
	VectorString string  `json:"vectorString"`
	Version      string  `json:"version"`
}

type threat struct {
	Category   string   `json:"category"`
	Details    string   `json:"details"`
	ProductIDs []string `json:"product_ids"`
}
