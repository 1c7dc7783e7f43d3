package nodeconfig

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/internal/testca"
)

func hexSum(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// The expected hashes follow K3s's rule (hashCA), computed here, not by
// the code under test: a bundle pins its root's DER (testca's Pin), one
// certificate its bytes, and a chain that does not verify at the time falls
// back to the bytes.
func TestK3sCAHash(t *testing.T) {
	from := time.Date(2026, 2, 28, 10, 0, 0, 0, time.UTC)
	ca := testca.New(t, from, 1)
	if got, err := K3sCAHash(ca.Chain(), ca.Bundle, from.Add(time.Hour)); got != ca.Pin() || err != nil {
		t.Errorf("bundle: %s, %v; want the root's %s", got, err, ca.Pin())
	}
	got, err := K3sCAHash(ca.Chain(), ca.Bundle, from.Add(-time.Hour))
	if got != hexSum(ca.Bundle) || err == nil {
		t.Errorf("before the chain is valid: %s, %v; want the bytes' %s and the chain's error", got, err, hexSum(ca.Bundle))
	}
	one := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Root.Raw})
	if got, err := K3sCAHash(ca.Chain()[2:], one, from.Add(-time.Hour)); got != hexSum(one) || err != nil {
		t.Errorf("one certificate: %s, %v; want %s", got, err, hexSum(one))
	}
}
