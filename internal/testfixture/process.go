package testfixture

import (
	"bytes"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Process is a daemon a test runs (containerd, say).
type Process struct {
	// Log is what it wrote to stdout and stderr.
	Log  *bytes.Buffer
	done chan error
}

// StartProcess starts name with args and stops it when the test ends:
// SIGTERM, then SIGKILL if it has not exited 10 s later. A failed test
// logs the process's output.
func StartProcess(tb testing.TB, name string, args ...string) *Process {
	tb.Helper()
	p := &Process{Log: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = p.Log, p.Log
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	go func() { p.done <- cmd.Wait() }()
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
		if tb.Failed() {
			tb.Logf("%s output:\n%s", name, p.Log)
		}
	})
	return p
}

// WaitReady calls ready every 200 ms until it returns nil, and fails the
// test when the process exits first or timeout passes; what names what is
// awaited in the failure.
func (p *Process) WaitReady(tb testing.TB, what string, timeout time.Duration, ready func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := ready()
		if err == nil {
			return
		}
		select {
		case exit := <-p.done:
			p.done <- exit
			tb.Fatalf("%s: the process exited (%v) before it was ready: %v", what, exit, err)
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not ready within %s: %v", what, timeout, err)
		}
	}
}
