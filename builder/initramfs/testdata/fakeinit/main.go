// Command fakeinit is a test double for the OS image's /sbin/init: the QEMU
// boot test puts it in the squashfs. It reports on the console what the
// appliance init set up, leaves a file under /var for the next boot, and
// powers the machine off.
package main

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

const marker = "/var/fakeinit-marker"

func main() {
	say("started pid=%d", os.Getpid())
	mounts, err := os.ReadFile("/proc/mounts")
	if err != nil {
		say("read /proc/mounts: %v", err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		switch f[1] {
		case "/":
			say("root fstype=%s", f[2])
		case "/run/appliance/state":
			say("state fstype=%s", f[2])
		case "/var":
			say("var fstype=%s", f[2])
		}
	}
	if _, err := os.Stat(marker); err == nil {
		say("previous boot file=yes")
	} else {
		say("previous boot file=no")
	}
	if seeded, err := os.ReadFile("/var/lib/seeded"); err == nil {
		say("seeded=%s", strings.TrimSpace(string(seeded)))
	}
	if id, err := os.ReadFile("/etc/machine-id"); err == nil {
		say("machine-id=%s", strings.TrimSpace(string(id)))
	}
	if err := os.WriteFile(marker, []byte("written by fakeinit\n"), 0o644); err != nil {
		say("write %s: %v", marker, err)
	}
	unix.Sync()
	say("powering off")
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	select {}
}

func say(format string, args ...any) {
	fmt.Fprintf(os.Stdout, "FAKEINIT: "+format+"\n", args...)
}
