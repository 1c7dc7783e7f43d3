package cloudconfig

import (
	"strings"
)

// Command is one runcmd or bootcmd item: exactly one of Shell (a string
// item, run with sh -c) and Argv (a list item, run directly) is set.
type Command struct {
	Shell string
	Argv  []string
}

// Exec returns the program and arguments that run c: ("sh", ["-c", Shell])
// or (Argv[0], Argv[1:]).
func (c Command) Exec() (name string, args []string) {
	if c.Argv == nil {
		return "sh", []string{"-c", c.Shell}
	}
	return c.Argv[0], c.Argv[1:]
}

// String returns c as one shell command line: Shell as is, Argv with each
// argument quoted when the shell would split or expand it.
func (c Command) String() string {
	if c.Argv == nil {
		return c.Shell
	}
	quoted := make([]string, len(c.Argv))
	for i, arg := range c.Argv {
		quoted[i] = shellQuote(arg)
	}
	return strings.Join(quoted, " ")
}

// Script renders cmds as one shell script, one command a line, the way
// cloud-init runs runcmd: later lines see the effects of earlier ones (cd,
// variables) and a failing line does not stop the next.
func Script(cmds []Command) []byte {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	for _, c := range cmds {
		b.WriteString(c.String())
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// shellQuote quotes s for sh unless it is made only of characters the
// shell takes literally.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:,+@%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
