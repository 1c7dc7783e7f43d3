package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/firstboot/upgradecluster"
	"github.com/ml-appliance/appliance/internal/kubetest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// TestUpgradeWatchUnitArgs: the flags the watcher's unit passes are the
// command's.
func TestUpgradeWatchUnitArgs(t *testing.T) {
	var exec string
	for _, l := range strings.Split(payload.UpgradeWatchUnit(), "\n") {
		if rest, ok := strings.CutPrefix(l, "ExecStart="+payload.BinaryPath+" upgrade watch"); ok {
			exec = rest
		}
	}
	if exec == "" {
		t.Fatal("unit runs no `firstboot upgrade watch`")
	}
	cmd := newUpgradeWatchCmd(func() (upgradecluster.Local, error) { return nil, errors.New("unused") })
	if err := cmd.ParseFlags(strings.Fields(exec)); err != nil {
		t.Errorf("unit's arguments %q: %v", exec, err)
	}
}

// TestUpgradeClusterCLI runs `upgrade cluster` and `upgrade watch` on one
// server against a real API server: the watcher applies what the cluster
// command asks, the cluster command finishes once the watcher (started
// again, as after the reboot) reports the release, and a second run
// without a bundle goes on from the progress file.
func TestUpgradeClusterCLI(t *testing.T) {
	cfg := kubetest.Start(t)
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := kubetest.WriteKubeconfig(kubeconfig, cfg); err != nil {
		t.Fatal(err)
	}
	boot, err := bootID()
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(cfg)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "s1", Labels: map[string]string{"node-role.kubernetes.io/control-plane": "true"}}}
	if node, err = client.CoreV1().Nodes().Create(t.Context(), node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	node.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	node.Status.NodeInfo.BootID = boot
	node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.0.2.7"}}
	if _, err := client.CoreV1().Nodes().UpdateStatus(t.Context(), node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	stateDir := filepath.Join(dir, "state")
	var staged []string
	stage := func(_ context.Context, src, into string) (upgradecluster.Bundle, error) {
		staged = append(staged, src+" -> "+into)
		d := filepath.Join(into, "lab-upgrade")
		return upgradecluster.Bundle{Dir: d, Site: "lab", Release: "1.1.0"}, os.MkdirAll(d, 0o755)
	}
	local := &cliLocalDouble{release: "1.0.0"}
	watch := func() <-chan error {
		done := make(chan error, 1)
		go func() {
			cmd := newUpgradeWatchCmd(func() (upgradecluster.Local, error) { return local, nil })
			cmd.SetArgs([]string{"--kubeconfig", kubeconfig, "--node", "s1", "--poll", "50ms"})
			cmd.SetOut(&bytes.Buffer{})
			cmd.SilenceErrors, cmd.SilenceUsage = true, true
			done <- cmd.ExecuteContext(t.Context())
		}()
		return done
	}
	cluster := func(args ...string) (string, error) {
		var out bytes.Buffer
		cmd := newUpgradeClusterCmd(stage)
		cmd.SetArgs(append([]string{"--kubeconfig", kubeconfig, "--node", "S1", "--state-dir", stateDir, "--listen", "127.0.0.1:0", "--timeout", "20s", "--poll", "50ms"}, args...))
		cmd.SetOut(&out)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		err := cmd.ExecuteContext(t.Context())
		return out.String(), err
	}

	firstBoot := watch()
	published(t, client, "s1", boot)
	result := make(chan error, 1)
	var out string
	go func() {
		var err error
		out, err = cluster("/media/usb/lab-upgrade")
		result <- err
	}()
	select {
	case err := <-firstBoot: // the watcher applied and asked for a reboot
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the watcher never rebooted")
	}
	if want := "http://192.0.2.7:8081/lab-upgrade/manifest.json"; local.applied() != want {
		t.Errorf("applied %q, want %q", local.applied(), want)
	}
	local.back("1.1.0")
	watch()
	if err := <-result; err != nil {
		t.Fatalf("upgrade cluster: %v\n%s", err, out)
	}
	if !strings.Contains(out, "upgrade: done: 1 nodes on 1.1.0\n") || len(staged) != 1 || staged[0] != "/media/usb/lab-upgrade -> "+stateDir {
		t.Errorf("staged %v; output:\n%s", staged, out)
	}

	again, err := cluster()
	if err != nil || !strings.Contains(again, "upgrade: node s1: on 1.1.0 (done earlier)") || len(staged) != 1 {
		t.Errorf("upgrade cluster without a bundle: %v, staged %v\n%s", err, staged, again)
	}
}

// published waits until the node's watcher published in boot.
func published(t *testing.T, client kubernetes.Interface, name, boot string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		n, err := client.CoreV1().Nodes().Get(t.Context(), name, metav1.GetOptions{})
		if err == nil && n.Annotations[upgradecluster.AnnotationBootID] == boot {
			return
		}
	}
	t.Fatalf("node %s: its watcher did not publish in 20 s", name)
}

// cliLocalDouble is a test double of upgradecluster.Local: Apply records
// the URL, Reboot does nothing, back plays the next boot's outcome.
type cliLocalDouble struct {
	mu      sync.Mutex
	release string
	url     string
	result  upgradecluster.Result
}

func (l *cliLocalDouble) Release() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.release
}
func (l *cliLocalDouble) Medium() string { return upgradecluster.MediumDisk }
func (l *cliLocalDouble) LastResult() upgradecluster.Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.result
}
func (l *cliLocalDouble) Apply(_ context.Context, url string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.url = url
	return nil
}
func (l *cliLocalDouble) Reboot() error { return nil }
func (l *cliLocalDouble) applied() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.url
}
func (l *cliLocalDouble) back(release string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.release = release
	l.result = upgradecluster.Result{Release: release, State: upgradecluster.StateBlessed}
}
