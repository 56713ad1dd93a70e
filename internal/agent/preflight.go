package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/bytesize"
	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/inventory"
	"github.com/enmei-project/enmei/internal/upgradepath"
)

// The statuses of a preflight check. A warning does not fail preflight.
const (
	checkPass = "pass"
	checkWarn = "warn"
	checkFail = "fail"
)

// Check is one preflight check's result, as `enmei preflight --json` prints it.
type Check struct {
	Name    string `json:"name"`
	Status  string `json:"status"` // pass, warn or fail
	Message string `json:"message"`
}

// Limits preflight judges against.
const (
	maxClockSkew   = 5 * time.Minute
	cacheSpaceFail = 300 << 20 // below this a typical update cannot download
	cacheSpaceWarn = 1 << 30
	checkTimeout   = 10 * time.Second
)

// hostView is what preflight learns about the host, kept for update: the
// OS, the package manager, what is installed, the server's answers, and the
// cluster when there is one.
type hostView struct {
	rel       OSRelease
	relErr    error
	traits    traits
	pm        *pkgManager
	installed map[string]inventory.Package // by name (the newest when several)
	st        *HostState
	client    *client
	phase     string
	until     string
	rules     []api.UpgradeRule
	rulesErr  error
	cl        clusterView
}

func (a *app) preflightCommand() *cobra.Command {
	var o clusterOptions
	cmd := &cobra.Command{
		Use:   "preflight [--json] [--cluster auto|pacemaker|lifekeeper|none] [--node NAME]",
		Short: "Check, without changing anything, that this host can be updated safely",
		Long: `preflight runs read-only checks before an update: the OS and its lifecycle
phase, the server (DNS, TCP, TLS, proxy) and the clock, the entitlement, free
space for the package cache, conflicting third-party repositories (EPEL, remi),
excluded packages, the package database, and the product's upgrade paths. On a
cluster node also: every node online, none in standby or maintenance, no
failed resource, quorum, node names and localhost resolve, SELinux mode.

Each check prints pass, warn or fail with a reason. Exit 0 when none fails
(warnings do not fail), 1 when one fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			checks, v := a.preflight(cmd.Context(), o, nil)
			v.close()
			return a.reportChecks(checks)
		},
	}
	o.flags(cmd)
	return cmd
}

// reportChecks prints the checks and fails when one failed.
func (a *app) reportChecks(checks []Check) error {
	if a.json {
		if err := a.printJSON(checks); err != nil {
			return err
		}
	} else {
		for _, c := range checks {
			fmt.Fprintf(a.stdout, "%-4s  %-20s %s\n", strings.ToUpper(c.Status), c.Name, c.Message)
		}
	}
	if failed := failedChecks(checks); len(failed) > 0 {
		return errs.E(errs.Other, "preflight failed: %s", strings.Join(failed, "; "))
	}
	return nil
}

// failedChecks are the messages of the checks that failed.
func failedChecks(checks []Check) []string {
	var out []string
	for _, c := range checks {
		if c.Status == checkFail {
			out = append(out, c.Name+": "+c.Message)
		}
	}
	return out
}

func (v *hostView) close() {
	if v.client != nil {
		v.client.close()
	}
}

// preflight runs every check. The network checks, the local ones and the
// cluster's run side by side, so the slowest alone sets the time; the
// result is always in the same order.
func (a *app) preflight(ctx context.Context, o clusterOptions, pkgs []string) ([]Check, *hostView) {
	v := &hostView{}
	v.rel, v.relErr = readOSRelease(a.root)
	if v.relErr == nil {
		// An unreadable dpkg status only leaves the apt version to the
		// release's own: the package-db check reports the status file.
		v.traits, _ = releaseTraits(a.root, v.rel)
	}
	v.pm = newPkgManager(a.root, v.rel, v.traits.PM)

	var local, remote, clu, final []Check
	var wg sync.WaitGroup
	wg.Go(func() { local = a.localChecks(ctx, v) })
	remote = a.serverChecks(ctx, v)
	wg.Wait()
	// Both need what the first two found: the installed packages and the
	// lifecycle phase.
	wg.Go(func() { final = a.finalVersionsCheck(ctx, v) })
	wg.Go(func() { clu = a.clusterChecks(ctx, v, o) })
	upgrade := upgradePathCheck(v, pkgs)
	sw := a.switchCheck(v)
	wg.Wait()
	checks := append(local, remote...)
	checks = append(checks, final...)
	checks = append(checks, sw...)
	checks = append(checks, upgrade...)
	return append(checks, clu...), v
}

// localChecks are the checks that need only the host's files.
func (a *app) localChecks(ctx context.Context, v *hostView) []Check {
	var out []Check
	out = append(out, osCheck(v))
	out = append(out, a.packageDBCheck(ctx, v))
	out = append(out, diskCheck(a.root, v.pm))
	out = append(out, a.repoChecks(v)...)
	return out
}

func osCheck(v *hostView) Check {
	c := Check{Name: "os"}
	if v.relErr != nil {
		c.Status, c.Message = checkFail, oneSentence(v.relErr)
		return c
	}
	name := v.rel.PrettyName
	if name == "" {
		name = strings.TrimSpace(v.rel.ID + " " + v.rel.VersionID)
	}
	switch {
	case !v.traits.Supported:
		c.Status, c.Message = checkFail, v.traits.Why
	case len(v.traits.Lacks) > 0:
		c.Status, c.Message = checkWarn, fmt.Sprintf("%s (%s): %s", name, v.traits.PM, strings.Join(v.traits.Lacks, "; "))
	default:
		c.Status, c.Message = checkPass, fmt.Sprintf("%s is supported (package manager %s)", name, v.traits.PM)
	}
	return c
}

// packageDBCheck opens the package database the way rpm -q and dpkg-query
// read it, and keeps what is installed for the upgrade-path check.
func (a *app) packageDBCheck(ctx context.Context, v *hostView) Check {
	pkgs, db, err := inventory.ReadWith(ctx, a.root, inventory.Options{Brief: true})
	if err != nil {
		return Check{Name: "package-db", Status: checkFail, Message: oneSentence(err)}
	}
	v.installed = make(map[string]inventory.Package, len(pkgs))
	for _, p := range pkgs {
		v.installed[p.Name] = p
	}
	return Check{Name: "package-db", Status: checkPass, Message: fmt.Sprintf("%s opens: %d packages installed", hostPath(a.root, db.Path), len(pkgs))}
}

// hostPath shows a path under root as the host sees it.
func hostPath(root, p string) string {
	if rel, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(rel, "..") {
		return "/" + filepath.ToSlash(rel)
	}
	return p
}

// diskCheck measures the free space where the package manager downloads.
func diskCheck(root string, pm *pkgManager) Check {
	dir := pm.cacheDir()
	at := filepath.Join(root, dir)
	var st unix.Statfs_t
	for {
		err := unix.Statfs(at, &st)
		if err == nil {
			break
		}
		parent := filepath.Dir(at)
		if parent == at {
			return Check{Name: "disk", Status: checkWarn, Message: fmt.Sprintf("cannot measure the free space for %s: %v", dir, err)}
		}
		at = parent
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	msg := fmt.Sprintf("%s free for the package cache %s", bytesize.About(free), dir)
	switch {
	case free < cacheSpaceFail:
		return Check{Name: "disk", Status: checkFail, Message: msg + fmt.Sprintf(": an update needs at least %s; free space on that file system", bytesize.About(cacheSpaceFail))}
	case free < cacheSpaceWarn:
		return Check{Name: "disk", Status: checkWarn, Message: msg + fmt.Sprintf(": less than %s; a large update may not fit", bytesize.About(cacheSpaceWarn))}
	}
	return Check{Name: "disk", Status: checkPass, Message: msg}
}

// repoChecks look for conflicting third-party repositories and report what
// is excluded from updates.
func (a *app) repoChecks(v *hostView) []Check {
	third := Check{Name: "third-party-repos", Status: checkPass, Message: "no repository known to conflict (EPEL, remi) is enabled"}
	excl := Check{Name: "excludepkgs", Status: checkPass, Message: "no package is excluded from updates"}
	if v.pm.kind == pmApt {
		if held := heldDebs(a.root); len(held) > 0 {
			excl.Message = "held back from updates (apt-mark hold): " + strings.Join(held, ", ")
		}
		return []Check{third, excl}
	}
	repos, err := yumRepos(a.root)
	if err != nil {
		third.Status, third.Message = checkWarn, fmt.Sprintf("cannot read /etc/yum.repos.d: %v", err)
	}
	if bad := conflicting(repos); len(bad) > 0 {
		var names []string
		for _, r := range bad {
			names = append(names, fmt.Sprintf("%s (%s)", r.ID, r.File))
		}
		third.Status = checkWarn
		third.Message = fmt.Sprintf("enabled repositories can replace the vendor's ELS packages with their own builds: %s; disable them (dnf config-manager --set-disabled ID) or exclude the ELS packages there", strings.Join(names, ", "))
	}
	var parts []string
	if pats, file := mainExcludes(a.root); len(pats) > 0 {
		parts = append(parts, fmt.Sprintf("%s in %s", strings.Join(pats, " "), file))
	}
	for _, r := range repos {
		if r.Enabled && len(r.Exclude) > 0 {
			parts = append(parts, fmt.Sprintf("%s in repository %s", strings.Join(r.Exclude, " "), r.ID))
		}
	}
	if len(parts) > 0 {
		excl.Message = "excluded from updates: " + strings.Join(parts, "; ")
	}
	return []Check{third, excl}
}

// serverChecks reach the server step by step (DNS, TCP, then TLS and HTTP
// through the proxy when there is one), compare clocks, and ask for every
// registration's status: the entitlement and the lifecycle phase.
func (a *app) serverChecks(ctx context.Context, v *hostView) []Check {
	st, err := LoadState(a.root)
	if err != nil {
		msg := oneSentence(err)
		return []Check{{"server", checkFail, msg}, {"entitlement", checkFail, msg}}
	}
	v.st = st
	c, err := st.client(a.root, a.env)
	if err != nil {
		msg := oneSentence(err)
		return []Check{{"server", checkFail, msg}, {"entitlement", checkFail, msg}}
	}
	v.client = c
	server, skew, err := reach(ctx, c)
	if err != nil {
		return []Check{{"server", checkFail, oneSentence(err)}, {"entitlement", checkFail, "not checked: the server cannot be reached"}}
	}
	out := []Check{{"server", checkPass, server}}
	clock := Check{Name: "clock", Status: checkPass, Message: fmt.Sprintf("within %s of the server's", roundSkew(skew))}
	if skew > maxClockSkew || skew < -maxClockSkew {
		dir := "ahead of"
		if skew < 0 {
			dir = "behind"
		}
		clock.Status = checkFail
		clock.Message = fmt.Sprintf("this host's clock is %s %s the server's (more than %s): fix time synchronisation (chronyd or ntpd) before updating", roundSkew(abs(skew)), dir, maxClockSkew)
	}
	out = append(out, clock)
	return append(out, a.entitlementChecks(ctx, v)...)
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func roundSkew(d time.Duration) time.Duration { return d.Round(time.Second) }

// reach checks the way to the server layer by layer so a failure names the
// layer, and returns how the server answered and the clock difference
// (this host minus the server) from its Date header.
func reach(ctx context.Context, c *client) (string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	u, err := url.Parse(c.server)
	if err != nil {
		return "", 0, err
	}
	target, what := u, "the server"
	if c.proxy != nil {
		target, what = c.proxy, "the proxy"
	}
	host, port := target.Hostname(), target.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[target.Scheme]
	}
	steps := []string{}
	if net.ParseIP(host) == nil {
		t0 := time.Now()
		if _, err := net.DefaultResolver.LookupHost(ctx, host); err != nil {
			return "", 0, errs.E(errs.Unavailable, "cannot resolve %s (%s) in DNS: %v: check the name, /etc/resolv.conf and /etc/hosts", host, what, err)
		}
		steps = append(steps, "DNS "+since(t0))
	}
	t0 := time.Now()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return "", 0, errs.E(errs.Unavailable, "cannot connect to %s port %s (%s, TCP): %v: check that it runs and that firewalls let this host through", host, port, what, err)
	}
	conn.Close()
	steps = append(steps, "TCP "+since(t0))
	t0 = time.Now()
	req, err := http.NewRequestWithContext(ctx, "GET", c.server+"/api/v1/signing-key", nil)
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("User-Agent", "enmei-agent")
	resp, err := c.http.Do(req)
	if err != nil {
		return "", 0, c.unreachable(err)
	}
	resp.Body.Close()
	arrived := time.Now()
	if resp.StatusCode != http.StatusOK {
		return "", 0, errs.E(errs.Unavailable, "%s answered %s instead of its signing key: check that the server in /etc/enmei/host.json is the enmei server", c.server, resp.Status)
	}
	layer := "HTTP"
	if resp.TLS != nil {
		layer = "TLS+HTTP " + tls.VersionName(resp.TLS.Version)
	}
	steps = append(steps, layer+" "+since(t0))
	msg := fmt.Sprintf("%s answers (%s)", c.server, strings.Join(steps, ", "))
	if c.proxy != nil {
		msg += " through the proxy " + c.proxyName()
	}
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return msg, 0, nil
	}
	// Date has whole seconds: compare with the middle of the exchange.
	mid := t0.Add(arrived.Sub(t0) / 2)
	return msg, mid.Sub(date.Add(500 * time.Millisecond)), nil
}

func since(t time.Time) string {
	return time.Since(t).Round(time.Millisecond).String()
}

// entitlementChecks ask the server about every registration: the contract
// must be valid; its phase is the host's lifecycle phase.
func (a *app) entitlementChecks(ctx context.Context, v *hostView) []Check {
	ent := Check{Name: "entitlement", Status: checkPass}
	var ok, bad []string
	for _, r := range v.st.Registrations {
		var s api.Status
		err := v.client.do(ctx, "GET", "/api/v1/status", r.HostID, r.Secret, nil, &s)
		switch {
		case err != nil:
			bad = append(bad, fmt.Sprintf("%s (%s): %s", r.SupportID, r.Product, oneSentence(err)))
			continue
		case !s.Contract.Valid:
			bad = append(bad, fmt.Sprintf("%s (%s): the contract is not valid today (%s to %s): renew it with the vendor", r.SupportID, r.Product, s.Contract.Start, s.Contract.End))
			continue
		}
		ok = append(ok, fmt.Sprintf("%s (%s) valid until %s", s.Contract.SupportID, r.Product, s.Contract.End))
		if v.phase == "" && s.Phase != "" {
			v.phase, v.until = s.Phase, s.PhaseUntil
		}
		rules, err := upgradeRules(ctx, v.client, r)
		if err != nil && v.rulesErr == nil {
			v.rulesErr = err
		}
		v.rules = append(v.rules, rules...)
	}
	switch {
	case len(bad) > 0:
		ent.Status, ent.Message = checkFail, strings.Join(bad, "; ")
	case len(ok) == 0:
		ent.Status, ent.Message = checkFail, "this host holds no registration: run enmei register"
	default:
		ent.Message = strings.Join(ok, "; ")
	}
	life := Check{Name: "lifecycle", Status: checkPass}
	switch v.phase {
	case "":
		life.Message = "the vendor has set no lifecycle for this product"
	case "end":
		life.Status, life.Message = checkFail, fmt.Sprintf("support for this product ended on %s: no more updates will come", v.until)
	case "extended":
		life.Message = fmt.Sprintf("in the extended lifecycle support phase until %s", v.until)
	default:
		life.Message = fmt.Sprintf("in the %s support phase until %s; the extended phase follows", v.phase, v.until)
	}
	return []Check{ent, life}
}

// finalVersionsCheck: before the extended period, the host should run the
// community's final versions (the seed asks hosts to reach them first), so
// preflight warns when the package manager's cached metadata has newer
// packages than those installed. It reads only the cache: preflight makes
// no downloads.
func (a *app) finalVersionsCheck(ctx context.Context, v *hostView) []Check {
	if v.phase != "full" && v.phase != "security" {
		return nil
	}
	c := Check{Name: "final-versions", Status: checkPass}
	ups, err := v.pm.pending(ctx, nil, true)
	switch {
	case errors.Is(err, errNoCache):
		c.Status, c.Message = checkWarn, fmt.Sprintf("no package metadata cached, so preflight cannot tell whether the community's final versions are installed: run %s", v.pm.refreshHint())
	case err != nil:
		c.Status, c.Message = checkWarn, "cannot compare with the repositories: "+oneSentence(err)
	case len(ups) > 0:
		c.Status = checkWarn
		c.Message = fmt.Sprintf("%d installed packages are older than the repositories' versions (%s): install the community's final versions (%s) before the extended period starts after %s", len(ups), summarise(ups, 5), v.pm.upgradeHint(), v.until)
	default:
		c.Message = "every installed package is at the newest version the cached metadata knows"
	}
	return []Check{c}
}

// summarise names the first n updates.
func summarise(ups []pkgUpdate, n int) string {
	var names []string
	for i, u := range ups {
		if i == n {
			names = append(names, fmt.Sprintf("and %d more", len(ups)-n))
			break
		}
		names = append(names, u.Name)
	}
	return strings.Join(names, ", ")
}

// upgradeRules asks the server for the upgrade-path rules of a
// registration's product; a server that predates them has none.
func upgradeRules(ctx context.Context, c *client, r Registration) ([]api.UpgradeRule, error) {
	var up api.UpgradePaths
	err := c.do(ctx, "GET", "/api/v1/upgrade-paths", r.HostID, r.Secret, nil, &up)
	if errs.Is(err, errs.NotFound) {
		return nil, nil
	}
	return up.Rules, err
}

// upgradePathCheck refuses an update across version lines the product does
// not allow (the upgrade guide's "directly only from the two previous minor
// lines"). With packages named after --, only rules for exactly those
// names apply: "enmei update -- lifekeeper-9.4*" is the intermediate step.
func upgradePathCheck(v *hostView, pkgs []string) []Check {
	c := Check{Name: "upgrade-path", Status: checkPass}
	if v.rulesErr != nil {
		c.Status, c.Message = checkWarn, "cannot read the product's upgrade paths: "+oneSentence(v.rulesErr)
		return []Check{c}
	}
	rules := v.rules
	if len(pkgs) > 0 {
		rules = nil
		for _, r := range v.rules {
			if slices.Contains(pkgs, r.Package) {
				rules = append(rules, r)
			}
		}
	}
	installed := map[string]string{}
	for name, p := range v.installed {
		installed[name] = p.EVR()
	}
	refusals := upgradepath.Check(rules, installed)
	if len(refusals) == 0 {
		if len(v.rules) == 0 {
			c.Message = "the product declares no upgrade paths"
		} else {
			c.Message = fmt.Sprintf("every installed package may update directly (%d upgrade-path rules)", len(v.rules))
		}
		return []Check{c}
	}
	var msgs []string
	for _, r := range refusals {
		msgs = append(msgs, r.Message)
	}
	c.Status, c.Message = checkFail, strings.Join(msgs, "; ")
	return []Check{c}
}

// switchCheck: in the extended phase the community no longer publishes, so
// a host should update from the vendor's mirrors and ELS repositories only
// (enmei switch); before it, switching is the step to plan.
func (a *app) switchCheck(v *hostView) []Check {
	if v.phase == "" {
		return nil
	}
	recs, _, err := distroFiles(a.root)
	if err != nil {
		return []Check{{"distribution-repos", checkWarn, "cannot read the repository configuration: " + oneSentence(err)}}
	}
	var names []string
	for _, r := range recs {
		names = append(names, r.Repos...)
	}
	switch {
	case len(names) == 0:
		return []Check{{"distribution-repos", checkPass, "no repository of the distribution's own servers is enabled"}}
	case v.phase == "extended" || v.phase == "end":
		return []Check{{"distribution-repos", checkWarn, fmt.Sprintf("in the extended phase the host still uses the distribution's own repositories (%s), which no longer get fixes: run enmei switch", strings.Join(names, ", "))}}
	}
	return []Check{{"distribution-repos", checkPass, fmt.Sprintf("the distribution's own repositories are in use (%s); run enmei switch before the extended phase starts", strings.Join(names, ", "))}}
}
