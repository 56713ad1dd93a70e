#!/bin/sh
# register.sh: register this host with @@.Server@@ (served there by enmeid)
# without the enmei agent.
#
# For RPM hosts that cannot run the agent: EL6's kernel 2.6.32 is too old for
# current Go programs. It takes a seat of the licence key and writes the same
# yum configuration enmei register writes: /etc/yum.repos.d/enmei.repo (0600,
# with this host's credential), the signing key
# /etc/pki/rpm-gpg/RPM-GPG-KEY-enmei and, for mirrors of the distribution's
# repositories, its key as RPM-GPG-KEY-enmei-upstream-REPO. It keeps the seat's credential in
# /etc/enmei/register.conf (0600), so --unregister can give the seat back.
# It needs only sh, curl, sed, grep, cat, mkdir, chmod, mv, rm and sha256sum.
#
#   curl -s @@.Server@@/register.sh | sh -s -- --key-file /root/licence-key
#   curl -s @@.Server@@/register.sh | sh -s -- --unregister
#
# Options:
#   --key KEY        the licence key (visible in ps: prefer --key-file, or
#                    ENMEI_KEY in the environment)
#   --key-file FILE  file holding only the licence key; - reads standard input
#                    (only when the script itself is not piped into sh)
#   --root DIR       work on the system under DIR (scratch roots, image builds)
#   --insecure       allow the server's plain http:// address when it is not
#                    this machine
#   --no-hostname    do not tell the vendor this host's name
#   --unregister     give the seat back and remove what register.sh wrote
#
# Exit codes: 0 done, 1 failure, 2 usage error, 3 refused by the entitlement
# (unknown key, no seat left, contract not valid), 4 server unreachable.
set -eu

server=@@.Server@@
fingerprint='@@.Fingerprint@@'
repo_file=@@.RepoPath@@
key_file=@@.KeyPath@@
state_file=@@.StatePath@@
agent_state=@@.AgentStatePath@@

root=
key=
key_set=no
keyfile=
keyfile_set=no
insecure=no
send_hostname=yes
unregister=no

die() {
	echo "register.sh: $*" >&2
	exit 1
}

usage() {
	[ $# -eq 0 ] || echo "register.sh: $*" >&2
	echo "usage: register.sh (--key KEY | --key-file FILE) [--root DIR] [--insecure] [--no-hostname] | register.sh --unregister [--root DIR]" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--key | --key-file | --root)
		[ $# -ge 2 ] || usage "$1 needs a value"
		case $1 in
		--key) key=$2 key_set=yes ;;
		--key-file) keyfile=$2 keyfile_set=yes ;;
		--root) root=$2 ;;
		esac
		shift 2
		;;
	--key=*) key=${1#--key=} key_set=yes && shift ;;
	--key-file=*) keyfile=${1#--key-file=} keyfile_set=yes && shift ;;
	--root=*) root=${1#--root=} && shift ;;
	--insecure) insecure=yes && shift ;;
	--no-hostname) send_hostname=no && shift ;;
	--unregister) unregister=yes && shift ;;
	-h | --help) usage ;;
	*) usage "unknown option $1" ;;
	esac
done

case $root in
'') ;;
/*) root=${root%/} ;;
*) usage "--root needs an absolute path, not $root" ;;
esac

# The agent's rule: plain http only to this machine, unless --insecure.
case $server in
http://*)
	host=$(printf '%s\n' "$server" | sed -e 's#^http://##' -e 's#/.*##' -e 's#^\[\(.*\)\]\(:[0-9]*\)\{0,1\}$#\1#' -e 's#:[0-9]*$##' -e 'y/ABCDEFGHIJKLMNOPQRSTUVWXYZ/abcdefghijklmnopqrstuvwxyz/')
	case $host in
	localhost | *.localhost | 127.* | ::1) ;;
	*) [ "$insecure" = yes ] || usage "$server is plain http:// to another machine, so the licence key, the host credential and the signing key could be read or replaced on the way: fetch register.sh from the server's https:// address, or add --insecure if the network between is trusted" ;;
	esac
	;;
esac

[ ! -e "$root$agent_state" ] || die "this host is registered by the enmei agent ($agent_state): use enmei register and enmei unregister there"

# conf KEY: a value from the state file (key=value lines).
conf() {
	sed -n "s/^$1=//p" "$root$state_file" | sed -n 1p
}

# api CURL-ARGS…: one request to the server; sets code and body. The body
# is the server's answer: a .repo file, or the one sentence of an error.
api() {
	out=$(curl -sS -H 'Accept: text/plain' -w '\n%{http_code}' "$@" 2>&1) || {
		why=$(printf '%s\n' "$out" | grep '^curl:' | sed -n 1p)
		echo "register.sh: cannot reach $server (${why:-curl failed}): check the network, the proxy (https_proxy) and that this system trusts the server's certificate" >&2
		exit 4
	}
	code=$(printf '%s\n' "$out" | sed -n '$p')
	body=$(printf '%s\n' "$out" | sed '$d')
}

# refused: the server's sentence, with the exit code its status means.
refused() {
	echo "register.sh: $body" >&2
	case $code in
	401 | 402 | 403) exit 3 ;;
	esac
	exit 1
}

# write PATH MODE: standard input into PATH, whole or not at all.
write() {
	mkdir -p "${1%/*}" || return 1
	(umask 077 && cat >"$1.tmp.$$") &&
		chmod "$2" "$1.tmp.$$" &&
		mv -f "$1.tmp.$$" "$1" || {
		rm -f "$1.tmp.$$"
		return 1
	}
}

if [ "$unregister" = yes ]; then
	[ "$key_set$keyfile_set" = nono ] || usage "--unregister needs no licence key"
	[ -r "$root$state_file" ] || die "this host is not registered by register.sh (there is no ${root}$state_file): there is no seat to give back"
	id=$(conf host_id)
	secret=$(conf secret)
	[ -n "$id" ] && [ -n "$secret" ] || die "${root}$state_file is damaged: ask the vendor to release this host's seat (enmeid seat release), then remove $repo_file, $key_file and $state_file"
	api -X POST -u "$id:$secret" "$server/api/v1/unregister"
	case $code in
	2??) echo "register.sh: unregistered: the seat of host $id is free again" >&2 ;;
	401) echo "register.sh: note: $server no longer knows host $id: its seat was already released" >&2 ;;
	*) echo "register.sh: $body (nothing was removed; run register.sh --unregister again once the server answers)" >&2 && exit 1 ;;
	esac
	for up in $(sed -n 's#^upstream_key=\(/etc/pki/rpm-gpg/RPM-GPG-KEY-enmei-upstream-[a-z0-9._-]*\)$#\1#p' "$root$state_file"); do
		rm -f "$root$up"
	done
	rm -f "$root$repo_file" "$root$key_file" "$root$state_file" || die "the seat is returned, but removing the files failed: remove $repo_file, $key_file and $state_file by hand"
	rmdir "$root${state_file%/*}" 2>/dev/null || true
	echo "register.sh: removed $repo_file, $key_file and $state_file" >&2
	exit 0
fi

# The licence key: --key, else --key-file, else ENMEI_KEY.
case $key_set$keyfile_set in
yesyes) usage "--key and --key-file both give the licence key: use one of them" ;;
noyes)
	[ -n "$keyfile" ] || usage "--key-file needs a file name, or - for standard input"
	if [ "$keyfile" = - ]; then
		key=$(cat) || die "cannot read the licence key from standard input"
	else
		[ -r "$keyfile" ] || die "cannot read the licence key from $keyfile: pass the file that holds only the key"
		key=$(cat "$keyfile")
	fi
	;;
nono)
	key=${ENMEI_KEY:-}
	[ -n "$key" ] || usage "no licence key: pass --key-file FILE, set ENMEI_KEY, or pass --key KEY"
	;;
esac
key=$(printf '%s\n' "$key" | sed 's/[[:space:]]//g' | sed -n '/./p')
[ -n "$key" ] || usage "the licence key is empty: pass the key from the support certificate"
case $key in
*[!A-Za-z0-9-]*) usage "the licence key holds characters a key never has: give only the key from the support certificate" ;;
esac

# The OS: os-release where there is one, else redhat-release (EL5, EL6).
# Both are read, never run.
os_id=
os_like=
os_version=
osr=$root/etc/os-release
[ -r "$osr" ] || osr=$root/usr/lib/os-release
if [ -r "$osr" ]; then
	field() { sed -n "s/^$1=//p" "$osr" | sed -n '$p' | sed -e "s/^[\"']//" -e "s/[\"']\$//"; }
	os_id=$(field ID)
	os_like=$(field ID_LIKE)
	os_version=$(field VERSION_ID)
elif [ -r "$root/etc/redhat-release" ]; then
	line=$(sed -n 1p "$root/etc/redhat-release")
	os_version=$(printf '%s\n' "$line" | sed -n 's/.* release \([0-9][0-9.]*\).*/\1/p')
	case $line in
	*CentOS*) os_id=centos os_like="rhel fedora" ;;
	*"Red Hat"*) os_id=rhel os_like=fedora ;;
	*Oracle* | *"Enterprise Linux Enterprise Linux"*) os_id=ol os_like="rhel fedora" ;;
	*Scientific*) os_id=scientific os_like="rhel fedora" ;;
	*) os_id=$(printf '%s\n' "$line" | sed 's/ .*//' | sed 'y/ABCDEFGHIJKLMNOPQRSTUVWXYZ/abcdefghijklmnopqrstuvwxyz/') os_like="rhel fedora" ;;
	esac
else
	die "${root:-}/etc/os-release and /etc/redhat-release are missing, so this system's package manager is unknown: register.sh configures yum on RHEL-family hosts only"
fi
os_id=$(printf '%s\n' "$os_id" | sed 'y/ABCDEFGHIJKLMNOPQRSTUVWXYZ/abcdefghijklmnopqrstuvwxyz/')
os_like=$(printf '%s\n' "$os_like" | sed 'y/ABCDEFGHIJKLMNOPQRSTUVWXYZ/abcdefghijklmnopqrstuvwxyz/')
family=
for w in $os_id $os_like; do
	case $w in
	rhel | centos | fedora | almalinux | rocky | ol | amzn) family=rpm ;;
	debian | ubuntu) family=deb ;;
	esac
	[ -z "$family" ] || break
done
case $family in
rpm) ;;
deb) die "this host runs ${os_id:-a Debian-family OS} ${os_version}, which register.sh does not configure (it writes yum configuration only): install the enmei agent and register with it: curl -fsSL $server/install.sh | sudo sh -s -- --register --key-file FILE" ;;
*) die "this host's OS (${os_id:-unknown}) is not of the RHEL family, whose yum configuration register.sh writes: on Debian or Ubuntu use the enmei agent ($server/install.sh)" ;;
esac
# Words the request carries must be plain: nothing here is JSON-escaped.
clean() { printf '%s\n' "$1" | grep -q '^[A-Za-z0-9._:~+-]*$'; }
clean "$os_id" && clean "$os_version" || die "this host's release file holds an ID or version register.sh cannot send ($os_id $os_version)"
likes=
for w in $os_like; do
	clean "$w" || continue
	likes="$likes${likes:+,}\"$w\""
done

# The machine identity, computed as the agent computes it: a digest of
# /etc/machine-id, else of D-Bus's /var/lib/dbus/machine-id (EL6 has no
# systemd). Under --root a link is not followed out of the root. A host with
# neither gets an identity generated once and kept in the state file.
raw=
for f in /etc/machine-id /var/lib/dbus/machine-id; do
	[ -n "$root" ] && [ -L "$root$f" ] && continue
	[ -r "$root$f" ] || continue
	raw=$(sed -n 1p "$root$f" | sed 's/[[:space:]]//g')
	case $raw in '' | uninitialized) raw= ;; *) break ;; esac
done
if [ -n "$raw" ]; then
	machine=$(printf 'enmei-machine-id:%s' "$raw" | sha256sum | sed 's/ .*//')
elif [ -r "$root$state_file" ] && [ -n "$(conf machine_id)" ]; then
	machine=$(conf machine_id)
else
	machine=gen-$({ cat /proc/sys/kernel/random/uuid /proc/sys/kernel/random/uuid; date; } | sha256sum | sed 's/ .*//')
	echo "register.sh: note: this host has no /etc/machine-id nor /var/lib/dbus/machine-id; it registers with a generated identity kept in $state_file (keep that file to keep the seat)" >&2
fi
clean "$machine" || die "cannot compute the machine identity: sha256sum is missing"
case $machine in ?????????????????*) ;; *) die "cannot compute the machine identity: sha256sum is missing" ;; esac

name=
if [ "$send_hostname" = yes ]; then
	[ ! -r "$root/etc/hostname" ] || name=$(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$root/etc/hostname" | sed -n '/./{p;q;}')
	[ -n "$name" ] || [ ! -r "$root/etc/sysconfig/network" ] || name=$(sed -n 's/^HOSTNAME=//p' "$root/etc/sysconfig/network" | sed -n '$p' | sed -e "s/[\"']//g")
	[ -n "$name" ] || [ -n "$root" ] || name=$(uname -n)
	if ! clean "$name"; then
		echo "register.sh: note: the host name is not sent: it holds characters register.sh does not send" >&2
		name=
	fi
fi
arch=$(uname -m)
clean "$arch" || arch=

# Registering again: the same server, and the credential it knows, so it
# keeps this seat and its secret.
creds=
if [ -r "$root$state_file" ]; then
	was=$(conf server)
	[ "$was" = "$server" ] || die "this host is registered with $was by register.sh: run its --unregister first (curl -s $was/register.sh | sh -s -- --unregister)"
	id=$(conf host_id)
	secret=$(conf secret)
	if clean "$id" && clean "$secret" && [ -n "$id" ]; then
		creds=",\"credentials\":[{\"host_id\":\"$id\",\"secret\":\"$secret\"}]"
	fi
fi

request="{\"key\":\"$key\",\"machine_id\":\"$machine\",\"hostname\":\"$name\",\"os_id\":\"$os_id\",\"os_version\":\"$os_version\",\"os_like\":[$likes],\"arch\":\"$arch\"$creds}"
# The request goes through standard input: the key stays out of ps.
api -X POST -H 'Content-Type: application/json' --data-binary @- "$server/api/v1/register?format=yum-repo" <<EOF
$request
EOF
[ "$code" = 200 ] || refused

repo=$body
id=$(printf '%s\n' "$repo" | sed -n 's/^username=//p' | sed -n 1p)
secret=$(printf '%s\n' "$repo" | sed -n 's/^password=//p' | sed -n 1p)
case $repo in
"# Written by enmei"*) ;;
*) id= ;;
esac
clean "$id" && clean "$secret" && [ -n "$id" ] && [ -n "$secret" ] ||
	die "$server answered with something other than a yum repository file: check that it is the enmei server (nothing was written; if it took a seat, the vendor can release it with enmeid seat release)"

# The state first: with it, --unregister can give the seat back whatever
# fails after.
{
	echo "# Written by register.sh; register.sh --unregister gives the seat back and removes it."
	echo "server=$server"
	echo "host_id=$id"
	echo "secret=$secret"
	case $machine in gen-*) echo "machine_id=$machine" ;; esac
} | write "$root$state_file" 0600 || die "cannot write ${root}$state_file: the seat is taken but unrecorded; ask the vendor to release host $id (enmeid seat release)"
write "$root$key_file" 0644 <<'ENMEI_KEY' || die "cannot write ${root}$key_file: run register.sh again (it keeps the seat), or register.sh --unregister"
@@.Key@@
ENMEI_KEY
# The distribution's key of each mirrored repository, which its gpgkey=
# names beside the vendor's (packages there keep the distribution's
# signatures). The files are recorded in the state, for --unregister.
for up in $(printf '%s\n' "$repo" | sed -n 's#^gpgkey=.* file://\(/etc/pki/rpm-gpg/RPM-GPG-KEY-enmei-upstream-[a-z0-9._-]*\).*#\1#p'); do
	rid=${up##*RPM-GPG-KEY-enmei-upstream-}
	api -H 'Accept: text/plain' -u "$id:$secret" "$server/api/v1/repos/$rid/upstream-key"
	case $code:$body in
	200:-----BEGIN\ PGP\ PUBLIC\ KEY\ BLOCK-----*) ;;
	*) die "cannot fetch the distribution's key of mirror $rid (${body:-HTTP $code}): run register.sh again (it keeps the seat), or register.sh --unregister" ;;
	esac
	printf 'upstream_key=%s\n' "$up" >>"$root$state_file" || die "cannot write ${root}$state_file: run register.sh again (it keeps the seat)"
	printf '%s\n' "$body" | write "$root$up" 0644 || die "cannot write ${root}$up: run register.sh again (it keeps the seat), or register.sh --unregister"
done
printf '%s\n' "$repo" | write "$root$repo_file" 0600 || die "cannot write ${root}$repo_file: run register.sh again (it keeps the seat), or register.sh --unregister"

repos=$(printf '%s\n' "$repo" | sed -n 's/^\[enmei-\(.*\)\]$/\1/p' | sed -n 'H;${x;s/\n/, /g;s/^, //;p;}')
echo "register.sh: registered with $server as host $id; the signing key's fingerprint is $fingerprint (the support certificate names the one to expect)" >&2
echo "register.sh: configured repositories: $repos (in $repo_file)" >&2
echo "register.sh: next: yum -y makecache (imports the signing key once), then yum update" >&2
