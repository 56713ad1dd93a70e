package admin

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"postgres://enmei:s3cret@db.example.jp:5432/enmei?sslmode=require", "postgres://enmei:xxxxx@db.example.jp:5432/enmei?sslmode=require"},
		{"postgres://enmei@db/enmei", "postgres://enmei@db/enmei"},
		{"sqlite:///var/lib/enmei/enmei.db", "sqlite:///var/lib/enmei/enmei.db"},
		{"postgres://u:p%zz@host/db", "postgres://…@host/db"},
	} {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestDatabasePasswordNotShown: an unreachable PostgreSQL named with a
// password fails with a message that does not contain the password.
func TestDatabasePasswordNotShown(t *testing.T) {
	var stdout, stderr bytes.Buffer
	env := func(string) string { return "" }
	code := Main(context.Background(), []string{"--data", t.TempDir(), "--db", "postgres://enmei:Hunter2Secret@127.0.0.1:1/enmei?connect_timeout=2",
		"product", "add", "p", "--name", "P", "--format", "rpm"}, env, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit %d, want 1\n%s", code, stderr.String())
	}
	if strings.Contains(stderr.String()+stdout.String(), "Hunter2Secret") {
		t.Errorf("the database password is in the output:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "enmei:xxxxx@127.0.0.1:1") {
		t.Errorf("the message does not name the database (redacted):\n%s", stderr.String())
	}
}

func TestUsageErrorsAreTyped(t *testing.T) {
	env := func(string) string { return "" }
	for _, args := range [][]string{
		{"nope"},
		{"product", "add"},
		{"product", "add", "p", "--format", "rpm"}, // --name missing
		{"product", "add", "p", "--name", "P", "--format", "zip"},
		{"publication", "rollback", "r", "x"},
		{"publication", "prune", "r"}, // --keep missing
		{"gc", "--grace", "-1h"},
		{"--log-format", "xml", "version"},
		{"--db", "mysql://x", "product", "add", "p", "--name", "P", "--format", "rpm"},
		{"--blobs", "gs://bucket", "product", "add", "p", "--name", "P", "--format", "rpm"},
		{"--blobs", "s3://bucket?endpoint=ftp://x", "product", "add", "p", "--name", "P", "--format", "rpm"},
	} {
		var stdout, stderr bytes.Buffer
		if code := Main(context.Background(), append([]string{"--data", t.TempDir()}, args...), env, &stdout, &stderr); code != 2 {
			t.Errorf("enmeid %v: exit %d, want 2\n%s", args, code, stderr.String())
		}
	}
}
