package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/enmei-project/enmei/internal/api"
)

// benchMaven: 32 concurrent Maven clients fetching a 20 MB jar with HTTP
// Basic and the developer account (each request checked against the live
// contract; argon2id once, then the verified-credential cache), against
// nginx serving the same file.
func benchMaven() {
	fmt.Printf("\n== Maven: a 20 MB jar, 32 concurrent clients with Basic auth (wrk -t2 -c32 -d10s) ==\n")
	dir := filepath.Join(*work, "mvn")
	check(os.MkdirAll(dir, 0o755))
	jar := make([]byte, 20<<20)
	rand.New(rand.NewSource(2)).Read(jar)
	check(os.WriteFile(filepath.Join(dir, "big-1.0.jar"), jar, 0o644))
	check(os.WriteFile(filepath.Join(dir, "big-1.0.pom"), []byte(`<project><modelVersion>4.0.0</modelVersion><groupId>bench</groupId><artifactId>big</artifactId><version>1.0</version></project>`), 0o644))
	store := newData("mvn-data")
	admin(store, "product", "add", "spring-5.3", "--name", "bench", "--format", "maven")
	admin(store, "publish", "spring-5.3", filepath.Join(dir, "big-1.0.jar"), "--pom", filepath.Join(dir, "big-1.0.pom"))
	var c struct{ Account, Password string }
	out := admin(store, "--json", "contract", "add", "--customer", "bench", "--product", "spring-5.3", "--plan", "developer", "--quantity", "5",
		"--start", "2020-01-01", "--end", "2099-12-31", "--contact", "bench@example.com")
	check(json.Unmarshal([]byte(out), &c))
	addr := serve(store)
	url := "http://" + addr + "/maven/spring-5.3/bench/big/1.0/big-1.0.jar"
	auth := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(c.Account+":"+c.Password))
	nurl := startNginx("mvn", func(dst string) { check(copyFile(filepath.Join(dir, "big-1.0.jar"), dst)) })
	var ours, peer []float64
	for i := 0; i < *runs; i++ {
		ours = append(ours, wrk(url, auth))
		peer = append(peer, wrk(nurl, ""))
	}
	mo, mp := medianF(ours), medianF(peer)
	fmt.Printf("%-40s median %8.1f MB/s  (runs %v)\n", "enmeid /maven/ (Basic, live contract)", mo, roundAll(ours))
	fmt.Printf("%-40s median %8.1f MB/s  (runs %v)\n", "nginx (static, sendfile)", mp, roundAll(peer))
	fmt.Printf("ratio enmeid/nginx: %.2f (target ≥ 0.80)\n", mo/mp)
}

// benchLeases: ephemeral registrations for a minute on SQLite, leases of
// 5 s on 200 seats, 8 clients registering new instances as fast as the
// server grants them. Then it checks, from the leases the server granted,
// that no instant held more than 200 seats (no extra seat) and that every
// refusal came while all 200 were held (no missed seat).
func benchLeases() {
	const quantity, lease, clients = 200, 5 * time.Second, 8
	fmt.Printf("\n== ephemeral seats: %d clients registering for 60 s, %d seats, %s leases (SQLite) ==\n", clients, quantity, lease)
	store := newData("lease-data")
	admin(store, "product", "add", "b", "--name", "bench", "--format", "rpm")
	admin(store, "repo", "add", "b", "--product", "b")
	var c struct {
		Key string `json:"license_key"`
	}
	out := admin(store, "--json", "contract", "add", "--customer", "bench", "--product", "b", "--quantity", fmt.Sprint(quantity),
		"--start", "2020-01-01", "--end", "2099-12-31", "--contact", "bench@example.com")
	check(json.Unmarshal([]byte(out), &c))
	// The registration API needs the signing key, made by the first publish.
	admin(store, "signing-key", "export")
	addr := serve(store, "--api-rate", "100000", "--api-burst", "100000")

	type grant struct{ from, to time.Time }
	type refusal struct{ sent, got time.Time }
	var mu sync.Mutex
	var grants []grant
	var refusals []refusal
	var errors []string
	deadline := time.Now().Add(60 * time.Second)
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 30 * time.Second}
	for w := range clients {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				body, _ := json.Marshal(api.RegisterRequest{Key: c.Key, MachineID: fmt.Sprintf("bench-instance-%02d-%08d", w, i), OSID: "almalinux", OSVersion: "9", LeaseMS: lease.Milliseconds()})
				sent := time.Now()
				resp, err := client.Post("http://"+addr+"/api/v1/register", "application/json", bytes.NewReader(body))
				if err != nil {
					mu.Lock()
					errors = append(errors, err.Error())
					mu.Unlock()
					continue
				}
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				got := time.Now()
				mu.Lock()
				switch resp.StatusCode {
				case 200:
					var r api.RegisterResponse
					if json.Unmarshal(data, &r) == nil && r.Lease != nil {
						grants = append(grants, grant{r.Lease.Expires.Add(-lease), r.Lease.Expires})
					} else {
						errors = append(errors, "a grant without a lease: "+string(data))
					}
				case 403:
					refusals = append(refusals, refusal{sent, got})
					mu.Unlock()
					time.Sleep(20 * time.Millisecond) // a full contract: try again shortly
					continue
				default:
					errors = append(errors, fmt.Sprintf("%d %s", resp.StatusCode, data))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errors) > 0 {
		fail(fmt.Sprintf("%d registrations failed, e.g. %s", len(errors), errors[0]))
	}
	// Seats held at an instant: grants whose [from, to) contains it.
	held := func(t time.Time) int {
		n := 0
		for _, g := range grants {
			if !t.Before(g.from) && t.Before(g.to) {
				n++
			}
		}
		return n
	}
	most := 0
	for _, g := range grants {
		most = max(most, held(g.from))
	}
	// A refusal is right if at some instant while it was in flight all
	// seats were held.
	edges := make([]time.Time, 0, 2*len(grants))
	for _, g := range grants {
		edges = append(edges, g.from, g.to)
	}
	sort.Slice(edges, func(i, j int) bool { return edges[i].Before(edges[j]) })
	missed := 0
	for _, r := range refusals {
		full := held(r.sent) >= quantity || held(r.got) >= quantity
		i := sort.Search(len(edges), func(i int) bool { return !edges[i].Before(r.sent) })
		for ; !full && i < len(edges) && !edges[i].After(r.got); i++ {
			full = held(edges[i]) >= quantity
		}
		if !full {
			missed++
		}
	}
	fmt.Printf("registrations granted: %d in 60 s (%.0f/min), refused while full: %d\n", len(grants), float64(len(grants)), len(refusals))
	fmt.Printf("most seats held at once: %d of %d (extra seats: %d); refusals with a seat free: %d\n", most, quantity, max(0, most-quantity), missed)
	if most > quantity || missed > 0 || len(grants) < 2000 {
		fail("the lease bench did not hold: see the lines above")
	}
}
