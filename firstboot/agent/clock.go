package agent

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ml-appliance/appliance/internal/smallfile"
	"golang.org/x/sys/unix"
)

// The clock step brings the clock right before K3s starts, every boot and
// on every role: a joining node verifies the cluster's certificates at its
// own clock (see clock_server.go for K3s's lines), so a node whose RTC is
// wrong cannot join, and a server whose clock is before the baked CA's
// NotBefore serves certificates nobody can verify yet.
//
// In order:
//  1. A clock before the image's floor (imageFloor: the build's time, the
//     baked CA's NotBefore) is set to the floor, as systemd does with its
//     own, older, epoch at boot (Debian 12's systemd 252: src/core/main.c,
//     initialize_clock -> clock_apply_epoch, which takes the mtime of
//     /usr/lib/clock-epoch when that file exists, else the compiled-in
//     TIME_EPOCH, and which also resets a clock more than 15 years past it
//     back to it). The clock is never set below the floor afterwards.
//  2. NTP: when timesyncd has already synchronized (DHCP-given servers
//     count), done. Else with servers from the cloud-config's ntp or the
//     site's cluster.network.ntp, wait (bounded) for timesyncd's first
//     synchronization.
//  3. Still unsynchronized, a joining server or agent takes the time from
//     the K3s server it joins (clock_server.go), bounded as said there. The
//     initial server keeps its clock: it is the cluster's reference.
//
// A bounded wait that ends without a time says so and K3s is started all
// the same: K3s retries its join by itself, timesyncd keeps trying, and the
// clock may well be right. Only when the node certainly cannot join does
// the step fail, so K3s is not started: the server answered, its chain is
// valid at the server's own time but not at this clock, and the server's
// time was refused. That is a clear line on the console instead of a
// joining server restarting in a loop (pkg/cluster/bootstrap.go) or an
// agent logging the same error every 2 seconds (pkg/agent/run.go).

// Clock is the system clock the step reads and sets.
type Clock interface {
	Now() time.Time
	Set(t time.Time) error
}

// systemClock is CLOCK_REALTIME.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) Set(t time.Time) error {
	ts := unix.NsecToTimespec(t.UnixNano())
	if err := unix.ClockSettime(unix.CLOCK_REALTIME, &ts); err != nil {
		return fmt.Errorf("set the clock to %s: %w", stamp(t), err)
	}
	return nil
}

// clockOptions are the step's clock and bounds; tests shorten the waits.
type clockOptions struct {
	clock Clock
	// ntpWait bounds the wait for timesyncd, polled every ntpPoll.
	ntpWait, ntpPoll time.Duration
	// serverWait bounds the tries at the K3s server, every serverPoll;
	// serverWaitDoubt replaces it when the clock was below the floor, so
	// certainly wrong: then the server's time is worth a longer wait.
	serverWait, serverWaitDoubt, serverPoll time.Duration
}

func hostClockOptions() clockOptions {
	return clockOptions{
		clock:   systemClock{},
		ntpWait: 60 * time.Second, ntpPoll: time.Second,
		serverWait: 20 * time.Second, serverWaitDoubt: 3 * time.Minute, serverPoll: 5 * time.Second,
	}
}

const (
	// clockTolerance is how far from the server's time a clock is left as
	// it is: the Date header has second resolution.
	clockTolerance = 2 * time.Second
	// maxAfterFloor is the furthest past the floor a time is believed:
	// systemd's own valid range after its epoch (meson option
	// clock-valid-range-usec-max, 473364000000000 µs, 15 years, which
	// Debian keeps).
	maxAfterFloor = 473364000 * time.Second
)

// clockStep runs syncClock on the host. On another root (tests of the
// whole sequence) it leaves the clock and the network alone.
func clockStep(ctx context.Context, env *Env) error {
	if !env.hasK3s() {
		return nil
	}
	if env.Root != "/" {
		env.Printf("clock: %s is not the host's root: the clock is left alone", env.Root)
		return nil
	}
	return syncClock(ctx, env, hostClockOptions())
}

func syncClock(ctx context.Context, env *Env, o clockOptions) error {
	floor, floorWhy, err := imageFloor(env)
	if err != nil {
		return err
	}
	doubt := false
	if now := o.clock.Now(); now.Before(floor) {
		if err := o.clock.Set(floor); err != nil {
			return err
		}
		env.Printf("clock: %s is before the earliest time this image allows, %s (%s): set to it", stamp(now), stamp(floor), floorWhy)
		doubt = true
	}
	if ntpSynced(env) {
		env.Printf("clock: synchronized by NTP (systemd-timesyncd): %s", stamp(o.clock.Now()))
		return nil
	}
	plan, err := planNTP(ctx, env)
	if err != nil {
		return err
	}
	if len(plan.servers) > 0 {
		hosts := strings.Join(plan.servers, " ")
		env.Printf("clock: waiting up to %s for NTP (%s: %s)", o.ntpWait, plan.origin, hosts)
		if waitNTP(ctx, env, o.ntpWait, o.ntpPoll) {
			env.Printf("clock: synchronized by NTP (systemd-timesyncd): %s", stamp(o.clock.Now()))
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("waiting for NTP: %w", err)
		}
		env.Printf("clock: warning: no NTP synchronization from %s within %s", hosts, o.ntpWait)
	}
	server, pin, err := joinTarget(env)
	if err != nil {
		return err
	}
	if server == "" {
		why := "no NTP server configured"
		if plan.origin != "" {
			why = "NTP: " + plan.origin
		}
		env.Printf("clock: %s, not synchronized (%s); the initial server keeps its own clock, which joining nodes take", stamp(o.clock.Now()), why)
		return nil
	}
	wait := o.serverWait
	if doubt {
		wait = o.serverWaitDoubt
	}
	return clockFromServer(ctx, env, o, serverTarget{url: server, pin: pin, floor: floor}, wait)
}

// joinTarget is the server a joining node dials and the CA hash its token
// pins, as the k3s-config step gives them to K3s; none on the initial
// server.
func joinTarget(env *Env) (server, pin string, err error) {
	if env.ClusterInit {
		return "", "", nil
	}
	in, err := k3sInput(env)
	if err != nil {
		return "", "", err
	}
	token := in.Token
	if token == "" && in.TokenFile != "" {
		data, err := smallfile.Read(env.Path(in.TokenFile), 64<<10)
		if err != nil {
			return "", "", fmt.Errorf("join token: %w", err)
		}
		token = string(data)
	}
	return in.Server, joinPin(token), nil
}

type serverTarget struct {
	url, pin string
	floor    time.Time
}

// clockFromServer asks the server for the time and sets the clock to it
// when the answer passes; see clock_server.go for what is trusted.
func clockFromServer(ctx context.Context, env *Env, o clockOptions, s serverTarget, wait time.Duration) error {
	env.Printf("clock: asking the K3s server %s for the time (up to %s)", s.url, wait)
	a, err := askServerUntil(ctx, env, s.url, wait, o.serverPoll)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("asking %s for the time: %w", s.url, ctxErr)
		}
		env.Printf("clock: warning: no answer from %s within %s (%v); K3s starts with the clock as it is, %s", s.url, wait, err, stamp(o.clock.Now()))
		return nil
	}
	now := o.clock.Now()
	how := "unauthenticated: the join token pins no cluster CA"
	if s.pin != "" {
		how = "its TLS chain verifies at that time against the cluster CA the join token pins"
	}
	if err := verifyAnswer(a, s.pin, a.date); err != nil {
		env.Printf("clock: warning: the time of %s (%s) is not taken: %v; K3s starts with the clock as it is, %s", s.url, stamp(a.date), err, stamp(now))
		return nil
	}
	refusal := ""
	switch {
	case a.date.Before(s.floor):
		refusal = fmt.Sprintf("it is before the earliest time this image allows, %s", stamp(s.floor))
	case !s.floor.IsZero() && a.date.After(s.floor.Add(maxAfterFloor)):
		refusal = fmt.Sprintf("it is more than 15 years after the earliest time this image allows, %s", stamp(s.floor))
	}
	if refusal == "" {
		if d := a.date.Sub(now); d <= clockTolerance && d >= -clockTolerance {
			env.Printf("clock: %s, within %s of the server %s (%s)", stamp(now), clockTolerance, s.url, how)
			return nil
		}
		if err := o.clock.Set(a.date); err != nil {
			return err
		}
		env.Printf("clock: set from the K3s server %s: %s -> %s (the Date of its /cacerts answer; %s)", s.url, stamp(now), stamp(a.date), how)
		return nil
	}
	if err := verifyAnswer(a, s.pin, now); err != nil {
		return fmt.Errorf("K3s cannot join %s with this clock, %s: %v; the server's own time, %s, is refused: %s. "+
			"Set the time (cluster.network.ntp, cloud-config ntp, or timedatectl set-time) and run `systemctl restart firstboot`; K3s is not started",
			s.url, stamp(now), err, stamp(a.date), refusal)
	}
	env.Printf("clock: warning: the time of %s (%s) is refused: %s; K3s starts with the clock as it is, %s, at which its certificates verify", s.url, stamp(a.date), refusal, stamp(now))
	return nil
}

// askServerUntil asks the server until it answers or wait has passed. The
// error is the last try's, unless the end of the wait cut that try short:
// then the one before says more.
func askServerUntil(ctx context.Context, env *Env, server string, wait, poll time.Duration) (*serverAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var last error
	for {
		a, err := askServer(ctx, server)
		if err == nil {
			return a, nil
		}
		if last == nil || ctx.Err() == nil {
			last = err
		}
		if env.sleep(ctx, poll) != nil {
			return nil, last
		}
	}
}
