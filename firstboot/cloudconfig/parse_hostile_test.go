package cloudconfig

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/internal/fuzzcheck"
)

// gzB64Zeros is n zero bytes, gzip-compressed and base64-encoded: a
// write_files content of a few kilobytes that expands a thousandfold.
func gzB64Zeros(t testing.TB, n int64) string {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(zw, zeroReader{}, n); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// repeatEntries is a write_files list of count gz+b64 entries of content.
func repeatEntries(count int, content string) string {
	var b strings.Builder
	b.WriteString("write_files:\n")
	for i := range count {
		fmt.Fprintf(&b, "  - {path: /f%d, encoding: gz+b64, content: %s}\n", i, content)
	}
	return b.String()
}

func TestParseBoundsWriteFiles(t *testing.T) {
	const mib = 1 << 20
	small := gzB64Zeros(t, 10*1024)
	runParseCases(t, []parseCase{
		{
			name: "one entry past the bound",
			doc:  "write_files:\n  - path: /big\n    encoding: gzip+base64\n    content: " + gzB64Zeros(t, MaxFileBytes+1) + "\n",
			err:  "seed /dev/vdb user-data line 5: write_files[0].content: want at most 16 MiB once decoded (the limit for one file), got more",
		},
		{
			name: "entries past the total",
			doc:  repeatEntries(5, gzB64Zeros(t, 15*mib)),
			err:  "seed /dev/vdb user-data line 7: write_files[4].content: want at most 64 MiB of write_files content in all, got more by this entry",
		},
		{
			name: "one entry aliased past the total",
			doc:  "f: &f {path: /f, encoding: gz+b64, content: " + gzB64Zeros(t, 15*mib) + "}\nwrite_files: [*f, *f, *f, *f, *f]\n",
			err:  "seed /dev/vdb user-data line 2: write_files[4].content: want at most 64 MiB of write_files content in all, got more by this entry",
		},
		{
			name: "aliases past the alias bound",
			doc:  "f: &f {path: /f, encoding: gz+b64, content: " + small + "}\nwrite_files: [" + strings.TrimSuffix(strings.Repeat("*f, ", 2000), ", ") + "]\n",
			err:  "seed /dev/vdb user-data line 3: alias *f: aliases add more than 10000 nodes or 1048576 bytes to the document",
		},
	})
}

func TestParseHostileYAML(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name: "second document",
			doc:  "hostname: node-1\n---\nhostname: node-2\n",
			err:  "seed /dev/vdb user-data line 3: a second YAML document starts here; want one document",
		},
		{
			name: "empty second document",
			doc:  "hostname: node-1\n---\n",
			err:  "seed /dev/vdb user-data line 3: a second YAML document starts here; want one document",
		},
		{
			name: "billion laughs",
			doc:  fuzzcheck.Laughs(9, "[echo, lol]") + "runcmd: *l9\n",
			err:  "seed /dev/vdb user-data line 6: alias *l3: aliases add more than 10000 nodes or 1048576 bytes to the document",
		},
		{
			name: "alias cycle",
			doc:  "runcmd: &r [ls, *r]\n",
			err:  "seed /dev/vdb user-data line 2: alias *r refers to a node that contains it",
		},
		{
			name: "a few aliases are fine",
			doc:  "keys: &k [ssh-ed25519 AAAA a@b]\nssh_authorized_keys: *k\nusers:\n  - {name: alice, ssh_authorized_keys: *k}\n",
			want: Config{
				SSHAuthorizedKeys: []string{"ssh-ed25519 AAAA a@b"},
				Users:             []User{{Name: "alice", LockPasswd: true, SSHAuthorizedKeys: []string{"ssh-ed25519 AAAA a@b"}}},
				Set:               keys("ssh_authorized_keys", "users"),
			},
			warnings: []string{`seed /dev/vdb user-data line 2: key "keys" is not supported, ignored`},
		},
	})
}

// NUL and other control characters: the error names the entry and, unless
// the value may be a secret, shows it escaped.
func TestParseControlCharacters(t *testing.T) {
	const src = "seed /dev/vdb user-data "
	runParseCases(t, []parseCase{
		{name: "NUL in a path", doc: "write_files:\n  - path: \"/etc/a\\0b\"\n", err: src + "line 3: write_files[0].path: want a string without NUL bytes, got one with a NUL at byte 6"},
		{name: "escape in a path", doc: "write_files:\n  - path: \"/etc/a\\eb\"\n", err: src + `line 3: write_files[0].path: want a file path without control characters, got "/etc/a\x1bb" (U+001B at byte 6)`},
		{name: "line break in a path", doc: "write_files:\n  - path: \"/etc/a\\nb\"\n", err: src + `line 3: write_files[0].path: want a file path without control characters, got "/etc/a\nb" (U+000A at byte 6)`},
		{name: "C1 control in a path", doc: "write_files:\n  - path: \"/etc/a\\x85b\"\n", err: src + `line 3: write_files[0].path: want a file path without control characters, got "/etc/a\u0085b" (U+0085 at byte 6)`},
		{name: "NUL in an owner", doc: "write_files:\n  - {path: /a, owner: \"alice\\0\"}\n", err: src + "line 3: write_files[0].owner: want a string without NUL bytes, got one with a NUL at byte 5"},
		{name: "NUL in a user name", doc: "users:\n  - name: \"al\\0ice\"\n", err: src + "line 3: users[0].name: want a string without NUL bytes, got one with a NUL at byte 2"},
		{name: "NUL in a user name scalar", doc: "users: [\"al\\0ice\"]\n", err: src + `line 2: users[0]: want a user name (lower-case letters, digits, _ and -, at most 32), got "al\x00ice"`},
		{name: "bell in gecos", doc: "users:\n  - {name: alice, gecos: \"Alice\\a\"}\n", err: src + `line 3: users[0].gecos: want an /etc/passwd field without control characters, got "Alice\a" (U+0007 at byte 5)`},
		{name: "escape in a home", doc: "users:\n  - {name: alice, homedir: \"/home/\\e[2Jx\"}\n", err: src + `line 3: users[0].homedir: want an /etc/passwd field without control characters, got "/home/\x1b[2Jx" (U+001B at byte 6)`},
		{name: "NUL in a sudo rule", doc: "users:\n  - {name: alice, sudo: \"ALL=(ALL) ALL\\0\"}\n", err: src + "line 3: users[0].sudo: want a line without control characters, got \"ALL=(ALL) ALL\\x00\" (U+0000 at byte 13)"},
		{name: "tab in a sudo rule", doc: "users:\n  - {name: alice, sudo: \"ALL=(ALL)\\tALL\"}\n", want: Config{Users: []User{{Name: "alice", LockPasswd: true, Sudo: []string{"ALL=(ALL)\tALL"}}}, Set: keys("users")}},
		{name: "form feed in a key", doc: "ssh_authorized_keys: [\"ssh-ed25519 AAAA\\f a@b\"]\n", err: src + `line 2: ssh_authorized_keys[0]: want a line without control characters, got "ssh-ed25519 AAAA\f a@b" (U+000C at byte 16)`},
		{name: "NUL in a command", doc: "runcmd: [\"echo a\\0b\"]\n", err: src + "line 2: runcmd[0]: want a string without NUL bytes, got one with a NUL at byte 6"},
		{name: "NUL in an argument", doc: "bootcmd: [[echo, \"a\\0\"]]\n", err: src + "line 2: bootcmd[0][1]: want a string without NUL bytes, got one with a NUL at byte 1"},
		{name: "line breaks in a command are fine", doc: "runcmd: [\"echo a\\necho b\"]\n", want: Config{RunCmd: []Command{{Shell: "echo a\necho b"}}, Set: keys("runcmd")}},
		{name: "control in a token", doc: "appliance: {token: \"K10abc\\x01\"}\n", err: src + "line 2: appliance.token: want a non-empty token without blanks, got a value that is not one (not shown)"},
		{name: "control in a hash", doc: "users:\n  - {name: alice, hashed_passwd: \"$6$salt$hash\\x7f\"}\n", err: src + `line 3: users[0].hashed_passwd: want a crypt(3) hash such as "$6$<salt>$<hash>", got a value that is not one (not shown)`},
	})
}
