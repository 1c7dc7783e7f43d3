// Package etcdsnapshot says what the newest etcd snapshot K3s keeps on this
// node is, for `firstboot status`: the file, when K3s took it, its size,
// or why there is none (an agent, a server on SQLite, snapshots not taken
// yet). It reads K3s's own files under a root and talks to nothing.
//
// Where K3s keeps them (k3s-io/k3s, read at recent main; the flags and
// paths are those of v1.36):
//   - the server's data directory is <data-dir>/server, data-dir defaulting
//     to /var/lib/rancher/k3s (pkg/server/server.go ResolveDataDir,
//     pkg/cli/cmds/server.go);
//   - snapshots go to etcd-snapshot-dir, by default
//     <data-dir>/server/db/snapshots (pkg/etcd/snapshot.go snapshotDir),
//     named <etcd-snapshot-name>-<node>-<unix seconds> ("etcd-snapshot" for
//     the schedule, "on-demand" for `k3s etcd-snapshot save`), with ".zip"
//     when compressed (pkg/etcd/snapshot/types.go);
//   - embedded etcd lives in <data-dir>/server/db/etcd, SQLite in
//     <data-dir>/server/db/state.db (pkg/etcd/etcd.go DBDir, sqliteFile).
//
// The directory is read with a bound (MaxEntries) and without following a
// symbolic link. Snapshots K3s uploaded to S3 are listed by the API
// (ETCDSnapshotFile objects, `kubectl get etcdsnapshotfile`), which this
// package does not ask.
//
// Typical use:
//
//	st := etcdsnapshot.Read(etcdsnapshot.Options{Root: "/", Role: role, HasK3s: true})
//	fmt.Println(st.Line())
package etcdsnapshot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
)

// Paths and defaults of K3s (see the package comment).
const (
	ConfigPath       = "/etc/rancher/k3s/config.yaml"
	DefaultDataDir   = "/var/lib/rancher/k3s"
	DefaultSchedule  = "0 */12 * * *"
	snapshotsRelPath = "server/db/snapshots"
	etcdRelPath      = "server/db/etcd"
	sqliteRelPath    = "server/db/state.db"
)

// States of a Status.
const (
	StateFound      = "found"       // File is the newest snapshot
	StateNone       = "none"        // an etcd server with no snapshot yet
	StateDisabled   = "disabled"    // none, and etcd-disable-snapshots is set
	StateNotStarted = "not-started" // K3s has not made its datastore yet
	StateSQLite     = "sqlite"      // the server's datastore is SQLite
	StateExternal   = "external"    // the server uses datastore-endpoint
	StateAgent      = "agent"       // agents keep no snapshots
	StateNoRole     = "no-role"     // the node's role is not decided yet
	StateNoK3s      = "no-k3s"      // the image has no K3s
	StateError      = "error"       // the files could not be read: Error says why
)

// Options says where to look and what the node is.
type Options struct {
	// Root is the host root ("/" on the node).
	Root string
	// Role is the node's decided role (nodeconfig.RoleServer or RoleAgent),
	// "" before it is decided.
	Role string
	// HasK3s says the image carries K3s.
	HasK3s bool
	// MaxEntries bounds the directory entries read; 0 means MaxEntries.
	MaxEntries int
}

// Status is the etcd snapshot line of `firstboot status`, and its JSON.
type Status struct {
	State string `json:"state"`
	// File is the newest local snapshot, with State "found".
	File *File `json:"file,omitempty"`
	// Dir is the snapshot directory (on a server).
	Dir string `json:"dir,omitempty"`
	// Count is how many snapshots Dir holds (of the entries read).
	Count int `json:"count,omitempty"`
	// Scanned is how many entries of Dir were read.
	Scanned int `json:"scanned,omitempty"`
	// Truncated: Dir has more entries than the bound; File is the newest
	// of those read.
	Truncated bool `json:"truncated,omitempty"`
	// Schedule is K3s's etcd-snapshot-schedule-cron (its default if unset).
	Schedule string `json:"schedule,omitempty"`
	// S3: K3s also uploads snapshots to S3 (etcd-s3).
	S3 bool `json:"s3,omitempty"`
	// Datastore is the path that says the server is on SQLite.
	Datastore string `json:"datastore,omitempty"`
	Error     string `json:"error,omitempty"`
}

// Read finds the newest local snapshot, or why there is none. It does not
// fail: a file it cannot read makes a Status with State "error".
func Read(o Options) Status {
	switch {
	case !o.HasK3s:
		return Status{State: StateNoK3s}
	case o.Role == nodeconfig.RoleAgent:
		return Status{State: StateAgent}
	case o.Role != nodeconfig.RoleServer:
		return Status{State: StateNoRole}
	}
	s, err := readSettings(o.Root, ConfigPath)
	if err != nil {
		return Status{State: StateError, Error: err.Error()}
	}
	if s.datastoreEndpoint != "" {
		return Status{State: StateExternal}
	}
	st, err := readServer(o, s)
	if err != nil {
		st.State, st.Error = StateError, err.Error()
	}
	return st
}

// readServer looks at a server's snapshot directory and datastore.
func readServer(o Options, s settings) (Status, error) {
	st := Status{Schedule: s.schedule, S3: s.s3}
	if st.Schedule == "" {
		st.Schedule = DefaultSchedule
	}
	dataDir := s.dataDir
	if dataDir == "" {
		dataDir = DefaultDataDir
	}
	st.Dir = s.snapshotDir
	if st.Dir == "" {
		st.Dir = path.Join(dataDir, snapshotsRelPath)
	}
	for _, p := range []struct{ key, value string }{{"data-dir", dataDir}, {"etcd-snapshot-dir", st.Dir}} {
		if !path.IsAbs(p.value) {
			return st, fmt.Errorf("%s %q in %s: want an absolute path", p.key, p.value, ConfigPath)
		}
	}
	l, err := list(o, st.Dir)
	if err != nil {
		return st, err
	}
	st.Count, st.Scanned, st.Truncated = l.count, l.read, l.truncated
	if l.newest != nil {
		st.State, st.File = StateFound, l.newest
		return st, nil
	}
	etcd, err := exists(o.Root, path.Join(dataDir, etcdRelPath))
	if err != nil {
		return st, err
	}
	sqlite, err := exists(o.Root, path.Join(dataDir, sqliteRelPath))
	if err != nil {
		return st, err
	}
	switch {
	case etcd && s.disableSnapshots:
		st.State = StateDisabled
	case etcd:
		st.State = StateNone
	case sqlite:
		st.State, st.Datastore = StateSQLite, path.Join(dataDir, sqliteRelPath)
	default:
		st.State = StateNotStarted
	}
	return st, nil
}

// list scans the snapshot directory; a missing one lists nothing.
func list(o Options, dir string) (listing, error) {
	d, err := openDir(o.Root, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return listing{}, nil
	}
	if err != nil {
		return listing{}, err
	}
	defer d.Close()
	max := o.MaxEntries
	if max <= 0 {
		max = MaxEntries
	}
	return scan(d, max)
}

// exists says whether p (absolute) exists under root, not following a
// final symbolic link.
func exists(root, p string) (bool, error) {
	_, err := os.Lstat(filepath.Join(root, p))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, err
	}
}
