package cloudconfig

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ID ranges of shadow-utils' login.defs defaults: useradd gives a regular
// user the highest used id in the range plus one, a system user the highest
// free id of the system range.
const (
	minID, maxRegularID = 1000, 60000
	minSystemID         = 100
	maxSystemID         = 999
)

// accounts are the account databases of a root, edited in memory and
// saved together.
type accounts struct {
	passwd, group, shadow, gshadow *etcFile
}

func loadAccounts(root string) (*accounts, error) {
	var db accounts
	var err error
	for _, f := range []struct {
		dst      **etcFile
		path     string
		optional bool
	}{
		{&db.passwd, "/etc/passwd", false},
		{&db.group, "/etc/group", false},
		{&db.shadow, "/etc/shadow", false},
		{&db.gshadow, "/etc/gshadow", true},
	} {
		if *f.dst, err = readEtcFile(filepath.Join(root, f.path), f.optional); err != nil {
			return nil, err
		}
	}
	return &db, nil
}

// save writes the files that changed, groups first so that every gid a
// passwd entry names exists.
func (db *accounts) save() error {
	for _, f := range []*etcFile{db.group, db.gshadow, db.passwd, db.shadow} {
		if err := f.save(); err != nil {
			return err
		}
	}
	return nil
}

// chooseUID returns u's uid: the one it asks for, or the next free one.
func (db *accounts) chooseUID(u User) (int, error) {
	used := db.passwd.ids(2)
	if u.UID != nil {
		if other, ok := used[*u.UID]; ok {
			return 0, fmt.Errorf("user %s: uid %d is taken by %q", u.Name, *u.UID, other)
		}
		return *u.UID, nil
	}
	if u.System {
		id, ok := highestFree(used, minSystemID, maxSystemID)
		if !ok {
			return 0, fmt.Errorf("user %s: no free system uid in %d-%d", u.Name, minSystemID, maxSystemID)
		}
		return id, nil
	}
	id, ok := nextAfterHighest(used, minID, maxRegularID)
	if !ok {
		return 0, fmt.Errorf("user %s: no free uid in %d-%d", u.Name, minID, maxRegularID)
	}
	return id, nil
}

// ensureGroup returns the gid of group name, creating the group when it is
// missing: with gid prefer when that is free (useradd gives a user's own
// group the user's uid), else the next free regular gid.
func (db *accounts) ensureGroup(name string, prefer int) (int, error) {
	if i, fields := db.group.find(name); i >= 0 {
		// A boot killed between saving /etc/group and /etc/gshadow left the
		// group without its gshadow entry: complete it.
		if db.gshadow != nil {
			if j, _ := db.gshadow.find(name); j < 0 {
				db.gshadow.set(-1, []string{name, "!", "", ""})
			}
		}
		gid, err := strconv.Atoi(fieldAt(fields, 2))
		if err != nil {
			return 0, fmt.Errorf("%s: group %s has a bad gid %q", db.group.path, name, fieldAt(fields, 2))
		}
		return gid, nil
	}
	used := db.group.ids(2)
	gid := prefer
	if _, taken := used[gid]; taken || gid < 0 {
		var ok bool
		if gid, ok = nextAfterHighest(used, minID, maxRegularID); !ok {
			return 0, fmt.Errorf("group %s: no free gid in %d-%d", name, minID, maxRegularID)
		}
	}
	db.group.set(-1, []string{name, "x", strconv.Itoa(gid), ""})
	if db.gshadow != nil {
		db.gshadow.set(-1, []string{name, "!", "", ""})
	}
	return gid, nil
}

// addMember makes user a supplementary member of group, creating the group
// when it is missing, as cloud-init does.
func (db *accounts) addMember(group, user string) error {
	if _, err := db.ensureGroup(group, -1); err != nil {
		return err
	}
	addTo := func(f *etcFile, col int) {
		if f == nil {
			return
		}
		i, fields := f.find(group)
		if i < 0 {
			return
		}
		fields = padFields(fields, col+1)
		var members []string
		if fields[col] != "" {
			members = strings.Split(fields[col], ",")
		}
		if !slices.Contains(members, user) {
			fields[col] = strings.Join(append(members, user), ",")
			f.set(i, fields)
		}
	}
	addTo(db.group, 3)
	addTo(db.gshadow, 3)
	return nil
}

// setPassword sets u's shadow password field: "!" plus the hash when
// locked, else the hash or "*" (no password login) without one. The hash is
// hashed_passwd, or passwd for a user created now, or else the one the
// entry already has.
func (db *accounts) setPassword(u User, created bool) {
	i, fields := db.shadow.find(u.Name)
	if i < 0 {
		fields = []string{u.Name, "", "", "0", "99999", "7", "", "", ""}
	}
	fields = padFields(fields, 2)
	hash := strings.TrimLeft(fields[1], "!")
	if hash == "*" {
		hash = ""
	}
	switch {
	case u.HashedPasswd != "":
		hash = u.HashedPasswd.Reveal()
	case (created || i < 0) && u.Passwd != "":
		// A user without a shadow entry was created by a boot killed
		// before it saved /etc/shadow: finish creating it.
		hash = u.Passwd.Reveal()
	}
	switch {
	case u.LockPasswd:
		fields[1] = "!" + hash
	case hash == "":
		fields[1] = "*"
	default:
		fields[1] = hash
	}
	db.shadow.set(i, fields)
}

// highestFree returns the highest id in [lo, hi] not in used.
func highestFree(used map[int]string, lo, hi int) (int, bool) {
	for id := hi; id >= lo; id-- {
		if _, ok := used[id]; !ok {
			return id, true
		}
	}
	return 0, false
}

// nextAfterHighest returns one more than the highest id of used in
// [lo, hi], or lo when none is; like useradd, it fills holes only when
// the top of the range is used.
func nextAfterHighest(used map[int]string, lo, hi int) (int, bool) {
	next := lo
	for id := range used {
		if id >= lo && id <= hi && id >= next {
			next = id + 1
		}
	}
	if next > hi {
		return highestFree(used, lo, hi)
	}
	return next, true
}
