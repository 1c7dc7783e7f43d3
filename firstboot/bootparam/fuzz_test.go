package bootparam

import (
	"maps"
	"strings"
	"testing"
)

// Fuzz tests of the command line grammar and parsers. Seeds: f.Add below
// and the committed corpus under testdata/fuzz/<name>/ (the hostile cases
// of issue 12). Run one for a while with
//
//	go test -run '^$' -fuzz '^FuzzParseCmdline$' -fuzztime 30s ./firstboot/bootparam

// modelCmdline is a second, independent reading of the kernel's splitting
// (lib/cmdline.c next_arg, as ParseCmdline's doc says it): find each
// argument's extent first, then drop its quotes. ParseCmdline ports the C
// code's in-place NUL writes instead; the two must agree on every input.
func modelCmdline(s string) map[string]string {
	isSpace := func(c byte) bool { return strings.IndexByte(" \t\n\v\f\r\xa0", c) >= 0 }
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	out := map[string]string{}
	for {
		for s != "" && isSpace(s[0]) {
			s = s[1:]
		}
		if s == "" {
			return out
		}
		quoted := s[0] == '"'
		if quoted {
			s = s[1:]
		}
		in, end := quoted, 0
		for end < len(s) && (in || !isSpace(s[end])) {
			if s[end] == '"' {
				in = !in
			}
			end++
		}
		tok := s[:end]
		s = s[end:]
		lastQuote := tok != "" && tok[len(tok)-1] == '"'
		eq := -1
		if len(tok) > 1 {
			if j := strings.IndexByte(tok[1:], '='); j >= 0 {
				eq = j + 1
			}
		}
		if eq < 0 {
			if quoted && lastQuote {
				tok = tok[:len(tok)-1]
			}
			out[tok] = ""
			continue
		}
		key, val := tok[:eq], tok[eq+1:]
		if strings.HasPrefix(val, `"`) {
			val = val[1:]
			if lastQuote && val != "" {
				val = val[:len(val)-1]
			}
			lastQuote = false // next_arg wrote its NUL over that quote
		}
		if quoted && lastQuote && val != "" {
			val = val[:len(val)-1]
		}
		out[key] = val
	}
}

func FuzzParseCmdline(f *testing.F) {
	for _, s := range []string{
		"", "quiet", `a="b c" d`, `"a=b c"`, `"`, `a="`, "=a=b", "a\xa0b=\x00c",
		"appliance.state=disk:/dev/vda appliance.rescue=1 init=/bin/sh",
		"firstboot.config=nodes/agent.yaml init=/bin/sh firstboot.config.sha256=x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := ParseCmdline(s)
		if want := modelCmdline(s); !maps.Equal(got, want) {
			t.Fatalf("ParseCmdline(%q) = %q, model says %q", s, got, want)
		}
		for k, v := range got {
			if strings.IndexByte(k, 0) >= 0 || strings.IndexByte(v, 0) >= 0 {
				t.Fatalf("ParseCmdline(%q): NUL in %q=%q", s, k, v)
			}
		}
	})
}

// ipxeTokens splits a script line as iPXE does (ipxe/ipxe src/core/exec.c
// split_command, commit 0062c07d: at isspace, which in iPXE's ctype.h is
// space and \t \n \v \f \r), before it expands any setting.
func ipxeTokens(line string) []string {
	return strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || ('\t' <= r && r <= '\r') })
}

// ipxeSpecial reports whether iPXE's command_terminator (same file) treats
// a token as the start of a comment or the end of a command, or
// expand_settings (src/core/settings.c) would expand something in it.
func ipxeSpecial(tok string) bool {
	return strings.HasPrefix(tok, "#") || tok == "||" || tok == "&&" || tok == ";" || strings.Contains(tok, "${")
}

// FuzzCheckArg: whatever CheckArg accepts is one argument, unchanged, to
// every reader on its way: a boot loader's line, iPXE's tokenizer and the
// kernel's splitting (ParseCmdline), wherever it sits on the line.
func FuzzCheckArg(f *testing.F) {
	for _, tc := range hostileArgs {
		f.Add(tc.arg)
	}
	f.Add("console=ttyS0,115200")
	f.Add("ds=nocloud;s=http://10.0.0.1/seed/")
	f.Fuzz(func(t *testing.T, arg string) {
		err := CheckArg(arg)
		if err != nil {
			if strings.ContainsFunc(err.Error(), func(r rune) bool { return r < ' ' || r == 0x7f }) {
				t.Fatalf("CheckArg(%q) error %q holds a control byte", arg, err)
			}
			return
		}
		key, value, _ := strings.Cut(arg, "=")
		before, after := "zz.before=1", "zz.after"
		if key == "zz.before" || key == "zz.after" {
			return
		}
		line := before + " " + arg + " " + after
		want := map[string]string{"zz.before": "1", key: value, "zz.after": ""}
		if got := ParseCmdline(line); !maps.Equal(got, want) {
			t.Fatalf("ParseCmdline(%q) = %q, want %q", line, got, want)
		}
		if strings.ContainsAny(arg, "\n\r") {
			t.Fatalf("CheckArg accepts a line break in %q", arg)
		}
		toks := ipxeTokens("kernel vmlinuz " + line + " || goto retry")
		if len(toks) != 8 || toks[3] != arg || ipxeSpecial(arg) {
			t.Fatalf("iPXE reads %q as tokens %q", arg, toks)
		}
	})
}

// FuzzParseInstallTarget: a target the node parses reads back as itself,
// and is an argument CheckArg accepts (so a writer may put it on a line).
func FuzzParseInstallTarget(f *testing.F) {
	for _, s := range []string{"auto", "auto,force", "/dev/sda", "/dev/disk/by-id/virtio-x,force", "sda",
		"/dev/vda appliance.rescue=1 init=/bin/sh", "/dev/../x", "/dev/a,wipe", "/dev/a\x00", "/dev/${x}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseInstallTarget(s)
		_, errState := ParseStateDisk(s)
		if (err == nil) != (errState == nil) {
			t.Fatalf("ParseInstallTarget(%q): %v but ParseStateDisk: %v", s, err, errState)
		}
		if err != nil {
			if strings.ContainsFunc(err.Error(), func(r rune) bool { return r < ' ' || r == 0x7f }) {
				t.Fatalf("ParseInstallTarget(%q) error %q holds a control byte", s, err)
			}
			return
		}
		if tg.String() != s {
			t.Fatalf("ParseInstallTarget(%q) = %+v, which reads back as %q", s, tg, tg.String())
		}
		arg := ArgInstall + "=" + s
		if err := CheckArg(arg); err != nil {
			t.Fatalf("ParseInstallTarget accepts %q, CheckArg does not: %v", s, err)
		}
		if got := ParseCmdline(arg); len(got) != 1 || got[ArgInstall] != s {
			t.Fatalf("ParseCmdline(%q) = %q", arg, got)
		}
	})
}
