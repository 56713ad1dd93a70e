package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

// testSnapshotLoad copies a store with rows in many tables into an empty
// one: everything reads back the same, and new rows continue the numbering.
func testSnapshotLoad(t *testing.T, open func(t *testing.T) store.Store) {
	src := open(t)
	t.Cleanup(func() { src.Close() })
	key := contract(t, src, "ENM-B", 2)
	h, _, err := src.ClaimSeat(ctx, claim(key, "m1"))
	must(t, err)
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, tokyo)
	tk, err := src.AddTicket(ctx, newTicket("ENM-B", at), func(store.Ticket) (store.TicketChange, error) {
		return store.TicketChange{Messages: []store.TicketMessage{inbound("m1@x", at)}, Mails: []store.Mail{mail("ops@example.jp", at)}}, nil
	})
	must(t, err)
	must(t, src.PutSetting(ctx, "k", []byte{0, 1, 2, 0xff}))
	// Upgrade-path rules are the vendor's data like any other: a backup
	// must carry them.
	rule := lifekeeperRule
	rule.ProductID = "p"
	must(t, src.PutUpgradeRule(ctx, rule))

	var tables []store.TableRows
	version := 0
	must(t, src.Snapshot(ctx, func(d store.TableDump) error {
		version = d.SchemaVersion
		tr := store.TableRows{Name: d.Name, Columns: d.Columns}
		for {
			r, err := d.Next()
			if err != nil {
				return err
			}
			if r == nil {
				break
			}
			tr.Rows = append(tr.Rows, r)
		}
		tables = append(tables, tr)
		return nil
	}))
	if version == 0 || len(tables) < 10 {
		t.Fatalf("snapshot: schema %d, %d tables", version, len(tables))
	}

	dst := open(t)
	t.Cleanup(func() { dst.Close() })
	if empty, err := dst.Empty(ctx); err != nil || !empty {
		t.Fatalf("a fresh store is not empty: %v %v", empty, err)
	}
	must(t, dst.Load(ctx, tables))
	if empty, _ := dst.Empty(ctx); empty {
		t.Fatal("Empty after a load")
	}
	got, err := dst.Host(ctx, h.ID)
	must(t, err)
	if !sameHost(got, h) {
		t.Errorf("host after load %+v, want %+v", got, h)
	}
	lk, err := dst.LicenseKeyByHash(ctx, key.Hash)
	must(t, err)
	if lk.ID != key.ID {
		t.Errorf("licence key after load %+v", lk)
	}
	gt, err := dst.Ticket(ctx, tk.Number)
	must(t, err)
	if !reflect.DeepEqual(normTicket(gt), normTicket(tk)) {
		t.Errorf("ticket after load %+v, want %+v", gt, tk)
	}
	v, err := dst.Setting(ctx, "k")
	must(t, err)
	if string(v) != string([]byte{0, 1, 2, 0xff}) {
		t.Errorf("setting after load %v", v)
	}
	if rules, err := dst.UpgradeRules(ctx); err != nil || len(rules) != 1 || !reflect.DeepEqual(rules[0], rule) {
		t.Errorf("upgrade rules after load %+v, %v; want %+v", rules, err, rule)
	}
	// New rows continue the numbering instead of colliding.
	tk2, err := dst.AddTicket(ctx, newTicket("ENM-B", at), func(store.Ticket) (store.TicketChange, error) { return store.TicketChange{}, nil })
	must(t, err)
	if tk2.Number <= tk.Number {
		t.Errorf("a ticket after load got %d, not after %d", tk2.Number, tk.Number)
	}
	// A table the store does not know is refused, and nothing is loaded.
	other := open(t)
	t.Cleanup(func() { other.Close() })
	err = other.Load(ctx, append(tables, store.TableRows{Name: "from_the_future", Columns: []string{"x"}}))
	wantKind(t, "Load(unknown table)", err, errs.Invalid)
	if empty, _ := other.Empty(ctx); !empty {
		t.Error("a refused load left rows behind")
	}
}
