package agent

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
)

// testConfig is the baked node config of the fixtures.
var testConfig = nodeconfig.Config{
	APIVersion:  nodeconfig.APIVersion,
	Kind:        nodeconfig.Kind,
	Site:        "ml-lab",
	DefaultRole: nodeconfig.RoleAgent,
	Nodes: []nodeconfig.Node{
		{Hostname: "ctrl-1", MAC: "52:54:00:00:00:01", Role: nodeconfig.RoleServer, Init: true},
		{Hostname: "ctrl-2", MAC: "52:54:00:00:00:02", Role: nodeconfig.RoleServer},
	},
	SSHAuthorizedKeys: []string{"ssh-ed25519 AAAAC3Nza ops@example"},
}

const testBootID = "3f1c0e52-9d1a-4f1e-8a57-2b3c4d5e6f70\n"

// fixture describes a fake host root.
type fixture struct {
	config nodeconfig.Config
	// nics maps NIC name to MAC; all get a device link (physical).
	nics map[string]string
	// stateImage, when set, is an ext4 image placed at /dev/vda4 and listed
	// in mountinfo as mounted at bootparam.StateMount.
	stateImage string
}

// newRoot builds a fake host root for f in a temp dir.
func newRoot(t *testing.T, f fixture) string {
	t.Helper()
	root := t.TempDir()
	data, err := nodeconfig.Marshal(f.config)
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, root, nodeconfig.Path, string(data))
	writeTestFile(t, root, "/proc/sys/kernel/random/boot_id", testBootID)
	writeTestFile(t, root, "/proc/cmdline", "BOOT_IMAGE=/vmlinuz appliance.os=PARTLABEL=OS-A console=ttyS0,115200\n")
	writeTestFile(t, root, "/sys/class/net/lo/address", "00:00:00:00:00:00\n")
	for name, mac := range f.nics {
		writeTestFile(t, root, "/sys/class/net/"+name+"/address", mac+"\n")
		if err := os.MkdirAll(filepath.Join(root, "sys/class/net", name, "device"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "sys/class/block"), 0o755); err != nil {
		t.Fatal(err)
	}
	mountinfo := "22 1 0:21 / / ro,relatime shared:1 - overlay overlay rw\n"
	if f.stateImage != "" {
		if err := os.MkdirAll(filepath.Join(root, "dev"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(f.stateImage, filepath.Join(root, "dev/vda4")); err != nil {
			t.Fatal(err)
		}
		mountinfo += "30 22 254:4 / /run/appliance/state rw,relatime shared:9 - ext4 /dev/vda4 rw\n"
	}
	writeTestFile(t, root, "/proc/self/mountinfo", mountinfo)
	return root
}

func writeTestFile(t *testing.T, root, path, content string) {
	t.Helper()
	p := filepath.Join(root, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// makeExt4 makes an ext4 image of sizeKiB, then extends the file to
// growKiB, as a partition grown by the initramfs looks.
func makeExt4(t *testing.T, sizeKiB, growKiB int64) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "state.img")
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-L", "STATE", "-b", "4096", img, fmt.Sprintf("%dK", sizeKiB)).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	if err := os.Truncate(img, growKiB*1024); err != nil {
		t.Fatal(err)
	}
	return img
}

// hostOutputs is what the fake host's tools answer: a network with a
// default route.
var hostOutputs = map[string]string{"ip -4 route show default": "default via 10.0.2.2 dev eth0 proto dhcp src 10.0.2.15 metric 1024\n"}

var testClock = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// newTestEnv returns an Env on root that writes to out, with a fixed clock,
// a keygenRunnerDouble tagged boot1 and no kernel hostname.
func newTestEnv(root string, out *bytes.Buffer, now time.Time) *Env {
	return &Env{Root: root, Out: out, Now: func() time.Time { return now }, Runner: &keygenRunnerDouble{tag: "boot1", outputs: hostOutputs}}
}

// keygenRunnerDouble is a test double for Runner: it fakes ssh-keygen with
// fixed key files (so end states compare byte for byte), runs resize2fs for
// real on the fixture's STATE image, and answers every other tool (the
// host's systemctl, ip, networkctl, and cloud-config commands) from
// outputs without running it. It records the commands it was given.
type keygenRunnerDouble struct {
	// tag goes into the private keys it writes, to tell boots apart.
	tag   string
	calls []string
	// outputs maps a command line to its output; failing lists command
	// lines that fail.
	outputs map[string]string
	failing map[string]bool
}

func (r *keygenRunnerDouble) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	line := name + " " + strings.Join(args, " ")
	r.calls = append(r.calls, line)
	switch name {
	case "resize2fs":
		return ExecRunner{}.Run(ctx, name, args...)
	case "ssh-keygen":
	default:
		if r.failing[line] {
			return []byte(r.outputs[line]), fmt.Errorf("%s: exit status 1", line)
		}
		return []byte(r.outputs[line]), nil
	}
	file := args[len(args)-1]
	if args[0] == "-l" {
		return []byte("256 SHA256:fake-" + filepath.Base(file) + " root@x (FAKE)\n"), nil
	}
	if args[0] == "-y" {
		return []byte("ssh-fake PUBLIC-OF-" + filepath.Base(file) + "\n"), nil
	}
	for i, a := range args {
		if a == "-f" {
			file = args[i+1]
		}
	}
	if err := os.WriteFile(file, []byte("PRIVATE "+r.tag+"\n"), 0o600); err != nil {
		return nil, err
	}
	return nil, os.WriteFile(file+".pub", []byte("ssh-fake PUBLIC-OF-"+strings.TrimPrefix(filepath.Base(file), ".tmp-")+"\n"), 0o644)
}

// snapshot maps every path under root (except the fake kernel trees and
// devices, which are inputs) to its mode and content, to compare end states.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	snap := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch strings.SplitN(rel, string(filepath.Separator), 2)[0] {
		case "dev", "proc", "sys":
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		entry := info.Mode().String()
		if d.Type().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			entry += " " + string(data)
		}
		snap[rel] = entry
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// diffSnapshots describes how two snapshots differ, "" when equal.
func diffSnapshots(got, want map[string]string) string {
	var b strings.Builder
	for p, w := range want {
		if g, ok := got[p]; !ok {
			fmt.Fprintf(&b, "missing %s\n", p)
		} else if g != w {
			fmt.Fprintf(&b, "%s:\n got  %q\n want %q\n", p, g, w)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			fmt.Fprintf(&b, "extra %s\n", p)
		}
	}
	return b.String()
}
