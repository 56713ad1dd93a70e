package agent

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"github.com/enmei-project/enmei/internal/repoconf"
)

// aptFiles renders the deb822 sources (a source repository as a deb-src
// stanza with Enabled: no), the binary keyring Signed-By names,
// the credentials (0600; with s.authConf only the lines of the managed
// block of /etc/apt/auth.conf) and, for a CA or a proxy, an apt.conf.d
// snippet.
func aptFiles(s settings) ([]file, error) {
	keyring, err := dearmor(s.armored)
	if err != nil {
		return nil, err
	}
	var src, auth strings.Builder
	src.WriteString("# Written by enmei register; enmei unregister removes it.\n")
	for _, r := range s.repos {
		if repoconf.IsSource(r.Arch) {
			// Source packages, for apt-get source: off until the user
			// sets Enabled: yes (deb822's per-stanza switch).
			fmt.Fprintf(&src, "\n# %s: source packages (apt-get source); set Enabled: yes to use them\nTypes: deb-src\nURIs: %s%s\nSuites: %s\nComponents: %s\nSigned-By: %s\nEnabled: no\n",
				oneLine(r.Name), s.server, r.Path, r.Suite, r.Component, aptKeyring)
		} else {
			fmt.Fprintf(&src, "\n# %s\nTypes: deb\nURIs: %s%s\nSuites: %s\nComponents: %s\nSigned-By: %s\n",
				oneLine(r.Name), s.server, r.Path, r.Suite, r.Component, aptKeyring)
		}
		// apt sends auth.conf credentials over plain http only when the
		// machine line carries the scheme, so it always does.
		// The path makes each repository use its own registration's
		// credential (apt picks the entry whose path prefixes the URI).
		fmt.Fprintf(&auth, "machine %s%s login %s password %s\n", s.server, r.Path, r.hostID, r.secret)
	}
	u, err := url.Parse(s.server)
	if err != nil {
		return nil, fmt.Errorf("parsing the server URL: %w", err)
	}
	authFile := file{aptAuth, []byte(auth.String()), 0o600}
	if s.authConf {
		// Only the block's lines: HostState.files puts them into the
		// host's auth.conf.
		authFile = file{aptAuthConf, []byte(legacyAuthLines(s, u.Hostname())), 0o600}
	}
	files := []file{
		{aptSources, []byte(src.String()), 0o644},
		{aptKeyring, keyring, 0o644},
		authFile,
	}
	var conf strings.Builder
	if s.ca {
		fmt.Fprintf(&conf, "Acquire::https::%s::CaInfo \"%s\";\n", u.Hostname(), caPath)
	}
	var mode fs.FileMode = 0o644
	if s.proxy != nil {
		// Scoped to the enmei server, so the host's other sources keep
		// their own proxy settings.
		fmt.Fprintf(&conf, "Acquire::http::Proxy::%s \"%s\";\nAcquire::https::Proxy::%s \"%s\";\n",
			u.Hostname(), s.proxy.String(), u.Hostname(), s.proxy.String())
		if s.proxy.User != nil {
			mode = 0o600 // it carries the proxy password
		}
	}
	if conf.Len() > 0 {
		files = append(files, file{aptConf, []byte("// Written by enmei register; enmei unregister removes it.\n" + conf.String()), mode})
	}
	return files, nil
}

// dearmor turns an armored OpenPGP key into the binary form apt keyrings
// (Signed-By with a .gpg file) need.
func dearmor(armored string) ([]byte, error) {
	blk, err := armor.Decode(strings.NewReader(armored))
	if err != nil {
		return nil, fmt.Errorf("the server sent a signing key enmei cannot read (%v): check that --server is the enmei server", err)
	}
	var b bytes.Buffer
	if _, err := io.Copy(&b, blk.Body); err != nil {
		return nil, fmt.Errorf("the server sent a damaged signing key (%v): check that --server is the enmei server", err)
	}
	return b.Bytes(), nil
}
