package payload

import (
	"io/fs"
	"strings"
	"testing"
)

// TestUpgradeCheckUnit checks the lines of the upgrade check's unit
// systemd acts on, and that the image enables it.
func TestUpgradeCheckUnit(t *testing.T) {
	byPath := map[string]File{}
	for _, f := range Files() {
		byPath[f.Path] = f
	}
	unit, ok := byPath[UpgradeCheckUnitPath]
	if !ok || unit.Mode != 0o644 {
		t.Fatalf("unit %s missing or mode %v", UpgradeCheckUnitPath, unit.Mode)
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(string(unit.Content), "\n") {
		lines[l] = true
	}
	for _, want := range []string{
		"ConditionKernelCommandLine=appliance.slot",
		"After=" + UnitName,
		"Type=oneshot",
		"RemainAfterExit=yes",
		"ExecStart=" + BinaryPath + " upgrade check --console /dev/console",
		"WantedBy=multi-user.target",
	} {
		if !lines[want] {
			t.Errorf("unit lacks line %q:\n%s", want, unit.Content)
		}
	}
	// Not after the K3s units: their start job never ends while K3s
	// keeps failing (Restart=always, TimeoutStartSec=0), and the check
	// must then run to reject the slot.
	for l := range lines {
		if strings.HasPrefix(l, "After=") && strings.Contains(l, K3sServerUnit) {
			t.Errorf("unit is ordered after K3s: %q", l)
		}
	}
	link, ok := byPath[UpgradeCheckWantsPath]
	if !ok || link.Mode.Type() != fs.ModeSymlink || link.Linkname != UpgradeCheckUnitPath {
		t.Errorf("wants symlink = %+v, want symlink to %s", link, UpgradeCheckUnitPath)
	}
}
