package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/errs"
)

// StatusReport is what `enmei status --json` prints: the host, and every
// registration in Registrations. The top-level support ID, host ID,
// contract and repositories are those of the first registration, as they
// were when a host had only one.
type StatusReport struct {
	Server       string       `json:"server"`
	SupportID    string       `json:"support_id"`
	HostID       string       `json:"host_id"`
	Hostname     string       `json:"hostname"`
	RegisteredAt time.Time    `json:"registered_at"`
	LastSeen     time.Time    `json:"last_seen"`
	Contract     api.Contract `json:"contract"`
	Repos        []api.Repo   `json:"repos"`
	OS           StatusOS     `json:"os"`
	Fingerprint  string       `json:"fingerprint,omitempty"` // of the signing key register wrote
	// Phase and PhaseUntil are the lifecycle phase of the host's product
	// (the first registration whose product has one): full, security,
	// extended or end, and the phase's last day.
	Phase         string               `json:"phase,omitempty"`
	PhaseUntil    string               `json:"phase_until,omitempty"`
	Registrations []RegistrationStatus `json:"registrations"`
}

// RegistrationStatus is what the server says about one registration, or
// Error when it would not say.
type RegistrationStatus struct {
	SupportID    string       `json:"support_id"`
	Product      string       `json:"product"`
	HostID       string       `json:"host_id"`
	Hostname     string       `json:"hostname"`
	RegisteredAt time.Time    `json:"registered_at"`
	LastSeen     time.Time    `json:"last_seen"`
	Contract     api.Contract `json:"contract"`
	Repos        []api.Repo   `json:"repos"`           // as the server grants them, all architectures
	Lease        *api.Lease   `json:"lease,omitempty"` // an ephemeral seat's lease
	Phase        string       `json:"phase,omitempty"`
	PhaseUntil   string       `json:"phase_until,omitempty"`
	Error        string       `json:"error,omitempty"` // the server's answer when it refused
}

// StatusOS is the host OS as os-release describes it.
type StatusOS struct {
	ID         string `json:"id"`
	VersionID  string `json:"version_id"`
	PrettyName string `json:"pretty_name"`
	Family     string `json:"family"`
}

func (a *app) statusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status [--json]",
		Short: "Show the server, support ID, contract validity, seat, repositories and host OS",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.status(cmd.Context())
		},
	}
}

func (a *app) status(ctx context.Context) error {
	st, c, err := a.registered()
	if err != nil {
		return err
	}
	defer c.close()
	osr, _ := readOSRelease(a.root) // a missing os-release only blanks that line
	rep := StatusReport{Server: st.Server, Fingerprint: st.Fingerprint,
		OS: StatusOS{ID: osr.ID, VersionID: osr.VersionID, PrettyName: osr.PrettyName, Family: st.Family}}
	var refused error // the first registration the server would not describe
	for _, r := range st.Registrations {
		var s api.Status
		err := c.do(ctx, "GET", "/api/v1/status", r.HostID, r.Secret, nil, &s)
		if err != nil && !errs.Is(err, errs.Entitlement) {
			return err // unreachable, or not an enmei server: nothing to show
		}
		rs := RegistrationStatus{SupportID: r.SupportID, Product: r.Product, HostID: r.HostID, Repos: []api.Repo{}}
		if err != nil {
			rs.Error = oneSentence(err)
			if refused == nil {
				refused = err
			}
		} else {
			rs.Hostname, rs.RegisteredAt, rs.LastSeen, rs.Contract, rs.Lease = s.Hostname, s.RegisteredAt, s.LastSeen, s.Contract, s.Lease
			rs.Phase, rs.PhaseUntil = s.Phase, s.PhaseUntil
			if rep.Phase == "" && s.Phase != "" {
				rep.Phase, rep.PhaseUntil = s.Phase, s.PhaseUntil
			}
			if s.Contract.SupportID != "" {
				rs.SupportID = s.Contract.SupportID
			}
			if s.Contract.Product != "" {
				rs.Product = s.Contract.Product
			}
			if s.Repos != nil {
				rs.Repos = s.Repos
			}
		}
		rep.Registrations = append(rep.Registrations, rs)
	}
	if len(rep.Registrations) > 0 {
		f := rep.Registrations[0]
		rep.SupportID, rep.HostID, rep.Hostname, rep.RegisteredAt, rep.LastSeen, rep.Contract, rep.Repos =
			f.SupportID, f.HostID, f.Hostname, f.RegisteredAt, f.LastSeen, f.Contract, f.Repos
	}
	if a.json {
		if err := a.printJSON(rep); err != nil {
			return err
		}
	} else {
		a.printStatus(&rep)
	}
	return refused
}

// printJSON writes v as one line of JSON on standard output.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("writing the JSON output: %w", err)
	}
	return nil
}

func (a *app) printStatus(r *StatusReport) {
	w := a.stdout
	when := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Local().Format("2006-01-02 15:04:05 MST")
	}
	fmt.Fprintf(w, "Server:       %s\n", r.Server)
	osName := r.OS.PrettyName
	if osName == "" {
		osName = strings.TrimSpace(r.OS.ID + " " + r.OS.VersionID)
	}
	if osName == "" {
		osName = "unknown (no /etc/os-release)"
	}
	fmt.Fprintf(w, "Host OS:      %s\n", osName)
	if r.Fingerprint != "" {
		fmt.Fprintf(w, "Signing key:  %s\n", groupFingerprint(r.Fingerprint))
	}
	for _, g := range r.Registrations {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "Support ID:   %s", g.SupportID)
		if g.Contract.Customer != "" {
			fmt.Fprintf(w, " (%s)", g.Contract.Customer)
		}
		fmt.Fprintln(w)
		if g.Product != "" {
			fmt.Fprintf(w, "Product:      %s\n", g.Product)
		}
		if g.Error != "" {
			fmt.Fprintf(w, "Host ID:      %s\n", g.HostID)
			fmt.Fprintf(w, "Refused:      %s\n", g.Error)
			continue
		}
		valid := "valid now"
		if !g.Contract.Valid {
			valid = "NOT valid now: updates are refused until the contract is renewed"
		}
		fmt.Fprintf(w, "Contract:     %s – %s (Asia/Tokyo), %s\n", g.Contract.Start, g.Contract.End, valid)
		fmt.Fprintf(w, "Seats:        %d of %d used\n", g.Contract.SeatsUsed, g.Contract.Quantity)
		fmt.Fprintf(w, "Host ID:      %s", g.HostID)
		if g.Hostname != "" {
			fmt.Fprintf(w, " (%s)", g.Hostname)
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "Registered:   %s\n", when(g.RegisteredAt))
		fmt.Fprintf(w, "Last seen:    %s\n", when(g.LastSeen))
		if g.Phase != "" {
			fmt.Fprintf(w, "Lifecycle:    %s\n", phaseWords(g.Phase, g.PhaseUntil, japanese(a.env)))
		}
		if g.Lease != nil {
			state := "ends"
			if !g.Lease.Expires.After(time.Now()) {
				state = "ENDED: the seat is free; run enmei heartbeat to take one again"
			}
			fmt.Fprintf(w, "Lease:        %s, %s %s\n", time.Duration(g.Lease.TTLMS)*time.Millisecond, state, when(g.Lease.Expires))
		}
		if len(g.Repos) == 0 {
			fmt.Fprintf(w, "Repositories: none\n")
		}
		for i, repo := range g.Repos {
			label := "Repositories:"
			if i > 0 {
				label = ""
			}
			detail := []string{repo.Format}
			if repo.Arch != "" {
				detail = append(detail, repo.Arch)
			}
			if repo.Suite != "" {
				detail = append(detail, repo.Suite+"/"+repo.Component)
			}
			fmt.Fprintf(w, "%-13s %s (%s)\n", label, repo.ID, strings.Join(detail, ", "))
		}
	}
}

// japanese reports whether the user's locale is Japanese (LANG, LC_ALL,
// LC_MESSAGES), for the few lines said in words.
func japanese(env func(string) string) bool {
	for _, k := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if v := env(k); v != "" {
			return strings.HasPrefix(v, "ja")
		}
	}
	return false
}

// phaseWords says a lifecycle phase in English or Japanese.
func phaseWords(phase, until string, ja bool) string {
	type words struct{ en, ja string }
	names := map[string]words{
		"full":     {"full support", "フルサポート期間"},
		"security": {"security support", "セキュリティサポート期間"},
		"extended": {"extended lifecycle support (ELS)", "延長サポート (ELS) 期間"},
		"end":      {"end of service: no more updates", "サービス終了 (更新の提供はありません)"},
	}
	n, ok := names[phase]
	if !ok {
		n = words{phase, phase}
	}
	switch {
	case until == "" && ja:
		return n.ja
	case until == "":
		return n.en
	case ja:
		return n.ja + "、" + until + " まで"
	}
	return n.en + " until " + until
}
