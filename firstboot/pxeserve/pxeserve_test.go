package pxeserve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

func superblock(used uint64) []byte {
	sb := make([]byte, 96)
	binary.LittleEndian.PutUint32(sb, squashfsMagic)
	binary.LittleEndian.PutUint64(sb[40:], used)
	return sb
}

func TestSquashfsSize(t *testing.T) {
	for _, c := range []struct {
		data []byte
		end  int64
		want int64
		err  string
	}{
		{data: superblock(5000), end: 1 << 20, want: 8192},
		{data: superblock(8192), end: 1 << 20, want: 8192},
		{data: superblock(5000), end: 6000, want: 6000}, // an unpadded file
		{data: superblock(7000), end: 6000, err: "squashfs says it uses 7000 bytes of 6000"},
		{data: make([]byte, 96), end: 96, err: "no squashfs superblock"},
	} {
		got, err := SquashfsSize(bytes.NewReader(c.data), c.end)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("SquashfsSize: %v, want %q", err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("SquashfsSize(used %d, end %d) = %d, %v; want %d", binary.LittleEndian.Uint64(c.data[40:]), c.end, got, err, c.want)
		}
	}
}

func TestMountSource(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mountinfo")
	os.WriteFile(path, []byte(`22 1 0:21 / / rw,relatime - overlay overlay rw,lowerdir=/run/appliance/os
30 22 7:0 / /run/appliance/os ro,relatime shared:2 - squashfs /dev/loop0 ro,errors=continue
31 22 8:1 / /mnt/with\040space rw - ext4 /dev/sda1 rw
`), 0o644)
	for mp, want := range map[string]string{"/run/appliance/os": "/dev/loop0", "/mnt/with space": "/dev/sda1"} {
		if got, err := MountSource(path, mp); err != nil || got != want {
			t.Errorf("MountSource(%s) = %q, %v; want %q", mp, got, err, want)
		}
	}
	if _, err := MountSource(path, "/nowhere"); err == nil || !strings.Contains(err.Error(), "nothing is mounted at /nowhere") {
		t.Errorf("MountSource(/nowhere): %v", err)
	}
}

func TestDefaultInterface(t *testing.T) {
	path := filepath.Join(t.TempDir(), "route")
	os.WriteFile(path, []byte("Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"+
		"enp1s0\t0009D50A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"+
		"enp2s0\t00000000\t0109D50A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"), 0o644)
	if got, err := DefaultInterface(path); err != nil || got != "enp2s0" {
		t.Errorf("DefaultInterface = %q, %v; want enp2s0", got, err)
	}
}

// TestPrepareAndServe serves a bundle like the one the builder bakes, with
// a real squashfs at the start of a larger "partition", on loopback.
func TestPrepareAndServe(t *testing.T) {
	if _, err := exec.LookPath("mksquashfs"); err != nil {
		t.Fatal("needs mksquashfs (Debian package squashfs-tools)")
	}
	work := t.TempDir()
	src := filepath.Join(work, "src")
	os.MkdirAll(filepath.Join(src, "etc"), 0o755)
	os.WriteFile(filepath.Join(src, "etc", "os-release"), []byte("ID=debian\n"), 0o644)
	image := filepath.Join(work, "os.squashfs")
	if out, err := exec.Command("mksquashfs", src, image, "-quiet", "-noappend").CombinedOutput(); err != nil {
		t.Fatalf("mksquashfs: %v\n%s", err, out)
	}
	want, err := os.ReadFile(image)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(want)
	digest := hex.EncodeToString(sum[:])
	partition := filepath.Join(work, "os-a")
	os.WriteFile(partition, append(append([]byte{}, want...), bytes.Repeat([]byte{0xA5}, 1<<20)...), 0o644)

	bundle := filepath.Join(work, "bundle")
	for name, content := range map[string]string{
		payload.PXEScriptTemplate:             "#!ipxe\nkernel vmlinuz appliance.os.sha256=" + payload.PXEOSDigest + "\n",
		payload.PXEServeConfigFile:            `{"dhcp":"off"}`,
		"vmlinuz":                             "kernel",
		"nodes/agent.yaml":                    "#cloud-config\nappliance: {role: agent}\n",
		payload.PXETFTPDir + "/undionly.kpxe": "ipxe",
	} {
		os.MkdirAll(filepath.Dir(filepath.Join(bundle, name)), 0o755)
		os.WriteFile(filepath.Join(bundle, name), []byte(content), 0o644)
	}
	var console bytes.Buffer
	p, err := Prepare(Options{
		BundleDir: bundle, RuntimeDir: filepath.Join(work, "run"), OSImage: partition,
		HTTPAddr: "127.0.0.1:0", TFTPAddr: "127.0.0.1:0", ServerIP: netip.MustParseAddr("127.0.0.1"),
		Log: log.New(&console, "", 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Digest != digest {
		t.Fatalf("digest %s, want the image's %s", p.Digest, digest)
	}
	// Serve on a port picked here: Prepared knows no address until it serves.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p.opts.HTTPAddr = addr
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	get := func(name string) string {
		t.Helper()
		var resp *http.Response
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if resp, err = http.Get("http://" + addr + "/" + name); err == nil || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", name, resp.Status)
		}
		return string(body)
	}
	if got := get(bootparam.PXEOSImage); got != string(want) {
		t.Errorf("GET os.squashfs: %d bytes, want the image's %d (not the partition's padding)", len(got), len(want))
	}
	if got := get(bootparam.PXEBootScript); got != "#!ipxe\nkernel vmlinuz appliance.os.sha256="+digest+"\n" {
		t.Errorf("GET boot.ipxe = %q", got)
	}
	if got := get("nodes/agent.yaml"); !strings.Contains(got, "role: agent") {
		t.Errorf("GET nodes/agent.yaml = %q", got)
	}
	for _, hidden := range []string{payload.PXEServeConfigFile, payload.PXEScriptTemplate} {
		if resp, err := http.Get("http://" + addr + "/" + hidden); err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s: %s, want 404", hidden, resp.Status)
			}
		}
	}
	if !strings.Contains(console.String(), "sha256 "+digest) || !strings.Contains(console.String(), "serving the PXE bundle at http://127.0.0.1:") {
		t.Errorf("console:\n%s", console.String())
	}
}
