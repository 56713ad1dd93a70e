package clustertest

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/cluster"
)

// hammer writes through the Pacemaker adapter while the simulator runs,
// until enough happened (want writes, and as many simulation results
// installed as a tenth of that) or a minute passed: one goroutine flips
// node1's standby every few iterations (so the simulator has transitions
// to write back), the other rewrites the note of the update lock as fast
// as it can. Each writer reads its value back before and after each write;
// a value older than the last one written is a lost write. It returns the
// lost writes and the writes made.
func hammer(t *testing.T, s *Sim, want int, stopAtFirstLoss bool) (lost, writes int) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := s.Cluster("node1")
	if err := c.Lock(ctx, cluster.Lock{Owner: "hammer", Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	loss := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		lost++
		if lost <= 3 {
			t.Logf("lost write: "+format, args...)
		}
		if stopAtFirstLoss {
			cancel()
		}
	}
	count := func() {
		mu.Lock()
		writes++
		enough := writes >= want && s.Stats().Applied >= want/10
		mu.Unlock()
		if enough {
			cancel()
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		standby := false
		for ctx.Err() == nil {
			st, err := c.Status(ctx)
			if err != nil {
				break
			}
			if n, _ := st.Node("node1"); n.Standby != standby {
				loss("standby %v, want %v", n.Standby, standby)
				standby = n.Standby
			}
			standby = !standby
			if c.Standby(ctx, "node1", standby) != nil {
				break
			}
			count()
			time.Sleep(2 * Interval)
		}
	})
	wg.Go(func() {
		last := ""
		for i := 1; ctx.Err() == nil; i++ {
			l, err := c.Locked(ctx)
			if err != nil {
				break
			}
			if l == nil {
				loss("the lock is gone")
				break
			}
			if l.Note != last {
				loss("note %q, want %q", l.Note, last)
			}
			last = strconv.Itoa(i)
			if c.NoteLock(ctx, "hammer", last) != nil {
				break
			}
			count()
		}
	})
	wg.Wait()
	return lost, writes
}

// The simulator never loses a write of the code under test, however the
// two interleave.
func TestNoLostWrites(t *testing.T) {
	s := Start(t, "two-node")
	lost, writes := hammer(t, s, 100, false)
	st := s.Stats()
	t.Logf("%d writes; simulator: %+v", writes, st)
	if lost > 0 {
		t.Errorf("%d of %d writes were lost", lost, writes)
	}
	if writes < 100 || st.Applied < 10 {
		t.Errorf("too little happened to tell: %d writes, %+v", writes, st)
	}
}

// Without the discipline, the same workload loses writes: the test above
// can see them.
func TestNaiveSimulatorLosesWrites(t *testing.T) {
	s := Start(t, "two-node")
	s.naive.Store(true)
	lost, writes := hammer(t, s, 1000, true)
	t.Logf("%d writes; simulator: %+v", writes, s.Stats())
	if lost == 0 {
		t.Errorf("no write was lost in %d writes: the test cannot see lost writes", writes)
	}
}

func TestInjections(t *testing.T) {
	s := Start(t, "two-node")
	s.FailMonitor("db", "node2")
	st := s.WaitFor("db recovered after its monitor failed", 5*time.Second, func(st cluster.Status) bool {
		for _, r := range st.Resources {
			if r.ID == "db" && !r.Failed && r.Active {
				return len(st.Failures) == 1
			}
		}
		return false
	})
	if p := st.Problems(); len(p) != 1 {
		t.Errorf("problems after a failed monitor: %q", p)
	}

	s.NodeDown("node2")
	s.WaitFor("node2's resources moving to node1", 5*time.Second, func(st cluster.Status) bool {
		n, _ := st.Node("node2")
		return !n.Online && len(st.RunningOn("node1")) == 4
	})
	s.NodeUp("node2")
	s.WaitFor("db back on node2", 5*time.Second, func(st cluster.Status) bool {
		n, _ := st.Node("node2")
		return n.Online && len(st.RunningOn("node2")) == 2
	})

	s.FailResource("web-app", "node1")
	s.WaitFor("web-app failed", 5*time.Second, func(st cluster.Status) bool {
		return slices.Contains(st.Problems(), "resource web-app has failed on node1")
	})
	// It stays failed: the simulator cannot recover a failed stop without
	// fencing.
	time.Sleep(4 * Interval)
	if p := s.Status().Problems(); !slices.Contains(p, "resource web-app has failed on node1") {
		t.Errorf("problems: %q", p)
	}
}

// A fixture may also be a path.
func TestStartPath(t *testing.T) {
	s := Start(t, Fixture(t, "node-offline"))
	if n, _ := s.Status().Node("node2"); n.Online {
		t.Errorf("node2 = %+v", n)
	}
}
