package payload

import (
	"strings"
	"testing"
)

// TestRegistryUnit checks the lines of the registry's unit systemd acts
// on: K3s waits for it (Type=notify, Before=), nothing enables it.
func TestRegistryUnit(t *testing.T) {
	var unit File
	for _, f := range Files() {
		if f.Path == RegistryUnitPath {
			unit = f
		}
	}
	if unit.Mode != 0o644 {
		t.Fatalf("unit %s missing or mode %v", RegistryUnitPath, unit.Mode)
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(string(unit.Content), "\n") {
		lines[l] = true
	}
	for _, want := range []string{
		"Before=k3s.service k3s-agent.service",
		"Type=notify",
		"ExecStart=" + BinaryPath + " registry serve --console /dev/console",
		"Restart=on-failure",
	} {
		if !lines[want] {
			t.Errorf("unit lacks line %q:\n%s", want, unit.Content)
		}
	}
	if strings.Contains(string(unit.Content), "[Install]") {
		t.Errorf("unit has an [Install] section; firstboot starts it:\n%s", unit.Content)
	}
}
