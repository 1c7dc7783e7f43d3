package upgradebundle

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// testManifest is a valid manifest with a payload.
func testManifest() Manifest {
	sum := strings.Repeat("ab", 32)
	return Manifest{
		Format: Format,
		Release: Release{
			Site: "lab", SiteID: SiteID("lab"), Cluster: strings.Repeat("c0", 32), Version: "1.2.0",
			K3sVersion: "v1.36.2+k3s1", KernelVersion: "6.1.0-56-amd64", Payload: "sha256:" + sum,
		},
		Cmdline: []string{"console=ttyS0", "quiet"},
		OSImage: File{Name: OSImageFile, Size: 4096, SHA256: sum},
		Kernel:  File{Name: KernelFile, Size: 100, SHA256: sum},
		Initrd:  File{Name: InitrdFile, Size: 200, SHA256: sum},
		Payload: &File{Name: PayloadFile, Size: 300, SHA256: sum},
	}
}

func testKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func publicOf(key ed25519.PrivateKey) ed25519.PublicKey { return key.Public().(ed25519.PublicKey) }

func TestSignOpenRoundTrip(t *testing.T) {
	key := testKey(t)
	want := testManifest()
	manifest, sig, err := Encode(want, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Open(publicOf(key), manifest, sig)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Open gave %+v, want %+v", got, want)
	}
	// Without a payload too.
	want.Payload, want.Release.Payload = nil, ""
	if manifest, sig, err = Encode(want, key); err != nil {
		t.Fatal(err)
	}
	if got, err = Open(publicOf(key), manifest, sig); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("without payload: Open gave %+v, %v, want %+v", got, err, want)
	}
}

func TestOpenRefusesWhatTheKeyDidNotSign(t *testing.T) {
	key := testKey(t)
	manifest, sig, err := Encode(testManifest(), key)
	if err != nil {
		t.Fatal(err)
	}
	other := testKey(t)
	// What another site's key signed: the same manifest, validly signed.
	_, otherSig, err := Encode(testManifest(), other)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 1
		return c
	}
	for _, tc := range []struct {
		name          string
		pub           ed25519.PublicKey
		manifest, sig []byte
	}{
		{"another key", publicOf(other), manifest, sig},
		{"another key's signature", publicOf(key), manifest, otherSig},
		{"a changed version", publicOf(key), bytes.Replace(manifest, []byte(`"1.2.0"`), []byte(`"9.2.0"`), 1), sig},
		{"a flipped bit in the manifest", publicOf(key), flip(manifest, len(manifest)/2), sig},
		{"a byte appended to the manifest", publicOf(key), append(bytes.Clone(manifest), ' '), sig},
		{"a flipped bit in the signature", publicOf(key), manifest, flip(sig, 3)},
		{"a truncated signature", publicOf(key), manifest, sig[:ed25519.SignatureSize-1]},
		{"no signature", publicOf(key), manifest, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(tc.pub, tc.manifest, tc.sig)
			if !errors.Is(err, ErrSignature) {
				t.Errorf("Open: %v, want ErrSignature", err)
			}
		})
	}
}

func TestOpenChecksWhatItVerified(t *testing.T) {
	key := testKey(t)
	sign := func(manifest []byte) []byte { return ed25519.Sign(key, manifest) }
	good, _, err := Encode(testManifest(), key)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, manifest, want string
	}{
		{"an unknown field", strings.Replace(string(good), `"format": 1,`, `"format": 1, "extra": true,`, 1), `unknown field "extra"`},
		{"another format", strings.Replace(string(good), `"format": 1,`, `"format": 2,`, 1), "format 2, this firstboot reads format 1"},
		{"a bad file name", strings.Replace(string(good), `"name": "vmlinuz"`, `"name": "../vmlinuz"`, 1), `file "../vmlinuz": want "vmlinuz"`},
		{"not JSON", "{", "unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(publicOf(key), []byte(tc.manifest), sign([]byte(tc.manifest)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open: %v, want an error containing %q", err, tc.want)
			}
		})
	}
	big := bytes.Repeat([]byte(" "), MaxManifestSize+1)
	if _, err := Open(publicOf(key), big, sign(big)); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("Open of %d bytes: %v", len(big), err)
	}
}

func TestEncodeRefusesAnInvalidManifest(t *testing.T) {
	m := testManifest()
	m.Release.Version = "1.2"
	if _, _, err := Encode(m, testKey(t)); err == nil || !strings.Contains(err.Error(), `version "1.2"`) {
		t.Errorf("Encode: %v", err)
	}
}

func TestKeysRoundTripThroughPEM(t *testing.T) {
	key := testKey(t)
	privPEM, err := MarshalPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	gotPriv, err := ParsePrivateKey(privPEM)
	if err != nil || !gotPriv.Equal(key) {
		t.Errorf("ParsePrivateKey: %v (equal %v)", err, gotPriv.Equal(key))
	}
	pubPEM, err := MarshalPublicKey(publicOf(key))
	if err != nil {
		t.Fatal(err)
	}
	gotPub, err := ParsePublicKey(pubPEM)
	if err != nil || !gotPub.Equal(publicOf(key)) {
		t.Errorf("ParsePublicKey: %v", err)
	}
	// The halves are not interchangeable.
	if _, err := ParsePublicKey(privPEM); err == nil {
		t.Error("ParsePublicKey took a private key")
	}
	if _, err := ParsePrivateKey(pubPEM); err == nil {
		t.Error("ParsePrivateKey took a public key")
	}
	if _, err := ParsePublicKey([]byte("not PEM")); err == nil {
		t.Error("ParsePublicKey took garbage")
	}
	// A key of another algorithm is refused by name.
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ecPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	if _, err := ParsePublicKey(ecPEM); err == nil || !strings.Contains(err.Error(), "want ed25519") {
		t.Errorf("ParsePublicKey of an ECDSA key: %v", err)
	}
	der, err = x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	ecPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if _, err := ParsePrivateKey(ecPEM); err == nil || !strings.Contains(err.Error(), "want ed25519") {
		t.Errorf("ParsePrivateKey of an ECDSA key: %v", err)
	}
}

func TestSiteID(t *testing.T) {
	id := SiteID("lab")
	if !hexSHA256.MatchString(id) || id != SiteID("lab") {
		t.Errorf("SiteID(lab) = %q: want 64 hex digits, the same every time", id)
	}
	if SiteID("lab2") == id || strings.Contains(id, "lab") {
		t.Errorf("SiteID(lab) = %q: want it to differ per seed and not show the seed", id)
	}
}

func TestReleaseRoundTrip(t *testing.T) {
	want := testManifest().Release
	data, err := MarshalRelease(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseRelease(data)
	if err != nil || got != want {
		t.Errorf("ParseRelease gave %+v, %v, want %+v", got, err, want)
	}
	bad := want
	bad.Version = "latest"
	if _, err := MarshalRelease(bad); err == nil || !strings.Contains(err.Error(), `version "latest"`) {
		t.Errorf("MarshalRelease of version latest: %v", err)
	}
	for _, tc := range []struct{ name, data, want string }{
		{"an unknown field", strings.Replace(string(data), "{", `{"channel": "beta",`, 1), `unknown field "channel"`},
		{"a bad version", strings.Replace(string(data), `"1.2.0"`, `"1.2"`, 1), `version "1.2"`},
		{"too large", string(data) + strings.Repeat(" ", MaxReleaseSize), "more than"},
		{"empty", "", "EOF"},
	} {
		if _, err := ParseRelease([]byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: ParseRelease: %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
