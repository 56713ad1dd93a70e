package account

import (
	"strings"
	"testing"
)

func TestPasswordHash(t *testing.T) {
	h := HashPassword("correct horse battery")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$") {
		t.Fatalf("hash %q is not a PHC argon2id string", h)
	}
	if h == HashPassword("correct horse battery") {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if !VerifyPassword(h, "correct horse battery") {
		t.Fatal("the right password does not verify")
	}
	for _, bad := range []string{"correct horse batterY", "", "correct horse battery "} {
		if VerifyPassword(h, bad) {
			t.Errorf("password %q verified", bad)
		}
	}
	for _, hash := range []string{"", "$argon2id$", "$bcrypt$x$y$z$w", "$argon2id$v=19$m=99999999,t=3,p=2$AAAA$AAAA", dummyHash()} {
		if VerifyPassword(hash, "enmei-no-such-user-password") && hash != dummyHash() {
			t.Errorf("malformed hash %q verified", hash)
		}
	}
	if VerifyPassword("", "enmei-no-such-user-password") {
		t.Error("an empty hash (no such user) verified the dummy password")
	}
}

func TestCheckPassword(t *testing.T) {
	if err := CheckPassword("short"); err == nil {
		t.Error("a 5-character password was accepted")
	}
	if err := CheckPassword("長いパスワードです十二文字"); err != nil {
		t.Errorf("a 12-character Japanese password was refused: %v", err)
	}
}

func TestTokens(t *testing.T) {
	tok, hash := NewToken()
	if !LooksLikeToken(tok) {
		t.Fatalf("token %q does not look like a token", tok)
	}
	if string(HashToken(tok)) != string(hash) {
		t.Fatal("HashToken disagrees with NewToken")
	}
	other, _ := NewToken()
	if other == tok {
		t.Fatal("two tokens are equal")
	}
	for _, bad := range []string{"", "x", tok + "x", strings.Repeat("!", 43)} {
		if LooksLikeToken(bad) {
			t.Errorf("%q looks like a token", bad)
		}
	}
}

func TestRolesAndEmail(t *testing.T) {
	for _, r := range Roles {
		if CheckRole(r) != nil {
			t.Errorf("role %s refused", r)
		}
	}
	if CheckRole("root") == nil {
		t.Error("role root accepted")
	}
	if CanChange(RoleViewer) || !CanChange(RoleOperator) || !CanChange(RoleAdmin) {
		t.Error("CanChange is wrong")
	}
	if e, err := NormalizeEmail(" Ops@Example.COM "); err != nil || e != "ops@example.com" {
		t.Errorf("NormalizeEmail = %q, %v", e, err)
	}
	for _, bad := range []string{"", "a", "a@b, c@d", "Name <a@b.c>", "a@b.c\r\nBcc: x@y"} {
		if _, err := NormalizeEmail(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
