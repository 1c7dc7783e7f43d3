package build

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
)

// k3sCAs are the certificate authorities K3s keeps in <data-dir>/server/tls
// and uses as they are when present at its first start
// (pkg/daemons/control/deps/deps.go: CreateRuntimeCertFiles and
// createSigningCertKey), named as its custom CA script names them
// (contrib/util/generate-custom-ca-certs.sh: one CA per TYPE in
// "client server request-header etcd/peer etcd/server").
var k3sCAs = []string{"client-ca", "server-ca", "request-header-ca", "etcd/peer-ca", "etcd/server-ca"}

// Validity of generated CAs, as in K3s's custom CA script: 7300 days for
// the root, 3700 for the intermediate and the CAs it signs. They start a
// day before generation, so a node whose clock lags a little still accepts
// them.
const (
	rootCAValidity = 7300 * 24 * time.Hour
	subCAValidity  = 3700 * 24 * time.Hour
	caBackdate     = 24 * time.Hour
)

// clusterCA is the CA set the image carries: for each of k3sCAs a .crt (the
// CA, then the certificates up to its root) and a .key, by path relative to
// the tls directory.
type clusterCA struct {
	files map[string][]byte
	// hash is K3s's CA hash of server-ca.crt: what a K10 token pins.
	hash string
}

// generateCA writes a new CA set into dir, laid out as K3s's custom CA
// script lays out server/tls: root-ca and intermediate-ca (.pem, .key,
// .crt), and for each of k3sCAs a .pem and .key, and a .crt chain to the
// root. Keys are ECDSA P-256 in SEC 1 PEM ("EC PRIVATE KEY"), as K3s
// writes its own. Every file is 0600.
func generateCA(dir string, now time.Time) error {
	stamp := "@" + strconv.FormatInt(now.Unix(), 10)
	root, err := newCA("k3s-root-ca"+stamp, now, rootCAValidity, nil)
	if err != nil {
		return err
	}
	inter, err := newCA("k3s-intermediate-ca"+stamp, now, subCAValidity, root)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"root-ca.pem": root.certPEM, "root-ca.key": root.keyPEM, "root-ca.crt": root.certPEM,
		"intermediate-ca.pem": inter.certPEM, "intermediate-ca.key": inter.keyPEM,
		"intermediate-ca.crt": concat(inter.certPEM, root.certPEM),
	}
	for _, name := range k3sCAs {
		// "etcd/peer-ca" -> "k3s-etcd-peer-ca", as the script names them.
		ca, err := newCA("k3s-"+strings.ReplaceAll(name, "/", "-")+stamp, now, subCAValidity, inter)
		if err != nil {
			return err
		}
		files[name+".pem"] = ca.certPEM
		files[name+".key"] = ca.keyPEM
		files[name+".crt"] = concat(ca.certPEM, inter.certPEM, root.certPEM)
	}
	for _, name := range sortedKeys(files) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return fmt.Errorf("cluster CA: %w", err)
		}
		if err := os.WriteFile(p, files[name], 0o600); err != nil {
			return fmt.Errorf("cluster CA: %w", err)
		}
	}
	return nil
}

type caPair struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
	keyPEM  []byte
}

// newCA makes a CA certificate for cn, self-signed when parent is nil.
func newCA(cn string, now time.Time, validity time.Duration, parent *caPair) (*caPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("cluster CA %s: key: %w", cn, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("cluster CA %s: serial: %w", cn, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-caBackdate).UTC(),
		NotAfter:              now.Add(validity).UTC(),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		return nil, fmt.Errorf("cluster CA %s: sign: %w", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("cluster CA %s: %w", cn, err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("cluster CA %s: key: %w", cn, err)
	}
	return &caPair{
		cert: cert, key: key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// loadCA reads the image's CA set from dir (one generateCA wrote, or one an
// operator put there from K3s's script) and checks it as K3s will use it:
// each key matches its certificate, each chain verifies now, and the hash
// of server-ca.crt is the one K3s will compute.
func loadCA(dir string, now time.Time) (*clusterCA, error) {
	ca := &clusterCA{files: map[string][]byte{}}
	for _, name := range k3sCAs {
		crt, err := readSecret(filepath.Join(dir, filepath.FromSlash(name+".crt")), false)
		if err != nil {
			return nil, err
		}
		key, err := readSecret(filepath.Join(dir, filepath.FromSlash(name+".key")), true)
		if err != nil {
			return nil, err
		}
		if _, err := tls.X509KeyPair(crt, key); err != nil {
			return nil, fmt.Errorf("cluster CA %s: %s.key does not go with %s.crt: %w", dir, name, name, err)
		}
		if _, err := caHash(crt, now); err != nil {
			return nil, fmt.Errorf("cluster CA %s: %s.crt: %w", dir, name, err)
		}
		ca.files[name+".crt"], ca.files[name+".key"] = crt, key
	}
	hash, err := caHash(ca.files["server-ca.crt"], now)
	if err != nil {
		return nil, fmt.Errorf("cluster CA %s: server-ca.crt: %w", dir, err)
	}
	ca.hash = hash
	return ca, nil
}

// caHash is K3s's hash of the CA bundle a server serves at /cacerts (its
// server/tls/server-ca.crt, read as bytes: pkg/server/router.go, cacerts):
// nodeconfig.K3sCAHash at build time. K3s hashes the whole file when the
// bundle's chain does not verify on the joining node; a bundle that does not
// verify at build time is an error here rather than a token that only works
// by accident.
func caHash(bundle []byte, now time.Time) (string, error) {
	certs, err := parseCerts(bundle)
	if err != nil {
		return "", err
	}
	hash, chainErr := nodeconfig.K3sCAHash(certs, bundle, now)
	if chainErr != nil {
		return "", fmt.Errorf("the chain does not verify, so K3s would not pin its root: %w", chainErr)
	}
	return hash, nil
}

func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return certs, nil
}

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
