package main

import (
	"bytes"
	"context"
	"testing"
)

// TestUpgradeApplyCLI: the command line reaches upgrade.Apply (whose own
// tests cover what it does) and a refusal is firstboot's one error line.
func TestUpgradeApplyCLI(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"upgrade", "apply"}, "firstboot: error: accepts 1 arg(s), received 0\n"},
		{[]string{"upgrade", "apply", "--root", root, "--reboot", "--allow-downgrade", "/nonexistent"},
			"firstboot: error: upgrade not applied: this node's OS image has no /usr/lib/appliance/release.json: it predates upgrades (reflash it once with a newer build)\n"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, &stdout, &stderr)
		if code != 1 || stderr.String() != tc.want {
			t.Errorf("%v: code %d, stderr %q; want 1, %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}
