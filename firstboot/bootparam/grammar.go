package bootparam

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Grammar of what goes on a kernel command line.
//
// A command line the builder writes passes through up to three parsers,
// each with its own idea of a separator:
//
//   - a boot loader config line: systemd-boot's loader entry "options",
//     isolinux's APPEND (one line each: a newline ends the value);
//   - iPXE's script parser (ipxe/ipxe src/core/exec.c, split_command and
//     command_terminator): blanks split a line into tokens before anything
//     is expanded, a token starting with '#' ends the line, and the tokens
//     "||", "&&" and ";" end a command; then src/core/settings.c
//     expand_settings replaces every "${name}" in a token, rescanning the
//     result, so a value holding "${...}" reads iPXE settings;
//   - the kernel (Linux lib/cmdline.c next_arg, lib/ctype.c isspace):
//     arguments are split at \t \n \v \f \r, space and the byte 0xA0, and a
//     double quote turns that splitting off until the next one.
//
// An argument that keeps to the grammar CheckArg enforces means the same to
// all of them: one argument, byte for byte. Every writer of a command line
// checks every argument it writes (builder/output), and builder validate
// checks the site's own (os.cmdline, the disk targets) with the same
// functions, so the two cannot disagree.

// Bounds of a command line.
const (
	// MaxArgLen is the longest argument accepted.
	MaxArgLen = 512
	// MaxCmdlineLen bounds a whole command line: the x86 kernel keeps
	// COMMAND_LINE_SIZE (2048) bytes including the terminating NUL
	// (arch/x86/include/asm/setup.h) and cuts the rest off silently.
	MaxCmdlineLen = 2047
	// MaxExtraLen bounds the operator's arguments together (site.yaml
	// os.cmdline, joined by spaces), leaving room for the builder's own
	// and for what iPXE expands on a netboot line.
	MaxExtraLen = 1024
	// MaxDeviceLen is the longest device path accepted.
	MaxDeviceLen = 255
)

// argKey is an argument's key: letters, digits, '_', '.' and '-', not
// starting with '.' or '-' (so never "--", which hands the rest of the
// line to init, nor an iPXE comment or command separator).
var argKey = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// ArgRule says what CheckArg accepts, for error messages.
const ArgRule = "want key or key=value: the key of letters, digits, '_', '.' and '-' (not first), the value of printable ASCII " +
	"without blanks, quotes, backslash, '`', '$', '{', '}' or '#'"

// CheckArg checks one kernel argument, key or key=value, against the
// grammar every parser on its way reads as one unchanged argument: at most
// MaxArgLen bytes of printable ASCII with no blank, no quote (' " `), no
// backslash, no '$', '{' or '}' (iPXE settings expansion) and no '#'.
func CheckArg(arg string) error {
	switch {
	case arg == "":
		return errors.New("empty argument")
	case len(arg) > MaxArgLen:
		return fmt.Errorf("%d bytes, longer than %d", len(arg), MaxArgLen)
	}
	if i, c, ok := badArgByte(arg); ok {
		return fmt.Errorf("%q: %s at byte %d: %s", arg, describeByte(c), i, ArgRule)
	}
	key, _, _ := strings.Cut(arg, "=")
	if !argKey.MatchString(key) {
		return fmt.Errorf("%q: key %q: %s", arg, key, ArgRule)
	}
	return nil
}

// badArgByte finds the first byte an argument may not hold.
func badArgByte(s string) (int, byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f {
			return i, c, true
		}
		switch c {
		case '"', '\'', '`', '\\', '$', '{', '}', '#':
			return i, c, true
		}
	}
	return 0, 0, false
}

// describeByte names a byte in an error message without printing it raw.
func describeByte(c byte) string {
	switch {
	case c == ' ':
		return "a blank"
	case c < ' ' || c >= 0x7f:
		return fmt.Sprintf("byte 0x%02x", c)
	}
	return fmt.Sprintf("%q", rune(c))
}

// CheckCmdline checks a whole command line's arguments, each with CheckArg,
// and its length against MaxCmdlineLen; what names the command line in
// errors.
func CheckCmdline(what string, args []string) error {
	n := 0
	for i, a := range args {
		if err := CheckArg(a); err != nil {
			return fmt.Errorf("%s: argument %d: %w", what, i+1, err)
		}
		n += len(a) + 1
	}
	if n > MaxCmdlineLen+1 {
		return fmt.Errorf("%s: %d bytes, longer than the kernel's %d", what, n-1, MaxCmdlineLen)
	}
	return nil
}

// deviceByte is what a device path may hold besides '/': udev's device
// node and by-id names keep to letters, digits and "#+-.:=@_" (systemd
// src/shared/device-nodes.c, whitelisted_char_for_devnode); '#' and '='
// are left out here.
func deviceByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == '.' || c == ':' || c == '+' || c == '@' || c == '-'
}

// DeviceRule says what CheckDevice accepts, for error messages.
const DeviceRule = "want /dev/<name>: names of letters, digits and _ . : + @ - separated by single '/', no . or .. element, at most 255 bytes"

// CheckDevice checks a block device path: /dev/ and then one or more
// names of letters, digits and _ . : + @ - separated by single slashes,
// none of them "." or "..", at most MaxDeviceLen bytes. Such a path is
// one kernel argument value (CheckArg) and holds no ',' (which separates
// an install target's options).
func CheckDevice(dev string) error {
	if len(dev) > MaxDeviceLen {
		return fmt.Errorf("device of %d bytes, longer than %d", len(dev), MaxDeviceLen)
	}
	rest, ok := strings.CutPrefix(dev, "/dev/")
	if !ok || rest == "" {
		return fmt.Errorf("device %q: %s", dev, DeviceRule)
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; c != '/' && !deviceByte(c) {
			return fmt.Errorf("device %q: %s at byte %d: %s", dev, describeByte(c), len("/dev/")+i, DeviceRule)
		}
	}
	if path.Clean(dev) != dev {
		return fmt.Errorf("device %q: not a clean path: %s", dev, DeviceRule)
	}
	return nil
}

// CheckSHA256 checks a digest as the command line carries it: 64
// lower-case hex digits.
func CheckSHA256(s string) error {
	if len(s) != 64 {
		return fmt.Errorf("sha256 %q: want 64 lower-case hex digits", s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("sha256 %q: want 64 lower-case hex digits", s)
		}
	}
	return nil
}
