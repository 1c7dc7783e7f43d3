package etcdsnapshot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// MaxEntries bounds the directory entries one status reads: K3s keeps a
// handful of snapshots, but nothing stops the directory from filling up,
// and a million entries must not make `firstboot status` hang.
const MaxEntries = 10000

// readBatch is how many entries one getdents round asks for.
const readBatch = 512

// compressedExtension ends a compressed snapshot's name (k3s-io/k3s
// pkg/etcd/snapshot/types.go, CompressedExtension).
const compressedExtension = ".zip"

// File is one local snapshot as `k3s etcd-snapshot ls` lists it.
type File struct {
	Name string `json:"name"`
	// Time is when K3s took it: the Unix time after the name's last "-"
	// (etcd-snapshot-<node>-<unix seconds>[.zip]), else the file's mtime.
	Time       time.Time `json:"time"`
	Size       int64     `json:"size"`
	Compressed bool      `json:"compressed,omitempty"`
}

// listing is what a scan of the snapshot directory found.
type listing struct {
	newest    *File
	count     int  // snapshot files seen
	read      int  // directory entries read
	truncated bool // more entries than were read
}

// openDir opens dir (absolute) under root as a directory, following no
// symbolic link on the way and not leaving root (openat2 with
// RESOLVE_NO_SYMLINKS and RESOLVE_BENEATH, Linux 5.6). K3s itself lists
// snapshots with filepath.Walk, which does not follow a snapshot
// directory that is a link (pkg/etcd/snapshot.go, listLocalSnapshots).
func openDir(root, dir string) (*os.File, error) {
	rootFd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", root, err)
	}
	defer unix.Close(rootFd)
	fd, err := unix.Openat2(rootFd, strings.TrimPrefix(filepath.Clean(dir), "/"), &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_BENEATH,
	})
	switch {
	case errors.Is(err, unix.ELOOP):
		return nil, fmt.Errorf("%s: a symbolic link is on the path, and firstboot status follows none", dir)
	case errors.Is(err, unix.ENOTDIR):
		return nil, fmt.Errorf("%s: not a directory", dir)
	case err != nil:
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return os.NewFile(uintptr(fd), dir), nil
}

// scan reads at most max entries of the open directory d and keeps the
// newest snapshot. Like K3s's listLocalSnapshots every regular file is a
// snapshot; symbolic links, FIFOs and other special files are skipped
// without being followed or opened, and so are subdirectories (K3s walks
// them, but writes its own snapshots at the top only).
func scan(d *os.File, max int) (listing, error) {
	var l listing
	for l.read < max {
		entries, err := d.ReadDir(min(readBatch, max-l.read))
		l.read += len(entries)
		for _, e := range entries {
			if !e.Type().IsRegular() {
				continue
			}
			if err := l.consider(d, e.Name()); err != nil {
				return l, err
			}
		}
		if errors.Is(err, io.EOF) || (err == nil && len(entries) == 0) {
			return l, nil
		}
		if err != nil {
			return l, fmt.Errorf("read %s: %w", d.Name(), err)
		}
	}
	more, err := d.ReadDir(1)
	if err != nil && !errors.Is(err, io.EOF) {
		return l, fmt.Errorf("read %s: %w", d.Name(), err)
	}
	l.truncated = len(more) > 0
	return l, nil
}

// consider counts the file name in d and keeps it if it is the newest so
// far. It is looked at with fstatat, not followed; one that is gone
// (pruned by K3s meanwhile) or is no longer a regular file is skipped.
func (l *listing) consider(d *os.File, name string) error {
	var st unix.Stat_t
	err := unix.Fstatat(int(d.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil
	case err != nil:
		return &os.PathError{Op: "stat", Path: filepath.Join(d.Name(), name), Err: err}
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return nil
	}
	l.count++
	f := File{Name: name, Size: st.Size, Time: snapshotTime(name, time.Unix(st.Mtim.Unix()))}
	_, f.Compressed = strings.CutSuffix(name, compressedExtension)
	if l.newest == nil || f.Time.After(l.newest.Time) || (f.Time.Equal(l.newest.Time) && f.Name > l.newest.Name) {
		l.newest = &f
	}
	return nil
}

// snapshotTime is K3s's creation time of a snapshot file: the integer after
// the last "-" of its name without ".zip", else mtime (k3s-io/k3s
// pkg/etcd/snapshot.go, listLocalSnapshots; names are
// "<etcd-snapshot-name>-<node>-<unix seconds>", Snapshot).
func snapshotTime(name string, mtime time.Time) time.Time {
	base, _ := strings.CutSuffix(name, compressedExtension)
	ts, err := strconv.ParseInt(base[strings.LastIndexByte(base, '-')+1:], 10, 64)
	if err != nil {
		return mtime.UTC()
	}
	return time.Unix(ts, 0).UTC()
}
