package cloudconfig

import (
	"io/fs"
	"testing"
)

// helloGzB64 is "hello\n" compressed by `gzip -n` and base64-encoded.
const helloGzB64 = "H4sIAAAAAAAAA8tIzcnJ5wIAIDA6NgYAAAA="

func TestParseWriteFiles(t *testing.T) {
	hello := []byte("hello\n")
	file := func(path string, content []byte, mutate ...func(*WriteFile)) WriteFile {
		wf := WriteFile{Path: path, Content: content, Permissions: 0o644, Owner: "root", Group: "root"}
		for _, m := range mutate {
			m(&wf)
		}
		return wf
	}
	one := func(wf WriteFile) Config { return Config{WriteFiles: []WriteFile{wf}, Set: keys("write_files")} }
	runParseCases(t, []parseCase{
		{
			name: "defaults and text",
			doc:  "write_files:\n  - path: /etc/motd\n    content: |\n      hello\n  - path: /run/empty\n",
			want: Config{WriteFiles: []WriteFile{file("/etc/motd", hello), file("/run/empty", []byte{})}, Set: keys("write_files")},
		},
		{name: "b64", doc: "write_files:\n  - {path: /a, encoding: b64, content: aGVsbG8K}\n", want: one(file("/a", hello))},
		{name: "base64 across lines", doc: "write_files:\n  - path: /a\n    encoding: base64\n    content: |\n      aGVs\n      bG8K\n", want: one(file("/a", hello))},
		{name: "gzip+base64", doc: "write_files:\n  - {path: /a, encoding: gzip+base64, content: " + helloGzB64 + "}\n", want: one(file("/a", hello))},
		{name: "GZ+B64 upper case", doc: "write_files:\n  - {path: /a, encoding: ' GZ+B64', content: " + helloGzB64 + "}\n", want: one(file("/a", hello))},
		{name: "gz with !!binary", doc: "write_files:\n  - path: /a\n    encoding: gz\n    content: !!binary |\n      " + helloGzB64 + "\n", want: one(file("/a", hello))},
		{name: "!!binary alone", doc: "write_files:\n  - {path: /a, content: !!binary aGVsbG8K}\n", want: one(file("/a", hello))},
		{name: "text/plain", doc: "write_files:\n  - {path: /a, encoding: text/plain, content: aGVsbG8K}\n", want: one(file("/a", []byte("aGVsbG8K")))},
		{
			name: "permissions, owner, append, defer",
			doc:  "write_files:\n  - {path: /a, permissions: '0600', owner: 'alice:staff', append: true, defer: yes}\n  - {path: /b, permissions: 0755, owner: alice}\n  - {path: /c, permissions: 0o640}\n  - {path: /d, permissions: '4755'}\n  - {path: /e, permissions: '0o1777'}\n",
			want: Config{WriteFiles: []WriteFile{
				file("/a", []byte{}, func(w *WriteFile) {
					w.Permissions, w.Owner, w.Group, w.Append, w.Defer = 0o600, "alice", "staff", true, true
				}),
				file("/b", []byte{}, func(w *WriteFile) { w.Permissions, w.Owner = 0o755, "alice" }),
				file("/c", []byte{}, func(w *WriteFile) { w.Permissions = 0o640 }),
				file("/d", []byte{}, func(w *WriteFile) { w.Permissions = 0o755 | fs.ModeSetuid }),
				file("/e", []byte{}, func(w *WriteFile) { w.Permissions = 0o777 | fs.ModeSticky }),
			}, Set: keys("write_files")},
		},
		{name: "path cleaned", doc: "write_files:\n  - path: /../etc//x/../motd\n", want: one(file("/etc/motd", []byte{}))},
		{
			name: "unsupported key warns",
			doc:  "write_files:\n  - path: /a\n    source: {uri: 'http://x/y'}\n",
			want: one(file("/a", []byte{})), warnings: []string{`seed /dev/vdb user-data line 4: key "write_files[0].source" is not supported, ignored`},
		},
		{name: "not a list", doc: "write_files: {path: /a}\n", err: "seed /dev/vdb user-data line 2: write_files: want a list, got a mapping"},
		{name: "entry not a mapping", doc: "write_files:\n  - /etc/motd\n", err: `seed /dev/vdb user-data line 3: write_files[0]: want a mapping, got "/etc/motd"`},
		{name: "path missing", doc: "write_files:\n  - path: /a\n  - content: x\n", err: "seed /dev/vdb user-data line 4: write_files[1].path: want an absolute path, got none"},
		{name: "relative path", doc: "write_files:\n  - path: etc/motd\n", err: `seed /dev/vdb user-data line 3: write_files[0].path: want an absolute file path, got "etc/motd"`},
		{name: "path is root", doc: "write_files:\n  - path: /etc/..\n", err: `seed /dev/vdb user-data line 3: write_files[0].path: want an absolute file path, got "/etc/.."`},
		{name: "bad base64", doc: "write_files:\n  - path: /a\n    encoding: b64\n    content: 'aGVsb!8K'\n", err: "seed /dev/vdb user-data line 5: write_files[0].content: want base64 data, got illegal base64 data at input byte 5"},
		{name: "bad gzip", doc: "write_files:\n  - path: /a\n    encoding: gzip+base64\n    content: aGVsbG8K\n", err: "seed /dev/vdb user-data line 5: write_files[0].content: want gzip data, got unexpected EOF"},
		{name: "unknown encoding", doc: "write_files:\n  - path: /a\n    encoding: rot13\n", err: `seed /dev/vdb user-data line 4: write_files[0].encoding: want one of b64, base64, gz, gzip, gz+base64, gzip+base64, gz+b64, gzip+b64, text/plain, got "rot13"`},
		{name: "content list", doc: "write_files:\n  - path: /a\n    content: [a]\n", err: "seed /dev/vdb user-data line 4: write_files[0].content: want a string, got a list"},
		{name: "decimal permissions", doc: "write_files:\n  - path: /a\n    permissions: 644\n", err: `seed /dev/vdb user-data line 4: write_files[0].permissions: want an octal mode such as '0644' (a YAML integer without a leading 0 is decimal), got "644"`},
		{name: "non-octal permissions", doc: "write_files:\n  - path: /a\n    permissions: '0999'\n", err: `seed /dev/vdb user-data line 4: write_files[0].permissions: want an octal mode such as '0644', got "0999"`},
		{name: "symbolic permissions", doc: "write_files:\n  - path: /a\n    permissions: u+rw\n", err: `seed /dev/vdb user-data line 4: write_files[0].permissions: want an octal mode such as '0644', got "u+rw"`},
		{name: "bad owner", doc: "write_files:\n  - path: /a\n    owner: 'alice:'\n", err: `seed /dev/vdb user-data line 4: write_files[0].owner: want "user" or "user:group", got "alice:"`},
		{name: "append maybe", doc: "write_files:\n  - path: /a\n    append: sometimes\n", err: `seed /dev/vdb user-data line 4: write_files[0].append: want true or false, got "sometimes"`},
		{name: "defer list", doc: "write_files:\n  - path: /a\n    defer: []\n", err: "seed /dev/vdb user-data line 4: write_files[0].defer: want true or false, got a list"},
	})
}
