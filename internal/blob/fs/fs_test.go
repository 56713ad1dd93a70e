package fs

import (
	"testing"

	"github.com/enmei-project/enmei/internal/blob/blobtest"
)

func TestConformance(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	blobtest.Run(t, d)
}
