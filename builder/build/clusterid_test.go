package build

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/builder/site"
)

func generatedCluster() *site.Cluster {
	return &site.Cluster{Token: site.TokenGenerate, CA: site.CAGenerate}
}

// checkModes fails unless every directory under dir (and dir) is 0700 and
// every file 0600.
func checkModes(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", p, info.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestGeneratedIdentityIsStoredAndReused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), SecretsDirName)
	now := time.Now()
	first, err := loadClusterIdentity(dir, generatedCluster(), now)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(first.secret) {
		t.Errorf("generated token is not 32 random bytes in hex: %d characters", len(first.secret))
	}
	if first.ca == nil || len(first.ca.files) != 2*len(k3sCAs) {
		t.Fatalf("CA files: %v", first.ca)
	}
	checkModes(t, dir)
	stored, err := os.ReadFile(filepath.Join(dir, "token"))
	if err != nil || string(stored) != first.secret+"\n" {
		t.Errorf("stored token %q, %v", stored, err)
	}
	for _, name := range []string{"root-ca.key", "intermediate-ca.key", "server-ca.pem", "etcd/peer-ca.crt", "etcd/server-ca.key"} {
		if _, err := os.Stat(filepath.Join(dir, "tls", name)); err != nil {
			t.Errorf("the secrets dir lacks the script's %s: %v", name, err)
		}
	}

	second, err := loadClusterIdentity(dir, generatedCluster(), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if second.secret != first.secret || second.agentSecret != first.agentSecret || second.ca.hash != first.ca.hash ||
		second.agentJoinToken() != first.agentJoinToken() {
		t.Errorf("a second build made another identity: token same %v, CA hash %s vs %s",
			second.secret == first.secret, second.ca.hash, first.ca.hash)
	}
	for name, data := range first.ca.files {
		if string(second.ca.files[name]) != string(data) {
			t.Errorf("%s differs on reuse", name)
		}
	}

	// Another output directory is another cluster.
	other, err := loadClusterIdentity(filepath.Join(t.TempDir(), SecretsDirName), generatedCluster(), now)
	if err != nil {
		t.Fatal(err)
	}
	if other.secret == first.secret || other.agentSecret == first.agentSecret || other.ca.hash == first.ca.hash {
		t.Error("two fresh output directories got the same identity")
	}
}

func TestJoinTokenPinsTheRootCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), SecretsDirName)
	id, err := loadClusterIdentity(dir, generatedCluster(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// K3s hashes the DER of the bundle's root (pkg/clientaccess/token.go,
	// hashCA): computed here from root-ca.pem on its own.
	rootPEM, err := os.ReadFile(filepath.Join(dir, "tls", "root-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(rootPEM)
	sum := sha256.Sum256(block.Bytes)
	want := "K10" + hex.EncodeToString(sum[:]) + "::server:" + id.secret
	if got := id.joinToken("server", id.secret); got != want {
		t.Errorf("join token\n got %s\nwant %s", got, want)
	}
	want = "K10" + hex.EncodeToString(sum[:]) + "::node:" + id.agentSecret
	if got := id.agentJoinToken(); got != want {
		t.Errorf("agent join token\n got %s\nwant %s", got, want)
	}
	// The served bundle is the script's chain: CA, intermediate, root.
	chain := string(readFile(t, dir, "tls/server-ca.pem")) + string(readFile(t, dir, "tls/intermediate-ca.pem")) + string(rootPEM)
	if string(id.ca.files["server-ca.crt"]) != chain {
		t.Error("server-ca.crt is not server-ca.pem + intermediate-ca.pem + root-ca.pem")
	}
}

func readFile(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGeneratedCAWorksAsK3sUsesIt signs a serving certificate with
// server-ca.key, as K3s does, and verifies it as a joining node does: with
// the served bundle as its roots.
func TestGeneratedCAWorksAsK3sUsesIt(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	if err := generateCA(dir, now); err != nil {
		t.Fatal(err)
	}
	for _, name := range k3sCAs {
		bundle := readFile(t, dir, name+".crt")
		certs, err := parseCerts(bundle)
		if err != nil || len(certs) != 3 {
			t.Fatalf("%s.crt: %d certificates, %v", name, len(certs), err)
		}
		keyBlock, _ := pem.Decode(readFile(t, dir, name+".key"))
		if keyBlock == nil || keyBlock.Type != "EC PRIVATE KEY" {
			t.Fatalf("%s.key is not an EC PRIVATE KEY PEM", name)
		}
		key, err := x509.ParseECPrivateKey(keyBlock.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if !certs[0].IsCA || certs[0].Subject.CommonName != "k3s-"+strings.ReplaceAll(name, "/", "-")+"@"+itoa(now.Unix()) {
			t.Errorf("%s: CA %v, CN %q", name, certs[0].IsCA, certs[0].Subject.CommonName)
		}

		leaf := signLeaf(t, certs[0], key, now)
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(bundle)
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "kubernetes", CurrentTime: now}); err != nil {
			t.Errorf("%s: a certificate it signs does not verify against its bundle: %v", name, err)
		}
		rootOnly := x509.NewCertPool()
		rootOnly.AddCert(certs[2])
		inters := x509.NewCertPool()
		inters.AddCert(certs[1])
		if _, err := certs[0].Verify(x509.VerifyOptions{Roots: rootOnly, Intermediates: inters, CurrentTime: now.Add(10 * 365 * 24 * time.Hour)}); err != nil {
			t.Errorf("%s: the CA's chain to the root alone fails within 10 years: %v", name, err)
		}
	}
}

func itoa(n int64) string { return big.NewInt(n).String() }

func signLeaf(t *testing.T, ca *x509.Certificate, caKey crypto.Signer, now time.Time) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kube-apiserver"},
		DNSNames: []string{"kubernetes"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.10")},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(365 * 24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestCAHash(t *testing.T) {
	now := time.Now()
	root, err := newCA("root", now, rootCAValidity, nil)
	if err != nil {
		t.Fatal(err)
	}
	inter, err := newCA("inter", now, subCAValidity, root)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := newCA("leaf", now, subCAValidity, inter)
	if err != nil {
		t.Fatal(err)
	}
	rootSum := sha256.Sum256(root.cert.Raw)
	single := sha256.Sum256(root.certPEM)
	for _, tc := range []struct {
		name   string
		bundle []byte
		want   string
	}{
		// One certificate: the legacy hash of the file's bytes.
		{"single", root.certPEM, hex.EncodeToString(single[:])},
		// A chain: the root's DER, wherever the root is in the bundle.
		{"chain", concat(leaf.certPEM, inter.certPEM, root.certPEM), hex.EncodeToString(rootSum[:])},
		{"chain, root before intermediate", concat(leaf.certPEM, root.certPEM, inter.certPEM), hex.EncodeToString(rootSum[:])},
	} {
		got, err := caHash(tc.bundle, now)
		if err != nil || got != tc.want {
			t.Errorf("%s: caHash = %s, %v; want %s", tc.name, got, err, tc.want)
		}
	}
	// Without its intermediate the chain does not verify: K3s would hash
	// the bytes instead, so no token may be made from it.
	if got, err := caHash(concat(leaf.certPEM, root.certPEM), now); err == nil {
		t.Errorf("a broken chain hashed to %s", got)
	}
	if _, err := caHash(concat(leaf.certPEM, inter.certPEM, root.certPEM), now.Add(20*365*24*time.Hour)); err == nil {
		t.Error("an expired chain hashed")
	}
	if _, err := caHash([]byte("no pem here"), now); err == nil {
		t.Error("no certificate hashed")
	}
}

func TestBringYourOwnCA(t *testing.T) {
	// K3s's own layout: one self-signed CA per purpose (deps.go,
	// createSigningCertKey). The operator puts it in the secrets dir.
	dir := filepath.Join(t.TempDir(), SecretsDirName)
	now := time.Now()
	for _, name := range k3sCAs {
		ca, err := newCA(name, now, subCAValidity, nil)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "tls", filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p+".crt", ca.certPEM, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p+".key", ca.keyPEM, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	id, err := loadClusterIdentity(dir, generatedCluster(), now)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(readFile(t, dir, "tls/server-ca.crt"))
	if id.ca.hash != hex.EncodeToString(sum[:]) {
		t.Errorf("hash of a single self-signed server CA is %s, want the file's sha256", id.ca.hash)
	}
	if _, err := os.Stat(filepath.Join(dir, "tls", "root-ca.key")); err == nil {
		t.Error("the builder generated a CA over the operator's")
	}

	// A key that others can read is refused, naming the fix.
	key := filepath.Join(dir, "tls", "server-ca.key")
	if err := os.Chmod(key, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadClusterIdentity(dir, generatedCluster(), now); err == nil || !strings.Contains(err.Error(), "chmod 600 "+key) {
		t.Errorf("world-readable key: %v", err)
	}
	if err := os.Chmod(key, 0o600); err != nil {
		t.Fatal(err)
	}
	// A key from another CA is refused.
	if err := os.WriteFile(key, readFile(t, dir, "tls/client-ca.key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadClusterIdentity(dir, generatedCluster(), now); err == nil || !strings.Contains(err.Error(), "server-ca.key does not go with server-ca.crt") {
		t.Errorf("mismatched key: %v", err)
	}
}

// TestTokenFromTheConfigGeneratesOnlyTheAgentToken: a site that gives its
// server token (and no CA) gets a generated agent token, kept beside the
// other generated secrets, and join tokens without a CA pin.
func TestTokenFromTheConfigGeneratesOnlyTheAgentToken(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("0123456789abcdef-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		token Token
		want  string
	}{
		{"0123456789abcdef-literal", "0123456789abcdef-literal"},
		{Token("file:" + tokenFile), "0123456789abcdef-from-file"},
	} {
		dir := filepath.Join(t.TempDir(), SecretsDirName)
		id, err := loadClusterIdentity(dir, &site.Cluster{Token: site.Token(tc.token), CA: site.CANone}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if id.secret != tc.want || id.joinToken("server", id.secret) != tc.want || id.ca != nil {
			t.Errorf("%s: secret %q join %q ca %v", tc.token.Source(), id.secret, id.joinToken("server", id.secret), id.ca)
		}
		if id.agentJoinToken() != id.agentSecret || len(id.agentSecret) != 64 {
			t.Errorf("%s: agent join token %q, want the generated agent secret alone", tc.token.Source(), id.agentJoinToken())
		}
		if got := strings.TrimSpace(string(readFile(t, dir, "agent-token"))); got != id.agentSecret {
			t.Errorf("%s: the agent token kept is %q", tc.token.Source(), got)
		}
		if _, err := os.Stat(filepath.Join(dir, "token")); err == nil {
			t.Errorf("%s: a token was generated although the site gives one", tc.token.Source())
		}
	}
}

// Token is site.Token, for short table entries.
type Token = site.Token

func TestStoredTokenIsChecked(t *testing.T) {
	dir := filepath.Join(t.TempDir(), SecretsDirName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := loadClusterIdentity(dir, &site.Cluster{Token: site.TokenGenerate, CA: site.CANone}, time.Now())
	if err == nil || !strings.Contains(err.Error(), "has 5 characters; want at least 16") || strings.Contains(err.Error(), "short\n") {
		t.Errorf("short stored token: %v", err)
	}
}
