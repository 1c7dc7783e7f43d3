package agent

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/internal/smallfile"
)

// What the image knows about time. Nothing here comes from the network or
// from a file the node writes: only the read-only image's own facts.
//
//   - Every file of the OS image carries the build's SOURCE_DATE_EPOCH as
//     its mtime at the latest (builder/rootfs, WriteOptions.ModTime: later
//     or unset mtimes become it), and the agent binary is built during the
//     build, so its mtime is that epoch. With the builder's default epoch 0
//     it says nothing and is ignored.
//   - The cluster CA baked under nodeconfig.CADir: K3s's join fails while
//     the clock is before a certificate's NotBefore (Go's x509 verification
//     in pkg/clientaccess/token.go, getCACerts and hashCA), and the builder
//     made or checked the CA at build time, so the real time is past it.
//
// A node's own records (timesyncd's /var/lib/systemd/timesync/clock, the
// agent's step records) are not used: a node whose clock was wrong when it
// wrote them would make the wrong time a floor.

// floorFiles are the image files whose mtime is the build's epoch.
var floorFiles = []string{payload.BinaryPath}

// maxCertFile bounds what is read of one certificate file.
const maxCertFile = 1 << 20

// imageFloor returns the earliest time the image knows the real time is
// past, and what says so; zero when it knows none.
func imageFloor(env *Env) (time.Time, string, error) {
	var floor time.Time
	why := ""
	for _, p := range floorFiles {
		info, err := os.Lstat(env.Path(p))
		if err != nil || !info.Mode().IsRegular() || info.ModTime().Unix() <= 0 {
			continue
		}
		if info.ModTime().After(floor) {
			floor, why = info.ModTime().UTC(), "the image's build time (mtime of "+p+")"
		}
	}
	certs, err := imageCACerts(env)
	if err != nil {
		return time.Time{}, "", err
	}
	for _, c := range certs {
		if c.cert.NotBefore.After(floor) {
			floor, why = c.cert.NotBefore.UTC(), fmt.Sprintf("the cluster CA %s is not valid before it", c.path)
		}
	}
	return floor, why, nil
}

type imageCert struct {
	path string
	cert *x509.Certificate
}

// imageCACerts reads the certificates (*.crt, never the keys) of the
// cluster CA baked under nodeconfig.CADir; none when the image has no CA.
func imageCACerts(env *Env) ([]imageCert, error) {
	dir := env.Path(nodeconfig.CADir)
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == dir {
				return filepath.SkipDir
			}
			return err
		}
		if d.Type().IsRegular() && strings.HasSuffix(p, ".crt") {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cluster CA: %w", err)
	}
	sort.Strings(paths)
	var out []imageCert
	for _, p := range paths {
		data, err := smallfile.Read(p, maxCertFile)
		if err != nil {
			return nil, fmt.Errorf("cluster CA: %w", err)
		}
		rel := filepath.Join(nodeconfig.CADir, strings.TrimPrefix(p, dir))
		for _, c := range parsePEMCerts(data) {
			out = append(out, imageCert{path: rel, cert: c})
		}
	}
	return out, nil
}

// parsePEMCerts returns the certificates of a PEM bundle, skipping blocks
// that are not certificates or do not parse.
func parsePEMCerts(data []byte) []*x509.Certificate {
	var certs []*x509.Certificate
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(block.Bytes); err == nil {
			certs = append(certs, c)
		}
	}
	return certs
}

// joinPin returns the CA hash a K3s join token pins ("K10<hash>::..."),
// "" when the token pins none. The token is read, never printed. K3s's
// format: pkg/clientaccess/token.go, parseToken (the hash is 64 hex digits,
// caHashLength), compared as a string with the lowercase hex of hashCA
// (validateCACerts), so it is kept as written.
func joinPin(token string) string {
	rest, ok := strings.CutPrefix(strings.TrimSpace(token), "K10")
	if !ok {
		return ""
	}
	hash, _, ok := strings.Cut(rest, "::")
	if !ok || len(hash) != 64 {
		return ""
	}
	if _, err := hex.DecodeString(hash); err != nil {
		return ""
	}
	return hash
}
