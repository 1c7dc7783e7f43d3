package cloudconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const carolHash = "$y$j9T$carolsalt$carolhash"

func testUsers() []User {
	return []User{
		{
			Name: "alice", Gecos: "Alice", Groups: []string{"sudo", "docker"}, Sudo: []string{"ALL=(ALL) NOPASSWD:ALL"},
			SSHAuthorizedKeys: []string{"ssh-ed25519 AAAA1 alice@x"}, HashedPasswd: testHash,
		},
		{Name: "bob", LockPasswd: true},
		{Name: "svc", System: true, LockPasswd: true},
		{Name: "existing", Groups: []string{"adm"}, LockPasswd: true, SSHAuthorizedKeys: []string{"ssh-ed25519 AAAA2 e@x"}, Passwd: carolHash},
		{Name: "carol", UID: intp(1500), PrimaryGroup: "users", HomeDir: "/srv/carol", Shell: "/bin/zsh", Passwd: carolHash, LockPasswd: true, Sudo: []string{"ALL=(ALL) ALL", "ALL=(root) NOPASSWD: /usr/bin/true"}},
	}
}

func TestApplyUsers(t *testing.T) {
	root := newRoot(t)
	if err := ApplyUsers(root, testUsers()); err != nil {
		t.Fatal(err)
	}
	etc := func(name string) string { return filepath.Join(root, "etc", name) }
	checkFile(t, etc("passwd"), `root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
systemd-timesync:x:997:997:systemd Time Synchronization:/:/usr/sbin/nologin
existing:x:1000:1000:Existing User:/home/existing:/bin/bash
alice:x:1001:1001:Alice:/home/alice:/bin/bash
bob:x:1002:1003::/home/bob:/bin/bash
svc:x:999:999::/home/svc:/bin/bash
carol:x:1500:100::/srv/carol:/bin/zsh
`, 0o644, 0, 0)
	checkFile(t, etc("group"), `root:x:0:
adm:x:4:existing
shadow:x:42:
sudo:x:27:alice
users:x:100:
nogroup:x:65534:
systemd-timesync:x:997:
existing:x:1000:
alice:x:1001:
docker:x:1002:alice
bob:x:1003:
svc:x:999:
`, 0o644, 0, 0)
	checkFile(t, etc("shadow"), `root:*:19000:0:99999:7:::
daemon:*:19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
systemd-timesync:!*:19000::::::
existing:!:19000:0:99999:7:::
alice:`+testHash+`::0:99999:7:::
bob:!::0:99999:7:::
svc:!::0:99999:7:::
carol:!`+carolHash+`::0:99999:7:::
`, 0o640, 0, shadowGID)
	checkFile(t, etc("gshadow"), `root:*::
adm:*::existing
shadow:*::
sudo:*::alice
users:*::
nogroup:*::
systemd-timesync:!*::
existing:!::
alice:!::
docker:!::alice
bob:!::
svc:!::
`, 0o640, 0, shadowGID)

	home := func(p string) string { return filepath.Join(root, p) }
	checkMode(t, home("home/alice"), 0o755|os.ModeDir, 1001, 1001)
	checkFile(t, home("home/alice/.bashrc"), "# ~/.bashrc from the fixture skel\n", 0o644, 1001, 1001)
	checkFile(t, home("home/alice/.config/app.conf"), "[fixture]\n", 0o644, 1001, 1001)
	checkMode(t, home("home/alice/.ssh"), 0o700|os.ModeDir, 1001, 1001)
	checkFile(t, home("home/alice/.ssh/authorized_keys"), "ssh-ed25519 AAAA1 alice@x\n", 0o600, 1001, 1001)
	checkMode(t, home("home/bob"), 0o755|os.ModeDir, 1002, 1003)
	checkMode(t, home("srv/carol"), 0o755|os.ModeDir, 1500, 100)
	// An existing user without a home gets one for its keys.
	checkFile(t, home("home/existing/.ssh/authorized_keys"), "ssh-ed25519 AAAA2 e@x\n", 0o600, 1000, 1000)
	if _, err := os.Lstat(home("home/svc")); !os.IsNotExist(err) {
		t.Errorf("system user svc got a home: %v", err)
	}
	checkMode(t, home("etc/sudoers.d"), 0o750|os.ModeDir, 0, 0)
	checkFile(t, home(SudoersFile), `# Created by firstboot from cloud-config users

# User rules for alice
alice ALL=(ALL) NOPASSWD:ALL

# User rules for carol
carol ALL=(ALL) ALL
carol ALL=(root) NOPASSWD: /usr/bin/true
`, 0o440, 0, 0)
	noLeftovers(t, root)
}

// Applying twice leaves the same tree; so does applying again after /etc
// was reset (the image's /etc is a RAM overlay) while /home persisted.
func TestApplyUsersIdempotent(t *testing.T) {
	root := newRoot(t)
	if err := ApplyUsers(root, testUsers()); err != nil {
		t.Fatal(err)
	}
	first := snapshot(t, root)
	if err := ApplyUsers(root, testUsers()); err != nil {
		t.Fatal(err)
	}
	if d := diffSnapshots(first, snapshot(t, root)); d != "" {
		t.Errorf("second apply changed:\n%s", d)
	}
	resetAccountFiles(t, root, "passwd", "group", "shadow", "gshadow")
	if err := ApplyUsers(root, testUsers()); err != nil {
		t.Fatal(err)
	}
	if d := diffSnapshots(first, snapshot(t, root)); d != "" {
		t.Errorf("apply after an /etc reset changed:\n%s", d)
	}
}

// An existing user is updated, not duplicated: password lock, groups and
// keys change; the passwd entry and keys added by hand stay.
func TestApplyUsersUpdatesExisting(t *testing.T) {
	root := newRoot(t)
	keys := filepath.Join(root, "home/existing/.ssh/authorized_keys")
	if err := os.MkdirAll(filepath.Dir(keys), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keys, []byte("ssh-rsa HAND added-by-hand\nssh-ed25519 AAAA2 e@x"), 0o644); err != nil {
		t.Fatal(err)
	}
	u := User{Name: "existing", HashedPasswd: testHash, Groups: []string{"adm", "sudo"}, SSHAuthorizedKeys: []string{"ssh-ed25519 AAAA2 e@x", "ssh-ed25519 AAAA3 new"}, Shell: "/bin/zsh", UID: intp(2000)}
	for range 2 {
		if err := ApplyUsers(root, []User{u}); err != nil {
			t.Fatal(err)
		}
	}
	passwd := readString(t, filepath.Join(root, "etc/passwd"))
	if strings.Count("\n"+passwd, "\nexisting:") != 1 || !strings.Contains(passwd, "existing:x:1000:1000:Existing User:/home/existing:/bin/bash\n") {
		t.Errorf("passwd:\n%s", passwd)
	}
	shadow := readString(t, filepath.Join(root, "etc/shadow"))
	if !strings.Contains(shadow, "\nexisting:"+testHash+":19000:0:99999:7:::\n") {
		t.Errorf("shadow:\n%s", shadow)
	}
	group := readString(t, filepath.Join(root, "etc/group"))
	if !strings.Contains(group, "\nadm:x:4:existing\n") || !strings.Contains(group, "\nsudo:x:27:existing\n") {
		t.Errorf("group:\n%s", group)
	}
	checkFile(t, keys, "ssh-rsa HAND added-by-hand\nssh-ed25519 AAAA2 e@x\nssh-ed25519 AAAA3 new\n", 0o600, 1000, 1000)
	checkMode(t, filepath.Dir(keys), 0o700|os.ModeDir, 1000, 1000)
	// No sudo rules: no sudoers file.
	if _, err := os.Lstat(filepath.Join(root, SudoersFile)); !os.IsNotExist(err) {
		t.Errorf("sudoers file without rules: %v", err)
	}
}

func TestApplyUsersPasswordField(t *testing.T) {
	for _, tc := range []struct {
		name string
		user User
		want string
	}{
		{"locked, no hash", User{Name: "u", LockPasswd: true}, "!"},
		{"unlocked, no hash", User{Name: "u"}, "*"},
		{"unlocked hash", User{Name: "u", HashedPasswd: testHash}, testHash},
		{"locked hash", User{Name: "u", HashedPasswd: testHash, LockPasswd: true}, "!" + testHash},
		{"passwd on creation", User{Name: "u", Passwd: carolHash}, carolHash},
		{"hashed_passwd wins", User{Name: "u", Passwd: carolHash, HashedPasswd: testHash}, testHash},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := newRoot(t)
			for range 2 {
				if err := ApplyUsers(root, []User{tc.user}); err != nil {
					t.Fatal(err)
				}
			}
			want := "\nu:" + tc.want + "::0:99999:7:::\n"
			if shadow := readString(t, filepath.Join(root, "etc/shadow")); !strings.HasSuffix(shadow, want) {
				t.Errorf("shadow ends %q, want %q", shadow[strings.LastIndex(shadow[:len(shadow)-1], "\n"):], want)
			}
		})
	}
}

// passwd applies only to a user created now; hashed_passwd always does;
// unlocking keeps the hash the entry has.
func TestApplyUsersPasswordOfExistingUser(t *testing.T) {
	root := newRoot(t)
	if err := ApplyUsers(root, []User{{Name: "existing", Passwd: carolHash, LockPasswd: true}}); err != nil {
		t.Fatal(err)
	}
	if shadow := readString(t, filepath.Join(root, "etc/shadow")); !strings.Contains(shadow, "\nexisting:!:19000:") {
		t.Errorf("passwd applied to an existing user:\n%s", shadow)
	}
	steps := []struct {
		user User
		want string
	}{
		{User{Name: "existing", HashedPasswd: testHash, LockPasswd: true}, "!" + testHash},
		{User{Name: "existing"}, testHash},
		{User{Name: "existing", LockPasswd: true}, "!" + testHash},
	}
	for _, s := range steps {
		if err := ApplyUsers(root, []User{s.user}); err != nil {
			t.Fatal(err)
		}
		if shadow := readString(t, filepath.Join(root, "etc/shadow")); !strings.Contains(shadow, "\nexisting:"+s.want+":19000:") {
			t.Errorf("%+v: shadow:\n%s", s.user, shadow)
		}
	}
}

func TestApplyUsersShellWithoutBash(t *testing.T) {
	root := newRoot(t)
	if err := os.Remove(filepath.Join(root, "bin/bash")); err != nil {
		t.Fatal(err)
	}
	if err := ApplyUsers(root, []User{{Name: "dave"}}); err != nil {
		t.Fatal(err)
	}
	if passwd := readString(t, filepath.Join(root, "etc/passwd")); !strings.HasSuffix(passwd, "\ndave:x:1001:1001::/home/dave:/bin/sh\n") {
		t.Errorf("passwd:\n%s", passwd)
	}
}

func TestApplyUsersErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(root string) error
		users []User
		err   string // with ROOT for the root
	}{
		{name: "uid taken", users: []User{{Name: "dave", UID: intp(1000)}}, err: `user dave: uid 1000 is taken by "existing"`},
		{name: "root", users: []User{{Name: "root"}}, err: "user root is managed by the appliance"},
		{
			name:  "no shadow",
			setup: func(root string) error { return os.Remove(filepath.Join(root, "etc/shadow")) },
			users: []User{{Name: "dave"}}, err: "read ROOT/etc/shadow: open ROOT/etc/shadow: no such file or directory",
		},
		{
			name: ".ssh is a symbolic link",
			setup: func(root string) error {
				if err := os.MkdirAll(filepath.Join(root, "home/existing"), 0o755); err != nil {
					return err
				}
				return os.Symlink("/etc", filepath.Join(root, "home/existing/.ssh"))
			},
			users: []User{{Name: "existing", SSHAuthorizedKeys: []string{"k"}}}, err: "user existing: ROOT/home/existing/.ssh is not a directory",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := newRoot(t)
			if tc.setup != nil {
				if err := tc.setup(root); err != nil {
					t.Fatal(err)
				}
			}
			err := ApplyUsers(root, tc.users)
			want := strings.ReplaceAll(tc.err, "ROOT", root)
			if err == nil || err.Error() != want {
				t.Fatalf("err = %v\nwant %s", err, want)
			}
		})
	}
}

func TestApplyUsersNone(t *testing.T) {
	root := t.TempDir() // no account files: nothing is read
	if err := ApplyUsers(root, nil); err != nil {
		t.Fatal(err)
	}
}

// A boot killed between the saves of the account files (group, gshadow,
// passwd, shadow, in that order) leaves the later ones as they were; the
// next apply must end where an uninterrupted one does.
func TestApplyUsersResumesAfterPartialSave(t *testing.T) {
	whole := newRoot(t)
	if err := ApplyUsers(whole, testUsers()); err != nil {
		t.Fatal(err)
	}
	want := snapshot(t, whole)
	order := []string{"group", "gshadow", "passwd", "shadow"}
	for saved := 1; saved < len(order); saved++ {
		t.Run("after "+order[saved-1], func(t *testing.T) {
			root := newRoot(t)
			if err := ApplyUsers(root, testUsers()); err != nil {
				t.Fatal(err)
			}
			resetAccountFiles(t, root, order[saved:]...) // not saved yet
			if err := ApplyUsers(root, testUsers()); err != nil {
				t.Fatal(err)
			}
			if d := diffSnapshots(want, snapshot(t, root)); d != "" {
				t.Errorf("resumed apply differs from an uninterrupted one:\n%s", d)
			}
		})
	}
}

// resetAccountFiles puts the fixture's own copies of the named /etc files
// back under root, as an /etc reset (or a save that never happened) does.
func resetAccountFiles(t *testing.T, root string, names ...string) {
	t.Helper()
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join("testdata/root/etc", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "etc", name), data, 0); err != nil {
			t.Fatal(err)
		}
	}
}
