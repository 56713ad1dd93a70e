package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/errs"
	"github.com/enmei-project/enmei/internal/store"
)

var t0 = time.Date(2026, 11, 24, 1, 2, 3, 0, time.UTC)

func mail(to string, at time.Time) store.Mail {
	return store.Mail{To: to, Subject: "ログイン " + to, Message: []byte("Subject: x\r\n\r\nhello " + to + "\r\n"), Status: "queued", CreatedAt: at, NextAt: at}
}

func testOutbox(t *testing.T, s store.Store) {
	must(t, s.EnqueueMail(ctx, mail("a@example.com", t0), mail("b@example.com", t0.Add(time.Second))))
	// Not due yet.
	if got, err := s.ClaimMail(ctx, t0.Add(-time.Second), t0.Add(time.Minute), 10); err != nil || len(got) != 0 {
		t.Fatalf("ClaimMail before due = %d mails, %v", len(got), err)
	}
	got, err := s.ClaimMail(ctx, t0.Add(2*time.Second), t0.Add(time.Minute), 10)
	must(t, err)
	if len(got) != 2 || got[0].To != "a@example.com" || got[1].To != "b@example.com" {
		t.Fatalf("ClaimMail = %+v, want a then b", got)
	}
	if got[0].Subject != "ログイン a@example.com" || !bytes.Contains(got[0].Message, []byte("hello a@example.com")) || got[0].ID == 0 {
		t.Errorf("claimed mail = %+v", got[0])
	}
	// Claimed: no one else takes them before the claim runs out.
	if again, _ := s.ClaimMail(ctx, t0.Add(3*time.Second), t0.Add(time.Minute), 10); len(again) != 0 {
		t.Fatalf("claimed mail claimed twice: %+v", again)
	}
	must(t, s.MailSent(ctx, got[0].ID, t0.Add(4*time.Second)))
	must(t, s.MailFailed(ctx, got[1].ID, "connect: connection refused", t0.Add(10*time.Second), false))
	// A crashed sender's claim comes back when it runs out; the failed one at its retry time.
	again, err := s.ClaimMail(ctx, t0.Add(11*time.Second), t0.Add(time.Minute), 10)
	must(t, err)
	if len(again) != 1 || again[0].ID != got[1].ID || again[0].Attempts != 1 || again[0].LastError != "connect: connection refused" {
		t.Fatalf("retry claim = %+v", again)
	}
	must(t, s.MailFailed(ctx, got[1].ID, "550 no such user", t0.Add(20*time.Second), true))
	if late, _ := s.ClaimMail(ctx, t0.Add(time.Hour), t0.Add(2*time.Hour), 10); len(late) != 0 {
		t.Fatalf("sent or failed mail claimed again: %+v", late)
	}
	list, err := s.Mails(ctx, 10)
	must(t, err)
	if len(list) != 2 || list[0].To != "b@example.com" || list[0].Status != "failed" || list[0].Attempts != 2 || list[0].LastError != "550 no such user" {
		t.Fatalf("Mails()[0] = %+v", list[0])
	}
	if list[1].Status != "sent" || !sameTime(list[1].SentAt, t0.Add(4*time.Second)) || list[1].Attempts != 1 {
		t.Fatalf("Mails()[1] = %+v", list[1])
	}
	if !list[0].SentAt.IsZero() {
		t.Errorf("unsent mail has SentAt %v", list[0].SentAt)
	}
}

// testConcurrentClaims: every queued mail is handed to exactly one claimer.
func testConcurrentMailClaims(t *testing.T, s store.Store) {
	const n = 60
	var mails []store.Mail
	for i := 0; i < n; i++ {
		mails = append(mails, mail(fmt.Sprintf("u%d@example.com", i), t0))
	}
	must(t, s.EnqueueMail(ctx, mails...))
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := s.ClaimMail(ctx, t0, t0.Add(time.Hour), 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, m := range got {
					seen[m.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d of %d mails claimed", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("mail %d claimed %d times", id, c)
		}
	}
}

func testAccounts(t *testing.T, s store.Store) {
	link := store.Link{Hash: []byte("h-password-link-0123456789abcdef"), Purpose: "password", Subject: "ops@example.com", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, s.AddUser(ctx, store.User{Email: "ops@example.com", Role: "operator", CreatedAt: t0}, link))
	wantKind(t, "AddUser(again)", s.AddUser(ctx, store.User{Email: "ops@example.com", Role: "admin", CreatedAt: t0},
		store.Link{Hash: []byte("other"), Purpose: "password", Subject: "ops@example.com", CreatedAt: t0, ExpiresAt: t0}), errs.Exists)
	u, err := s.User(ctx, "ops@example.com")
	must(t, err)
	if u.Role != "operator" || u.PasswordHash != "" || !sameTime(u.CreatedAt, t0) {
		t.Errorf("User = %+v", u)
	}
	_, err = s.User(ctx, "nobody@example.com")
	wantKind(t, "User(unknown)", err, errs.NotFound)
	// The link works once, before it expires, for its purpose only.
	_, err = s.UseLink(ctx, link.Hash, "login", t0)
	wantKind(t, "UseLink(wrong purpose)", err, errs.NotFound)
	l, err := s.UseLink(ctx, link.Hash, "password", t0.Add(time.Minute))
	must(t, err)
	if l.Subject != "ops@example.com" {
		t.Errorf("UseLink = %+v", l)
	}
	_, err = s.UseLink(ctx, link.Hash, "password", t0.Add(2*time.Minute))
	wantKind(t, "UseLink(used)", err, errs.NotFound)

	// Setting a password ends the user's sessions.
	se := store.Session{Hash: []byte("session-1"), Kind: "vendor", Subject: "ops@example.com", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, s.AddSession(ctx, se))
	got, err := s.Session(ctx, se.Hash, t0.Add(time.Minute))
	must(t, err)
	if got.Kind != "vendor" || got.Subject != "ops@example.com" || !sameTime(got.ExpiresAt, se.ExpiresAt) {
		t.Errorf("Session = %+v", got)
	}
	_, err = s.Session(ctx, se.Hash, t0.Add(time.Hour))
	wantKind(t, "Session(expired)", err, errs.NotFound)
	must(t, s.SetPassword(ctx, "ops@example.com", "$argon2id$x"))
	_, err = s.Session(ctx, se.Hash, t0.Add(time.Minute))
	wantKind(t, "Session(after password change)", err, errs.NotFound)
	wantKind(t, "SetPassword(unknown)", s.SetPassword(ctx, "nobody@example.com", "x"), errs.NotFound)
	if u, _ := s.User(ctx, "ops@example.com"); u.PasswordHash != "$argon2id$x" {
		t.Errorf("password hash = %q", u.PasswordHash)
	}
	users, err := s.Users(ctx)
	must(t, err)
	if len(users) != 1 {
		t.Errorf("Users = %+v", users)
	}

	// Sessions end on logout.
	c := store.Session{Hash: []byte("session-2"), Kind: "customer", Subject: "ENM-2026-AAAAAA", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, s.AddSession(ctx, c))
	must(t, s.DeleteSession(ctx, c.Hash))
	_, err = s.Session(ctx, c.Hash, t0)
	wantKind(t, "Session(deleted)", err, errs.NotFound)

	// API tokens.
	tok := store.APIToken{Name: "ci", Role: "viewer", Hash: []byte("token-hash"), CreatedAt: t0}
	must(t, s.AddToken(ctx, tok))
	wantKind(t, "AddToken(same name)", s.AddToken(ctx, store.APIToken{Name: "ci", Role: "admin", Hash: []byte("other"), CreatedAt: t0}), errs.Exists)
	gt, err := s.TokenByHash(ctx, tok.Hash)
	must(t, err)
	if gt.Name != "ci" || gt.Role != "viewer" {
		t.Errorf("TokenByHash = %+v", gt)
	}
	_, err = s.TokenByHash(ctx, []byte("nope"))
	wantKind(t, "TokenByHash(unknown)", err, errs.NotFound)
}

// testLinkLimits: a link and its mail are stored together, and no more than
// max per subject within the window, even when many ask at once.
func testLinkLimits(t *testing.T, s store.Store) {
	var made atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := store.Link{Hash: []byte(fmt.Sprintf("login-%02d", i)), Purpose: "login", Subject: "ENM-2026-BBBBBB", CreatedAt: t0, ExpiresAt: t0.Add(15 * time.Minute)}
			m := mail("contact@example.com", t0)
			err := s.AddLink(ctx, l, &m, 5, t0.Add(-time.Hour))
			switch {
			case err == nil:
				made.Add(1)
			case !errors.Is(err, store.ErrRateLimited):
				t.Errorf("AddLink: %v", err)
			}
		}()
	}
	wg.Wait()
	if made.Load() != 5 {
		t.Errorf("%d links made under a limit of 5", made.Load())
	}
	mails, err := s.Mails(ctx, 100)
	must(t, err)
	if len(mails) != 5 {
		t.Errorf("%d mails queued for 5 links", len(mails))
	}
	// Another subject is not limited by this one; no mail is fine.
	must(t, s.AddLink(ctx, store.Link{Hash: []byte("other-subject"), Purpose: "login", Subject: "ENM-2026-CCCCCC", CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}, nil, 5, t0.Add(-time.Hour)))
	// The window moves on.
	must(t, s.AddLink(ctx, store.Link{Hash: []byte("later"), Purpose: "login", Subject: "ENM-2026-BBBBBB", CreatedAt: t0.Add(2 * time.Hour), ExpiresAt: t0.Add(3 * time.Hour)}, nil, 5, t0.Add(time.Hour)))

	// Expired links are refused, and cleaned up a day after.
	_, err = s.UseLink(ctx, []byte("other-subject"), "login", t0.Add(time.Minute))
	wantKind(t, "UseLink(expired)", err, errs.NotFound)
	must(t, s.DeleteExpired(ctx, t0.Add(48*time.Hour)))
	if err := s.AddLink(ctx, store.Link{Hash: []byte("login-00"), Purpose: "login", Subject: "x", CreatedAt: t0, ExpiresAt: t0}, nil, 0, t0); err != nil {
		t.Errorf("an old link's hash was not cleaned up: %v", err)
	}
}
