package cloudconfig

import (
	"strings"
	"testing"
)

const testHash = "$6$rounds=4096$saltsalt$h4sh.h4sh/h4sh"

func intp(i int) *int { return &i }

func TestParseUsers(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name: "default, name and mapping",
			doc: `users:
  - default
  - bob
  - name: alice
    gecos: Alice A. Admin
    groups: [adm, docker]
    sudo: ALL=(ALL) NOPASSWD:ALL
    shell: /bin/zsh
    ssh_authorized_keys:
      - ssh-ed25519 AAAA1 alice@x
    lock_passwd: false
    hashed_passwd: ` + testHash + `
    homedir: /srv/alice
    primary_group: staff
    uid: 1500
  - name: svc
    system: true
    passwd: "$y$j9T$salt$hash"
    sudo: [ALL=(ALL) ALL, "ALL=(root) NOPASSWD: /usr/bin/systemctl"]
`,
			want: Config{
				IncludeDefaultUser: true,
				Users: []User{
					{Name: "bob", LockPasswd: true},
					{
						Name: "alice", Gecos: "Alice A. Admin", Groups: []string{"adm", "docker"}, Sudo: []string{"ALL=(ALL) NOPASSWD:ALL"},
						Shell: "/bin/zsh", SSHAuthorizedKeys: []string{"ssh-ed25519 AAAA1 alice@x"}, HashedPasswd: testHash,
						HomeDir: "/srv/alice", PrimaryGroup: "staff", UID: intp(1500),
					},
					{Name: "svc", System: true, LockPasswd: true, Passwd: "$y$j9T$salt$hash", Sudo: []string{"ALL=(ALL) ALL", "ALL=(root) NOPASSWD: /usr/bin/systemctl"}},
				},
				Set: keys("users"),
			},
			warnings: []string{`seed /dev/vdb user-data line 3: users[0]: "default" (the distro's default user) creates nobody: the appliance has no default user besides root`},
		},
		{
			name: "groups as a string, sudo false and null",
			doc:  "users:\n  - {name: a, groups: 'adm, docker ,wheel', sudo: false}\n  - {name: b, sudo: null, lock_passwd: no}\n",
			want: Config{Users: []User{
				{Name: "a", Groups: []string{"adm", "docker", "wheel"}, LockPasswd: true},
				{Name: "b"},
			}, Set: keys("users")},
		},
		{
			name: "unsupported, deprecated and plain-text keys warn",
			doc:  "users:\n  - name: a\n    plain_text_passwd: hunter2\n    expiredate: '2030-01-01'\n    ssh-authorized-keys: [ssh-ed25519 AAAA1]\n    lock-passwd: false\n",
			want: Config{Users: []User{{Name: "a", SSHAuthorizedKeys: []string{"ssh-ed25519 AAAA1"}}}, Set: keys("users")},
			warnings: []string{
				`seed /dev/vdb user-data line 4: key "users[0].plain_text_passwd" is not supported, ignored: firstboot takes no plain-text passwords (use hashed_passwd)`,
				`seed /dev/vdb user-data line 5: key "users[0].expiredate" is not supported, ignored`,
				`seed /dev/vdb user-data line 6: key "users[0].ssh-authorized-keys" is deprecated, read as "users[0].ssh_authorized_keys"`,
				`seed /dev/vdb user-data line 7: key "users[0].lock-passwd" is deprecated, read as "users[0].lock_passwd"`,
			},
		},
		{name: "users not a list", doc: "users: alice\n", err: `seed /dev/vdb user-data line 2: users: want a list, got "alice"`},
		{name: "entry is a list", doc: "users:\n  - [alice]\n", err: "seed /dev/vdb user-data line 3: users[0]: want a user name or a mapping, got a list"},
		{name: "lock_passwd maybe", doc: "users:\n  - alice\n  - name: bob\n    lock_passwd: maybe\n", err: `seed /dev/vdb user-data line 5: users[1].lock_passwd: want true or false, got "maybe"`},
		{name: "root mapping", doc: "users:\n  - name: root\n", err: "seed /dev/vdb user-data line 3: users[0].name: root is managed by the appliance (use ssh_authorized_keys)"},
		{name: "root string", doc: "users:\n  - default\n  - root\n", err: "seed /dev/vdb user-data line 4: users[1]: root is managed by the appliance (use ssh_authorized_keys)"},
		{name: "name missing", doc: "users:\n  - gecos: Nobody\n", err: "seed /dev/vdb user-data line 3: users[0].name: want a user name, got none"},
		{name: "name upper case", doc: "users:\n  - name: Alice\n", err: `seed /dev/vdb user-data line 3: users[0].name: want a user name (lower-case letters, digits, _ and -, at most 32), got "Alice"`},
		{name: "name twice", doc: "users:\n  - alice\n  - bob\n  - name: alice\n", err: `seed /dev/vdb user-data line 5: users[2]: user "alice" is listed twice (first at users[0])`},
		{name: "bad group", doc: "users:\n  - name: a\n    groups: 'adm,,docker'\n", err: `seed /dev/vdb user-data line 4: users[0].groups: want a group name (lower-case letters, digits, _ and -, at most 32), got ""`},
		{name: "bad group in list", doc: "users:\n  - name: a\n    groups:\n      - adm\n      - Sudo Ers\n", err: `seed /dev/vdb user-data line 6: users[0].groups[1]: want a group name (lower-case letters, digits, _ and -, at most 32), got "Sudo Ers"`},
		{name: "bad primary group", doc: "users:\n  - name: a\n    primary_group: 'x:y'\n", err: `seed /dev/vdb user-data line 4: users[0].primary_group: want a group name (lower-case letters, digits, _ and -, at most 32), got "x:y"`},
		{name: "sudo true", doc: "users:\n  - name: a\n    sudo: true\n", err: `seed /dev/vdb user-data line 4: users[0].sudo: want a sudoers rule, a list of rules, or false, got "true"`},
		{name: "sudo rule with line break", doc: "users:\n  - name: a\n    sudo: \"ALL=(ALL) ALL\\nb ALL=(ALL) ALL\"\n", err: `seed /dev/vdb user-data line 4: users[0].sudo: want a single line, got "ALL=(ALL) ALL\nb ALL=(ALL) ALL"`},
		{name: "sudo quoted true", doc: "users:\n  - name: a\n    sudo: 'true'\n", err: `seed /dev/vdb user-data line 4: users[0].sudo: want a sudoers rule such as "ALL=(ALL) NOPASSWD:ALL", got "true"`},
		{name: "sudo list item without =", doc: "users:\n  - name: a\n    sudo:\n      - ALL=(ALL) ALL\n      - ALL\n", err: `seed /dev/vdb user-data line 6: users[0].sudo[1]: want a sudoers rule such as "ALL=(ALL) NOPASSWD:ALL", got "ALL"`},
		{name: "sudo mapping", doc: "users:\n  - name: a\n    sudo: {a: b}\n", err: "seed /dev/vdb user-data line 4: users[0].sudo: want a list, got a mapping"},
		{name: "relative shell", doc: "users:\n  - name: a\n    shell: bash\n", err: `seed /dev/vdb user-data line 4: users[0].shell: want an absolute path, got "bash"`},
		{name: "homedir root", doc: "users:\n  - name: a\n    homedir: /\n", err: `seed /dev/vdb user-data line 4: users[0].homedir: want an absolute path, got "/"`},
		{name: "gecos with colon", doc: "users:\n  - name: a\n    gecos: 'A: B'\n", err: `seed /dev/vdb user-data line 4: users[0].gecos: want no ':' or line break, got "A: B"`},
		{name: "uid zero", doc: "users:\n  - name: a\n    uid: 0\n", err: "seed /dev/vdb user-data line 4: users[0].uid: want 1 to 4294967294 (0 is root), got 0"},
		{name: "uid string", doc: "users:\n  - name: a\n    uid: '1000'\n", err: `seed /dev/vdb user-data line 4: users[0].uid: want an integer, got "1000"`},
		{name: "system maybe", doc: "users:\n  - name: a\n    system: 1\n", err: `seed /dev/vdb user-data line 4: users[0].system: want true or false, got "1"`},
		{name: "keys mapping", doc: "users:\n  - name: a\n    ssh_authorized_keys: {a: b}\n", err: "seed /dev/vdb user-data line 4: users[0].ssh_authorized_keys: want a list, got a mapping"},
		{name: "hashed_passwd list", doc: "users:\n  - name: a\n    hashed_passwd: [x]\n", err: `seed /dev/vdb user-data line 4: users[0].hashed_passwd: want a crypt(3) hash such as "$6$<salt>$<hash>", got a list`},
	})
}

// A value in a password key is never echoed: it may be a plain-text password.
func TestParseUsersPasswordNotEchoed(t *testing.T) {
	for _, key := range []string{"hashed_passwd", "passwd"} {
		for _, value := range []string{"hunter2", "!" + testHash, "$6$only-two"} {
			doc := "#cloud-config\nusers:\n  - name: a\n    " + key + ": '" + value + "'\n"
			_, _, err := Parse(testSource, []byte(doc))
			want := `seed /dev/vdb user-data line 4: users[0].` + key + `: want a crypt(3) hash such as "$6$<salt>$<hash>", got a value that is not one (not shown)`
			if err == nil || err.Error() != want {
				t.Errorf("%s %q: err = %v, want %s", key, value, err, want)
			}
			if err != nil && strings.Contains(err.Error(), value) {
				t.Errorf("%s: message echoes the value: %v", key, err)
			}
		}
	}
}
