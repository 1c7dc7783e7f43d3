package cloudconfig

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// SudoersFile holds the users' sudo rules, cloud-init's file name.
const SudoersFile = "/etc/sudoers.d/90-cloud-init-users"

// sudoersHeader starts SudoersFile. cloud-init's header carries its version
// and the date; this one is fixed so that a re-run writes the same bytes.
const sudoersHeader = "# Created by firstboot from cloud-config users"

// account is where a user's files go.
type account struct {
	name, home string
	owner      owner
	created    bool
}

// ApplyUsers creates or updates users under root by editing /etc/passwd,
// /etc/group, /etc/shadow and (when present) /etc/gshadow directly; each
// file keeps its mode and owner.
//
// A new user gets a group named after it (or primary_group), the uid it
// asks for or the next free one (from 1000 up, or below 1000 for a system
// user), home /home/<name> (mode 0755, a copy of /etc/skel) and shell
// /bin/bash, or /bin/sh when root has no bash. A user that exists keeps its
// passwd entry, as with cloud-init; for every user ApplyUsers adds the
// supplementary groups (creating missing ones), sets the password field
// (see User.LockPasswd), adds the SSH keys missing from
// ~/.ssh/authorized_keys and writes the sudo rules of all users to
// SudoersFile (removed when no user has rules; the image's /etc/sudoers
// must include /etc/sudoers.d, as Debian's does, and is not edited). root's
// own keys are the caller's job. With no users ApplyUsers changes nothing.
// The account files are not locked (no lckpwdf): call it before anything
// else edits accounts, as the agent does at boot.
func ApplyUsers(root string, users []User) error {
	if len(users) == 0 {
		return nil
	}
	db, err := loadAccounts(root)
	if err != nil {
		return err
	}
	accts := make([]account, len(users))
	for i, u := range users {
		if accts[i], err = db.ensureUser(root, u); err != nil {
			return err
		}
	}
	if err := db.save(); err != nil {
		return err
	}
	for i, u := range users {
		if err := makeHome(root, accts[i], u); err != nil {
			return err
		}
		if err := addAuthorizedKeys(root, accts[i], u.SSHAuthorizedKeys); err != nil {
			return err
		}
	}
	return writeSudoRules(root, users)
}

// ensureUser adds u to the databases (or finds it) and returns its account.
func (db *accounts) ensureUser(root string, u User) (account, error) {
	if u.Name == "root" {
		return account{}, fmt.Errorf("user root is managed by the appliance")
	}
	i, fields := db.passwd.find(u.Name)
	created := i < 0
	if created {
		uid, err := db.chooseUID(u)
		if err != nil {
			return account{}, err
		}
		primary := u.PrimaryGroup
		if primary == "" {
			primary = u.Name
		}
		gid, err := db.ensureGroup(primary, uid)
		if err != nil {
			return account{}, fmt.Errorf("user %s: %w", u.Name, err)
		}
		home := u.HomeDir
		if home == "" {
			home = "/home/" + u.Name
		}
		shell := u.Shell
		if shell == "" {
			shell = defaultShell(root)
		}
		fields = []string{u.Name, "x", strconv.Itoa(uid), strconv.Itoa(gid), u.Gecos, home, shell}
		db.passwd.set(-1, fields)
	}
	uid, errU := strconv.Atoi(fieldAt(fields, 2))
	gid, errG := strconv.Atoi(fieldAt(fields, 3))
	if errU != nil || errG != nil {
		return account{}, fmt.Errorf("%s: user %s has a bad uid or gid", db.passwd.path, u.Name)
	}
	for _, g := range u.Groups {
		if err := db.addMember(g, u.Name); err != nil {
			return account{}, fmt.Errorf("user %s: %w", u.Name, err)
		}
	}
	db.setPassword(u, created)
	return account{name: u.Name, home: fieldAt(fields, 5), owner: owner{uid, gid}, created: created}, nil
}

func defaultShell(root string) string {
	if _, err := os.Stat(filepath.Join(root, "/bin/bash")); err == nil {
		return "/bin/bash"
	}
	return "/bin/sh"
}

// writeSudoRules writes every user's rules to SudoersFile, in cloud-init's
// layout, or removes the file when no user has rules.
func writeSudoRules(root string, users []User) error {
	path := filepath.Join(root, SudoersFile)
	var b strings.Builder
	for _, u := range users {
		if len(u.Sudo) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n# User rules for %s\n", u.Name)
		for _, rule := range u.Sudo {
			fmt.Fprintf(&b, "%s %s\n", u.Name, rule)
		}
	}
	if b.Len() == 0 {
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("remove %s: %w", path, err)
		}
		return nil
	}
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		// cloud-init's ensure_sudo_dir mode.
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
	}
	return writeFileAtomic(path, []byte(sudoersHeader+"\n"+b.String()), 0o440, owner{0, 0})
}
