package k3s

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"
)

// checksumLine is one line of sha256sum output: the digest, a space, then
// " " (text mode) or "*" (binary mode) and the file name. K3s's release
// checksum file is plain sha256sum output (install.sh reads it with
// grep " k3s${SUFFIX}$" and keeps the text before the first blank).
var checksumLine = regexp.MustCompile(`^([0-9a-fA-F]{64}) [ *](.+)$`)

// parseChecksums maps each file name in a sha256sum-style file to its
// lowercase hex digest. Blank lines are skipped; any other line that is not
// a checksum line, or a name listed twice with different digests, is an
// error.
func parseChecksums(data []byte) (map[string]string, error) {
	sums := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		m := checksumLine.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("line %d: %q is not a sha256sum line", n, line)
		}
		sum, name := strings.ToLower(m[1]), m[2]
		if prev, ok := sums[name]; ok && prev != sum {
			return nil, fmt.Errorf("line %d: %s listed twice with different digests", n, name)
		}
		sums[name] = sum
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return sums, nil
}
