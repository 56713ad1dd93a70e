package upstream

import "time"

// SetRetryWait shortens the pause between attempts for a test.
func SetRetryWait(d time.Duration) { retryWait = func(int) time.Duration { return d } }

// SetStallTimeout changes how long a silent transfer lasts, until the test
// ends.
func SetStallTimeout(t interface{ Cleanup(func()) }, d time.Duration) {
	old := stallTimeout
	stallTimeout = d
	t.Cleanup(func() { stallTimeout = old })
}
