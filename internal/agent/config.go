package agent

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"github.com/enmei-project/enmei/internal/api"
)

// Paths register writes, relative to the root.
const (
	yumRepoPath   = "/etc/yum.repos.d/enmei.repo"
	rpmKeyPath    = "/etc/pki/rpm-gpg/RPM-GPG-KEY-enmei"
	aptSources    = "/etc/apt/sources.list.d/enmei.sources"
	aptKeyring    = "/etc/apt/keyrings/enmei.gpg"
	aptAuth       = "/etc/apt/auth.conf.d/enmei.conf"
	aptConf       = "/etc/apt/apt.conf.d/80enmei"
	caPath        = "/etc/enmei/ca.pem"
	statePath     = "/etc/enmei/host.json"
	stateDirLabel = "/etc/enmei"
)

// file is one file register writes.
type file struct {
	path string // absolute on the host, joined under --root when written
	data []byte
	mode uint32
}

// settings is what the package-manager configuration is rendered from.
type settings struct {
	server  string // without trailing slash
	hostID  string
	secret  string
	ca      bool // a CA was given and is installed at caPath
	proxy   string
	repos   []api.Repo
	armored string // the signing key
}

// yumFiles renders /etc/yum.repos.d/enmei.repo and the RPM-GPG key.
func yumFiles(s settings) []file {
	var b strings.Builder
	b.WriteString("# Written by enmei register; enmei unregister removes it.\n")
	for _, r := range s.repos {
		fmt.Fprintf(&b, "\n[enmei-%s]\nname=%s\nbaseurl=%s%s\nenabled=1\nusername=%s\npassword=%s\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey=file://%s\n",
			r.ID, r.Name, s.server, r.Path, s.hostID, s.secret, rpmKeyPath)
		if s.ca {
			fmt.Fprintf(&b, "sslcacert=%s\nsslverify=1\n", caPath)
		}
		if s.proxy != "" {
			u, _ := url.Parse(s.proxy)
			plain := *u
			plain.User = nil
			fmt.Fprintf(&b, "proxy=%s\n", plain.String())
			if u.User != nil {
				pw, _ := u.User.Password()
				fmt.Fprintf(&b, "proxy_username=%s\nproxy_password=%s\n", u.User.Username(), pw)
			}
		}
	}
	return []file{
		{yumRepoPath, []byte(b.String()), 0o600},
		{rpmKeyPath, []byte(s.armored), 0o644},
	}
}

// aptFiles renders the deb822 sources, binary keyring, credentials and
// (for a CA or proxy) an apt.conf.d snippet.
func aptFiles(s settings) ([]file, error) {
	keyring, err := dearmor(s.armored)
	if err != nil {
		return nil, err
	}
	var src, auth strings.Builder
	src.WriteString("# Written by enmei register; enmei unregister removes it.\n")
	for i, r := range s.repos {
		if i > 0 {
			src.WriteString("\n")
		}
		fmt.Fprintf(&src, "Types: deb\nURIs: %s%s\nSuites: %s\nComponents: %s\nSigned-By: %s\n", s.server, r.Path, r.Suite, r.Component, aptKeyring)
		// apt sends auth.conf credentials over plain http only when the
		// machine line carries the scheme, so it always does.
		fmt.Fprintf(&auth, "machine %s%s login %s password %s\n", s.server, r.Path, s.hostID, s.secret)
	}
	files := []file{
		{aptSources, []byte(src.String()), 0o644},
		{aptKeyring, keyring, 0o644},
		{aptAuth, []byte(auth.String()), 0o600},
	}
	var conf strings.Builder
	if s.ca {
		u, _ := url.Parse(s.server)
		fmt.Fprintf(&conf, "Acquire::https::%s::CaInfo \"%s\";\n", u.Hostname(), caPath)
	}
	if s.proxy != "" {
		fmt.Fprintf(&conf, "Acquire::http::Proxy \"%s\";\nAcquire::https::Proxy \"%s\";\n", s.proxy, s.proxy)
	}
	if conf.Len() > 0 {
		mode := uint32(0o644)
		if strings.Contains(s.proxy, "@") {
			mode = 0o600 // proxy credentials
		}
		files = append(files, file{aptConf, []byte("// Written by enmei register; enmei unregister removes it.\n" + conf.String()), mode})
	}
	return files, nil
}

// dearmor turns an armored OpenPGP key into the binary form apt keyrings use.
func dearmor(armored string) ([]byte, error) {
	blk, err := armor.Decode(strings.NewReader(armored))
	if err != nil {
		return nil, fmt.Errorf("the server sent a signing key enmei cannot read: %w", err)
	}
	var b strings.Builder
	if _, err := copyAll(&b, blk.Body); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}
