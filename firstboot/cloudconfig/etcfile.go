package cloudconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// etcFile is one colon-separated account database (/etc/passwd, /etc/group,
// /etc/shadow, /etc/gshadow) read for editing. Lines firstboot does not
// touch (comments, NIS "+" entries) are kept as they are.
type etcFile struct {
	path  string
	orig  []byte
	lines []string
	mode  fs.FileMode
	owner owner
}

// readEtcFile reads path; a missing file is an error unless optional, in
// which case it returns nil.
func readEtcFile(path string, optional bool) (*etcFile, error) {
	data, err := os.ReadFile(path)
	if optional && errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	f := &etcFile{path: path, orig: data, mode: info.Mode().Perm(), owner: asCreated}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		f.owner = owner{int(st.Uid), int(st.Gid)}
	}
	if text := strings.TrimSuffix(string(data), "\n"); text != "" {
		f.lines = strings.Split(text, "\n")
	}
	return f, nil
}

// find returns the index and fields of the entry named name, or -1.
func (f *etcFile) find(name string) (int, []string) {
	for i, line := range f.lines {
		if entry, _, _ := strings.Cut(line, ":"); entry == name && !strings.HasPrefix(line, "#") {
			return i, strings.Split(line, ":")
		}
	}
	return -1, nil
}

// set replaces entry i (or appends when i is -1) with fields.
func (f *etcFile) set(i int, fields []string) {
	line := strings.Join(fields, ":")
	if i < 0 {
		f.lines = append(f.lines, line)
		return
	}
	f.lines[i] = line
}

// ids returns the numbers in field col of every entry (uids of passwd, gids
// of group) mapped to the entry's name.
func (f *etcFile) ids(col int) map[int]string {
	used := map[int]string{}
	for _, line := range f.lines {
		fields := strings.Split(line, ":")
		if len(fields) <= col || strings.HasPrefix(line, "#") {
			continue
		}
		if id, err := strconv.Atoi(fields[col]); err == nil {
			used[id] = fields[0]
		}
	}
	return used
}

// save writes the file back, keeping its mode and owner, when it changed.
func (f *etcFile) save() error {
	if f == nil {
		return nil
	}
	data := []byte(strings.Join(f.lines, "\n") + "\n")
	if len(f.lines) == 0 {
		data = nil
	}
	if bytes.Equal(data, f.orig) {
		return nil
	}
	if err := writeFileAtomic(f.path, data, f.mode, f.owner); err != nil {
		return err
	}
	f.orig = data
	return nil
}

// fieldAt returns fields[i], or "" when the entry is short.
func fieldAt(fields []string, i int) string {
	if i < len(fields) {
		return fields[i]
	}
	return ""
}

// padFields extends fields to n entries.
func padFields(fields []string, n int) []string {
	for len(fields) < n {
		fields = append(fields, "")
	}
	return fields
}
