package cloudconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ml-appliance/appliance/internal/smallfile"
)

// ApplyWriteFiles writes files under root: missing parent directories get
// mode 0755, each file is replaced atomically with the permissions and
// owner of its last entry. Owner names resolve through root's /etc/passwd
// and /etc/group, so apply users first; an unknown name is an error, found
// before anything is written.
//
// No element of a path may be a symbolic link, the file itself included,
// and the file must be missing or a regular file: anything else is an
// error naming the element, found before anything is written and checked
// again, without a race, as each file is written (see openDirNoFollow).
//
// Entries for the same path combine in order: a plain entry sets the
// content, an append entry adds to it. When a path has only append entries,
// their combined content is added to the end of the file (created when
// missing) unless the file already ends with exactly that content, so a
// re-run appends nothing. The price: content that is already at the end of
// the file cannot be appended on purpose.
func ApplyWriteFiles(root string, files []WriteFile) error {
	ids := &idMaps{root: root}
	var plans []*filePlan
	byPath := map[string]*filePlan{}
	for _, f := range files {
		if !filepath.IsAbs(f.Path) || filepath.Clean(f.Path) != f.Path || f.Path == "/" {
			return fmt.Errorf("write_files %q: not an absolute, clean file path", f.Path)
		}
		o, err := ids.resolve(f.Owner, f.Group)
		if err != nil {
			return fmt.Errorf("write_files %s: %w", f.Path, err)
		}
		plan := byPath[f.Path]
		if plan == nil {
			plan = &filePlan{path: f.Path}
			byPath[f.Path] = plan
			plans = append(plans, plan)
		}
		plan.add(f, o)
	}
	for _, write := range []bool{false, true} {
		for _, plan := range plans {
			if err := plan.apply(root, write); err != nil {
				return fmt.Errorf("write_files %s: %w", plan.path, err)
			}
		}
	}
	return nil
}

// filePlan is what the entries for one path add up to.
type filePlan struct {
	path  string
	perm  fs.FileMode
	owner owner
	// replace says a plain entry set content; else content is what the
	// append entries add.
	replace bool
	content []byte
}

func (p *filePlan) add(f WriteFile, o owner) {
	p.perm, p.owner = f.Permissions, o
	if !f.Append {
		p.replace = true
		p.content = nil
	}
	p.content = append(p.content, f.Content...)
}

// apply checks that the plan's path can be written without following a
// symbolic link and, when write is set, writes it (creating its missing
// directories).
func (p *filePlan) apply(root string, write bool) error {
	dir, err := openDirNoFollow(root, filepath.Dir(p.path), write)
	if err != nil || dir == nil {
		return err
	}
	defer dir.Close()
	name := filepath.Base(p.path)
	if err := checkReplaceable(dir, name, p.path); err != nil || !write {
		return err
	}
	data := p.content
	if !p.replace {
		old, err := smallfile.ReadIn(dir, name, MaxWriteFilesBytes)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		data = old
		if !bytes.HasSuffix(old, p.content) {
			data = append(old, p.content...)
		}
	}
	if data == nil {
		data = []byte{}
	}
	return writeFileIn(dir, name, data, p.perm, p.owner)
}

// idMaps maps user and group names of a root to their ids, reading the
// root's /etc/passwd and /etc/group on the first name other than root.
type idMaps struct {
	root          string
	users, groups map[string]int
}

// resolve returns the ids of user and group; root is 0 without a lookup.
func (ids *idMaps) resolve(user, group string) (owner, error) {
	if user == "root" && group == "root" {
		return owner{0, 0}, nil
	}
	if ids.users == nil {
		var err error
		if ids.users, err = readNameIDs(filepath.Join(ids.root, "/etc/passwd")); err != nil {
			return owner{}, err
		}
		if ids.groups, err = readNameIDs(filepath.Join(ids.root, "/etc/group")); err != nil {
			return owner{}, err
		}
	}
	o := owner{0, 0}
	var ok bool
	if o.uid, ok = ids.users[user]; !ok && user != "root" {
		return owner{}, fmt.Errorf("owner %s:%s: no user %q in %s", user, group, user, filepath.Join(ids.root, "/etc/passwd"))
	}
	if o.gid, ok = ids.groups[group]; !ok && group != "root" {
		return owner{}, fmt.Errorf("owner %s:%s: no group %q in %s", user, group, group, filepath.Join(ids.root, "/etc/group"))
	}
	return o, nil
}

// readNameIDs maps the names of an account file to their ids (field 3).
func readNameIDs(path string) (map[string]int, error) {
	f, err := readEtcFile(path, false)
	if err != nil {
		return nil, err
	}
	ids := map[string]int{}
	for _, line := range f.lines {
		fields := strings.Split(line, ":")
		if id, err := strconv.Atoi(fieldAt(fields, 2)); err == nil && !strings.HasPrefix(line, "#") {
			if _, dup := ids[fields[0]]; !dup {
				ids[fields[0]] = id
			}
		}
	}
	return ids, nil
}
