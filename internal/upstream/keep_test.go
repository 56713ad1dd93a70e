package upstream

import "testing"

// TestKeepSources: a mirror of source RPMs (Arch "src" alone) keeps src
// and nosrc packages only; others keep noarch, and sources only when asked.
func TestKeepSources(t *testing.T) {
	for _, tt := range []struct {
		arch []string
		kept map[string]bool
	}{
		{[]string{"src"}, map[string]bool{"src": true, "nosrc": true, "noarch": false, "x86_64": false}},
		{[]string{"x86_64"}, map[string]bool{"src": false, "nosrc": false, "noarch": true, "x86_64": true, "i686": false}},
		{[]string{"x86_64", "src"}, map[string]bool{"src": true, "noarch": true, "x86_64": true}},
		{nil, map[string]bool{"src": false, "noarch": true, "aarch64": true}},
	} {
		s := &Source{Arch: tt.arch}
		for arch, want := range tt.kept {
			if got := s.keep(arch); got != want {
				t.Errorf("Arch %v: keep(%s) = %v, want %v", tt.arch, arch, got, want)
			}
		}
	}
}
