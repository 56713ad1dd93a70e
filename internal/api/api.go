// Package api defines the JSON documents enmeid and the enmei agent exchange
// over HTTP, so both sides compile against one definition of the wire format.
//
// Endpoints (all JSON; errors are an Error document with the HTTP status):
//
//	POST /api/v1/register     RegisterRequest → RegisterResponse (no auth; the licence key is the credential);
//	                          with ?format=yum-repo → the host's enmei.repo as text/plain (register.sh)
//	POST /api/v1/unregister   (HTTP Basic: host ID + secret) → 204
//	GET  /api/v1/status       (HTTP Basic) → Status
//	GET  /api/v1/signing-key  → the armored OpenPGP public key (text/plain)
//	GET  /api/v1/advisories   (HTTP Basic) ?since=SEQ → Advisories, with an ETag
//	GET  /api/v1/upgrade-paths (HTTP Basic) → UpgradePaths
//	POST /api/v1/tickets/{ticket}/attachments?name=FILE (HTTP Basic) body: the file → 201 Attached
//	GET  /repos/<repo-id>/…   (HTTP Basic) → repository files
package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/enmei-project/enmei/internal/advisory"
	"github.com/enmei-project/enmei/internal/errs"
)

// RegisterRequest activates a host with a licence key.
type RegisterRequest struct {
	Key string `json:"key"`
	// MachineID is a digest of /etc/machine-id (see agent.MachineIdentity),
	// never the raw ID: the same machine always sends the same value.
	MachineID string `json:"machine_id"`
	// Hostname is what the vendor sees in contract show; "" when the host
	// withholds it (enmei register --no-hostname).
	Hostname string `json:"hostname"`
	// OSID and OSVersion are os-release's ID and VERSION_ID, OSLike its
	// ID_LIKE words: a product bound to an OS refuses other hosts before a
	// seat is taken.
	OSID      string   `json:"os_id,omitempty"`
	OSVersion string   `json:"os_version,omitempty"`
	OSLike    []string `json:"os_like,omitempty"`
	// Arch is the host's machine architecture as uname -m prints it
	// (x86_64, aarch64, …).
	Arch string `json:"arch,omitempty"`
	// Virt is systemd-detect-virt's answer ("none": bare metal; "" unknown).
	Virt string `json:"virt,omitempty"`
	// Credentials are the host's current registrations on this server. When
	// one of them is this key's seat on this machine, the server keeps its
	// secret instead of issuing a new one, so a re-registration that fails
	// after the server answered leaves the host's configuration working.
	Credentials []Credential `json:"credentials,omitempty"`
	// LeaseMS asks for an ephemeral seat: a lease of this many
	// milliseconds, renewed by heartbeats and repository requests (0: a
	// server seat, held until it is given back).
	LeaseMS int64 `json:"lease_ms,omitempty"`
}

// Lease is an ephemeral seat's lease as the host sees it.
type Lease struct {
	TTLMS   int64     `json:"ttl_ms"`
	Expires time.Time `json:"expires"`
}

// Heartbeat is the answer to POST /api/v1/heartbeat: the host's lease now
// (nil for a server seat, which a heartbeat only marks seen).
type Heartbeat struct {
	HostID string `json:"host_id"`
	Lease  *Lease `json:"lease"`
}

// Credential is a host's HTTP Basic credential for one registration.
type Credential struct {
	HostID string `json:"host_id"`
	Secret string `json:"secret"`
}

// RegisterResponse carries what the host needs to write its configuration.
type RegisterResponse struct {
	HostID     string   `json:"host_id"`
	Secret     string   `json:"secret"`
	Reused     bool     `json:"reused"` // the machine already held a seat; it was kept
	Contract   Contract `json:"contract"`
	Repos      []Repo   `json:"repos"`
	SigningKey string   `json:"signing_key"`     // armored OpenPGP public key
	Lease      *Lease   `json:"lease,omitempty"` // an ephemeral seat's lease
}

// Contract is the customer-visible part of a contract.
type Contract struct {
	SupportID string   `json:"support_id"`
	Customer  string   `json:"customer"`
	Plan      string   `json:"plan"`
	Products  []string `json:"products"`
	Product   string   `json:"product"` // the product of the key this host registered with
	Quantity  int      `json:"quantity"`
	SeatsUsed int      `json:"seats_used"`
	Start     string   `json:"start"`
	End       string   `json:"end"`
	Valid     bool     `json:"valid"`
}

// Repo is a repository the host may use.
type Repo struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Format    string `json:"format"` // "rpm" or "deb"
	Arch      string `json:"arch,omitempty"`
	Suite     string `json:"suite,omitempty"`
	Component string `json:"component,omitempty"`
	Path      string `json:"path"` // "/repos/<id>/", relative to the server URL
	// UpstreamKey is a mirror's distribution key (armored): its packages
	// keep the distribution's signatures, so dnf checks them with this key
	// beside the vendor's, which signs the metadata.
	UpstreamKey string `json:"upstream_key,omitempty"`
}

// Status is what the server says about a registered host.
type Status struct {
	HostID       string    `json:"host_id"`
	Hostname     string    `json:"hostname"`
	RegisteredAt time.Time `json:"registered_at"`
	LastSeen     time.Time `json:"last_seen"`
	Contract     Contract  `json:"contract"`
	Repos        []Repo    `json:"repos"`
	Lease        *Lease    `json:"lease,omitempty"` // an ephemeral seat's lease
	// Phase and PhaseUntil are the lifecycle phase of the host's product
	// today (full, security, extended, end) and its last day.
	Phase      string `json:"phase,omitempty"`
	PhaseUntil string `json:"phase_until,omitempty"`
}

// Error is the body of every error response.
type Error struct {
	Error string `json:"error"` // one sentence: what happened and what to do
	Kind  string `json:"kind"`  // "invalid", "not_found", "unauthorized", "forbidden", "entitlement", …
}

// StatusOf maps a domain error to the HTTP status and Error kind it is
// answered with: the one mapping every JSON API of enmeid shares.
func StatusOf(err error) (status int, kind string) {
	switch errs.KindOf(err) {
	case errs.Invalid:
		return http.StatusBadRequest, "invalid"
	case errs.NotFound:
		return http.StatusNotFound, "not_found"
	case errs.Exists:
		return http.StatusConflict, "exists"
	case errs.Unauthorized:
		return http.StatusUnauthorized, "unauthorized"
	case errs.Forbidden:
		return http.StatusForbidden, "forbidden"
	case errs.Entitlement:
		return http.StatusForbidden, "entitlement"
	}
	return http.StatusInternalServerError, "internal"
}

// InternalMessage is what a client is told of an internal error, whose
// cause goes to the log only.
const InternalMessage = "the server failed to handle the request; the vendor's operators can find the cause in enmeid's log"

// WriteError writes an Error document with status (no body for HEAD).
func WriteError(w http.ResponseWriter, r *http.Request, status int, kind, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		json.NewEncoder(w).Encode(Error{Error: msg, Kind: kind})
	}
}

// Advisories is GET /api/v1/advisories: the released advisories and CVE
// statuses of the host's product that changed after Since (0: all), as of
// tracker sequence Seq. Advisories list only the product's packages.
type Advisories struct {
	Product    string              `json:"product"`
	Seq        int64               `json:"seq"`
	Since      int64               `json:"since"`
	Advisories []advisory.Advisory `json:"advisories"`
	Records    []CVERecord         `json:"records"`
}

// CVERecord is a CVE's public state for a product: the tracker's record
// without what the vendor keeps internal.
type CVERecord struct {
	CVE       string   `json:"cve"`
	Status    string   `json:"status"`
	Statement string   `json:"statement,omitempty"`
	Score     float64  `json:"score"`
	Published string   `json:"published,omitempty"`
	Packages  []string `json:"packages,omitempty"`
	Fixed     []string `json:"fixed,omitempty"`
}
