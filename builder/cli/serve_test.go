package cli

import (
	"strings"
	"testing"
)

func TestServeRejectsBadFlagsAsUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve"}, "--pxe is required"},
		{[]string{"serve", "--pxe", dir}, "--interface is required"},
		{[]string{"serve", "--pxe", dir, "-i", "eth0", "--dhcp-range", "10.0.0.9-10.0.0.1"}, "--dhcp-range"},
		{[]string{"serve", "--pxe", dir, "-i", "eth0", "--dhcp", "proxy", "--dhcp-range", "10.0.0.1-10.0.0.9"}, "needs --dhcp full"},
		{[]string{"serve", "--pxe", dir, "-i", "eth0", "--dhcp", "full"}, "needs --dhcp-range"},
		{[]string{"serve", "--pxe", dir, "-i", "eth0", "--dhcp", "maybe"}, `--dhcp "maybe"`},
		{[]string{"serve", "--pxe", dir, "-i", "eth0", "--router", "fe80::1", "--dhcp-range", "10.0.0.1-10.0.0.9"}, "--router"},
		{[]string{"serve", "--pxe", dir, "-i", "eth0", "--dns", "x", "--dhcp-range", "10.0.0.1-10.0.0.9"}, "--dns"},
	} {
		_, _, err := execute(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) || ExitCode(err) != 2 {
			t.Errorf("%v: error %v (exit %d), want a usage error with %q", c.args, err, ExitCode(err), c.want)
		}
	}
}

func TestServeReportsMissingInterface(t *testing.T) {
	_, _, err := execute(t, "serve", "--pxe", t.TempDir(), "-i", "no-such-if0", "--http-addr", "127.0.0.1:0", "--tftp-addr", "127.0.0.1:0")
	if err == nil || !strings.Contains(err.Error(), "interface no-such-if0") {
		t.Fatalf("want an error naming the interface, got %v", err)
	}
}
