#!/bin/bash
# build.sh OUTDIR: builds OUTDIR/helm-controller from this module: the real
# k3s-io/helm-controller (the version go.mod pins, the one the pinned K3s
# release bundles), embedded as a K3s server embeds it (main.go), for the
# tests of internal/helmcontroller.
#
# A cold build takes a few minutes (~170 CPU-seconds, 0.7 GB of RAM); it is
# skipped when OUTDIR/.stamp matches the sha256 of go.mod, go.sum, main.go
# and `go version` and the binary is there.
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

stamp=$( { cat go.mod go.sum main.go; "$GO" version; } | sha256sum | cut -d' ' -f1)
if [ -x "$outdir/helm-controller" ] && [ "$(cat "$outdir/.stamp" 2>/dev/null)" = "$stamp" ]; then
	echo "helm-controller in $outdir is up to date"
	exit 0
fi

version=$(awk '$1 == "github.com/k3s-io/helm-controller" { print $2; exit }' go.mod)
rm -f "$outdir/.stamp"
echo "building helm-controller $version into $outdir (a cold build takes a few minutes)"
"$GO" build -trimpath -ldflags "-s -w" -o "$outdir/helm-controller" .
echo "$stamp" > "$outdir/.stamp"
