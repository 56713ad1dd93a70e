package bundle

import (
	"encoding/json"
	"fmt"
	"time"
)

// Offered is the companion disk the portal offers for a repository: the
// last one enmeid bundle create made for it, kept in the blob store.
type Offered struct {
	Repo        string    `json:"repo"`
	Publication int64     `json:"publication"`
	SHA256      string    `json:"sha256"` // the ISO's blob address
	Size        int64     `json:"size"`
	Packages    int       `json:"packages"`
	Agent       []string  `json:"agent,omitempty"` // file names under agent/
	CreatedAt   time.Time `json:"created_at"`

	// WithPackages is set when the disk also carries the publication
	// itself under RepoDir (enmeid bundle create --with-packages): the
	// packages, not only their SBOMs, so only contracts allowed to install
	// offline should be offered it.
	WithPackages bool `json:"with_packages,omitempty"`
}

// OfferSetting names the setting that holds a repository's Offered disk.
func OfferSetting(repo string) string { return "companion-disk/" + repo }

// FileName is the name a download of the disk gets.
func (o Offered) FileName() string {
	return fmt.Sprintf("enmei-companion-%s-%d.iso", o.Repo, o.Publication)
}

// Encode and DecodeOffered are the stored form.
func (o Offered) Encode() ([]byte, error) { return json.Marshal(o) }

// DecodeOffered reads what Encode wrote.
func DecodeOffered(b []byte) (Offered, error) {
	var o Offered
	if err := json.Unmarshal(b, &o); err != nil {
		return o, fmt.Errorf("companion disk record: %w", err)
	}
	return o, nil
}
