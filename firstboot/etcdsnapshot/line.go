package etcdsnapshot

import (
	"fmt"
	"strings"
)

// saveHint is how an operator takes a snapshot now (on a server, with K3s
// running: the CLI asks the server, pkg/etcd/snapshot_handler.go).
const saveHint = "take one now with `k3s etcd-snapshot save`"

// Line is the status line, starting "etcd snapshot: ".
func (s Status) Line() string {
	var b strings.Builder
	b.WriteString("etcd snapshot: ")
	switch s.State {
	case StateFound:
		f := s.File
		fmt.Fprintf(&b, "%s (%s, %s, local; %d in %s", f.Name, f.Time.UTC().Format("2006-01-02 15:04 MST"), mib(f.Size), s.Count, s.Dir)
		if s.Truncated {
			fmt.Fprintf(&b, "; the directory holds more than the %d entries read", s.Scanned)
		}
		b.WriteString(")")
		if s.S3 {
			b.WriteString("; copies on S3: `kubectl get etcdsnapshotfile`")
		}
	case StateNone:
		fmt.Fprintf(&b, "none yet in %s (%s; %s)", s.Dir, scheduleText(s.Schedule), saveHint)
	case StateDisabled:
		fmt.Fprintf(&b, "none in %s: scheduled snapshots are off (etcd-disable-snapshots); %s", s.Dir, saveHint)
	case StateNotStarted:
		b.WriteString("none yet: K3s has not created its datastore on this server")
	case StateSQLite:
		fmt.Fprintf(&b, "none: this server's datastore is SQLite (%s), which K3s does not snapshot; back up its directory with K3s stopped (docs/operations.md)", s.Datastore)
	case StateExternal:
		b.WriteString("none: K3s keeps its data in an external datastore (datastore-endpoint); back that up")
	case StateAgent:
		b.WriteString("none on an agent: K3s keeps etcd snapshots on the servers")
	case StateNoRole:
		b.WriteString("not known yet (no role decided)")
	case StateNoK3s:
		b.WriteString("none (no K3s in this image)")
	default:
		fmt.Fprintf(&b, "cannot tell: %s", s.Error)
	}
	return b.String()
}

// scheduleText says when K3s takes snapshots.
func scheduleText(schedule string) string {
	if schedule == DefaultSchedule {
		return fmt.Sprintf("K3s takes them at %q, every 12 hours", schedule)
	}
	return fmt.Sprintf("K3s takes them at %q", schedule)
}

// mib is a size in MiB with one decimal: etcd snapshots are megabytes
// to a few gigabytes.
func mib(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
