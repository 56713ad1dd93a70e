package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/enmei-project/enmei/internal/store"
	"github.com/enmei-project/enmei/internal/store/sqlstore"
	"github.com/enmei-project/enmei/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := Open(context.Background(), filepath.Join(t.TempDir(), "enmei.db"))
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

// TestReopen: opening an up-to-date database migrates nothing and keeps data.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "enmei.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.AddProduct(ctx, store.Product{ID: "p", Name: "P", Format: "rpm"}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("re-open: %v", err)
	}
	defer db.Close()
	if _, err := db.Product(ctx, "p"); err != nil {
		t.Errorf("after re-open: %v", err)
	}
	var n int
	db.SQL().QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n)
	if n != len(sqlstore.Schema) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(sqlstore.Schema))
	}
}
