package agent

import (
	"sync"
	"testing"
	"time"

	"github.com/enmei-project/enmei/internal/sign"
)

var (
	keyOnce sync.Once
	key     *sign.Key
	keyErr  error
)

// testKey is the package's one signing key (generating one takes ~0.5 s).
func testKey(t *testing.T) *sign.Key {
	t.Helper()
	keyOnce.Do(func() { key, keyErr = sign.Generate("enmei test", "test@example.jp", time.Now()) })
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	return key
}

func armoredKey(t *testing.T) string {
	t.Helper()
	a, err := testKey(t).ArmoredPublic()
	if err != nil {
		t.Fatal(err)
	}
	return string(a)
}
