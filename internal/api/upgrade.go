package api

// UpgradePaths is GET /api/v1/upgrade-paths: the upgrade-path rules the
// host's product declares (enmeid product upgrade-path), for the agent to
// check before it updates (upgradepath.Check). Rules is never null.
type UpgradePaths struct {
	Rules []UpgradeRule `json:"rules"`
}

// UpgradeRule says from which version lines a package may be updated
// directly to its target line, e.g. LifeKeeper 9.6 only from 9.4 or 9.5.
// A line is a version prefix of dot-separated numbers ("9.6"); a version is
// in the line when it is the line or starts with the line and a dot.
type UpgradeRule struct {
	Product string `json:"product"`
	Package string `json:"package"`
	// To is the target line.
	To string `json:"to"`
	// From are the lines updated directly to To.
	From []string `json:"from"`
	// Via is the line to update to first from an older one (one of From);
	// "" when there is no direct path: the package must be reinstalled.
	Via string `json:"via,omitempty"`
	// Note is the vendor's remark, e.g. "a new licence is needed from 8.1".
	Note string `json:"note,omitempty"`
	// Latest is the newest version of the package the host's product
	// repositories publish now: the version alone, without epoch or
	// release ("9.6.1", not "1:9.6.1-2.el9"); "" when they publish none.
	// The rule only bites when Latest is in line To.
	Latest string `json:"latest"`
}

// Attached is the answer (201) to POST /api/v1/tickets/{ticket}/attachments:
// the file as the support desk keeps it on the ticket. A file over the
// desk's attachment limit is refused with 413 and an Error of kind
// "too_large" naming the limit; a ticket not of the host's contract with 404.
type Attached struct {
	Ticket   string `json:"ticket"`   // ENM-T-NNNNNN
	Filename string `json:"filename"` // the sanitised name it is kept under
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"` // hex
}
