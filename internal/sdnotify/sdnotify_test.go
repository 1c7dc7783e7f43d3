package sdnotify

import (
	"net"
	"path/filepath"
	"testing"
)

func TestReady(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := Ready(sock); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, err := conn.Read(buf)
	if err != nil || string(buf[:n]) != "READY=1" {
		t.Errorf("systemd got %q (%v), want READY=1", buf[:n], err)
	}
	if err := Ready(""); err != nil {
		t.Errorf("no socket: %v", err)
	}
	if err := Ready(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a socket nobody listens on: no error")
	}
}
