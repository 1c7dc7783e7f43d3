#!/bin/sh
# build.sh OUT.tar: make the default appliance base OS as a rootfs tarball.
#
# Uses mmdebstrap (no root needed with --mode=unshare, works as root too) and
# takes its package sources from the host's apt configuration, so a factory's
# internal Debian mirror is used when the host is configured for it. Set
# BASE_SOURCES to a sources file (one-line or deb822) to choose another.
set -eu

out=${1:?usage: build.sh OUT.tar}
here=$(dirname "$0")
suite=${BASE_SUITE:-bookworm}

sources=${BASE_SOURCES:-}
if [ -z "$sources" ]; then
	for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
		if [ -s "$f" ]; then sources=$f; break; fi
	done
fi
[ -n "$sources" ] || { echo "build.sh: no apt sources found; set BASE_SOURCES" >&2; exit 1; }

include=$(grep -v '^[[:space:]]*#' "$here/packages.txt" | tr -s ' \n' ',' | sed 's/^,//; s/,$//')

mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT

# The kernel package's hook builds a Debian initrd the appliance never uses
# (the builder makes its own initramfs): drop it to save ~40 MB.
# Files of the machine that runs this are not the appliance's: mmdebstrap
# copies the host's /etc/resolv.conf and /etc/hostname in (systemd-resolved's
# postinst keeps the former as a backup) and writes the host's apt sources,
# which may name a factory's internal mirror. The builder lays down the
# appliance's own /etc/hosts and /etc/resolv.conf (builder/baseos).
mmdebstrap --format=tar --variant=minbase --include="$include" \
	--customize-hook='rm -f "$1"/boot/initrd.img-*' \
	--customize-hook='rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*' \
	--customize-hook='rm -f "$1"/etc/resolv.conf "$1"/etc/.resolv.conf.systemd-resolved.bak "$1"/etc/hostname' \
	--customize-hook='rm -rf "$1"/etc/apt/sources.list "$1"/etc/apt/sources.list.d/*' \
	"$suite" "$tmp" "$sources"
mv "$tmp" "$out"
trap - EXIT
