package cloudconfig

import (
	"context"
	"os/exec"
	"reflect"
	"testing"
)

func TestCommand(t *testing.T) {
	for _, tc := range []struct {
		cmd  Command
		name string
		args []string
		str  string
	}{
		{Command{Shell: "echo hi > /run/x"}, "sh", []string{"-c", "echo hi > /run/x"}, "echo hi > /run/x"},
		{Command{Argv: []string{"ls", "-l", "/var/lib"}}, "ls", []string{"-l", "/var/lib"}, "ls -l /var/lib"},
		{Command{Argv: []string{"echo", "it's", "a b", "", "$HOME", "x=1"}}, "echo", []string{"it's", "a b", "", "$HOME", "x=1"}, `echo 'it'\''s' 'a b' '' '$HOME' 'x=1'`},
		{Command{Argv: []string{"true"}}, "true", []string{}, "true"},
	} {
		name, args := tc.cmd.Exec()
		if name != tc.name || !reflect.DeepEqual(args, tc.args) {
			t.Errorf("%#v.Exec() = %q, %q; want %q, %q", tc.cmd, name, args, tc.name, tc.args)
		}
		if got := tc.cmd.String(); got != tc.str {
			t.Errorf("%#v.String() = %s, want %s", tc.cmd, got, tc.str)
		}
	}
}

// Script runs like cloud-init's runcmd: one shell, state carried between
// lines, argv items quoted so the shell sees the same arguments.
func TestScript(t *testing.T) {
	cmds := []Command{
		{Shell: "cd /"},
		{Shell: "X=one"},
		{Argv: []string{"printf", "%s|%s|%s\\n", "it's", "$X", "a b"}},
		{Shell: `printf '%s %s\n' "$X" "$(pwd)"`},
		{Shell: "false"},
		{Argv: []string{"echo", "after failure"}},
	}
	want := "#!/bin/sh\ncd /\nX=one\nprintf '%s|%s|%s\\n' 'it'\\''s' '$X' 'a b'\nprintf '%s %s\\n' \"$X\" \"$(pwd)\"\nfalse\necho 'after failure'\n"
	script := Script(cmds)
	if string(script) != want {
		t.Fatalf("Script:\n%s\nwant:\n%s", script, want)
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatalf("no sh to run the script: %v", err)
	}
	cmd := exec.CommandContext(context.Background(), sh, "-c", string(script))
	cmd.Dir = t.TempDir()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run script: %v", err)
	}
	if got := string(out); got != "it's|$X|a b\none /\nafter failure\n" {
		t.Errorf("script output %q", got)
	}
}
