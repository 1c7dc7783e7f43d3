// Package sdnotify tells systemd a Type=notify service is ready, as
// sd_notify(3) does: one "READY=1" datagram to the unix socket named by
// $NOTIFY_SOCKET (an abstract socket when it starts with "@").
package sdnotify

import (
	"fmt"
	"net"
	"strings"
)

// Ready sends READY=1 to socket, the value of $NOTIFY_SOCKET; "" (not run
// by systemd, or not Type=notify) sends nothing.
func Ready(socket string) error {
	if socket == "" {
		return nil
	}
	addr := socket
	if strings.HasPrefix(addr, "@") {
		addr = "\x00" + addr[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: addr, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("notify systemd at %s: %w", socket, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("READY=1")); err != nil {
		return fmt.Errorf("notify systemd at %s: %w", socket, err)
	}
	return nil
}
