package upgradebundle

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
)

// GenerateKey returns a new bundle signing key.
func GenerateKey() (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("bundle signing key: %w", err)
	}
	return priv, nil
}

// MarshalPrivateKey returns key as PEM ("PRIVATE KEY", PKCS #8).
func MarshalPrivateKey(key ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("bundle signing key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKey reads what MarshalPrivateKey wrote.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("bundle signing key: not a PEM \"PRIVATE KEY\"")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("bundle signing key: %w", err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("bundle signing key: a %T, want ed25519", key)
	}
	return priv, nil
}

// MarshalPublicKey returns key as PEM ("PUBLIC KEY", PKIX).
func MarshalPublicKey(key ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, fmt.Errorf("bundle public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePublicKey reads what MarshalPublicKey wrote.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("bundle public key: not a PEM \"PUBLIC KEY\"")
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("bundle public key: %w", err)
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("bundle public key: a %T, want ed25519", key)
	}
	return pub, nil
}

// Encode checks m and returns manifest.json's bytes and their signature.
func Encode(m Manifest, key ed25519.PrivateKey) (manifest, sig []byte, err error) {
	if err := m.Check(); err != nil {
		return nil, nil, err
	}
	manifest, err = json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, nil, fmt.Errorf("bundle manifest: %w", err)
	}
	manifest = append(manifest, '\n')
	return manifest, ed25519.Sign(key, manifest), nil
}

// ErrSignature is returned by Open for a manifest the key did not sign.
var ErrSignature = errors.New("its signature does not verify with this node's key: the bundle is of another site (or cluster), or was changed after the build")

// Open verifies manifest.json's bytes against sig with the node's public
// key, then decodes and checks them. Nothing of an unsigned manifest is
// parsed.
func Open(pub ed25519.PublicKey, manifest, sig []byte) (Manifest, error) {
	if len(manifest) > MaxManifestSize {
		return Manifest{}, fmt.Errorf("bundle manifest: %d bytes, more than %d", len(manifest), MaxManifestSize)
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(pub, manifest, sig) {
		return Manifest{}, fmt.Errorf("bundle manifest: %w", ErrSignature)
	}
	var m Manifest
	if err := decodeStrict(manifest, &m); err != nil {
		return Manifest{}, fmt.Errorf("bundle manifest: %w", err)
	}
	if err := m.Check(); err != nil {
		return Manifest{}, err
	}
	return m, nil
}
