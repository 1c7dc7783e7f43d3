package agent

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/cloudconfig"
	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/internal/testca"
)

// Times of the clock tests: the image was built at buildTime, its cluster
// CA made then (valid from a day before, as the builder backdates it), and
// the real time, which the K3s server knows, is realTime.
var (
	buildTime   = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	caNotBefore = buildTime.Add(-24 * time.Hour)
	realTime    = time.Date(2026, 7, 14, 12, 0, 3, 0, time.UTC)
	deadRTC     = time.Date(2021, 1, 1, 0, 0, 5, 0, time.UTC)
)

// clockWorld is a joining agent's root with a baked CA and K3s, and a K3s
// server double that knows the real time.
type clockWorld struct {
	root   string
	env    *Env
	out    *bytes.Buffer
	clock  *fakeClock
	ca     *testca.CA
	server *k3sSupervisorDouble
	url    string
	runner *timesyncdDouble
}

// newClockWorld builds the world with the node's clock at now; token is the
// join token's text (use the pin for K3s's full form).
func newClockWorld(t *testing.T, now time.Time, token func(ca *testca.CA) string) *clockWorld {
	t.Helper()
	w := &clockWorld{clock: &fakeClock{now: now}, out: &bytes.Buffer{}}
	w.ca = testca.New(t, caNotBefore, 10)
	w.server = &k3sSupervisorDouble{bundle: w.ca.Bundle, now: realTime}
	w.url = startSupervisorDouble(t, w.server, serving(t, w.ca, realTime.Add(-30*24*time.Hour)))
	cfg := clusterConfig()
	cfg.Cluster.Server = w.url
	w.root = newRoot(t, fixture{config: cfg, nics: map[string]string{"eth0": "52:54:00:12:34:56"}})
	writeTestFile(t, w.root, payload.K3sBinaryPath, "#!/bin/sh\n")
	writeTestFile(t, w.root, payload.BinaryPath, "agent\n")
	if err := os.Chtimes(filepath.Join(w.root, payload.BinaryPath), buildTime, buildTime); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, w.root, nodeconfig.CADir+"/server-ca.crt", string(w.ca.Bundle))
	writeTestFile(t, w.root, nodeconfig.AgentJoinTokenPath, token(w.ca)+"\n")
	w.runner = &timesyncdDouble{root: w.root}
	w.env = &Env{Root: w.root, Out: w.out, Now: func() time.Time { return now }, Runner: w.runner,
		Config: cfg, Role: nodeconfig.RoleAgent}
	return w
}

func pinned(ca *testca.CA) string   { return "K10" + ca.Pin() + "::node:AGENT-TOKEN-VALUE" }
func unpinned(ca *testca.CA) string { return "AGENT-TOKEN-VALUE" }

// testClockOptions are short bounds for tests, long enough for a TLS
// handshake on a loaded machine.
func testClockOptions(c Clock) clockOptions {
	return clockOptions{clock: c, ntpWait: 150 * time.Millisecond, ntpPoll: 10 * time.Millisecond,
		serverWait: time.Second, serverWaitDoubt: 1500 * time.Millisecond, serverPoll: 20 * time.Millisecond}
}

func (w *clockWorld) run(t *testing.T) error {
	t.Helper()
	err := syncClock(context.Background(), w.env, testClockOptions(w.clock))
	if strings.Contains(w.out.String(), "SECRET-TOKEN-VALUE") {
		t.Errorf("the token was printed:\n%s", w.out)
	}
	return err
}

// wantLines checks that the output has each line, in order.
func wantLines(t *testing.T, out string, lines ...string) {
	t.Helper()
	rest := out
	for _, l := range lines {
		i := strings.Index(rest, "firstboot: "+l+"\n")
		if i < 0 {
			t.Errorf("output lacks, in order, %q:\n%s", l, out)
			return
		}
		rest = rest[i+len("firstboot: "+l+"\n"):]
	}
}

// timesyncdDouble is a test double for Runner standing in for systemctl
// and systemd-timesyncd (not them): "systemctl restart
// systemd-timesyncd.service" succeeds and, when sync is set, touches the
// flag timesyncd touches on its first synchronization.
type timesyncdDouble struct {
	root  string
	sync  bool
	calls []string
}

func (r *timesyncdDouble) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	line := name + " " + strings.Join(args, " ")
	r.calls = append(r.calls, line)
	if line == "systemctl restart "+timesyncUnit && r.sync {
		p := filepath.Join(r.root, timesyncFlag)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		return nil, os.WriteFile(p, nil, 0o644)
	}
	return nil, nil
}

func TestClockDeadRTCFromPinnedServer(t *testing.T) {
	w := newClockWorld(t, deadRTC, pinned)
	if err := w.run(t); err != nil {
		t.Fatalf("%v\n%s", err, w.out)
	}
	wantLines(t, w.out.String(),
		"clock: 2021-01-01T00:00:05Z is before the earliest time this image allows, 2026-03-01T10:00:00Z (the image's build time (mtime of /usr/local/bin/firstboot)): set to it",
		"clock: asking the K3s server "+w.url+" for the time (up to 1.5s)",
		"clock: set from the K3s server "+w.url+": 2026-03-01T10:00:00Z -> 2026-07-14T12:00:03Z (the Date of its /cacerts answer; its TLS chain verifies at that time against the cluster CA the join token pins)")
	if got := w.clock.sets; len(got) != 2 || !got[0].Equal(buildTime) || !got[1].Equal(realTime) {
		t.Errorf("clock set to %v, want %v then %v", got, buildTime, realTime)
	}
}

func TestClockFloorFromCA(t *testing.T) {
	// Without a build time in the image (epoch 0), the CA's NotBefore is
	// the floor.
	w := newClockWorld(t, deadRTC, pinned)
	if err := os.Chtimes(filepath.Join(w.root, payload.BinaryPath), time.Unix(0, 0), time.Unix(0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := w.run(t); err != nil {
		t.Fatalf("%v\n%s", err, w.out)
	}
	wantLines(t, w.out.String(), "clock: 2021-01-01T00:00:05Z is before the earliest time this image allows, 2026-02-28T10:00:00Z (the cluster CA /etc/appliance/cluster/tls/server-ca.crt is not valid before it): set to it")
}

func TestClockUnpinnedServer(t *testing.T) {
	w := newClockWorld(t, buildTime.Add(time.Hour), unpinned)
	if err := w.run(t); err != nil {
		t.Fatalf("%v\n%s", err, w.out)
	}
	wantLines(t, w.out.String(),
		"clock: asking the K3s server "+w.url+" for the time (up to 1s)",
		"clock: set from the K3s server "+w.url+": 2026-03-01T11:00:00Z -> 2026-07-14T12:00:03Z (the Date of its /cacerts answer; unauthenticated: the join token pins no cluster CA)")
}

func TestClockAgreesWithServer(t *testing.T) {
	w := newClockWorld(t, realTime.Add(-1500*time.Millisecond), pinned)
	if err := w.run(t); err != nil {
		t.Fatalf("%v\n%s", err, w.out)
	}
	wantLines(t, w.out.String(), "clock: 2026-07-14T12:00:01Z, within 2s of the server "+w.url+" (its TLS chain verifies at that time against the cluster CA the join token pins)")
	if len(w.clock.sets) != 0 {
		t.Errorf("clock set to %v", w.clock.sets)
	}
}

// A server that is not the cluster's, or whose clock is absurd, does not
// set the clock: each answer is refused with its reason.
func TestClockRefusesServerTime(t *testing.T) {
	later := buildTime.Add(time.Hour)
	for _, tc := range []struct {
		name  string
		edit  func(t *testing.T, w *clockWorld)
		token func(*testca.CA) string
		want  string
	}{{
		name: "another CA",
		edit: func(t *testing.T, w *clockWorld) {
			other := testca.New(t, caNotBefore, 10)
			w.server.bundle = other.Bundle
			w.url = startSupervisorDouble(t, w.server, serving(t, other, realTime))
			w.env.Config.Cluster.Server = w.url
		},
		token: pinned,
		want:  "clock: warning: the time of URL (2026-07-14T12:00:03Z) is not taken: its CA bundle hashes to HASH at 2026-07-14T12:00:03Z, not to the cluster CA hash the join token pins (PIN); K3s starts with the clock as it is, 2026-03-01T11:00:00Z",
	}, {
		name:  "time past the leaf",
		edit:  func(t *testing.T, w *clockWorld) { w.server.now = realTime.AddDate(2, 0, 0) },
		token: pinned,
		want:  "clock: warning: the time of URL (2028-07-14T12:00:03Z) is not taken: its certificate does not verify against its CA bundle at 2028-07-14T12:00:03Z: x509: certificate has expired or is not yet valid: current time 2028-07-14T12:00:03Z is after 2027-06-14T12:00:03Z; K3s starts with the clock as it is, 2026-03-01T11:00:00Z",
	}, {
		name:  "time before the floor",
		edit:  func(t *testing.T, w *clockWorld) { w.server.now = buildTime.Add(-12 * time.Hour) },
		token: pinned,
		want:  "clock: warning: the time of URL (2026-02-28T22:00:00Z) is refused: it is before the earliest time this image allows, 2026-03-01T10:00:00Z; K3s starts with the clock as it is, 2026-03-01T11:00:00Z, at which its certificates verify",
	}, {
		name: "time past systemd's range, unpinned",
		edit: func(t *testing.T, w *clockWorld) {
			// A server of its own making, valid in 2042.
			rogue := testca.New(t, caNotBefore, 30)
			w.server.bundle = rogue.Bundle
			w.server.now = time.Date(2042, 1, 1, 0, 0, 0, 0, time.UTC)
			w.url = startSupervisorDouble(t, w.server, serving(t, rogue, w.server.now))
			w.env.Config.Cluster.Server = w.url
		},
		token: unpinned,
		want:  "clock: warning: the time of URL (2042-01-01T00:00:00Z) is refused: it is more than 15 years after the earliest time this image allows, 2026-03-01T10:00:00Z; K3s starts with the clock as it is, 2026-03-01T11:00:00Z, at which its certificates verify",
	}, {
		name:  "no Date",
		edit:  func(t *testing.T, w *clockWorld) { w.server.date = "yesterday" },
		token: pinned,
		want:  `clock: warning: no answer from URL within 1s (GET URL/cacerts: no usable Date header ("yesterday")); K3s starts with the clock as it is, 2026-03-01T11:00:00Z`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newClockWorld(t, later, tc.token)
			tc.edit(t, w)
			if err := w.run(t); err != nil {
				t.Fatalf("%v\n%s", err, w.out)
			}
			want := strings.NewReplacer("URL", w.url, "PIN", w.ca.Pin()).Replace(tc.want)
			if tc.name == "another CA" {
				hash, _ := nodeconfig.K3sCAHash(parsePEMCerts(w.server.bundle), w.server.bundle, realTime)
				want = strings.Replace(want, "HASH", hash, 1)
			}
			wantLines(t, w.out.String(), want)
			if len(w.clock.sets) != 0 {
				t.Errorf("clock set to %v", w.clock.sets)
			}
			if w.server.count() == 0 {
				t.Error("the server double was not asked")
			}
		})
	}
}

// When the server's time is refused and the node's clock is outside the
// server's chain, K3s certainly cannot join: the step fails and says why.
func TestClockCannotJoin(t *testing.T) {
	nodeNow := buildTime.AddDate(2, 0, 0)
	w := newClockWorld(t, nodeNow, pinned)
	// The server's clock is behind the image's build; its leaf, made then,
	// expired a year later, before the node's clock.
	w.server.now = buildTime.Add(-12 * time.Hour)
	w.url = startSupervisorDouble(t, w.server, serving(t, w.ca, w.server.now))
	w.env.Config.Cluster.Server = w.url
	err := w.run(t)
	want := "K3s cannot join " + w.url + " with this clock, 2028-03-01T10:00:00Z: its certificate does not verify against its CA bundle at 2028-03-01T10:00:00Z: x509: certificate has expired or is not yet valid: current time 2028-03-01T10:00:00Z is after 2027-02-28T22:00:00Z; " +
		"the server's own time, 2026-02-28T22:00:00Z, is refused: it is before the earliest time this image allows, 2026-03-01T10:00:00Z. " +
		"Set the time (cluster.network.ntp, cloud-config ntp, or timedatectl set-time) and run `systemctl restart firstboot`; K3s is not started"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	if len(w.clock.sets) != 0 {
		t.Errorf("clock set to %v", w.clock.sets)
	}
}

func TestClockNoAnswer(t *testing.T) {
	w := newClockWorld(t, buildTime.Add(time.Hour), pinned)
	w.env.Config.Cluster.Server = "https://127.0.0.1:1"
	if err := w.run(t); err != nil {
		t.Fatalf("%v\n%s", err, w.out)
	}
	wantLines(t, w.out.String(), "clock: asking the K3s server https://127.0.0.1:1 for the time (up to 1s)")
	if !strings.Contains(w.out.String(), "firstboot: clock: warning: no answer from https://127.0.0.1:1 within 1s (Get \"https://127.0.0.1:1/cacerts\": dial tcp 127.0.0.1:1: connect: connection refused); K3s starts with the clock as it is, 2026-03-01T11:00:00Z\n") {
		t.Errorf("output:\n%s", w.out)
	}
}

func TestClockInitialServerKeepsItsClock(t *testing.T) {
	w := newClockWorld(t, deadRTC, pinned)
	w.env.Role, w.env.ClusterInit = nodeconfig.RoleServer, true
	if err := w.run(t); err != nil {
		t.Fatalf("%v\n%s", err, w.out)
	}
	wantLines(t, w.out.String(),
		"clock: 2021-01-01T00:00:05Z is before the earliest time this image allows, 2026-03-01T10:00:00Z (the image's build time (mtime of /usr/local/bin/firstboot)): set to it",
		"clock: 2026-03-01T10:00:00Z, not synchronized (no NTP server configured); the initial server keeps its own clock, which joining nodes take")
	if w.server.count() != 0 {
		t.Errorf("the initial server asked a server %d times", w.server.count())
	}
}

// A joining server with a static address takes the site's NTP servers.
func TestClockSiteNTP(t *testing.T) {
	w := newClockWorld(t, deadRTC, pinned)
	w.env.Config.Cluster.Network.NTP = []string{"10.0.0.1", "ntp.lab.internal"}
	w.env.Role, w.env.entryName = nodeconfig.RoleServer, "ctrl-2"
	w.runner.sync = true
	if err := w.run(t); err != nil {
		t.Fatalf("%v\n%s", err, w.out)
	}
	wantLines(t, w.out.String(),
		"clock: waiting up to 150ms for NTP (site cluster.network.ntp: 10.0.0.1 ntp.lab.internal)",
		"clock: synchronized by NTP (systemd-timesyncd): 2026-03-01T10:00:00Z")
	got, err := os.ReadFile(filepath.Join(w.root, siteNTPDropIn))
	if err != nil || string(got) != "# Written by firstboot from the site's cluster.network.ntp; see timesyncd.conf(5).\n[Time]\nNTP=10.0.0.1 ntp.lab.internal\n" {
		t.Errorf("%s = %q, %v", siteNTPDropIn, got, err)
	}
	if strings.Join(w.runner.calls, "\n") != "systemctl restart systemd-timesyncd.service" {
		t.Errorf("ran %q", w.runner.calls)
	}
	if w.server.count() != 0 {
		t.Errorf("asked the server %d times after an NTP sync", w.server.count())
	}
}

// A node on DHCP does not take the site's NTP servers (its lease has
// them): the server's time is taken.
func TestClockSiteNTPNotOnDHCP(t *testing.T) {
	w := newClockWorld(t, buildTime.Add(time.Hour), pinned)
	w.env.Config.Cluster.Network.NTP = []string{"10.0.0.1"}
	w.runner.sync = true
	if err := w.run(t); err != nil {
		t.Fatalf("%v\n%s", err, w.out)
	}
	if strings.Contains(w.out.String(), "NTP") || len(w.runner.calls) != 0 {
		t.Errorf("a DHCP node used the site's NTP servers (ran %q):\n%s", w.runner.calls, w.out)
	}
	wantLines(t, w.out.String(), "clock: set from the K3s server "+w.url+": 2026-03-01T11:00:00Z -> 2026-07-14T12:00:03Z (the Date of its /cacerts answer; its TLS chain verifies at that time against the cluster CA the join token pins)")
}

// The cloud-config's ntp replaces the site's; when it does not sync in
// time, the server's time is taken.
func TestClockCloudNTPUnreachable(t *testing.T) {
	w := newClockWorld(t, buildTime.Add(time.Hour), pinned)
	w.env.Config.Cluster.Network.NTP = []string{"10.0.0.1"}
	w.env.Role, w.env.entryName = nodeconfig.RoleServer, "ctrl-2"
	writeTestFile(t, w.root, nodeconfig.JoinTokenPath, strings.Replace(pinned(w.ca), "::node:", "::server:", 1)+"\n")
	writeTestFile(t, w.root, nodeconfig.AgentTokenPath, "AGENT-TOKEN-VALUE\n")
	w.env.Cloud.NTP = &cloudconfig.NTP{Enabled: true, Servers: []string{"10.9.9.9"}}
	if err := w.run(t); err != nil {
		t.Fatalf("%v\n%s", err, w.out)
	}
	wantLines(t, w.out.String(),
		"clock: waiting up to 150ms for NTP (cloud-config ntp: 10.9.9.9)",
		"clock: warning: no NTP synchronization from 10.9.9.9 within 150ms",
		"clock: set from the K3s server "+w.url+": 2026-03-01T11:00:00Z -> 2026-07-14T12:00:03Z (the Date of its /cacerts answer; its TLS chain verifies at that time against the cluster CA the join token pins)")
	if _, err := os.Stat(filepath.Join(w.root, siteNTPDropIn)); !os.IsNotExist(err) {
		t.Errorf("site NTP drop-in written beside the cloud-config's: %v", err)
	}
}

func TestClockAlreadySynchronized(t *testing.T) {
	w := newClockWorld(t, realTime, pinned)
	writeTestFile(t, w.root, timesyncFlag, "")
	if err := w.run(t); err != nil {
		t.Fatalf("%v\n%s", err, w.out)
	}
	if w.out.String() != "firstboot: clock: synchronized by NTP (systemd-timesyncd): 2026-07-14T12:00:03Z\n" {
		t.Errorf("output:\n%s", w.out)
	}
	if w.server.count() != 0 || len(w.runner.calls) != 0 {
		t.Errorf("asked the server %d times, ran %q", w.server.count(), w.runner.calls)
	}
}

func TestClockBadSiteNTP(t *testing.T) {
	w := newClockWorld(t, realTime, pinned)
	w.env.Config.Cluster.Network.NTP = []string{"10.0.0.1\nNTP=evil"}
	w.env.entryName = "ctrl-2"
	err := w.run(t)
	if want := `cluster.network.ntp: "10.0.0.1\nNTP=evil" is not a host name or an IP address`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

func TestClockStepLeavesTestRootsAlone(t *testing.T) {
	w := newClockWorld(t, deadRTC, pinned)
	if err := clockStep(context.Background(), w.env); err != nil {
		t.Fatal(err)
	}
	if w.out.String() != "firstboot: clock: "+w.root+" is not the host's root: the clock is left alone\n" || w.server.count() != 0 {
		t.Errorf("output %q, %d requests", w.out, w.server.count())
	}
	if err := os.Remove(filepath.Join(w.root, payload.K3sBinaryPath)); err != nil {
		t.Fatal(err)
	}
	w.out.Reset()
	if err := clockStep(context.Background(), w.env); err != nil || w.out.Len() != 0 {
		t.Errorf("without K3s: %v, %q", err, w.out)
	}
}

func TestJoinPin(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	for token, want := range map[string]string{
		"K10" + hash + "::server:secret\n":                   hash,
		"K10" + hash + "::node.abcdef":                       hash,
		"K10::server:secret":                                 "",
		"K10abc::server:secret":                              "",
		"K10" + strings.Repeat("zz", 32) + "::server:secret": "",
		"secret": "",
	} {
		if got := joinPin(token); got != want {
			t.Errorf("joinPin(%q) = %q, want %q", token, got, want)
		}
	}
}

// A FIFO where the join token should be is refused, not waited on.
func TestClockTokenFIFO(t *testing.T) {
	w := newClockWorld(t, realTime, pinned)
	p := filepath.Join(w.root, nodeconfig.AgentJoinTokenPath)
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	err := w.run(t)
	if want := "join token: read " + p + ": not a regular file (p---------)"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}
