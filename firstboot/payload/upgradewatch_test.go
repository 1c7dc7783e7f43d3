package payload

import (
	"strings"
	"testing"
)

// TestUpgradeWatchUnit checks the lines of the watcher's unit systemd acts
// on: it runs `firstboot upgrade watch` after firstboot and K3s, restarts
// on failure, and is enabled by its link.
func TestUpgradeWatchUnit(t *testing.T) {
	var link, unit *File
	files := Files()
	for i := range files {
		switch files[i].Path {
		case UpgradeWatchWantsPath:
			link = &files[i]
		case UpgradeWatchUnitPath:
			unit = &files[i]
		}
	}
	if link == nil || link.Linkname != UpgradeWatchUnitPath || unit == nil || unit.Mode != 0o644 || string(unit.Content) != UpgradeWatchUnit() {
		t.Fatalf("Files() lacks the watcher's enablement link to its unit, or the unit: link %+v, unit %+v", link, unit)
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(UpgradeWatchUnit(), "\n") {
		lines[l] = true
	}
	for _, want := range []string{
		"After=firstboot.service k3s.service k3s-agent.service",
		"ExecStart=" + BinaryPath + " upgrade watch --console /dev/console",
		"Restart=on-failure",
		"WantedBy=multi-user.target",
	} {
		if !lines[want] {
			t.Errorf("unit lacks line %q:\n%s", want, UpgradeWatchUnit())
		}
	}
}
