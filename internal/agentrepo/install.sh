#!/bin/sh
# install.sh: install the enmei agent from @@.Server@@ (served there by enmeid).
#
# Sets up the agent's public repository and its signing key for dnf/yum or apt,
# then installs the package @@.Package@@, or updates it when it is installed.
# Running it again changes nothing that is already right. Afterwards the agent
# updates with the system: dnf upgrade / apt-get upgrade.
#
#   curl -fsSL @@.Server@@/install.sh | sudo sh
#   curl -fsSL @@.Server@@/install.sh | sudo sh -s -- --register --key-file /root/licence-key
#
# Options:
#   --root DIR     work on the system under DIR (image builds, scratch roots):
#                  dnf/yum install with --installroot; apt cannot install into
#                  another root, so there the repository is only set up
#   --register …   then run: enmei register --server SERVER … with the rest of
#                  the arguments (e.g. --key-file FILE; or ENMEI_KEY set)
set -euf # -f: options below are split on spaces, never globbed

server=@@.Server@@
fingerprint='@@.Fingerprint@@'
root=/
register=no

die() {
	echo "install.sh: $*" >&2
	exit 1
}

usage() {
	echo "usage: install.sh [--root DIR] [--register ENMEI-REGISTER-ARGUMENTS…]" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--root)
		[ $# -ge 2 ] || usage
		root=$2
		shift 2
		;;
	--root=*)
		root=${1#--root=}
		shift
		;;
	--register)
		register=yes
		shift
		break
		;;
	-h | --help) usage ;;
	*)
		echo "install.sh: unknown option $1" >&2
		usage
		;;
	esac
done

case $root in
/*) ;;
*) die "--root needs an absolute path, not $root" ;;
esac
case $root in
*[[:space:]]*) die "--root $root has white space in it, which the package managers' options cannot carry" ;;
esac
root=${root%/}
[ "$(id -u)" = 0 ] || die "run it as root (curl … | sudo sh): it writes the package manager's configuration and installs a package"

osr=$root/etc/os-release
[ -r "$osr" ] || osr=$root/usr/lib/os-release
[ -r "$osr" ] || die "${root:-/}/etc/os-release is missing, so the system's package manager is unknown: install the agent's package by hand from $server/agent/"
ids=$(. "$osr" && echo "${ID:-} ${ID_LIKE:-}")
major=$(. "$osr" && echo "${VERSION_ID:-}" | cut -d. -f1)
family=
for w in $ids; do
	case $w in
	rhel | centos | fedora | almalinux | rocky | ol | amzn) family=rpm ;;
	debian | ubuntu) family=deb ;;
	esac
	[ -z "$family" ] || break
done
[ -n "$family" ] || die "this system ($ids) is neither of the Red Hat family (dnf/yum) nor of the Debian family (apt): install the agent's package by hand from $server/agent/"

# write PATH MODE: standard input into PATH, whole or not at all.
write() {
	mkdir -p "$(dirname "$1")"
	cat >"$1.tmp.$$"
	chmod "$2" "$1.tmp.$$"
	mv -f "$1.tmp.$$" "$1"
}

key() {
	cat <<'ENMEI_KEY'
@@.Key@@
ENMEI_KEY
}

echo "install.sh: the repository signing key is $fingerprint (the support certificate names the one to expect)" >&2

if [ "$family" = rpm ]; then
	keyfile=/etc/pki/rpm-gpg/RPM-GPG-KEY-enmei-agent
	key | write "$root$keyfile" 0644
	write "$root/etc/yum.repos.d/enmei-agent.repo" 0644 <<EOF
[enmei-agent]
name=enmei agent
baseurl=$server/agent/rpm/
enabled=1
gpgcheck=1
repo_gpgcheck=1
gpgkey=file://$keyfile
metadata_expire=6h
EOF
	if command -v dnf >/dev/null 2>&1; then
		pm=dnf
	elif command -v yum >/dev/null 2>&1; then
		pm=yum
	else
		die "neither dnf nor yum is installed"
	fi
	rpm --root "${root:-/}" --import "$root$keyfile" || die "rpm could not import the repository key $root$keyfile"
	# The agent is one static binary with no dependencies: only its own
	# repository is read, so hosts whose other repositories are out of
	# reach (closed networks) install it all the same.
	opts="-y --disablerepo=* --enablerepo=enmei-agent"
	if [ -n "$root" ]; then
		# Under --installroot, dnf reads gpgkey paths on this system.
		opts="$opts --installroot=$root --setopt=enmei-agent.gpgkey=file://$root$keyfile"
		[ -z "$major" ] || opts="$opts --releasever=$major"
	fi
	if rpm --root "${root:-/}" -q @@.Package@@ >/dev/null 2>&1; then
		# shellcheck disable=SC2086 # opts holds several options
		$pm $opts upgrade @@.Package@@ || die "$pm could not update @@.Package@@ from $server/agent/rpm/ (its messages are above)"
	else
		# shellcheck disable=SC2086
		$pm $opts install @@.Package@@ || die "$pm could not install @@.Package@@ from $server/agent/rpm/ (its messages are above)"
	fi
else
	keyfile=/etc/apt/keyrings/enmei-agent.asc
	key | write "$root$keyfile" 0644
	write "$root/etc/apt/sources.list.d/enmei-agent.sources" 0644 <<EOF
Types: deb
URIs: $server/agent/deb/
Suites: @@.Suite@@
Components: @@.Component@@
Signed-By: $keyfile
EOF
	if [ -n "$root" ]; then
		echo "install.sh: the repository and its key are set up under $root; apt cannot install into another root, so finish inside it: chroot $root sh -c 'apt-get update && apt-get install -y @@.Package@@'" >&2
		exit 0
	fi
	command -v apt-get >/dev/null 2>&1 || die "apt-get is not installed"
	# Read only the agent's source: other sources out of reach (closed
	# networks) do not stop the install.
	apt-get update -o Dir::Etc::sourcelist=sources.list.d/enmei-agent.sources -o Dir::Etc::sourceparts=- \
		-o APT::Get::List-Cleanup=0 || die "apt-get update could not read $server/agent/deb/ (its messages are above)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y @@.Package@@ || die "apt-get could not install @@.Package@@ (its messages are above)"
fi

agent=$root/usr/bin/enmei
echo "install.sh: $("$agent" version 2>/dev/null || echo "the agent") is installed; it updates with the system's other packages from $server/agent/" >&2
if [ "$register" = yes ]; then
	if [ -n "$root" ]; then
		exec "$agent" --root "$root" register --server "$server" "$@"
	fi
	exec "$agent" register --server "$server" "$@"
fi
