package server

import (
	"encoding/json"
	"path"
	"strings"
	"testing"

	"github.com/enmei-project/enmei/internal/api"
	"github.com/enmei-project/enmei/internal/entitle"
)

// FuzzCleanRepoPath: whatever a client puts after /repos/<id>/, an accepted
// path is relative, clean and stays inside the repository.
func FuzzCleanRepoPath(f *testing.F) {
	for _, s := range []string{"repodata/repomd.xml", "dists/stable/InRelease", "Packages/h/hello-1-1.x86_64.rpm",
		"../etc/passwd", "a/../../b", "a//b", "/abs", "a\\b", "a\x00b", "", ".", "a/./b", "pool/main/h/hello/hello_1_amd64.deb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rel string) {
		clean, ok := CleanRepoPath(rel)
		if !ok {
			return
		}
		if clean != rel || strings.HasPrefix(clean, "/") || strings.Contains(clean, "..") || strings.ContainsAny(clean, "\\\x00") ||
			path.Clean(clean) != clean || clean == "." || clean == "" {
			t.Fatalf("CleanRepoPath(%q) accepted %q", rel, clean)
		}
		if !strings.HasPrefix(path.Join("/repo", clean), "/repo/") {
			t.Fatalf("CleanRepoPath(%q) = %q leaves the repository", rel, clean)
		}
	})
}

// FuzzRegisterRequest: any request body either fails to decode or is
// refused or accepted by checkRegistration without a panic; what is
// accepted has the shapes the store and the vendor's terminal rely on.
func FuzzRegisterRequest(f *testing.F) {
	for _, s := range []string{
		`{"key":"EK-0123A-BCDEF-GHJKM-NPQRS-TVWXY","machine_id":"0123456789abcdef0123","hostname":"web01","os_id":"almalinux","os_version":"9.4","os_like":["rhel"],"arch":"x86_64"}`,
		`{"key":"ek-0123a bcdef ghjkm npqrs tvwxy","machine_id":"0123456789abcdef0123"}`,
		`{"key":"","machine_id":""}`, `{}`, `null`, `[]`, `{"hostname":"\u001b[2J"}`,
		`{"key":"EK-0123A-BCDEF-GHJKM-NPQRS-TVWXY","machine_id":"0123456789abcdef0123","os_like":["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req api.RegisterRequest
		if json.Unmarshal(body, &req) != nil {
			return
		}
		key, err := checkRegistration(&req)
		if err != nil {
			return
		}
		if !entitle.LooksLikeKey(key) || !entitle.ValidHostname(req.Hostname) || !machineIDShape.MatchString(req.MachineID) || len(req.OSLike) > 16 {
			t.Fatalf("checkRegistration accepted %+v (key %q)", req, key)
		}
	})
}
