package bootparam

import (
	"maps"
	"testing"
)

// TestParseCmdlineAsTheKernel checks the kernel's own splitting (Linux
// lib/cmdline.c next_arg): the cases are read off its code.
func TestParseCmdlineAsTheKernel(t *testing.T) {
	for _, tc := range []struct {
		cmdline string
		want    map[string]string
	}{
		{"", map[string]string{}},
		{"   \n", map[string]string{}},
		{"quiet console=ttyS0,115200 appliance.os=PARTLABEL=OS-A", map[string]string{"quiet": "", "console": "ttyS0,115200", "appliance.os": "PARTLABEL=OS-A"}},
		{"a=1 a=2", map[string]string{"a": "2"}},
		// Every byte the kernel's isspace knows separates arguments.
		{"a=1\tb=2\nc=3\vd=4\fe=5\rf=6\xa0g=7", map[string]string{"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6", "g": "7"}},
		// A NUL ends the kernel's string.
		{"appliance.state=tmpfs\x00 init=/bin/sh", map[string]string{"appliance.state": "tmpfs"}},
		// Quotes: a quoted value keeps its blanks and loses its quotes;
		// so does a quoted argument; other quotes stay.
		{`dyndbg="file x.c +p" quiet`, map[string]string{"dyndbg": "file x.c +p", "quiet": ""}},
		{`"ds=nocloud;h=a b" x`, map[string]string{"ds": "nocloud;h=a b", "x": ""}},
		{`a=b"c d"e`, map[string]string{"a": `b"c d"e`}},
		{`a="b c`, map[string]string{"a": "b c"}},
		{`"`, map[string]string{"": ""}},
		{`a="`, map[string]string{"a": ""}},
		{`"a"`, map[string]string{"a": ""}},
		// The key ends at the first '=' after the argument's first byte.
		{"=a=b", map[string]string{"=a": "b"}},
		{"a==b", map[string]string{"a": "=b"}},
		{"a=", map[string]string{"a": ""}},
	} {
		if got := ParseCmdline(tc.cmdline); !maps.Equal(got, tc.want) {
			t.Errorf("ParseCmdline(%q) = %q, want %q", tc.cmdline, got, tc.want)
		}
	}
}

// TestInjectedDeviceIsSeveralArguments is the attack of issue 12: a device
// with blanks, put on the command line as it was, becomes arguments of its
// own on the node. CheckDevice refuses it (grammar_test.go).
func TestInjectedDeviceIsSeveralArguments(t *testing.T) {
	got := ParseCmdline(ArgState + "=" + StateDiskPrefix + "/dev/vda appliance.rescue=1 init=/bin/sh")
	want := map[string]string{ArgState: "disk:/dev/vda", ArgRescue: "1", "init": "/bin/sh"}
	if !maps.Equal(got, want) {
		t.Errorf("ParseCmdline = %q, want %q", got, want)
	}
	if err := CheckDevice("/dev/vda appliance.rescue=1 init=/bin/sh"); err == nil {
		t.Errorf("CheckDevice accepts the injected device")
	}
	if _, err := ParseStateDisk("/dev/vda appliance.rescue=1 init=/bin/sh"); err == nil {
		t.Errorf("ParseStateDisk accepts the injected device")
	}
}
