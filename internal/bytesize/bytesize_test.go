package bytesize

import "testing"

func TestFormats(t *testing.T) {
	for _, c := range []struct {
		n            int64
		exact, about string
	}{
		{20 << 20, "20 MiB", "20 MiB"},
		{1536 << 10, "1536 KiB", "1 MiB"},
		{1000, "1000 bytes", "0 KiB"},
		{3<<30 + 1<<29, "3584 MiB", "3.5 GiB"},
	} {
		if got := Exact(c.n); got != c.exact {
			t.Errorf("Exact(%d) = %q, want %q", c.n, got, c.exact)
		}
		if got := About(c.n); got != c.about {
			t.Errorf("About(%d) = %q, want %q", c.n, got, c.about)
		}
	}
}
