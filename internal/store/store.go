// Package store defines enmei's persistence: the records (products,
// repositories, contracts, licence keys, hosts, packages, publications) and the
// Store interface that the SQLite and PostgreSQL backends implement. Every rule
// that must hold across replicas — a seat is never over-allocated, a repository
// has exactly one current publication — is enforced inside a backend
// transaction, never in process memory. The conformance suite in storetest is
// the definition of correct behaviour for every backend.
package store

import (
	"context"
	"time"

	"github.com/enmei-project/enmei/internal/advisory"
	"github.com/enmei-project/enmei/internal/entitle"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/notify"
)

// Product is one OSS + version line delivered by the service (PRODUCT.md §1).
type Product struct {
	ID     string // e.g. "almalinux-9"
	Name   string
	Format string // "rpm", "deb" or "maven"
	EOL    string // YYYY-MM-DD or ""
	// OSID and OSVersion bind an OS product to the hosts it serves
	// (os-release ID and the major VERSION_ID); "" for none.
	OSID      string
	OSVersion string
	// FullUntil, SecurityUntil and ExtendedUntil are the last days of the
	// product's lifecycle phases ("" when not set); EOL ends them all.
	FullUntil     string
	SecurityUntil string
	ExtendedUntil string
	// InitialOnly marks an option sold only with a customer's first
	// contract (the seed's ELS option).
	InitialOnly bool
}

// Lifecycle is the product's phases as the entitlement rules read them.
func (p Product) Lifecycle() entitle.Lifecycle {
	return entitle.Lifecycle{FullUntil: p.FullUntil, SecurityUntil: p.SecurityUntil, ExtendedUntil: p.ExtendedUntil, End: p.EOL}
}

// Repo is a repository of a product.
type Repo struct {
	ID        string
	ProductID string
	Format    string // copied from the product
	Arch      string // rpm: the architecture or "noarch"; deb: optional
	Suite     string // deb
	Component string // deb
	// Current is the ID of the publication being served; 0 before the first publish.
	Current int64
	// Mirror is what the repository mirrors (enmeid repo sync); nil for
	// the vendor's own repositories. A mirror takes no plain publish.
	Mirror *Mirror
}

// Mirror is an upstream repository a repository mirrors, and where its
// last sync left it.
type Mirror struct {
	URL string `json:"url"`
	// Key is the upstream's armored OpenPGP keyring: its signatures on the
	// packages are kept, and hosts are given it beside the vendor's key.
	Key  string   `json:"key,omitempty"`
	Arch []string `json:"arch,omitempty"` // "" : every architecture
	// Suite and Components are an APT upstream's.
	Suite      string   `json:"suite,omitempty"`
	Components []string `json:"components,omitempty"`
	// Frozen pins the mirror to the community's last state (a date or a
	// snapshot name): later syncs are refused unless forced.
	Frozen string `json:"frozen,omitempty"`
	// AllowExpired takes an APT Release past its Valid-Until: a frozen
	// suite its distribution no longer re-signs.
	AllowExpired bool      `json:"allow_expired,omitempty"`
	Revision     string    `json:"revision,omitempty"` // the upstream metadata's, at the last sync
	SyncedAt     time.Time `json:"synced_at,omitzero"`
}

// Contract is a customer's contract, as the entitlement rules define it.
type Contract = entitle.Contract

// LicenseKey is one contract's key for one product. Only its hash is stored.
type LicenseKey struct {
	ID        string // public, non-secret identifier (e.g. "k_1a2b3c")
	SupportID string
	ProductID string
	Hash      []byte // sha256 of the key
}

// Host is a registered machine holding one seat of a licence key.
type Host struct {
	ID           string // public; the HTTP Basic user name
	SupportID    string
	ProductID    string
	KeyID        string
	MachineID    string // /etc/machine-id; the same machine re-registering reuses its seat
	Hostname     string
	OS           string // what the host reported at registration, e.g. "almalinux 9 x86_64"
	SecretHash   []byte // sha256 of the host secret (the HTTP Basic password)
	RegisteredAt time.Time
	LastSeen     time.Time
	// LeaseTTL is how long an ephemeral seat lasts without renewal (zero:
	// a server seat, held until it is given back); LeaseExpires is when
	// the current lease ends. An expired lease holds no seat, but its
	// record stays a while so the host can take a seat again with its
	// credential (enmei heartbeat).
	LeaseTTL     time.Duration
	LeaseExpires time.Time
	// Virt is what systemd-detect-virt answered on the host ("none" for
	// bare metal, "kvm", "vmware", …; "" unknown).
	Virt string
	// Uncounted hosts take no seat: the VMs of a virtualisation-platform
	// contract, which counts the physical hosts.
	Uncounted bool
}

// Live reports whether the host holds its seat at now.
func (h Host) Live(now time.Time) bool {
	return h.LeaseTTL == 0 || now.Before(h.LeaseExpires)
}

// SeatSpan is a period a host held a seat: from Start until End (zero
// End: still held, with no lease). A lease's span ends when the lease does
// and grows with each renewal.
type SeatSpan = entitle.Span

// Package is one stored package file with its pre-rendered index entry, so
// that publishing never re-reads packages already ingested.
type Package struct {
	ID   string // sha256 hex over Blob and Location (a file can sit at different paths)
	Blob string // sha256 hex of the file as served (signed, for rpm)
	// Input is the sha256 hex of the file as the vendor gave it, and Signer
	// the fingerprint of the key that re-signed it ("" for debs, which are
	// served as given). Publishing the same input again reuses the record and
	// its blob, so the bytes at a URL never change.
	Input    string
	Signer   string
	Format   string // "rpm" or "deb"
	Name     string
	Version  string // [epoch:]version-release
	Arch     string
	Location string // path inside the repository, e.g. "Packages/h/hello-1.0-1.x86_64.rpm"
	Size     int64
	Meta     []byte // the format's index entry (rpm: repodata fragments; deb: Packages stanza)
	// Facts is what the package's SBOM is made from (pkgfacts, JSON). It
	// is stored by PutPackages but, being large (file lists), read only
	// through PackageFacts: the other listings leave it nil.
	Facts []byte
}

// Publication is an immutable snapshot of a repository: a manifest blob
// listing its packages and every file it serves.
type Publication struct {
	ID        int64
	RepoID    string
	CreatedAt time.Time
	Packages  int
	Manifest  string // blob address of the manifest
	// RollbackOf is the publication whose packages this one re-publishes
	// (enmeid publication rollback); 0 for a normal publish.
	RollbackOf int64
	// Base is the publication this one was built on (0: none). It is not
	// stored; CommitPublication uses it to refuse a commit when another
	// publish or a rollback moved the repository in the meantime.
	Base int64
}

// ErrConflict is returned by CommitPublication when the repository's current
// publication is no longer the commit's Base.
var ErrConflict = errs.E(errs.Exists, "the repository changed while this publication was being built")

// SeatClaim asks for a seat under a licence key.
type SeatClaim struct {
	KeyHash    []byte // sha256 of the key the host presented
	MachineID  string
	Hostname   string
	OS         string
	NewHostID  string // used when a new seat is taken
	SecretHash []byte // the host's new secret; replaces the old one when the seat is reused
	Now        time.Time
	// Lease makes the seat ephemeral: it lasts Lease from Now unless
	// renewed (zero: a server seat).
	Lease time.Duration
	// Clock, if set, replaces Now with its reading once the claim holds
	// the licence key's lock, so claims of one key are timed in the order
	// they are decided (a claim that waited for the lock does not count
	// seats at the moment it started waiting).
	Clock func() time.Time
	// Check runs inside the claim's transaction with the key's contract; an
	// error aborts the claim and is returned as is (contract not valid, …).
	Check func(Contract) error
	// Virt is the host's virtualisation (systemd-detect-virt).
	Virt string
	// Counted, if set, says whether a new host takes a seat under the
	// contract (nil: it does).
	Counted func(Contract) bool
}

// Errors every backend returns for these conditions (compare with errors.Is).
var (
	ErrUnknownKey = errs.E(errs.Entitlement, "the licence key is not known: check it against your support certificate")
	ErrNoSeat     = errs.E(errs.Entitlement, "no seat left on this licence key: unregister a host, wait for an ephemeral host's lease to end, ask the vendor to release a lost host's seat, or buy more")
)

// FormatAgent is the format of the one product that holds the agent's own
// public repositories: never sold, never listed by Products.
const FormatAgent = "agent"

// Catalog is products and repositories.
type Catalog interface {
	AddProduct(ctx context.Context, p Product) error
	Product(ctx context.Context, id string) (Product, error)
	// Products lists the products on sale, by ID: the agent's reserved
	// product (format FormatAgent) is not one.
	Products(ctx context.Context) ([]Product, error)
	// UpdateProduct replaces a product's name, end of service, lifecycle
	// and initial-only flag (NotFound if unknown); its format and OS
	// binding never change.
	UpdateProduct(ctx context.Context, p Product) error

	AddRepo(ctx context.Context, r Repo) error
	Repo(ctx context.Context, id string) (Repo, error)
	// Repos lists the repositories of a product, or all of them when productID is "".
	Repos(ctx context.Context, productID string) ([]Repo, error)
	// SetMirror records what a repository mirrors (nil: it is the
	// vendor's own again); NotFound if the repository is unknown.
	SetMirror(ctx context.Context, repoID string, m *Mirror) error
}

// Contracts is contracts and their licence keys.
type Contracts interface {
	// AddContract stores a contract and its licence keys in one transaction.
	AddContract(ctx context.Context, c Contract, keys []LicenseKey) error
	Contract(ctx context.Context, supportID string) (Contract, error)
	// ListContracts lists every contract, newest first.
	ListContracts(ctx context.Context) ([]Contract, error)
	LicenseKeys(ctx context.Context, supportID string) ([]LicenseKey, error)
	// LicenseKeyByHash finds a key without taking any lock (ErrUnknownKey
	// if none), so a flood of wrong keys never queues for the write lock.
	LicenseKeyByHash(ctx context.Context, hash []byte) (LicenseKey, error)
	// RenewContract sets a new end date; keys and hosts are untouched.
	RenewContract(ctx context.Context, supportID, end string) error
}

// Seats is hosts holding seats of licence keys.
type Seats interface {
	// ClaimSeat registers a host under a licence key in one transaction:
	// ErrUnknownKey if no key has that hash; claim.Check's error if it fails;
	// the existing host (reused=true, new secret, hostname and lease
	// stored) if the machine ID is already registered under this key and
	// its seat is live, or its lease ended and a seat is free; ErrNoSeat if
	// the key's contract quantity of live seats is reached; otherwise a new
	// host. Live seats are counted at claim.Now.
	ClaimSeat(ctx context.Context, claim SeatClaim) (h Host, reused bool, err error)
	// Host finds a host, whether or not its lease is live.
	Host(ctx context.Context, id string) (Host, error)
	// Hosts lists a contract's hosts holding a seat at now, oldest
	// registration first.
	Hosts(ctx context.Context, supportID string, now time.Time) ([]Host, error)
	// ReleaseSeat deletes a host of the contract (NotFound if it is not one).
	ReleaseSeat(ctx context.Context, supportID, hostID string) error
	// TouchHost records that a host was seen at t, and renews its lease
	// from t if the lease is live (an ended lease stays ended).
	TouchHost(ctx context.Context, hostID string, t time.Time) error
	// Heartbeat renews a host's lease from now in one transaction: a live
	// lease is extended; an ended one takes a seat again if the contract
	// passes check and a seat is free (ErrNoSeat otherwise); a server seat
	// is only marked seen. NotFound if the host is unknown.
	Heartbeat(ctx context.Context, hostID string, now time.Time, check func(Contract) error) (Host, error)
	// SeatCounts lists the live seats per contract and product key at now.
	SeatCounts(ctx context.Context, now time.Time) ([]SeatCount, error)
	// SeatSpans lists the periods a contract's seats were held that
	// overlap [from, to), oldest first.
	SeatSpans(ctx context.Context, supportID string, from, to time.Time) ([]SeatSpan, error)
	// PruneSeats deletes hosts whose lease ended before expiredBefore, and
	// seat spans that ended before spansBefore; it returns the hosts deleted.
	PruneSeats(ctx context.Context, expiredBefore, spansBefore time.Time) (int, error)
}

// DeveloperAccount is a developer-plan contract's one account (PRODUCT.md
// §4): browsers and Maven/Gradle use it with HTTP Basic.
type DeveloperAccount struct {
	Name         string // assigned by the service, never changed
	SupportID    string
	PasswordHash string // argon2id PHC string
	CreatedAt    time.Time
	ChangedAt    time.Time // zero until the password is first changed
}

// MirrorAccount is the account a contract allowed mirror use (an
// individual contract's term) gives the customer's own mirroring tools —
// dnf reposync, apt-mirror, enmeid repo sync — with HTTP Basic. It reads
// every repository of the contract's products and takes no seat.
type MirrorAccount struct {
	ID         string // the HTTP Basic user name, "m_…"
	SupportID  string
	SecretHash []byte // sha256 of the password
	CreatedAt  time.Time
}

// MirrorAccounts is contracts' mirror accounts and individual terms.
type MirrorAccounts interface {
	// PutMirrorAccount stores a contract's mirror account, replacing the
	// one it had (whose password stops working at once).
	PutMirrorAccount(ctx context.Context, a MirrorAccount) error
	// MirrorAccount finds an account by ID (NotFound if none).
	MirrorAccount(ctx context.Context, id string) (MirrorAccount, error)
	// ContractMirrorAccount finds a contract's account (NotFound if none).
	ContractMirrorAccount(ctx context.Context, supportID string) (MirrorAccount, error)
	// SetContractTerms changes a contract's individual terms: mirror use
	// and offline use (NotFound if there is no such contract).
	SetContractTerms(ctx context.Context, supportID string, allowMirror, allowOffline bool) error
}

// Developers is developer-plan contracts and their accounts.
type Developers interface {
	// AddDeveloperContract stores a developer-plan contract and its
	// account in one transaction.
	AddDeveloperContract(ctx context.Context, c Contract, a DeveloperAccount) error
	// DeveloperAccount finds an account by name (NotFound if none).
	DeveloperAccount(ctx context.Context, name string) (DeveloperAccount, error)
	// ContractDeveloperAccount finds a contract's account (NotFound if none).
	ContractDeveloperAccount(ctx context.Context, supportID string) (DeveloperAccount, error)
	// SetDeveloperPassword stores a new password hash and ends the
	// account's portal sessions, in one transaction.
	SetDeveloperPassword(ctx context.Context, name, hash string, at time.Time) error
}

// SeatCount is the number of seats used under one licence key.
type SeatCount struct {
	SupportID string
	ProductID string
	Used      int
	Quantity  int
}

// Packages is the package records publications refer to.
type Packages interface {
	// PutPackages stores packages; a stored ID keeps its record but is
	// marked as just used, so a concurrent gc keeps it.
	PutPackages(ctx context.Context, pkgs []Package) error
	// Packages returns the packages with the given IDs in that order
	// (NotFound if one is missing). Records read back carry neither Meta
	// nor Facts: a repository's worth of those is read with PackageMetas
	// (streamed) and PackageFacts.
	Packages(ctx context.Context, ids []string) ([]Package, error)
	// PackageMetas calls f with the index entry (Meta) of each package of
	// ids, in that order, reading a bounded number at a time (NotFound if
	// one is missing). f must not keep meta beyond its call's needs.
	PackageMetas(ctx context.Context, ids []string, f func(i int, meta []byte) error) error
	// PackagesByInput returns the stored packages made from the given input
	// digests (any order; inputs without a record are absent).
	PackagesByInput(ctx context.Context, inputs []string) ([]Package, error)
	// PackageFacts returns the stored SBOM facts of the given packages
	// (packages stored without facts are absent).
	PackageFacts(ctx context.Context, ids []string) (map[string][]byte, error)
	// PackagesByName returns the stored packages of the given names, every
	// version of every repository (any order; names without a record are
	// absent), without Meta or Facts.
	PackagesByName(ctx context.Context, names []string) ([]Package, error)
	// PackageIDs calls f with every stored package ID and blob, in batches.
	PackageIDs(ctx context.Context, f func(id, blob string) error) error
	// DeletePackages deletes the given records unless they were stored or
	// used at or after before; it returns how many it deleted.
	DeletePackages(ctx context.Context, ids []string, before time.Time) (int, error)
}

// Publications is the immutable snapshots of repositories and the pointer
// to each repository's current one.
type Publications interface {
	// CommitPublication stores p and makes it its repository's current
	// publication in one transaction, returning its new ID; ErrConflict if
	// the repository's current publication is not p.Base.
	CommitPublication(ctx context.Context, p Publication) (int64, error)
	Publication(ctx context.Context, id int64) (Publication, error)
	// Publications lists a repository's publications, newest first; all
	// repositories' when repoID is "".
	Publications(ctx context.Context, repoID string) ([]Publication, error)
	// DeletePublications deletes publications of the repository; the
	// current one is never deleted (Invalid if asked).
	DeletePublications(ctx context.Context, repoID string, ids []int64) error
}

// Leases record work in flight that garbage collection must respect: a
// publish holds one from before it looks for reusable records until its
// publication is committed.
type Leases interface {
	// TakeLease records a lease started at now and expiring at expires.
	TakeLease(ctx context.Context, id string, now, expires time.Time) error
	DropLease(ctx context.Context, id string) error
	// OldestLease returns the start of the oldest unexpired lease at now
	// (zero time when there is none).
	OldestLease(ctx context.Context, now time.Time) (time.Time, error)
}

// Settings is named values shared by every replica.
type Settings interface {
	// Setting returns a named value (NotFound if unset).
	Setting(ctx context.Context, name string) ([]byte, error)
	// PutSettingIfAbsent stores value under name unless one is there, and
	// returns the value now stored — so concurrent starters agree on one.
	PutSettingIfAbsent(ctx context.Context, name string, value []byte) ([]byte, error)
	// PutSetting stores value under name, replacing what was there.
	PutSetting(ctx context.Context, name string, value []byte) error
	// DeleteSetting removes a value and scrubs it from the database files
	// as far as the backend can (secure delete, checkpoint, vacuum).
	DeleteSetting(ctx context.Context, name string) error
}

// Mail is one message of the outbox, as notify defines it.
type Mail = notify.Mail

// Outbox is outgoing mail. Events that cause mail take it as an argument and
// store it in their own transaction, so a mail is queued exactly when its
// event happened.
type Outbox interface {
	notify.Outbox
	// EnqueueMail stores queued mail on its own (no event).
	EnqueueMail(ctx context.Context, mails ...Mail) error
	// Mails lists the outbox, newest first, at most limit.
	Mails(ctx context.Context, limit int) ([]Mail, error)
}

// User is a vendor console user.
type User struct {
	Email        string // normalised, lower case
	Role         string // account.Role*
	PasswordHash string // argon2id PHC string; "" until set
	CreatedAt    time.Time
}

// APIToken is a bearer token of the admin HTTP API. Only its hash is stored.
type APIToken struct {
	Name      string
	Role      string
	Hash      []byte
	CreatedAt time.Time
}

// Link is a one-time link: a token (stored hashed) that signs a customer in
// or lets a console user set a password, once, before it expires.
type Link struct {
	Hash      []byte
	Purpose   string // account.LinkLogin or account.LinkPassword
	Subject   string // support ID or user e-mail
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Session is a signed-in browser. Only the hash of its cookie is stored.
type Session struct {
	Hash      []byte
	Kind      string // account.Customer or account.Vendor
	Subject   string // support ID or user e-mail
	CreatedAt time.Time
	ExpiresAt time.Time
}

// ErrRateLimited is returned by AddLink when its subject had too many links
// issued within the window.
var ErrRateLimited = errs.E(errs.Forbidden, "too many links were requested: wait a while and try again")

// Accounts is console users, API tokens, one-time links and sessions.
type Accounts interface {
	// AddUser stores a user and its set-password link in one transaction.
	AddUser(ctx context.Context, u User, link Link) error
	User(ctx context.Context, email string) (User, error)
	Users(ctx context.Context) ([]User, error)
	AddToken(ctx context.Context, t APIToken) error
	// TokenByHash finds an API token (NotFound if none).
	TokenByHash(ctx context.Context, hash []byte) (APIToken, error)

	// AddLink stores a link and the mail that carries it (nil: none) in one
	// transaction, unless max links (> 0) of the same purpose and subject
	// were made since since: then ErrRateLimited and nothing is stored.
	AddLink(ctx context.Context, l Link, mail *Mail, max int, since time.Time) error
	// UseLink consumes a link of the purpose at now: NotFound if it is
	// unknown, used or expired. It can succeed once.
	UseLink(ctx context.Context, hash []byte, purpose string, now time.Time) (Link, error)
	// SetPassword stores a user's new password hash and ends the user's
	// sessions, in one transaction.
	SetPassword(ctx context.Context, email, hash string) error

	AddSession(ctx context.Context, s Session) error
	// Session finds an unexpired session at now (NotFound if none).
	Session(ctx context.Context, hash []byte, now time.Time) (Session, error)
	DeleteSession(ctx context.Context, hash []byte) error
	// DeleteExpired deletes sessions and links expired before now.
	DeleteExpired(ctx context.Context, now time.Time) error
}

// Certificate is a contract's client certificate of the managed PKI. It is
// recorded when issued (enmeid cert issue), with its serial and validity;
// the key pair and the certificate itself are made when the customer
// downloads the PKCS#12 (DER is empty until then). The private key is never
// stored.
type Certificate struct {
	Serial       string // lower-case hex
	SupportID    string
	NotBefore    time.Time
	NotAfter     time.Time
	IssuedAt     time.Time
	DER          []byte    // the certificate, once downloaded
	DownloadedAt time.Time // zero until downloaded
	RevokedAt    time.Time // zero unless revoked
	RevokeReason string
}

// Errors of certificate operations.
var (
	ErrHasCertificate = errs.E(errs.Exists, "the contract already has a client certificate: replace it with enmeid cert issue --replace, which revokes the old one")
	ErrDownloaded     = errs.E(errs.Exists, "this certificate was already downloaded: the private key exists only in that file; issue a replacement with enmeid cert issue --replace")
)

// Certificates is the client certificates of the managed PKI.
type Certificates interface {
	// IssueCertificate records a contract's certificate with its one-time
	// download link and the mail telling the technical contact, in one
	// transaction. A contract has one unrevoked certificate:
	// ErrHasCertificate unless replace, which revokes the current one.
	IssueCertificate(ctx context.Context, c Certificate, link Link, mail *Mail, replace bool) error
	// CompleteCertificate stores the certificate made at download, once
	// (ErrDownloaded the second time).
	CompleteCertificate(ctx context.Context, serial string, der []byte, at time.Time) error
	// Certificate finds one by serial (NotFound if none).
	Certificate(ctx context.Context, serial string) (Certificate, error)
	// ContractCertificates lists a contract's certificates, newest first.
	ContractCertificates(ctx context.Context, supportID string) ([]Certificate, error)
	// RevokeCertificate revokes a certificate (NotFound if unknown;
	// revoking twice keeps the first time and reason).
	RevokeCertificate(ctx context.Context, serial, reason string, at time.Time) error
}

// Tracker is the security tracker: advisories and per-product CVE records
// with their history. Every write bumps one tracker sequence, and each row
// it touched carries the new value, so readers fetch only what changed
// since the sequence they last saw (the agent's since=, caches across
// replicas).
type Tracker interface {
	// PutAdvisories stores advisories, replacing those with the same ID
	// (a released advisory stays released), and for each seed record
	// either creates it (with a history entry from source "advisory ID")
	// or fills in the vectors, score, disclosure date and packages it
	// lacks. One transaction. It returns the IDs of the advisories that
	// were released already (their repositories need new metadata).
	PutAdvisories(ctx context.Context, advs []advisory.Advisory, seeds []advisory.Record, at time.Time) (released []string, err error)
	// ReserveAdvisoryNumbers reserves n consecutive numbers for IDs
	// PREFIX-YEAR:NNNN and returns the first; it never returns a number
	// an existing advisory of that prefix and year uses.
	ReserveAdvisoryNumbers(ctx context.Context, prefix string, year, n int) (int, error)
	// Advisory returns one advisory (NotFound if none).
	Advisory(ctx context.Context, id string) (advisory.Advisory, error)
	// Advisories lists advisories changed after seq (0: all) in sequence
	// order; only released ones when releasedOnly.
	Advisories(ctx context.Context, since int64, releasedOnly bool) ([]advisory.Advisory, error)
	// RepoAdvisories lists the released advisories with packages in repo,
	// oldest ID first (updateinfo).
	RepoAdvisories(ctx context.Context, repo string) ([]advisory.Advisory, error)
	// ReleaseAdvisories releases advisories at at (those released already
	// keep their time), and sets each of their CVEs to released for the
	// products of their repositories, recording the advisory as the fix,
	// with history. NotFound (and nothing changed) if one is unknown.
	ReleaseAdvisories(ctx context.Context, ids []string, at time.Time) error
	// SetCVE creates or replaces a record; a change of status or statement
	// is added to its history with source.
	SetCVE(ctx context.Context, r advisory.Record, source string) error
	// CVERecord returns one record (NotFound if none).
	CVERecord(ctx context.Context, cve, product string) (advisory.Record, error)
	// CVERecords lists records changed after seq (0: all) in sequence order.
	CVERecords(ctx context.Context, since int64) ([]advisory.Record, error)
	// CVEHistory lists a CVE's changes for every product, oldest first.
	CVEHistory(ctx context.Context, cve string) ([]advisory.Change, error)
	// CVEChanges lists changes of every CVE after the change with Seq
	// after, oldest first, at most limit (a cursor for notifiers).
	CVEChanges(ctx context.Context, after int64, limit int) ([]advisory.Change, error)
	// TrackerSeq is the tracker's current sequence.
	TrackerSeq(ctx context.Context) (int64, error)
}

// Subscription is a person subscribed to the tracker's notices by e-mail.
type Subscription struct {
	ID             string // public, random
	Email          string // normalised, lower case
	Name           string
	Company        string
	Lang           string   // "ja" or "en": the language of the mails
	Products       []string // product IDs; empty: every product
	Statuses       []string // tracker statuses to be told about; empty: every change
	CreatedAt      time.Time
	ConfirmedAt    time.Time // zero until the address is confirmed (double opt-in)
	UnsubscribedAt time.Time // zero while subscribed
}

// Webhook is an endpoint told about tracker changes with a signed POST.
type Webhook struct {
	ID        string
	URL       string
	Secret    string // the HMAC key both sides hold
	Products  []string
	Statuses  []string
	CreatedAt time.Time
}

// Delivery is one webhook POST in the webhook outbox.
type Delivery struct {
	ID        int64
	WebhookID string
	Body      []byte
	Status    string // notify.StatusQueued, StatusSent or StatusFailed
	Attempts  int
	LastError string
	CreatedAt time.Time
	NextAt    time.Time
	SentAt    time.Time
}

// Subscriptions is the tracker's mail subscribers and webhooks.
type Subscriptions interface {
	// AddSubscription stores a subscription and its confirmation mail in
	// one transaction.
	AddSubscription(ctx context.Context, s Subscription, mail Mail) error
	// Subscription finds one (NotFound if none).
	Subscription(ctx context.Context, id string) (Subscription, error)
	// ConfirmSubscription confirms it at at (the first time counts).
	ConfirmSubscription(ctx context.Context, id string, at time.Time) error
	// Unsubscribe ends it at at (the first time counts).
	Unsubscribe(ctx context.Context, id string, at time.Time) error
	// ActiveSubscriptions lists the confirmed, subscribed ones.
	ActiveSubscriptions(ctx context.Context) ([]Subscription, error)

	AddWebhook(ctx context.Context, w Webhook) error
	Webhooks(ctx context.Context) ([]Webhook, error)
	// DeleteWebhook removes one and its pending deliveries (NotFound if none).
	DeleteWebhook(ctx context.Context, id string) error
	// EnqueueDeliveries stores webhook POSTs to make.
	EnqueueDeliveries(ctx context.Context, ds ...Delivery) error
	// QueueNotices moves the cursor setting from `from` to `to` and stores
	// the mails and deliveries, in one transaction; when the setting is no
	// longer `from` (another replica moved it) nothing is stored and it
	// returns false. Every notice is queued once, whatever the replicas.
	QueueNotices(ctx context.Context, cursor string, from, to []byte, mails []Mail, ds []Delivery) (bool, error)
	// ClaimDeliveries takes up to limit due deliveries at now, pushing
	// their next attempt to lease so no other replica takes them meanwhile.
	ClaimDeliveries(ctx context.Context, now, lease time.Time, limit int) ([]Delivery, error)
	// FinishDelivery records a delivery's outcome.
	FinishDelivery(ctx context.Context, d Delivery) error
	// Deliveries lists the newest deliveries, at most limit.
	Deliveries(ctx context.Context, limit int) ([]Delivery, error)
}

// Store is everything a backend implements. Consumers declare the smaller
// interfaces they use; Store is what the backend opener returns.
type Store interface {
	Catalog
	Contracts
	Seats
	Developers
	MirrorAccounts
	Packages
	Publications
	Leases
	Settings
	Outbox
	Accounts
	Certificates
	Tracker
	Subscriptions
	Desk
	UpgradePaths
	Dumper
	// Ping checks the database answers (readiness).
	Ping(ctx context.Context) error
	// Generation moves whenever something replicas may have cached is
	// revoked (a seat released, a developer password changed).
	Generation(ctx context.Context) (int64, error)
	// SchemaVersion is the newest migration step applied.
	SchemaVersion(ctx context.Context) (int, error)
	Close() error
}

// Ticket is one matter a customer raised with the support desk. Its number
// is the NNNNNN of the ENM-T-NNNNNN tag mails carry in their subject.
type Ticket struct {
	Number    int64
	SupportID string
	Subject   string // decoded subject of the mail that opened it
	Status    string // TicketOpen, TicketWaiting or TicketClosed
	// Waiting says why a waiting ticket waits: WaitConfirmation (the
	// customer has not yet confirmed it as a new matter) or WaitAllowance
	// (the allowance was used up; the vendor decides).
	Waiting     string
	Consumed    bool   // it used one inquiry of the allowance
	YearStart   string // the contract year it was counted in (when consumed)
	ConfirmWord string // the word a reply must carry to confirm a new matter
	Lang        string // the customer's language ("ja", "en")
	Contact     string // the address that opened it; replies go there
	OpenedAt    time.Time
	DueAt       time.Time // first response due, in support hours
	RespondedAt time.Time // the vendor's first answer; zero until then
	ClosedAt    time.Time
	VendorFault bool   // closed as caused by the vendor's packages (gives the inquiry back)
	ScopeLevel  int    // 1–10; 0 until the vendor sets it
	OutOfScope  string // the vendor's reason, when out of scope
	Priority    int    // the customer's order for one-at-a-time contracts; 0 unset
}

// Ticket states.
const (
	TicketOpen    = "open"
	TicketWaiting = "waiting"
	TicketClosed  = "closed"

	WaitConfirmation = "confirmation"
	WaitAllowance    = "allowance"
)

// TicketMessage is one mail of a ticket, in or out.
type TicketMessage struct {
	ID          int64
	Ticket      int64
	Direction   string // "in" (from the customer) or "out" (from the desk)
	MessageID   string // without angle brackets
	From        string
	Subject     string
	Text        string
	Attachments []TicketAttachment
	At          time.Time
}

// TicketAttachment is a file a customer sent; its content is a blob.
type TicketAttachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Blob        string `json:"blob,omitempty"`    // "" when dropped
	Dropped     bool   `json:"dropped,omitempty"` // over the size limit: not kept
}

// TicketChange is what a change of a ticket adds besides the ticket itself:
// messages (the customer's mail, the desk's answers) and the mails that go
// out, stored in the same transaction.
type TicketChange struct {
	Messages []TicketMessage
	Mails    []Mail
}

// ContactChange is a requested change of a contract's technical contact.
type ContactChange struct {
	SupportID   string
	Email       string
	Effective   string // YYYY-MM-DD, the first day the new address is in force
	RequestedAt time.Time
}

// Notice is a maintenance notice to the technical contacts of products.
type Notice struct {
	ID        int64
	Title     string
	Body      string
	Start     time.Time
	End       time.Time
	Products  []string // empty: every product
	Emergency bool
	RRule     string // RFC 5545 recurrence; "" for once
	CreatedAt time.Time
}

// TicketFilter selects tickets; zero fields select everything.
type TicketFilter struct {
	SupportID string
	Status    string
}

// Desk is the support desk: tickets, technical-contact changes, notices.
type Desk interface {
	// AddTicket stores a new ticket (its Number assigned) and what change
	// returns for it, in one transaction; an error from change stores nothing.
	AddTicket(ctx context.Context, t Ticket, change func(Ticket) (TicketChange, error)) (Ticket, error)
	// ChangeTicket loads ticket n with its contract locked, so allowance
	// decisions of one contract are serialised, lets change edit it (used
	// counts the contract's consumed inquiries of a contract year), and
	// stores the ticket and the change in one transaction.
	ChangeTicket(ctx context.Context, n int64, change func(t *Ticket, used func(yearStart string) (int, error)) (TicketChange, error)) (Ticket, error)
	Ticket(ctx context.Context, n int64) (Ticket, error)
	Tickets(ctx context.Context, f TicketFilter) ([]Ticket, error)
	TicketMessages(ctx context.Context, n int64) ([]TicketMessage, error)
	// TicketByMessageID finds the ticket holding a message with one of ids
	// (NotFound if none).
	TicketByMessageID(ctx context.Context, ids []string) (Ticket, error)
	// InquiriesUsed counts a contract's consumed inquiries of a contract year.
	InquiriesUsed(ctx context.Context, supportID, yearStart string) (int, error)
	// ContractsByContact lists contracts whose first contact or any
	// requested change is email.
	ContractsByContact(ctx context.Context, email string) ([]Contract, error)
	// AddContactChange stores a change and the mails telling of it.
	AddContactChange(ctx context.Context, c ContactChange, mails []Mail) error
	ContactChanges(ctx context.Context, supportID string) ([]ContactChange, error)
	// AddNotice stores a notice (ID assigned) and its mails.
	AddNotice(ctx context.Context, n Notice, mails []Mail) (Notice, error)
	// Notices lists notices, the latest start first.
	Notices(ctx context.Context) ([]Notice, error)
	// AttachmentBlobs calls f with the blob of every kept attachment (gc
	// keeps them).
	AttachmentBlobs(ctx context.Context, f func(blob string) error) error
}

// UpgradeRule is a product's upgrade-path rule for one package and target
// line (enmeid product upgrade-path): the lines updated directly to it, and
// the line older versions update to first. Lines are version prefixes of
// dot-separated numbers, as package upgradepath defines them.
type UpgradeRule struct {
	ProductID string
	Package   string
	To        string   // the target line, e.g. "9.6"
	From      []string // the lines updated directly to To, e.g. "9.4", "9.5"
	Via       string   // the line older versions update to first (one of From); "" none: reinstall
	Note      string   // the vendor's remark, e.g. "a new licence is needed from 8.1"
}

// UpgradePaths is the upgrade-path rules products declare, which the agent
// checks before it updates a host.
type UpgradePaths interface {
	// PutUpgradeRule stores a rule, replacing the product's rule for the
	// same package and target line (NotFound if the product is unknown).
	PutUpgradeRule(ctx context.Context, r UpgradeRule) error
	// DeleteUpgradeRule removes the product's rule for a package and
	// target line (NotFound if there is none).
	DeleteUpgradeRule(ctx context.Context, productID, pkg, to string) error
	// UpgradeRules lists the rules of the given products, or of every
	// product when none is given, by product, package and target line (as
	// text).
	UpgradeRules(ctx context.Context, productIDs ...string) ([]UpgradeRule, error)
}

// TableDump is one table of a snapshot: its columns and a row iterator
// (Next returns nil, nil after the last row). Values are int64, string,
// []byte or nil.
type TableDump struct {
	Name          string
	Columns       []string
	Next          func() ([]any, error)
	SchemaVersion int // of the whole snapshot
}

// TableRows is one table's rows to load.
type TableRows struct {
	Name    string
	Columns []string
	Rows    [][]any
}

// Dumper takes and loads whole-database copies (enmeid backup/restore).
type Dumper interface {
	// Snapshot reads every table in one consistent read transaction while
	// others go on writing.
	Snapshot(ctx context.Context, f func(TableDump) error) error
	// Empty reports whether no table holds a row.
	Empty(ctx context.Context) (bool, error)
	// Load inserts tables' rows in one transaction (all or nothing).
	Load(ctx context.Context, tables []TableRows) error
}
