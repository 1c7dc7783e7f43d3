package k3simport

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/ml-appliance/appliance/internal/testfixture"
)

// containerdBinary is the daemon TestMain builds from this module's
// containerd (github.com/containerd/containerd/v2/cmd/containerd, the
// version go.mod pins).
var containerdBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "k3simport-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := 1
	if containerdBinary, err = buildContainerd(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildContainerd builds the containerd daemon into dir with $GO (else
// go). Without cgo the btrfs snapshotter is left out, which no test needs.
func buildContainerd(dir string) (string, error) {
	out := filepath.Join(dir, "containerd")
	start := time.Now()
	goCmd := os.Getenv("GO")
	if goCmd == "" {
		goCmd = "go"
	}
	cmd := exec.Command(goCmd, "build", "-trimpath", "-o", out, "github.com/containerd/containerd/v2/cmd/containerd")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build containerd: %w\n%s", err, b)
	}
	fmt.Fprintf(os.Stderr, "built containerd in %s\n", time.Since(start).Round(time.Second))
	return out, nil
}

// daemonConfig is K3s's containerd config reduced to what an import
// needs: its schema version (3, K3s's template pkg/agent/templates), the
// CRI plugins that answer kubelet, and no plugin that would touch the host
// outside the temp dir (NRI makes /var/run/nri) or need kernel features.
// Nothing is unpacked, so no snapshot is ever mounted.
const daemonConfig = `version = 3
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.nri.v1.nri", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.blockfile", "io.containerd.snapshotter.v1.erofs",
  "io.containerd.differ.v1.erofs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = %[3]q

[ttrpc]
  address = "%[3]s.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = %[4]q

[plugins."io.containerd.cri.v1.runtime"]
  cdi_spec_dirs = []
`

// daemon is a running containerd with a client and a CRI image service
// client on its socket: the two ways K3s (containerd client) and kubelet
// (CRI) reach it.
type daemon struct {
	client *containerd.Client
	cri    runtimeapi.ImageServiceClient
}

// startDaemon runs the containerd daemon with its root, state and socket
// under a temp dir and stops it when the test ends.
func startDaemon(t testing.TB) *daemon { return startDaemonWith(t, "") }

// startDaemonWith is startDaemon with extra appended to the daemon's
// config (TOML tables).
func startDaemonWith(t testing.TB, extra string) *daemon {
	t.Helper()
	dir := t.TempDir()
	sock := filepath.Join(dir, "containerd.sock")
	cfg := filepath.Join(dir, "config.toml")
	conf := fmt.Sprintf(daemonConfig, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, filepath.Join(dir, "opt")) + extra
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testfixture.StartProcess(t, containerdBinary, "--config", cfg)
	p.WaitReady(t, "containerd socket "+sock, 30*time.Second, func() error {
		_, err := os.Stat(sock)
		return err
	})
	client, err := containerd.New(sock, containerd.WithTimeout(10*time.Second))
	if err != nil {
		t.Fatalf("containerd client: %v", err)
	}
	t.Cleanup(func() { client.Close() })
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	d := &daemon{client: client, cri: runtimeapi.NewImageServiceClient(conn)}
	// The CRI plugin serves once it has loaded; kubelet waits the same way.
	p.WaitReady(t, "containerd's CRI image service", 30*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := d.cri.ListImages(ctx, &runtimeapi.ListImagesRequest{})
		return err
	})
	return d
}
