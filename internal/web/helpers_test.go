package web

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/emersion/go-message/mail"
)

func readFile(name string) ([]byte, error) { return os.ReadFile(name) }

// decodeMail returns a composed mail's decoded text body.
func decodeMail(t *testing.T, msg []byte) string {
	t.Helper()
	r, err := mail.CreateReader(bytes.NewReader(msg))
	if err != nil {
		t.Fatalf("parsing mail: %v", err)
	}
	var out bytes.Buffer
	for {
		p, err := r.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading mail: %v", err)
		}
		io.Copy(&out, p.Body)
	}
	return out.String()
}
