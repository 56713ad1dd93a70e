package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/enmei-project/enmei/internal/api"
)

// StatusReport is what `enmei status --json` prints.
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
	st, err := LoadState(a.root)
	if err != nil {
		return err
	}
	c, err := st.client(a.root, a.env)
	if err != nil {
		return err
	}
	defer c.close()
	var s api.Status
	if err := c.do(ctx, "GET", "/api/v1/status", st.HostID, st.Secret, nil, &s); err != nil {
		return err
	}
	osr, _ := readOSRelease(a.root) // a missing os-release only blanks that line
	rep := StatusReport{Server: st.Server, SupportID: s.Contract.SupportID, HostID: s.HostID, Hostname: s.Hostname,
		RegisteredAt: s.RegisteredAt, LastSeen: s.LastSeen, Contract: s.Contract, Repos: s.Repos,
		OS: StatusOS{ID: osr.ID, VersionID: osr.VersionID, PrettyName: osr.PrettyName, Family: st.Family}}
	if rep.SupportID == "" {
		rep.SupportID = st.SupportID
	}
	if rep.Repos == nil {
		rep.Repos = []api.Repo{}
	}
	if a.json {
		return a.printJSON(rep)
	}
	a.printStatus(&rep)
	return nil
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
	valid := "valid now"
	if !r.Contract.Valid {
		valid = "NOT valid now: updates are refused until the contract is renewed"
	}
	when := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Local().Format("2006-01-02 15:04:05 MST")
	}
	fmt.Fprintf(w, "Server:       %s\n", r.Server)
	fmt.Fprintf(w, "Support ID:   %s", r.SupportID)
	if r.Contract.Customer != "" {
		fmt.Fprintf(w, " (%s)", r.Contract.Customer)
	}
	fmt.Fprintln(w)
	if r.Contract.Product != "" {
		fmt.Fprintf(w, "Product:      %s\n", r.Contract.Product)
	}
	fmt.Fprintf(w, "Contract:     %s – %s (Asia/Tokyo), %s\n", r.Contract.Start, r.Contract.End, valid)
	fmt.Fprintf(w, "Seats:        %d of %d used\n", r.Contract.SeatsUsed, r.Contract.Quantity)
	fmt.Fprintf(w, "Host ID:      %s", r.HostID)
	if r.Hostname != "" {
		fmt.Fprintf(w, " (%s)", r.Hostname)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Registered:   %s\n", when(r.RegisteredAt))
	fmt.Fprintf(w, "Last seen:    %s\n", when(r.LastSeen))
	if len(r.Repos) == 0 {
		fmt.Fprintf(w, "Repositories: none\n")
	}
	for i, repo := range r.Repos {
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
	osName := r.OS.PrettyName
	if osName == "" {
		osName = strings.TrimSpace(r.OS.ID + " " + r.OS.VersionID)
	}
	if osName == "" {
		osName = "unknown (no /etc/os-release)"
	}
	fmt.Fprintf(w, "Host OS:      %s\n", osName)
}
