#!/bin/bash
# Runs every Go fuzz test of the module for FUZZTIME each (default 20000x:
# that many inputs, a few seconds per target). Their committed corpora
# (testdata/fuzz/) also run as plain tests in `go test`; this explores
# beyond them. A failure leaves the failing input under the package's
# testdata/fuzz/ and fails the run.
#
# Counts, not durations: with a duration, Go 1.26's fuzz coordinator can
# report "context deadline exceeded" as a failure when the time runs out
# while a worker is busy (golang/go#75804, fixed in Go 1.27); a count has
# no deadline to race.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-20000x}
grep -rl --include='*_test.go' '^func Fuzz' builder firstboot internal | sort | while read -r file; do
	dir=./$(dirname "$file")
	for name in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
		echo "fuzz $dir $name ($FUZZTIME)"
		"$GO" test -run '^$' -fuzz "^$name\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 200x "$dir" 2>&1 | grep -v '^fuzz: elapsed' || { echo "fuzz $dir $name: FAILED"; exit 1; }
	done
done
