package nodeconfig

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"time"
)

// K3sCAHash is the CA hash a K3s join token pins ("K10<hash>::", see
// JoinTokenPath) for certs, the certificates of the CA bundle raw, computed
// as K3s computes it (pkg/clientaccess/token.go, hashCA) with the time of
// its chain check given: for one certificate, the SHA-256 of raw; for
// several, the SHA-256 of the DER of the root the first one's chain reaches
// (the later ones without an authority key ID, or with one equal to their
// subject key ID, are the roots, the others intermediates). When that chain
// does not verify at at, K3s hashes raw instead, and so does K3sCAHash:
// chainErr then says why (nil otherwise). K3s checks at the node's clock, so
// a node whose clock is outside the chain's validity computes another hash
// than the token's.
func K3sCAHash(certs []*x509.Certificate, raw []byte, at time.Time) (hash string, chainErr error) {
	b := raw
	if len(certs) > 1 {
		roots, inters := x509.NewCertPool(), x509.NewCertPool()
		for _, c := range certs[1:] {
			if len(c.AuthorityKeyId) == 0 || bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId) {
				roots.AddCert(c)
			} else {
				inters.AddCert(c)
			}
		}
		chains, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, CurrentTime: at})
		if err == nil {
			chain := chains[0]
			b = chain[len(chain)-1].Raw
		}
		chainErr = err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), chainErr
}
