package agent

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/internal/testca"
)

// serving is the supervisor's serving certificate for 127.0.0.1, made by
// the server at issued, valid for a year as dynamiclistener makes it.
func serving(t *testing.T, ca *testca.CA, issued time.Time) tls.Certificate {
	return ca.Serving(t, issued.AddDate(1, 0, 0), net.ParseIP("127.0.0.1"))
}

// k3sSupervisorDouble is a test double for the unauthenticated part of a
// K3s server's supervisor (not K3s): like pkg/server/handlers/router.go it
// serves /cacerts (handlers.go, CACerts: the server-ca.crt bytes as
// text/plain) and /ping ("pong"), over TLS with a chain signed by the
// cluster CA. Real K3s sets no Date itself; Go's net/http adds one from the
// server's clock. The double sets it from its own pretend clock, now, so a
// test can give the server any time; Go's server keeps a Date the handler
// set.
type k3sSupervisorDouble struct {
	mu     sync.Mutex
	bundle []byte
	now    time.Time
	// date, when set, is sent instead of now (a hostile or broken server).
	date     string
	requests int
}

func (d *k3sSupervisorDouble) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.requests++
	date := d.now.UTC().Format(http.TimeFormat)
	if d.date != "" {
		date = d.date
	}
	w.Header().Set("Date", date)
	switch r.URL.Path {
	case "/cacerts":
		w.Header().Set("Content-Type", "text/plain")
		w.Write(d.bundle)
	case "/ping":
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", strconv.Itoa(len("pong")))
		w.Write([]byte("pong"))
	default:
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	}
}

func (d *k3sSupervisorDouble) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.requests
}

// startSupervisorDouble serves d on 127.0.0.1 with cert and returns the
// server's https URL.
func startSupervisorDouble(t *testing.T, d *k3sSupervisorDouble, cert tls.Certificate, chain ...*x509.Certificate) string {
	t.Helper()
	for _, c := range chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	srv := httptest.NewUnstartedServer(d)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

// fakeClock is a test double for Clock: it reads now and records every
// Set, which moves now.
type fakeClock struct {
	now  time.Time
	sets []time.Time
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Set(t time.Time) error {
	c.sets = append(c.sets, t)
	c.now = t
	return nil
}
