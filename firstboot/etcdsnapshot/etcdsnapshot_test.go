package etcdsnapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/k3sconfig"
	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
)

// defaultSnapshots is K3s's default snapshot directory.
const defaultSnapshots = DefaultDataDir + "/server/db/snapshots"

// serverRoot is a root laid out as a K3s server's: the config.yaml
// firstboot renders for the initial server (package k3sconfig, with the
// site's schedule and, with s3, an S3 bucket) and K3s's etcd directory.
func serverRoot(t *testing.T, s3 bool) string {
	t.Helper()
	root := t.TempDir()
	snaps := &nodeconfig.EtcdSnapshots{Schedule: "0 */6 * * *", Retention: 5}
	in := k3sconfig.Input{Role: nodeconfig.RoleServer, ClusterInit: true, TokenFile: nodeconfig.TokenPath, EtcdSnapshots: snaps}
	if s3 {
		snaps.S3 = &nodeconfig.EtcdS3{Endpoint: "minio.internal:9000", Bucket: "etcd-snapshots"}
	}
	data, err := k3sconfig.Render(in)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, root, ConfigPath, string(data))
	mkdir(t, root, DefaultDataDir+"/server/db/etcd/member/wal")
	return root
}

func writeFile(t *testing.T, root, p, content string) {
	t.Helper()
	mkdir(t, root, filepath.Dir(p))
	if err := os.WriteFile(filepath.Join(root, p), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, root, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(root, p), 0o700); err != nil {
		t.Fatal(err)
	}
}

func server(root string) Options {
	return Options{Root: root, Role: nodeconfig.RoleServer, HasK3s: true}
}

// TestNewestSnapshot: scheduled, on-demand and compressed snapshots as K3s
// names them; the newest by the time in the name wins, whatever the
// mtimes say; .metadata (beside the directory, as K3s keeps it) is not
// a snapshot.
func TestNewestSnapshot(t *testing.T) {
	root := serverRoot(t, true)
	writeFile(t, root, defaultSnapshots+"/etcd-snapshot-ctrl-1-1796558400", strings.Repeat("x", 3<<20))
	writeFile(t, root, defaultSnapshots+"/on-demand-ctrl-1-1796540400", "x")
	writeFile(t, root, defaultSnapshots+"/etcd-snapshot-ctrl-1-1796562000.zip", strings.Repeat("z", 12897485))
	writeFile(t, root, DefaultDataDir+"/server/db/.metadata/etcd-snapshot-ctrl-1-1796562000.zip", "{}")
	// The oldest by name is the newest by mtime: K3s goes by the name.
	if err := os.Chtimes(filepath.Join(root, defaultSnapshots, "on-demand-ctrl-1-1796540400"), time.Time{}, time.Now()); err != nil {
		t.Fatal(err)
	}

	st := Read(server(root))
	if st.State != StateFound || st.File == nil || st.Count != 3 || st.Truncated || !st.S3 {
		t.Fatalf("Read = %+v", st)
	}
	want := File{Name: "etcd-snapshot-ctrl-1-1796562000.zip", Time: time.Date(2026, 12, 6, 13, 0, 0, 0, time.UTC), Size: 12897485, Compressed: true}
	if *st.File != want {
		t.Errorf("File = %+v, want %+v", *st.File, want)
	}
	wantLine := "etcd snapshot: etcd-snapshot-ctrl-1-1796562000.zip (2026-12-06 13:00 UTC, 12.3 MiB, local; 3 in /var/lib/rancher/k3s/server/db/snapshots)" +
		"; copies on S3: `kubectl get etcdsnapshotfile`"
	if got := st.Line(); got != wantLine {
		t.Errorf("Line =\n%s\nwant\n%s", got, wantLine)
	}
}

// TestTimeFromMtime: a file whose name does not end in a Unix time (an
// operator's copy) is dated by its mtime, as K3s dates it.
func TestTimeFromMtime(t *testing.T) {
	root := serverRoot(t, false)
	writeFile(t, root, defaultSnapshots+"/etcd-snapshot-ctrl-1-1796558400", "a")
	writeFile(t, root, defaultSnapshots+"/before-upgrade", "b")
	mtime := time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(root, defaultSnapshots, "before-upgrade"), mtime, mtime); err != nil {
		t.Fatal(err)
	}
	st := Read(server(root))
	if st.File == nil || st.File.Name != "before-upgrade" || !st.File.Time.Equal(mtime) || st.File.Compressed {
		t.Errorf("Read = %+v, file %+v; want before-upgrade at %s", st, st.File, mtime)
	}
}

// TestNoSnapshotYet: the lines of a server with etcd and no snapshot, with
// and without the directory K3s creates, and with snapshots turned off.
func TestNoSnapshotYet(t *testing.T) {
	root := serverRoot(t, false)
	want := "etcd snapshot: none yet in /var/lib/rancher/k3s/server/db/snapshots (K3s takes them at \"0 */6 * * *\"; take one now with `k3s etcd-snapshot save`)"
	if st := Read(server(root)); st.State != StateNone || st.Line() != want {
		t.Errorf("no directory: %+v\n%s\nwant\n%s", st, st.Line(), want)
	}
	mkdir(t, root, defaultSnapshots)
	if st := Read(server(root)); st.State != StateNone || st.Line() != want {
		t.Errorf("empty directory: %+v\n%s", st, st.Line())
	}

	writeFile(t, root, ConfigPath, "cluster-init: true\n")
	if got, want := Read(server(root)).Line(), "etcd snapshot: none yet in /var/lib/rancher/k3s/server/db/snapshots (K3s takes them at \"0 */12 * * *\", every 12 hours; take one now with `k3s etcd-snapshot save`)"; got != want {
		t.Errorf("K3s's default schedule:\n%s\nwant\n%s", got, want)
	}
	writeFile(t, root, ConfigPath+".d/90-off.yaml", "etcd-disable-snapshots: true\n")
	if st := Read(server(root)); st.State != StateDisabled || !strings.Contains(st.Line(), "scheduled snapshots are off (etcd-disable-snapshots)") {
		t.Errorf("disabled: %+v\n%s", st, st.Line())
	}
}

// TestWhyNone: the nodes that keep no snapshot say why.
func TestWhyNone(t *testing.T) {
	sqlite := t.TempDir()
	writeFile(t, sqlite, DefaultDataDir+"/server/db/state.db", "SQLite format 3\x00")
	notStarted := t.TempDir()
	external := t.TempDir()
	writeFile(t, external, ConfigPath, "datastore-endpoint: postgres://db.internal/k3s\n")

	for _, c := range []struct {
		name  string
		o     Options
		state string
		line  string
	}{
		{"sqlite", server(sqlite), StateSQLite, "etcd snapshot: none: this server's datastore is SQLite (/var/lib/rancher/k3s/server/db/state.db), which K3s does not snapshot; back up its directory with K3s stopped (docs/operations.md)"},
		{"not started", server(notStarted), StateNotStarted, "etcd snapshot: none yet: K3s has not created its datastore on this server"},
		{"external", server(external), StateExternal, "etcd snapshot: none: K3s keeps its data in an external datastore (datastore-endpoint); back that up"},
		{"agent", Options{Root: sqlite, Role: nodeconfig.RoleAgent, HasK3s: true}, StateAgent, "etcd snapshot: none on an agent: K3s keeps etcd snapshots on the servers"},
		{"no role", Options{Root: sqlite, HasK3s: true}, StateNoRole, "etcd snapshot: not known yet (no role decided)"},
		{"no K3s", Options{Root: sqlite, Role: nodeconfig.RoleServer}, StateNoK3s, "etcd snapshot: none (no K3s in this image)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := Read(c.o)
			if st.State != c.state || st.Line() != c.line {
				t.Errorf("Read = %+v\n%s\nwant state %s\n%s", st, st.Line(), c.state, c.line)
			}
		})
	}
}

// TestSnapshotDirFromConfig: etcd-snapshot-dir and data-dir are taken from
// config.yaml and its drop-ins, merged as K3s merges them.
func TestSnapshotDirFromConfig(t *testing.T) {
	root := serverRoot(t, false)
	writeFile(t, root, ConfigPath+".d/10-data.yml", "d: /srv/k3s\n")
	writeFile(t, root, ConfigPath+".d/20-snap.YAML", "etcd-snapshot-dir: /srv/wrong\n")
	writeFile(t, root, ConfigPath+".d/30-snap.yaml", "etcd-snapshot-dir+: /srv/snaps\n")
	writeFile(t, root, ConfigPath+".d/40-ignored.conf", "etcd-snapshot-dir: /srv/ignored\n")
	mkdir(t, root, ConfigPath+".d/50-dir.yaml")
	writeFile(t, root, "/srv/snaps/on-demand-ctrl-1-1796562000", "s")
	writeFile(t, root, "/srv/ignored/on-demand-ctrl-1-1896562000", "s")

	st := Read(server(root))
	if st.State != StateFound || st.Dir != "/srv/snaps" || st.File.Name != "on-demand-ctrl-1-1796562000" {
		t.Errorf("Read = %+v", st)
	}

	// data-dir moves the default directory and the datastore.
	root = t.TempDir()
	writeFile(t, root, ConfigPath, "data-dir: /data/k3s\n")
	writeFile(t, root, "/data/k3s/server/db/state.db", "")
	if st := Read(server(root)); st.State != StateSQLite || st.Dir != "/data/k3s/server/db/snapshots" || st.Datastore != "/data/k3s/server/db/state.db" {
		t.Errorf("data-dir: %+v", st)
	}
}

// TestConfigRefused: config files the line cannot trust give an error
// line, never a guess.
func TestConfigRefused(t *testing.T) {
	for _, c := range []struct {
		name, file, content, want string
	}{
		{"relative dir", ConfigPath, "etcd-snapshot-dir: snaps\n", `etcd-snapshot-dir "snaps" in /etc/rancher/k3s/config.yaml: want an absolute path`},
		{"bad flag", ConfigPath, "etcd-s3: maybe\n", `/etc/rancher/k3s/config.yaml: line 1: etcd-s3: want true or false, got "maybe"`},
		{"not a mapping", ConfigPath + ".d/1.yaml", "- a\n", "/etc/rancher/k3s/config.yaml.d/1.yaml: line 1: want a mapping of K3s flags"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := serverRoot(t, false)
			writeFile(t, root, c.file, c.content)
			st := Read(server(root))
			if st.State != StateError || st.Line() != "etcd snapshot: cannot tell: "+c.want {
				t.Errorf("Read = %+v\n%s\nwant ...%s", st, st.Line(), c.want)
			}
		})
	}

	root := serverRoot(t, false)
	writeFile(t, root, "/outside.yaml", "etcd-snapshot-dir: /etc\n")
	mkdir(t, root, ConfigPath+".d")
	if err := os.Symlink(filepath.Join(root, "outside.yaml"), filepath.Join(root, ConfigPath+".d/50-link.yaml")); err != nil {
		t.Fatal(err)
	}
	if st := Read(server(root)); st.State != StateError || !strings.Contains(st.Error, "50-link.yaml") || !strings.Contains(st.Error, "symbolic link") {
		t.Errorf("symlinked drop-in: %+v", st)
	}
	root = serverRoot(t, false)
	for i := range maxDropIns + 1 {
		writeFile(t, root, fmt.Sprintf("%s.d/%03d.yaml", ConfigPath, i), "")
	}
	if st := Read(server(root)); st.State != StateError || st.Error != "/etc/rancher/k3s/config.yaml.d: more than 256 entries" {
		t.Errorf("too many drop-ins: %+v", st)
	}
}
