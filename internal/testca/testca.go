// Package testca makes certificate authorities for tests: a cluster CA laid
// out as the builder bakes one (and as K3s's custom CA script makes it: a
// root, an intermediate, and server-ca signed by the intermediate), and
// serving certificates signed by server-ca the way K3s's supervisor gets
// its own (rancher/dynamiclistener, factory/cert_utils.go, NewSignedCert:
// NotBefore is the CA's). For tests only.
package testca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"
)

// CA is a cluster CA. Root and Intermediate are nil for one loaded from
// server-ca files alone (Load).
type CA struct {
	Root, Intermediate, ServerCA *x509.Certificate
	serverKey                    *ecdsa.PrivateKey
	// Bundle is server-ca.crt: server-ca, the intermediate and the root,
	// which is what K3s serves at /cacerts.
	Bundle []byte
}

// New makes a CA set valid from notBefore for years years.
func New(t testing.TB, notBefore time.Time, years int) *CA {
	t.Helper()
	notAfter := notBefore.AddDate(years, 0, 0)
	root, rootKey := sign(t, "root-ca", notBefore, notAfter, nil, nil, nil)
	inter, interKey := sign(t, "intermediate-ca", notBefore, notAfter, root, rootKey, nil)
	serverCA, serverKey := sign(t, "server-ca", notBefore, notAfter, inter, interKey, nil)
	ca := &CA{Root: root, Intermediate: inter, ServerCA: serverCA, serverKey: serverKey}
	for _, c := range ca.Chain() {
		ca.Bundle = append(ca.Bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return ca
}

// Load takes server-ca from its PEM certificate and its SEC 1 EC key (the
// builder's server-ca.pem and server-ca.key), to sign serving certificates.
func Load(t testing.TB, certPEM, keyPEM []byte) *CA {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	if block == nil {
		t.Fatal("server CA: no PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		t.Fatal("server CA: no PEM key")
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return &CA{ServerCA: cert, serverKey: key}
}

// Chain is server-ca, the intermediate and the root, in server-ca.crt's
// order.
func (ca *CA) Chain() []*x509.Certificate {
	return []*x509.Certificate{ca.ServerCA, ca.Intermediate, ca.Root}
}

// Pin is the hash a K3s join token pins for Bundle, computed by K3s's rule
// for a bundle (pkg/clientaccess/token.go, hashCA: the SHA-256 of the
// root's DER), independently of the code tests check.
func (ca *CA) Pin() string {
	sum := sha256.Sum256(ca.Root.Raw)
	return hex.EncodeToString(sum[:])
}

// Serving is a serving certificate for ips signed by server-ca, valid from
// server-ca's NotBefore to notAfter.
func (ca *CA) Serving(t testing.TB, notAfter time.Time, ips ...net.IP) tls.Certificate {
	t.Helper()
	cert, key := sign(t, "k3s", ca.ServerCA.NotBefore, notAfter, ca.ServerCA, ca.serverKey, ips)
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

// sign makes a certificate for cn, self-signed without a parent; a CA
// unless it has addresses.
func sign(t testing.TB, cn string, notBefore, notAfter time.Time, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, ips []net.IP) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: notBefore, NotAfter: notAfter, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature, IPAddresses: ips,
	}
	if len(ips) == 0 {
		tmpl.IsCA, tmpl.KeyUsage = true, tmpl.KeyUsage|x509.KeyUsageCertSign
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent, parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}
