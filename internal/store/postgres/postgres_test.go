package postgres

import (
	"context"
	"testing"

	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/store/storetest"
	"github.com/enmei-project/enmei/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m, nil) }

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := Open(context.Background(), pgtest.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

// TestConcurrentOpen: replicas starting together migrate once.
func TestConcurrentOpen(t *testing.T) {
	url := pgtest.NewDatabase(t)
	errc := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			db, err := Open(context.Background(), url)
			if err == nil {
				db.Close()
			}
			errc <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errc; err != nil {
			t.Errorf("concurrent Open: %v", err)
		}
	}
}
