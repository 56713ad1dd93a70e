// Package bytesize writes byte counts as people read them in messages:
// exact limits ("20 MiB", "1536 KiB") and approximate amounts ("1.4 GiB
// free"), so every refusal and report in enmei spells sizes the same way.
package bytesize

import "fmt"

// Exact writes n in the largest binary unit that divides it: a limit a
// user configured reads back as they wrote it ("20 MiB", "1536 KiB",
// "1000 bytes").
func Exact(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// About writes n rounded down for a report: "60.9 GiB", "412 MiB", "3 KiB".
func About(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}
