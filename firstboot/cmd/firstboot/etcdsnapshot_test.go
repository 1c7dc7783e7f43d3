package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/agent"
	"github.com/ml-appliance/appliance/firstboot/etcdsnapshot"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// noK3sSnapshot is the etcd snapshot line of a root without K3s.
const noK3sSnapshot = "etcd snapshot: none (no K3s in this image)\n"

// TestStatusShowsEtcdSnapshot: on a server with K3s, `firstboot status`
// prints the newest snapshot K3s keeps, and its JSON carries it; on an
// agent it says why there is none.
func TestStatusShowsEtcdSnapshot(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, payload.K3sBinaryPath), "k3s stand-in: only its presence is looked at")
	writeFile(t, filepath.Join(root, agent.StateDir, "steps/decide-role.json"),
		`{"step":"decide-role","completed":"2026-12-01T10:00:00Z","values":{"role":"server","clusterInit":"true","hostname":"ctrl-1"}}`)
	writeFile(t, filepath.Join(root, payload.K3sConfigPath), "cluster-init: true\netcd-snapshot-schedule-cron: \"0 */6 * * *\"\n")
	writeFile(t, filepath.Join(root, "var/lib/rancher/k3s/server/db/snapshots/etcd-snapshot-ctrl-1-1796562000"), strings.Repeat("e", 1<<20))

	text := statusOutput(t, root)
	want := "\netcd snapshot: etcd-snapshot-ctrl-1-1796562000 (2026-12-06 13:00 UTC, 1.0 MiB, local; 1 in /var/lib/rancher/k3s/server/db/snapshots)\n"
	if !strings.Contains(text, want) {
		t.Errorf("status printed:\n%s\nwant a line%s", text, want)
	}

	text = statusOutput(t, root, "-o", "json")
	var rep statusReport
	if err := json.Unmarshal([]byte(text), &rep); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, text)
	}
	s := rep.EtcdSnapshot
	if s.State != etcdsnapshot.StateFound || s.File == nil || s.File.Name != "etcd-snapshot-ctrl-1-1796562000" || s.File.Size != 1<<20 ||
		s.Schedule != "0 */6 * * *" || !strings.Contains(text, `"etcdSnapshot": {`) {
		t.Errorf("status JSON = %s", text)
	}

	writeFile(t, filepath.Join(root, agent.StateDir, "steps/decide-role.json"),
		`{"step":"decide-role","completed":"2026-12-01T10:00:00Z","values":{"role":"agent","hostname":"gpu-1"}}`)
	if text := statusOutput(t, root); !strings.Contains(text, "\netcd snapshot: none on an agent: K3s keeps etcd snapshots on the servers\n") {
		t.Errorf("agent's status printed:\n%s", text)
	}
}

// statusOutput runs `firstboot status --root root args...` and returns
// what it printed, failing the test on a non-zero exit.
func statusOutput(t *testing.T, root string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), append([]string{"status", "--root", root}, args...), &stdout, &stderr); code != 0 {
		t.Fatalf("status %v: code %d, %s", args, code, stderr.String())
	}
	return stdout.String()
}
