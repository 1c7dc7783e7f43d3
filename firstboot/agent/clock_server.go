package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
)

// The time from the K3s server a node joins.
//
// How K3s's agent (and a joining server) contacts the server, in
// pkg/clientaccess/token.go (K3s v1.36; called from pkg/agent/run.go,
// createProxyAndValidateToken, and pkg/cluster/bootstrap.go,
// shouldBootstrapLoad): ParseAndValidateToken -> setServer -> getCACerts
// GETs <server>/cacerts without verifying TLS, then again with the
// returned bundle as its only roots, so the server's certificate chain is
// verified by Go's x509 at the node's clock: before a certificate's
// NotBefore or after its NotAfter it fails ("CA cert validation failed: ...
// certificate has expired or is not yet valid"). validateCAHash then
// compares the bundle's hashCA with the token's pin, and hashCA verifies
// the bundle's chain at the node's clock too (falling back to the file's
// hash, which then does not match). An agent retries that every 2 seconds
// forever; a joining server returns the error and exits, and systemd
// restarts it (Restart=always, builder/k3s/units.go), in a loop.
//
// The supervisor serves /cacerts and /ping to anyone
// (pkg/server/handlers/router.go, NewHandler: router.Handle("/cacerts",
// CACerts(control)) outside the authed routers; handlers.go, CACerts writes
// server/tls/server-ca.crt as it is). Go's net/http server adds a Date
// header (second resolution) to every answer whose handler set none
// (net/http server.go, chunkWriter.writeHeader), CACerts included. So
// the agent GETs /cacerts once, as K3s's first unverified request does,
// and keeps the Date of the answer, the bundle and the chain the server
// showed in that same TLS session.
//
// Why a Date is trusted, and how far:
//   - With a pin in the join token (a site with a cluster CA: "K10<hash>::"),
//     the bundle must hash to it and the server's chain must verify against
//     it at the claimed time, exactly what K3s will check after the clock
//     is set; a certificate signed by the cluster CA is proof that the
//     answer comes from a cluster server, so the time is that server's
//     clock. Without a pin nothing authenticates the answer (K3s's own join
//     without a pin trusts the first answer the same way and warns); the
//     bounds below still apply.
//   - Never before the image's floor (imageFloor), and never more than
//     systemd's own valid range after it (maxAfterFloor), and only a time at
//     which the chain the server showed is valid: a Date that K3s's join
//     would then refuse is no use.

// serverTimeout bounds one request, as K3s's defaultClientTimeout
// (pkg/clientaccess/token.go).
const serverTimeout = 10 * time.Second

// maxCABundle bounds what is read of a /cacerts answer.
const maxCABundle = 1 << 20

// serverAnswer is what one /cacerts request gave.
type serverAnswer struct {
	// date is the answer's Date header.
	date time.Time
	// bundle is the body: the server's server-ca.crt.
	bundle []byte
	// peers is the chain the server showed, leaf first.
	peers []*x509.Certificate
	// host is the server URL's host name or address, which the leaf must
	// name (as Go's TLS verification in K3s's client requires).
	host string
}

// askServer GETs <server>/cacerts once and returns the answer unverified.
func askServer(ctx context.Context, server string) (*serverAnswer, error) {
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return nil, fmt.Errorf("server %q: not an https URL", server)
	}
	u.Path, u.RawPath, u.RawQuery, u.Fragment = "/cacerts", "", "", ""
	client := &http.Client{
		Timeout: serverTimeout,
		Transport: &http.Transport{
			// No proxy from the environment: the server is on the site
			// network, as for K3s's own client.
			Proxy: nil,
			// Verified below, by hand, at the time the server claims
			// (verifyAnswer): the node's clock is what is in doubt.
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // see verifyAnswer
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u.Redacted(), resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCABundle+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", u.Redacted(), err)
	}
	if len(body) > maxCABundle {
		return nil, fmt.Errorf("GET %s: answer larger than %d bytes", u.Redacted(), maxCABundle)
	}
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return nil, fmt.Errorf("GET %s: no usable Date header (%q)", u.Redacted(), resp.Header.Get("Date"))
	}
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		return nil, fmt.Errorf("GET %s: no server certificate", u.Redacted())
	}
	return &serverAnswer{date: date.UTC(), bundle: body, peers: resp.TLS.PeerCertificates, host: u.Hostname()}, nil
}

// verifyAnswer checks the answer as K3s's join checks it, at time at: the
// bundle hashes to pin (when there is one) and the server's chain verifies
// against the bundle for host.
func verifyAnswer(a *serverAnswer, pin string, at time.Time) error {
	bundle := parsePEMCerts(a.bundle)
	if len(bundle) == 0 {
		return errors.New("its /cacerts answer holds no certificate")
	}
	if pin != "" {
		// As K3s does, a chain that does not verify at that time hashes
		// the bytes instead (nodeconfig.K3sCAHash), which then differ.
		if got, _ := nodeconfig.K3sCAHash(bundle, a.bundle, at); got != pin {
			return fmt.Errorf("its CA bundle hashes to %s at %s, not to the cluster CA hash the join token pins (%s)", got, stamp(at), pin)
		}
	}
	// K3s's verified client takes the whole bundle as roots
	// (GetHTTPClient: RootCAs.AppendCertsFromPEM(cacerts)).
	roots := x509.NewCertPool()
	for _, c := range bundle {
		roots.AddCert(c)
	}
	inters := x509.NewCertPool()
	for _, c := range a.peers[1:] {
		inters.AddCert(c)
	}
	_, err := a.peers[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, DNSName: a.host, CurrentTime: at})
	if err != nil {
		return fmt.Errorf("its certificate does not verify against its CA bundle at %s: %w", stamp(at), err)
	}
	return nil
}

// stamp formats a time for the console.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
