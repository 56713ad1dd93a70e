package cluster

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
)

// NodeEnv names the environment variable that, in the env given to
// NewPacemaker, overrides `crm_node -n`: with CIB_file=… there is no
// controller to ask which node this is, so tests (and dry runs on a saved
// CIB) say it.
const NodeEnv = "ENMEI_CLUSTER_NODE"

// Pacemaker is a Pacemaker cluster seen through its command-line tools.
type Pacemaker struct {
	run     Runner
	cibFile string // CIB_file in the tools' environment: no live cluster
	node    string // NodeEnv from the environment
}

// NewPacemaker returns the Pacemaker cluster that Pacemaker's tools reach
// with env added to enmei's environment (e.g. CIB_file=/path/cib.xml to
// work on a CIB file instead of the live cluster).
func NewPacemaker(env []string) *Pacemaker {
	full := append(os.Environ(), env...)
	return &Pacemaker{
		run:     ExecRunner{Env: env},
		cibFile: lookupEnv(full, "CIB_file"),
		node:    lookupEnv(full, NodeEnv),
	}
}

// lookupEnv returns the last value of key in env.
func lookupEnv(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

// Kind is "pacemaker".
func (p *Pacemaker) Kind() string { return "pacemaker" }

// CIBFile is the CIB file the tools work on, or "" for the live cluster.
func (p *Pacemaker) CIBFile() string { return p.cibFile }

// withCIB runs f holding the CIB file lock when the tools work on a CIB
// file (see LockCIBFile); a live CIB needs none.
func (p *Pacemaker) withCIB(ctx context.Context, f func() error) error {
	if p.cibFile == "" {
		return f()
	}
	unlock, err := LockCIBFile(ctx, p.cibFile)
	if err != nil {
		return err
	}
	defer unlock()
	return f()
}

// LocalNode is `crm_node -n`, or NodeEnv when set.
func (p *Pacemaker) LocalNode(ctx context.Context) (string, error) {
	if p.node != "" {
		return p.node, nil
	}
	out, err := p.run.Run(ctx, "crm_node", "-n")
	name := strings.TrimSpace(string(out))
	if err != nil || name == "" {
		if p.cibFile != "" {
			return "", errs.E(errs.Invalid, "crm_node cannot name this node without a running cluster (%v): set %s to the node's name when working on CIB_file=%s", err, NodeEnv, p.cibFile)
		}
		return "", fmt.Errorf("asking crm_node for this node's name: %w", err)
	}
	return name, nil
}

// Status is crm_mon's XML status. Quorum comes from the DC's with_quorum;
// without a DC (always so on a CIB file) from the CIB's have-quorum.
func (p *Pacemaker) Status(ctx context.Context) (Status, error) {
	var st Status
	err := p.withCIB(ctx, func() error {
		out, err := p.crmMon(ctx)
		if err != nil {
			return err
		}
		var dcPresent bool
		st, dcPresent, err = parseCrmMon(out)
		if err != nil {
			return err
		}
		if !dcPresent {
			st.Quorum, err = p.cibHasQuorum(ctx)
		}
		return err
	})
	return st, err
}

// crmMon runs crm_mon for XML: --output-as=xml from Pacemaker 2.0.3 on,
// --as-xml before (and it is gone from 3.0).
func (p *Pacemaker) crmMon(ctx context.Context) ([]byte, error) {
	out, err := p.run.Run(ctx, "crm_mon", "--output-as=xml", "--one-shot")
	if err != nil && exitCode(err) == 64 && strings.Contains(stderrOf(err), "output-as") {
		out, err = p.run.Run(ctx, "crm_mon", "--as-xml")
	}
	if err != nil {
		if msg := resultErrors(out); msg != "" {
			err = fmt.Errorf("%w: %s", err, msg)
		}
		return nil, fmt.Errorf("reading the cluster status with crm_mon: %w", err)
	}
	return out, nil
}

func (p *Pacemaker) cibHasQuorum(ctx context.Context) (bool, error) {
	out, err := p.run.Run(ctx, "cibadmin", "--query", "--xpath", "/cib", "--no-children")
	if err != nil {
		return false, fmt.Errorf("reading have-quorum from the CIB: %w", err)
	}
	var root xmlElem
	if err := xml.Unmarshal(out, &root); err != nil {
		return false, fmt.Errorf("reading have-quorum from the CIB: %w", err)
	}
	return isTrue(root.attr("have-quorum")), nil
}

// xmlElem is any XML element, for walking crm_mon's and cibadmin's output
// without a struct per schema version.
type xmlElem struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Kids    []xmlElem  `xml:",any"`
	Text    string     `xml:",chardata"`
}

func (e xmlElem) attr(name string) string {
	for _, a := range e.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (e xmlElem) kid(name string) (xmlElem, bool) {
	for _, k := range e.Kids {
		if k.XMLName.Local == name {
			return k, true
		}
	}
	return xmlElem{}, false
}

func (e xmlElem) kids(name string) []xmlElem {
	var ks []xmlElem
	for _, k := range e.Kids {
		if k.XMLName.Local == name {
			ks = append(ks, k)
		}
	}
	return ks
}

// isTrue is Pacemaker's crm_is_true.
func isTrue(s string) bool {
	switch strings.ToLower(s) {
	case "true", "on", "yes", "y", "1":
		return true
	}
	return false
}

// resultErrors is the <errors> of a <pacemaker-result>, on one line: with
// --output-as=xml the tools report there, not on standard error.
func resultErrors(out []byte) string {
	var root xmlElem
	if xml.Unmarshal(out, &root) != nil {
		return ""
	}
	status, _ := root.kid("status")
	errsElem, _ := status.kid("errors")
	var msgs []string
	for _, e := range errsElem.kids("error") {
		msgs = append(msgs, strings.TrimSpace(e.Text))
	}
	return oneLine(strings.Join(msgs, "\n"))
}

// parseCrmMon reads crm_mon's XML: Pacemaker 2's <pacemaker-result> or
// 1.1's <crm_mon>, whose inner elements are the same. dcPresent reports
// whether Quorum was known.
func parseCrmMon(out []byte) (st Status, dcPresent bool, err error) {
	var root xmlElem
	if err := xml.Unmarshal(out, &root); err != nil {
		return st, false, fmt.Errorf("reading crm_mon's XML: %w", err)
	}
	summary, ok := root.kid("summary")
	if !ok {
		// crm_mon exits 0 with only <errors> when CIB_file is missing.
		msg := resultErrors(out)
		if msg == "" {
			msg = "no <summary>"
		}
		return st, false, fmt.Errorf("crm_mon reported no cluster status: %s", msg)
	}
	dc, _ := summary.kid("current_dc")
	dcPresent = isTrue(dc.attr("present"))
	st.Quorum = isTrue(dc.attr("with_quorum"))
	opts, _ := summary.kid("cluster_options")
	st.Maintenance = isTrue(opts.attr("maintenance-mode"))

	nodes, _ := root.kid("nodes")
	for _, n := range nodes.kids("node") {
		st.Nodes = append(st.Nodes, Node{
			Name:        n.attr("name"),
			Online:      isTrue(n.attr("online")),
			Standby:     isTrue(n.attr("standby")),
			Maintenance: isTrue(n.attr("maintenance")),
			Unclean:     isTrue(n.attr("unclean")),
			Pending:     isTrue(n.attr("pending")),
		})
	}
	if len(st.Nodes) == 0 {
		// A real cluster has at least this node; no node means crm_mon read
		// an empty or truncated CIB.
		return st, false, errors.New("crm_mon reported a cluster without nodes: the CIB is empty or unreadable")
	}
	resources, _ := root.kid("resources")
	walkResources(resources, "", &st.Resources)
	failures, _ := root.kid("failures")
	for _, f := range failures.kids("failure") {
		st.Failures = append(st.Failures, failureLine(f))
	}
	return st, dcPresent, nil
}

// walkResources collects the primitives under e, one Resource per clone
// instance, with the nearest group, clone or bundle as Parent.
func walkResources(e xmlElem, parent string, out *[]Resource) {
	for _, k := range e.Kids {
		switch k.XMLName.Local {
		case "resource":
			r := Resource{
				ID:      k.attr("id"),
				Parent:  parent,
				Agent:   k.attr("resource_agent"),
				Role:    k.attr("role"),
				Active:  isTrue(k.attr("active")),
				Failed:  isTrue(k.attr("failed")),
				Managed: isTrue(k.attr("managed")),
			}
			for _, n := range k.kids("node") {
				r.Nodes = append(r.Nodes, n.attr("name"))
			}
			if len(r.Nodes) > 0 {
				r.Node = r.Nodes[0]
			}
			*out = append(*out, r)
		case "group", "clone", "bundle":
			walkResources(k, k.attr("id"), out)
		case "replica":
			walkResources(k, parent, out)
		}
	}
}

// failureLine shows a failed action: "db_stop_0 on node2: error (exit
// code 1, Simulated action result) at 2026-11-24 16:21:06Z".
func failureLine(f xmlElem) string {
	detail := []string{}
	if c := f.attr("exitcode"); c != "" {
		detail = append(detail, "exit code "+c)
	}
	if r := f.attr("exitreason"); r != "" {
		detail = append(detail, r)
	}
	s := fmt.Sprintf("%s on %s: %s", f.attr("op_key"), f.attr("node"), f.attr("exitstatus"))
	if len(detail) > 0 {
		s += " (" + strings.Join(detail, ", ") + ")"
	}
	if t := f.attr("last-rc-change"); t != "" {
		s += " at " + t
	}
	return s
}

// Standby sets node's permanent standby attribute, as `crm_standby -v`
// does (crm_standby is a shell script around crm_attribute).
func (p *Pacemaker) Standby(ctx context.Context, node string, on bool) error {
	v := "off"
	if on {
		v = "on"
	}
	return p.withCIB(ctx, func() error {
		if _, err := p.run.Run(ctx, "crm_attribute", "--node", node, "--name", "standby", "--update", v, "--lifetime", "forever"); err != nil {
			return fmt.Errorf("setting standby %s for node %s: %w", v, node, err)
		}
		return nil
	})
}

// Backup writes the whole CIB (`cibadmin --query`) to dir/cib.xml.
func (p *Pacemaker) Backup(ctx context.Context, dir string) ([]string, error) {
	var out []byte
	err := p.withCIB(ctx, func() error {
		var err error
		out, err = p.run.Run(ctx, "cibadmin", "--query")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading the CIB for the backup: %w", err)
	}
	var root xmlElem
	if err := xml.Unmarshal(out, &root); err != nil || root.XMLName.Local != "cib" {
		return nil, fmt.Errorf("cibadmin --query did not print a CIB (%v)", err)
	}
	path := filepath.Join(dir, "cib.xml")
	if err := writeFileSync(path, out); err != nil {
		return nil, fmt.Errorf("writing the CIB backup: %w", err)
	}
	return []string{path}, nil
}

// writeFileSync writes a new 0600 file and syncs it: a backup taken just
// before an upgrade must survive a crash during it.
func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// The update lock is a cluster property set in crm_config:
//
//	<cluster_property_set id="enmei-update-lock">
//	  <nvpair id="enmei-update-lock-owner" name="enmei-update-lock-owner" value="node1:4242"/>
//	  <nvpair id="enmei-update-lock-node" … value="node1"/>
//	  <nvpair id="enmei-update-lock-expires" … value="2026-11-24T17:00:00Z"/>
//	  <nvpair id="enmei-update-lock-note" … value="…"/>
//	</cluster_property_set>
//
// It lives in the configuration section so that it is replicated to every
// node, survives a restart of the whole cluster, and is seen by any node
// (a node attribute would be tied to one node, the status section is
// rebuilt). Pacemaker ignores properties it does not know. Each step is a
// single cibadmin request, which the CIB manager applies atomically:
//
//   - taking a free lock is `cibadmin --create` of the set: it fails with
//     "File exists" (exit 108, CRM_EX_EXISTS) when the id is taken, so two
//     nodes racing for it cannot both win;
//   - renewing or taking over an expired lock is `cibadmin --replace
//     --xpath` of the set *as it was read* (owner and expiry in the XPath
//     predicate): it fails with "No such device or address" (exit 105,
//     CRM_EX_NOSUCH) when someone changed it meanwhile — a compare-and-swap;
//   - NoteLock is `cibadmin --modify --xpath` the same way;
//   - Unlock is `cibadmin --delete --xpath` with the owner in the predicate.
//     In 2.1.5 a delete whose XPath matches nothing exits 0, so Unlock
//     reads the lock back to tell "released" from "held by someone else".
//
// On a CIB file there is no CIB manager; the CIB file lock (LockCIBFile)
// held around the whole sequence gives the same atomicity.
const (
	lockSetID    = "enmei-update-lock"
	lockSetXPath = "/cib/configuration/crm_config/cluster_property_set[@id='" + lockSetID + "']"
)

// Exit codes of cibadmin (Pacemaker 2's crm_exit_t).
const (
	exitNoSuch = 105 // CRM_EX_NOSUCH: the XPath matched nothing
	exitExists = 108 // CRM_EX_EXISTS: --create of an id that exists
)

func isNoSuch(err error) bool {
	return exitCode(err) == exitNoSuch || strings.Contains(stderrOf(err), "No such device or address")
}

func isExists(err error) bool {
	return exitCode(err) == exitExists || strings.Contains(stderrOf(err), "File exists") ||
		strings.Contains(stderrOf(err), "Name not unique")
}

// lockXML is l as the property set.
func lockXML(l Lock) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<cluster_property_set id="%s">`, lockSetID)
	nv := func(name, value string) {
		id := lockSetID + "-" + name
		b.WriteString(`<nvpair id="` + id + `" name="` + id + `" value="`)
		xml.EscapeText(&b, []byte(value))
		b.WriteString(`"/>`)
	}
	nv("owner", l.Owner)
	nv("node", l.Node)
	nv("expires", l.Expires.UTC().Format(time.RFC3339))
	nv("note", oneLineNote(l.Note))
	b.WriteString(`</cluster_property_set>`)
	return b.String()
}

// oneLineNote keeps a note on one line: XML attribute values turn line
// breaks into spaces anyway.
func oneLineNote(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// lockXPath selects the lock set only while it still has owner and, when
// not empty, the expiry expires (as stored).
func lockXPath(owner, expires string) string {
	x := lockSetXPath + "[nvpair[@name='" + lockSetID + "-owner'][@value=" + xpathLiteral(owner) + "]]"
	if expires != "" {
		x += "[nvpair[@name='" + lockSetID + "-expires'][@value=" + xpathLiteral(expires) + "]]"
	}
	return x
}

// xpathLiteral quotes s as an XPath 1.0 string literal, which has no
// escapes: a string with both quote characters becomes a concat().
func xpathLiteral(s string) string {
	if !strings.Contains(s, "'") {
		return "'" + s + "'"
	}
	if !strings.Contains(s, `"`) {
		return `"` + s + `"`
	}
	parts := strings.Split(s, "'")
	var b strings.Builder
	b.WriteString("concat(")
	for i, p := range parts {
		if i > 0 {
			b.WriteString(`, "'", `)
		}
		b.WriteString("'" + p + "'")
	}
	b.WriteString(")")
	return b.String()
}

// storedLock is the lock as read, with the expiry exactly as stored, for
// compare-and-swap.
type storedLock struct {
	Lock
	rawExpires string
}

// readLock reads the lock set; nil when there is none.
func (p *Pacemaker) readLock(ctx context.Context) (*storedLock, error) {
	out, err := p.run.Run(ctx, "cibadmin", "--query", "--xpath", lockSetXPath)
	if isNoSuch(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the cluster update lock: %w", err)
	}
	var set xmlElem
	if err := xml.Unmarshal(out, &set); err != nil {
		return nil, fmt.Errorf("reading the cluster update lock: %w", err)
	}
	l := &storedLock{}
	for _, nv := range set.kids("nvpair") {
		v := nv.attr("value")
		switch strings.TrimPrefix(nv.attr("name"), lockSetID+"-") {
		case "owner":
			l.Owner = v
		case "node":
			l.Node = v
		case "note":
			l.Note = v
		case "expires":
			l.rawExpires = v
			// An unreadable expiry reads as expired: a lock nobody can
			// interpret must not block updates for ever.
			l.Expires, _ = time.Parse(time.RFC3339, v)
		}
	}
	return l, nil
}

func lockedError(l Lock) *LockedError {
	return &LockedError{Owner: l.Owner, Node: l.Node, Note: l.Note, Expires: l.Expires}
}

// lockAttempts bounds Lock's retries when the lock changes between reading
// and swapping it.
const lockAttempts = 5

// Lock takes the update lock; see the comment on lockSetID for how.
func (p *Pacemaker) Lock(ctx context.Context, l Lock) error {
	if err := checkLock(l); err != nil {
		return err
	}
	x := lockXML(l)
	return p.withCIB(ctx, func() error {
		for range lockAttempts {
			_, err := p.run.Run(ctx, "cibadmin", "--create", "--scope", "crm_config", "--xml-text", x)
			if err == nil {
				return nil
			}
			if !isExists(err) {
				return fmt.Errorf("taking the cluster update lock: %w", err)
			}
			cur, err := p.readLock(ctx)
			if err != nil {
				return err
			}
			if cur == nil {
				continue // released since: create again
			}
			if cur.Owner != l.Owner && !cur.Expired(time.Now()) {
				return lockedError(cur.Lock)
			}
			_, err = p.run.Run(ctx, "cibadmin", "--replace", "--xpath", lockXPath(cur.Owner, cur.rawExpires), "--xml-text", x)
			if err == nil {
				return nil
			}
			if !isNoSuch(err) {
				return fmt.Errorf("taking over the cluster update lock: %w", err)
			}
		}
		return errs.E(errs.Other, "the cluster update lock kept changing while this run tried to take it: run this command again")
	})
}

// Locked returns the lock, expired or not, or nil.
func (p *Pacemaker) Locked(ctx context.Context) (*Lock, error) {
	var l *Lock
	err := p.withCIB(ctx, func() error {
		cur, err := p.readLock(ctx)
		if cur != nil {
			l = &cur.Lock
		}
		return err
	})
	return l, err
}

// NoteLock sets the note of owner's lock.
func (p *Pacemaker) NoteLock(ctx context.Context, owner, note string) error {
	id := lockSetID + "-note"
	var b strings.Builder
	fmt.Fprintf(&b, `<cluster_property_set id="%s"><nvpair id="%s" name="%s" value="`, lockSetID, id, id)
	xml.EscapeText(&b, []byte(oneLineNote(note)))
	b.WriteString(`"/></cluster_property_set>`)
	return p.withCIB(ctx, func() error {
		_, err := p.run.Run(ctx, "cibadmin", "--modify", "--xpath", lockXPath(owner, ""), "--xml-text", b.String())
		if err == nil {
			return nil
		}
		if !isNoSuch(err) {
			return fmt.Errorf("writing a note on the cluster update lock: %w", err)
		}
		cur, err := p.readLock(ctx)
		if err != nil {
			return err
		}
		if cur == nil {
			return errs.E(errs.NotFound, "the cluster update lock of %s is gone, so the note %q was not recorded", owner, note)
		}
		return lockedError(cur.Lock)
	})
}

// Unlock deletes owner's lock.
func (p *Pacemaker) Unlock(ctx context.Context, owner string) error {
	return p.withCIB(ctx, func() error {
		if _, err := p.run.Run(ctx, "cibadmin", "--delete", "--xpath", lockXPath(owner, "")); err != nil && !isNoSuch(err) {
			return fmt.Errorf("releasing the cluster update lock: %w", err)
		}
		cur, err := p.readLock(ctx)
		if err != nil {
			return err
		}
		if cur == nil {
			return nil
		}
		if cur.Owner == owner {
			return errs.E(errs.Other, "the cluster update lock of %s is still in the CIB after deleting it: remove the %s property set with cibadmin", owner, lockSetID)
		}
		return lockedError(cur.Lock)
	})
}

// String shows the CIB file or "live CIB", for logs.
func (p *Pacemaker) String() string {
	if p.cibFile != "" {
		return "pacemaker (CIB_file=" + p.cibFile + ")"
	}
	return "pacemaker"
}
