package storetest

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/notify"
	"github.com/enmei-project/enmei/internal/store"
)

func testSubscriptions(t *testing.T, s store.Store) {
	now := time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)
	sub := store.Subscription{ID: "s_1", Email: "taro@example.jp", Name: "山田太郎", Company: "例示株式会社", Lang: "ja",
		Products: []string{"alma9"}, Statuses: []string{"released", "ignored"}, CreatedAt: now}
	mail := store.Mail{To: sub.Email, Subject: "confirm", Message: []byte("m"), Status: notify.StatusQueued, CreatedAt: now, NextAt: now}
	must(t, s.AddSubscription(ctx, sub, mail))
	got, err := s.Subscription(ctx, "s_1")
	must(t, err)
	if !reflect.DeepEqual(got, sub) {
		t.Errorf("Subscription = %+v\nwant %+v", got, sub)
	}
	if mails, _ := s.Mails(ctx, 10); len(mails) != 1 || mails[0].To != sub.Email {
		t.Errorf("the confirmation mail was not queued with the subscription: %+v", mails)
	}
	_, err = s.Subscription(ctx, "s_2")
	wantKind(t, "Subscription(unknown)", err, errs.NotFound)
	if list, _ := s.ActiveSubscriptions(ctx); len(list) != 0 {
		t.Errorf("an unconfirmed subscription is active: %+v", list)
	}
	must(t, s.ConfirmSubscription(ctx, "s_1", now.Add(time.Minute)))
	must(t, s.ConfirmSubscription(ctx, "s_1", now.Add(time.Hour))) // the first time counts
	list, err := s.ActiveSubscriptions(ctx)
	must(t, err)
	if len(list) != 1 || !sameTime(list[0].ConfirmedAt, now.Add(time.Minute)) {
		t.Errorf("ActiveSubscriptions = %+v", list)
	}
	wantKind(t, "ConfirmSubscription(unknown)", s.ConfirmSubscription(ctx, "nope", now), errs.NotFound)
	must(t, s.Unsubscribe(ctx, "s_1", now.Add(2*time.Hour)))
	if list, _ := s.ActiveSubscriptions(ctx); len(list) != 0 {
		t.Errorf("an unsubscribed subscription is active: %+v", list)
	}

	w := store.Webhook{ID: "wh_1", URL: "https://hooks.example.jp/enmei", Secret: "k", Products: []string{"alma9"}, CreatedAt: now}
	must(t, s.AddWebhook(ctx, w))
	hooks, err := s.Webhooks(ctx)
	must(t, err)
	if len(hooks) != 1 || !reflect.DeepEqual(hooks[0], w) {
		t.Errorf("Webhooks = %+v", hooks)
	}
	var ds []store.Delivery
	for i := range 6 {
		ds = append(ds, store.Delivery{WebhookID: "wh_1", Body: []byte{byte('a' + i)}, CreatedAt: now, NextAt: now})
	}
	must(t, s.EnqueueDeliveries(ctx, ds...))
	// Concurrent claimers never take the same delivery.
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := s.ClaimDeliveries(ctx, now, now.Add(time.Minute), 2)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			for _, d := range got {
				seen[d.ID]++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	for id, n := range seen {
		if n > 1 {
			t.Errorf("delivery %d claimed %d times", id, n)
		}
	}
	if len(seen) != 6 {
		t.Errorf("claimed %d deliveries, want 6", len(seen))
	}
	if again, _ := s.ClaimDeliveries(ctx, now, now.Add(time.Minute), 10); len(again) != 0 {
		t.Errorf("claimed deliveries were claimed again before their lease ended: %d", len(again))
	}
	all, err := s.Deliveries(ctx, 10)
	must(t, err)
	d := all[0]
	d.Status, d.Attempts, d.SentAt = notify.StatusSent, 1, now
	must(t, s.FinishDelivery(ctx, d))
	if later, _ := s.ClaimDeliveries(ctx, now.Add(2*time.Minute), now.Add(3*time.Minute), 10); len(later) != 5 {
		t.Errorf("after the lease: %d due, want the 5 unsent", len(later))
	}
	must(t, s.DeleteWebhook(ctx, "wh_1"))
	wantKind(t, "DeleteWebhook(again)", s.DeleteWebhook(ctx, "wh_1"), errs.NotFound)
	if left, _ := s.Deliveries(ctx, 10); len(left) != 1 || left[0].Status != notify.StatusSent {
		t.Errorf("deleting a webhook left %d deliveries (want only the sent one)", len(left))
	}
}

// testConcurrentNotices: notifiers on several replicas read the same cursor
// and race to queue the same notices; exactly one queues them.
func testConcurrentNotices(t *testing.T, s store.Store) {
	now := time.Date(2026, 11, 24, 1, 0, 0, 0, time.UTC)
	must(t, s.AddWebhook(ctx, store.Webhook{ID: "wh_1", URL: "https://hooks.example.jp/", Secret: "k", CreatedAt: now}))
	from, err := s.PutSettingIfAbsent(ctx, "cursor", []byte("7"))
	must(t, err)
	const racers = 6
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mail := store.Mail{To: "a@example.jp", Subject: fmt.Sprint("notice ", i), Message: []byte("m"), Status: notify.StatusQueued, CreatedAt: now, NextAt: now}
			d := store.Delivery{WebhookID: "wh_1", Body: []byte("b"), CreatedAt: now, NextAt: now}
			ok, err := s.QueueNotices(ctx, "cursor", from, []byte("9"), []store.Mail{mail}, []store.Delivery{d})
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				mu.Lock()
				won++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	mails, _ := s.Mails(ctx, 100)
	ds, _ := s.Deliveries(ctx, 100)
	if won != 1 || len(mails) != 1 || len(ds) != 1 {
		t.Errorf("%d of %d racers queued; %d mails and %d deliveries queued, want 1 each", won, racers, len(mails), len(ds))
	}
	if v, _ := s.Setting(ctx, "cursor"); string(v) != "9" {
		t.Errorf("cursor = %q, want 9", v)
	}
	// A stale cursor queues nothing.
	if ok, err := s.QueueNotices(ctx, "cursor", from, []byte("10"), []store.Mail{mails[0]}, nil); ok || err != nil {
		t.Errorf("QueueNotices from a stale cursor = %v, %v", ok, err)
	}
}
