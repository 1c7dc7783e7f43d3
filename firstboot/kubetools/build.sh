#!/bin/bash
# build.sh OUTDIR: builds kube-apiserver and etcd from this module (the
# versions its go.mod pins) into OUTDIR, for the tests that run client-go
# code against a real API server (internal/kubetest).
#
# A cold build takes 10-12 minutes on 2 cores and up to ~2.5 GB of RAM (v1.36.2:
# 12m14s, 1.9 GB peak RSS, measured under load); it is skipped
# when OUTDIR/.stamp matches the sha256 of go.mod, go.sum and `go version`
# and both binaries are there.
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
GO=${GO:-go}
outdir=$1
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
cd "$(dirname "$0")"

stamp=$( { cat go.mod go.sum; "$GO" version; } | sha256sum | cut -d' ' -f1)
if [ -x "$outdir/kube-apiserver" ] && [ -x "$outdir/etcd" ] &&
	[ "$(cat "$outdir/.stamp" 2>/dev/null)" = "$stamp" ]; then
	echo "kube test tools in $outdir are up to date"
	exit 0
fi

# The ldflags set the version the API server reports on /version (a build
# outside its git tree would report v0.0.0).
version=$(awk '$1 == "k8s.io/kubernetes" { print $2; exit }' go.mod)
minor=$(echo "$version" | cut -d. -f2)
rm -f "$outdir/.stamp"
echo "building kube-apiserver $version and etcd into $outdir (a cold build takes ~10 min)"
"$GO" build -trimpath -ldflags "-s -w \
	-X k8s.io/component-base/version.gitVersion=$version \
	-X k8s.io/component-base/version.gitMajor=1 \
	-X k8s.io/component-base/version.gitMinor=$minor" \
	-o "$outdir/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
"$GO" build -trimpath -ldflags "-s -w" -o "$outdir/etcd" go.etcd.io/etcd/server/v3
echo "$stamp" > "$outdir/.stamp"
