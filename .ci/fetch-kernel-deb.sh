#!/bin/sh
# fetch-kernel-deb.sh METAPACKAGE OUT.deb: download the versioned kernel
# package a Debian kernel metapackage (e.g. linux-image-cloud-amd64) points
# at, without installing it, and verify it against apt's own checksums.
set -eu
meta=${1:?usage: fetch-kernel-deb.sh METAPACKAGE OUT.deb}
out=${2:?usage: fetch-kernel-deb.sh METAPACKAGE OUT.deb}
work=$(mktemp -d)
chmod 0777 "$work" # apt downloads as the unprivileged _apt user
trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get download "$meta" >/dev/null
dep=$(dpkg-deb -f "$meta"_*.deb Depends | sed 's/ (.*//; s/,.*//')
apt-get download "$dep" >/dev/null
# apt-get download checks the archive's signed hashes; compare once more with
# the record apt has, so a tampered local file cannot slip through.
want=$(apt-cache show "$dep" | awk '/^SHA256:/ {print $2; exit}')
got=$(sha256sum "$dep"_*.deb | cut -d' ' -f1)
[ "$want" = "$got" ] || { echo "fetch-kernel-deb: $dep sha256 $got, apt says $want" >&2; exit 1; }
cd - >/dev/null
cp "$work/$dep"_*.deb "$out.tmp"
mv "$out.tmp" "$out"
