#!/bin/bash
# Runs every Go fuzz test of the module for FUZZTIME (default 10s) each.
# Their committed corpora (testdata/fuzz/) also run as plain tests in
# `go test`; this explores beyond them. A failure leaves the failing input
# under the package's testdata/fuzz/ and fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-10s}
grep -rl --include='*_test.go' '^func Fuzz' builder firstboot internal | sort | while read -r file; do
	dir=./$(dirname "$file")
	for name in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
		echo "fuzz $dir $name ($FUZZTIME)"
		"$GO" test -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 5s "$dir" 2>&1 | grep -v '^fuzz: elapsed' || { echo "fuzz $dir $name: FAILED"; exit 1; }
	done
done
