package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/enmei-project/enmei/internal/testutil/pgtest"
)

// TestConcurrentRegistrations: 40 hosts race for a 5-seat key; exactly 5
// win, 35 are told no seat is left (exit 3), and re-registering a winner
// keeps the count — on SQLite and on PostgreSQL.
func TestConcurrentRegistrations(t *testing.T) {
	onBothDatabases(t, 5, func(t *testing.T, v *vendor, c contractOut) {
		hosts := make([]*host, 40)
		results := make([]result, 40)
		for i := range hosts {
			hosts[i] = newHost(t, almaRelease, machineID(i))
		}
		var wg sync.WaitGroup
		for i := range hosts {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				results[i] = hosts[i].enmei("register", "--server", v.url, "--key", c.LicenseKey)
			}(i)
		}
		wg.Wait()
		var won []int
		for i, r := range results {
			switch r.code {
			case 0:
				won = append(won, i)
			case 3:
				if !strings.Contains(r.stderr, "no seat") {
					t.Errorf("host %d: exit 3 but stderr does not say no seat is left: %q", i, r.stderr)
				}
			default:
				t.Errorf("host %d: exit %d, want 0 or 3\n%s", i, r.code, r.stderr)
			}
		}
		if len(won) != 5 {
			t.Fatalf("%d registrations succeeded, want exactly 5", len(won))
		}
		var show struct {
			SeatsUsed int `json:"seats_used"`
			Hosts     []struct {
				HostID string `json:"host_id"`
			} `json:"hosts"`
		}
		v.mustJSON(&show, "contract", "show", c.SupportID)
		if show.SeatsUsed != 5 || len(show.Hosts) != 5 {
			t.Fatalf("contract show: seats_used=%d hosts=%d, want 5", show.SeatsUsed, len(show.Hosts))
		}
		// Re-registering a winner reuses its seat.
		w := hosts[won[0]]
		before := w.identity().HostID
		out := w.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
		if after := w.identity().HostID; after != before {
			t.Errorf("re-register changed the host ID %s → %s (output %s)", before, after, out)
		}
		v.mustJSON(&show, "contract", "show", c.SupportID)
		if show.SeatsUsed != 5 {
			t.Errorf("after re-register seats_used=%d, want 5", show.SeatsUsed)
		}
		// A loser still cannot get in; after a seat is released it can.
		loser := hosts[firstNotIn(won, 40)]
		if r := loser.enmei("register", "--server", v.url, "--key", c.LicenseKey); r.code != 3 {
			t.Errorf("register on a full key: exit %d, want 3", r.code)
		}
		v.must("seat", "release", c.SupportID, hosts[won[1]].identity().HostID)
		loser.mustEnmei("register", "--server", v.url, "--key", c.LicenseKey)
		// The released host's credential is dead.
		rel := hosts[won[1]]
		if r := rel.enmei("status"); r.code != 3 {
			t.Errorf("status of a released host: exit %d, want 3\n%s", r.code, r.stderr)
		}
		// Unregister returns the seat.
		hosts[won[2]].mustEnmei("unregister")
		v.mustJSON(&show, "contract", "show", c.SupportID)
		if show.SeatsUsed != 4 {
			t.Errorf("after unregister seats_used=%d, want 4", show.SeatsUsed)
		}
	})
}

// onBothDatabases runs f as a subtest on SQLite and on PostgreSQL, each with
// a serving vendor and an el9 contract of quantity seats.
func onBothDatabases(t *testing.T, quantity int, f func(t *testing.T, v *vendor, c contractOut)) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			db := ""
			if backend == "postgres" {
				db = pgtest.NewDatabase(t)
			}
			v := newVendor(t, db)
			v.catalog()
			c := v.contract("el9", quantity, date(today().AddDate(0, -1, 0)), date(today().AddDate(1, 0, 0)))
			v.serve()
			f(t, v, c)
		})
	}
}

func firstNotIn(list []int, n int) int {
	in := map[int]bool{}
	for _, i := range list {
		in[i] = true
	}
	for i := 0; i < n; i++ {
		if !in[i] {
			return i
		}
	}
	panic(fmt.Sprint("all in ", list))
}
