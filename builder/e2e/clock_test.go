package e2e

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/internal/testca"
	"github.com/ml-appliance/appliance/internal/vmtest"
)

const (
	// guestfwdEnv names the host address TestHelperGuestfwd relays to.
	guestfwdEnv = "E2E_GUESTFWD_TARGET"
	// clockServer is where the agent sees the K3s server: QEMU forwards
	// the guest's connections to it to a relay to the double on 127.0.0.1
	// (guestfwd works with restrict=on, which keeps the guest off every
	// other address).
	clockServer = "10.0.2.100:6443"
	// deadRTC is the battery-less machine's clock.
	deadRTC = "2020-01-01T00:00:00"
)

// TestHelperGuestfwd is not a test: QEMU runs the test binary with this
// test selected (and guestfwdEnv set) for each connection the guest makes
// to clockServer, with the connection as stdin and stdout; it relays to the
// address in guestfwdEnv and exits without printing (stdout is the
// connection).
func TestHelperGuestfwd(t *testing.T) {
	target := os.Getenv(guestfwdEnv)
	if target == "" {
		t.Skip("helper process for TestAgentClockFromServer")
	}
	conn, err := net.Dial("tcp", target)
	if err != nil {
		os.Exit(1)
	}
	go func() {
		io.Copy(conn, os.Stdin)
		conn.(*net.TCPConn).CloseWrite()
	}()
	io.Copy(os.Stdout, conn)
	os.Exit(0)
}

// TestAgentClockFromServer boots an agent whose RTC is years behind (a
// dead CMOS battery) and checks that firstboot sets the clock from the K3s
// server before it starts K3s: first up to the image's floor (the baked
// cluster CA's NotBefore), then to the server's time. The server is a
// double of K3s's supervisor (not K3s): /cacerts serves the cluster CA
// bundle the builder generated, over TLS with a certificate signed by that
// CA, and Go's net/http adds the host's clock as the Date header, as it
// does for K3s's own handler.
func TestAgentClockFromServer(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM")
	}
	t.Parallel()
	work := t.TempDir()
	standIn := withStandInK3s(t, work)
	config := siteConfig(t, work, "single-node.yaml", func(doc map[string]any) {
		standIn(doc)
		doc["cluster"].(map[string]any)["server"] = "https://" + clockServer
	})
	out := filepath.Join(work, "out")
	build(t, config, out)
	tlsDir := filepath.Join(out, "secrets", "single-node", "tls")
	bundle, err := os.ReadFile(filepath.Join(tlsDir, "server-ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/cacerts" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write(bundle)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{supervisorCert(t, tlsDir)}}
	srv.StartTLS()
	defer srv.Close()

	dir := t.TempDir()
	disk := filepath.Join(dir, "disk.raw")
	run(t, "cp", "--sparse=always", filepath.Join(out, "single-node.raw"), disk)
	opts := bootOptions(t, disk, "52:54:00:12:34:56")
	opts.Extra = []string{
		"-rtc", "base=" + deadRTC,
		// The relay's target is on its command line, through env: the test
		// runs in parallel with others, so it cannot set its own
		// environment (t.Setenv).
		"-netdev", fmt.Sprintf("user,id=n0,restrict=on,guestfwd=tcp:%s-cmd:env %s=%s %s -test.run=^TestHelperGuestfwd$",
			clockServer, guestfwdEnv, srv.Listener.Addr(), os.Args[0]),
		"-device", "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56",
	}
	vm, err := vmtest.Start(t.Context(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vm.Kill)
	expect(t, vm, consoleLine+`firstboot: role=agent \(`, 0, bootTimeout)
	floorLine, i := expect(t, vm, consoleLine+`firstboot: clock: \S+ is before the earliest time this image allows, \S+ \(the cluster CA /etc/appliance/cluster/tls/\S+ is not valid before it\): set to it$`, 0, bootTimeout)
	line, j := expect(t, vm, consoleLine+`firstboot: clock: set from the K3s server https://`+regexp.QuoteMeta(clockServer)+`: \S+ -> \S+ \(the Date of its /cacerts answer; its TLS chain verifies at that time against the cluster CA the join token pins\)$`, i, 3*time.Minute)
	seen := time.Now()
	t.Logf("console:\n%s\n%s", floorLine, line)
	m := regexp.MustCompile(`-> (\S+) \(`).FindStringSubmatch(line)
	set, err := time.Parse(time.RFC3339, m[1])
	if err != nil {
		t.Fatal(err)
	}
	if d := seen.Sub(set); d < -5*time.Second || d > 2*time.Minute {
		t.Errorf("clock set to %s, %s away from the host's clock when the line arrived", set, d)
	}
	// K3s starts after the clock is right.
	expect(t, vm, consoleLine+`k3s-standin: test double \(not K3s\): agent started with `, j, bootTimeout)
	vm.Kill()
}

// supervisorCert signs the double's serving certificate for clockServer's
// address with the site's server CA (testca: as K3s's dynamiclistener
// does).
func supervisorCert(t *testing.T, tlsDir string) tls.Certificate {
	t.Helper()
	caPEM, err := os.ReadFile(filepath.Join(tlsDir, "server-ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(tlsDir, "server-ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	host, _, _ := net.SplitHostPort(clockServer)
	return testca.Load(t, caPEM, keyPEM).Serving(t, time.Now().AddDate(1, 0, 0), net.ParseIP(host))
}
