package agent

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/errs"
)

// leaseMS is the lease register asks for (0: a server seat).
func leaseMS(o registerOptions) int64 {
	if !o.ephemeral {
		return 0
	}
	return o.lease.Milliseconds()
}

// machineIdentity is the identity register sends: /etc/machine-id's digest,
// else — in a container or for an ephemeral seat, where images often ship
// without one — the identity generated at an earlier registration, else a
// new random one. generated is the identity to keep in host.json ("" when
// it came from /etc/machine-id).
func (a *app) machineIdentity(prev *HostState, ephemeral bool) (id, generated string, err error) {
	id, err = MachineIdentity(a.root)
	if err == nil {
		return id, "", nil
	}
	if prev != nil && prev.MachineID != "" {
		return prev.MachineID, prev.MachineID, nil
	}
	if !ephemeral && !inContainer(a.root, a.env) {
		return "", "", err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("generating a machine identity: %w", err)
	}
	id = "gen-" + hex.EncodeToString(b)
	fmt.Fprintf(a.stderr, "Note: this host has no /etc/machine-id; it registers with a generated identity kept in %s (keep that file to keep the seat).\n", statePath)
	return id, id, nil
}

// inContainer reports whether the agent runs in a container: podman and
// docker leave a marker file, systemd-nspawn and others set $container.
func inContainer(root string, env func(string) string) bool {
	if env("container") != "" {
		return true
	}
	for _, p := range []string{"run/.containerenv", ".dockerenv"} {
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			return true
		}
	}
	return false
}

// HeartbeatReport is what `enmei heartbeat --json` prints: one entry per
// registration.
type HeartbeatReport struct {
	Registrations []HeartbeatResult `json:"registrations"`
}

// HeartbeatResult is one registration's heartbeat.
type HeartbeatResult struct {
	SupportID string     `json:"support_id"`
	Product   string     `json:"product"`
	HostID    string     `json:"host_id"`
	Lease     *api.Lease `json:"lease"`           // nil for a server seat
	Error     string     `json:"error,omitempty"` // why the server refused
}

func (a *app) heartbeatCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "heartbeat [--json]",
		Short: "Renew this host's ephemeral seats (for container health checks and timers)",
		Long: `Renew the lease of every ephemeral seat this host holds (enmei register
--ephemeral). A lease that already ended takes a seat again if the contract has
one free; otherwise heartbeat exits 3 and the host has no access until a seat
frees up. For a server seat it only tells the vendor the host is alive.

Call it more often than the lease length: from a container's health check
(HEALTHCHECK --interval=1m CMD enmei heartbeat) or a systemd timer.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.heartbeat(cmd.Context())
		},
	}
}

func (a *app) heartbeat(ctx context.Context) error {
	st, c, err := a.registered()
	if err != nil {
		return err
	}
	defer c.close()
	var rep HeartbeatReport
	var failed error
	for _, r := range st.Registrations {
		var hb api.Heartbeat
		res := HeartbeatResult{SupportID: r.SupportID, Product: r.Product, HostID: r.HostID}
		if err := c.do(ctx, "POST", "/api/v1/heartbeat", r.HostID, r.Secret, nil, &hb); err != nil {
			if errs.Is(err, errs.Unavailable) || !isServerAnswer(err) {
				return err // unreachable: nothing was renewed, say so once
			}
			res.Error = oneSentence(err)
			failed = cmpErr(failed, err)
		} else {
			res.Lease = hb.Lease
		}
		rep.Registrations = append(rep.Registrations, res)
		if a.json {
			continue
		}
		switch {
		case res.Error != "":
			fmt.Fprintf(a.stderr, "%s (%s): %s\n", r.SupportID, r.Product, res.Error)
		case res.Lease == nil:
			fmt.Fprintf(a.stderr, "%s (%s): a server seat; marked alive.\n", r.SupportID, r.Product)
		default:
			fmt.Fprintf(a.stderr, "%s (%s): lease renewed until %s.\n", r.SupportID, r.Product,
				res.Lease.Expires.Local().Format("2006-01-02 15:04:05 MST"))
		}
	}
	if a.json {
		if err := a.printJSON(rep); err != nil {
			return err
		}
	}
	return failed
}

// isServerAnswer reports whether err is the server's refusal (it answered)
// rather than a failure to reach it.
func isServerAnswer(err error) bool {
	switch errs.KindOf(err) {
	case errs.Entitlement, errs.Unauthorized, errs.Forbidden, errs.NotFound, errs.Invalid:
		return true
	}
	return false
}

// cmpErr keeps the first error, preferring an entitlement refusal (exit 3)
// so a script sees "no seat" before anything else.
func cmpErr(have, next error) error {
	if have == nil || (errs.KindOf(next) == errs.Entitlement && errs.KindOf(have) != errs.Entitlement) {
		return next
	}
	return have
}

// buildSecret is one file of the host's configuration a container build
// mounts as a secret.
type buildSecret struct {
	ID   string `json:"id"`
	Path string `json:"path"` // on the host, and where the build mounts it
}

// BuildSecretsReport is what `enmei build-secrets --json` prints.
type BuildSecretsReport struct {
	Family  string        `json:"family"`
	Secrets []buildSecret `json:"secrets"`
	Flags   []string      `json:"flags"` // for podman build / docker build
	Mounts  string        `json:"mounts"`
	Run     string        `json:"run"` // a Containerfile RUN line that updates with them
}

func (a *app) buildSecretsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "build-secrets [--json]",
		Short: "Print how a container build uses this host's repositories without copying credentials into the image",
		Long: `Print the podman build / docker build --secret flags and the Containerfile
RUN --mount lines that let an image build on this registered host (container
plan) install the vendor's packages with this host's configuration. Secrets
are mounted only while the RUN step runs and never land in an image layer,
so the containers built here hold no credential and need no seat of their own.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.buildSecrets()
		},
	}
}

func (a *app) buildSecrets() error {
	st, err := LoadState(a.root)
	if err != nil {
		return err
	}
	rep := BuildSecretsReport{Family: st.Family}
	add := func(id, path string) {
		rep.Secrets = append(rep.Secrets, buildSecret{id, path})
	}
	if st.Family == FamilyRPM {
		add("enmei-repo", yumRepoPath)
		add("enmei-key", rpmKeyPath)
		rep.Run = "dnf -y upgrade && dnf clean all"
		if osr, err := readOSRelease(a.root); err == nil {
			if tr, err := releaseTraits(a.root, osr); err == nil && tr.PM == pmYum {
				rep.Run = "yum -y update && yum clean all"
			}
		}
	} else {
		add("enmei-sources", aptSources)
		if st.AuthConfBlock {
			// The whole file: the user's other lines come along, as
			// they would in a build on this host.
			add("enmei-auth", aptAuthConf)
		} else {
			add("enmei-auth", aptAuth)
		}
		add("enmei-keyring", aptKeyring)
		if _, err := os.Stat(filepath.Join(a.root, aptConf)); err == nil {
			add("enmei-apt-conf", aptConf)
		}
		rep.Run = "apt-get update && apt-get -y dist-upgrade && rm -rf /var/lib/apt/lists/*"
	}
	if st.CA {
		add("enmei-ca", caPath)
	}
	var mounts []string
	for _, s := range rep.Secrets {
		if _, err := os.Stat(filepath.Join(a.root, s.Path)); errors.Is(err, fs.ErrNotExist) {
			return errs.E(errs.NotFound, "%s is missing, so a build could not use this host's repositories: run enmei register again", s.Path)
		}
		rep.Flags = append(rep.Flags, fmt.Sprintf("--secret id=%s,src=%s", s.ID, s.Path))
		mounts = append(mounts, fmt.Sprintf("--mount=type=secret,id=%s,target=%s", s.ID, s.Path))
	}
	rep.Mounts = strings.Join(mounts, " ")
	if a.json {
		return a.printJSON(rep)
	}
	w := a.stdout
	fmt.Fprintf(w, "# Build on this host (run as root, which can read %s):\n", rep.Secrets[0].Path)
	fmt.Fprintf(w, "podman build \\\n  %s \\\n  -t IMAGE .\n", strings.Join(rep.Flags, " \\\n  "))
	fmt.Fprintf(w, "# (docker build takes the same --secret flags, with BuildKit.)\n\n")
	fmt.Fprintf(w, "# In the Containerfile, mount them on the RUN steps that install packages:\n")
	fmt.Fprintf(w, "RUN %s \\\n    %s\n", strings.Join(mounts, " \\\n    "), rep.Run)
	fmt.Fprintf(w, "\n# The mounts exist only during that RUN step: no credential is stored in the image,\n# and containers made from it need no seat (container plan).\n")
	return nil
}

// leaseLine describes a lease for register's summary.
func leaseLine(l *api.Lease) string {
	return fmt.Sprintf("Ephemeral seat: a lease of %s, until %s; renew it with enmei heartbeat (or any repository request) or it ends by itself.",
		time.Duration(l.TTLMS)*time.Millisecond, l.Expires.Local().Format("2006-01-02 15:04:05 MST"))
}
