package pxe

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"pack.ag/tftp"

	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/firstboot/pxeserve"
	"github.com/ml-appliance/appliance/internal/bootserver"
)

// debianIPXE lays out iPXE binaries as Debian 12's ipxe package does:
// /usr/lib/ipxe/ipxe.efi is a symbolic link to /boot/ipxe.efi (an absolute
// path), /usr/lib/ipxe/undionly.kpxe a regular file. It returns the
// /usr/lib/ipxe stand-in, the /boot stand-in, and each binary's bytes.
func debianIPXE(t *testing.T) (tftpDir, bootDir string, want map[string][]byte) {
	t.Helper()
	host := t.TempDir()
	tftpDir, bootDir = filepath.Join(host, "usr", "lib", "ipxe"), filepath.Join(host, "boot")
	for _, d := range []string{tftpDir, bootDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	want = map[string][]byte{
		// Sizes not a multiple of the TFTP block size: the last block is short.
		bootserver.EFIBootFile:  randomBytes(t, 1428*200+77),
		bootserver.BIOSBootFile: randomBytes(t, 74213),
	}
	if err := os.WriteFile(filepath.Join(bootDir, bootserver.EFIBootFile), want[bootserver.EFIBootFile], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(bootDir, bootserver.EFIBootFile), filepath.Join(tftpDir, bootserver.EFIBootFile)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tftpDir, bootserver.BIOSBootFile), want[bootserver.BIOSBootFile], 0o644); err != nil {
		t.Fatal(err)
	}
	return tftpDir, bootDir, want
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestServableBundleServesTheIPXEBytesOverTFTP builds the bundle an
// initial server carries from a Debian-like iPXE directory, takes the
// build host's /boot away (the bundle runs on another machine, where a
// link to /boot/ipxe.efi points at nothing), and fetches both binaries
// over TFTP from the real `firstboot serve-pxe` server (package
// pxeserve) on loopback: the bytes served must be the build host's.
func TestServableBundleServesTheIPXEBytesOverTFTP(t *testing.T) {
	tftpSrc, bootDir, want := debianIPXE(t)
	in := testInputs(t, "unused: the serving node's own image is served")
	bundle := filepath.Join(t.TempDir(), "pxe")
	err := WriteServable(context.Background(), bundle, in, ServableOptions{
		Serve: payload.PXEServeConfig{DHCP: "off"}, TFTPSource: tftpSrc,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(bootDir); err != nil {
		t.Fatal(err)
	}
	for name := range want {
		info, err := os.Lstat(filepath.Join(bundle, payload.PXETFTPDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !info.Mode().IsRegular() {
			t.Errorf("bundle's %s/%s is %v, want a regular file", payload.PXETFTPDir, name, info.Mode())
		}
	}

	// The node's OS image: a squashfs superblock is all Prepare reads.
	image := filepath.Join(t.TempDir(), "os-a")
	sb := make([]byte, 4096)
	copy(sb, "hsqs")
	binary.LittleEndian.PutUint64(sb[40:], uint64(len(sb)))
	if err := os.WriteFile(image, sb, 0o644); err != nil {
		t.Fatal(err)
	}
	httpAddr, tftpAddr := freePort(t, "tcp4"), freePort(t, "udp4")
	p, err := pxeserve.Prepare(pxeserve.Options{
		BundleDir: bundle, RuntimeDir: filepath.Join(t.TempDir(), "run"), OSImage: image,
		HTTPAddr: httpAddr, TFTPAddr: tftpAddr, ServerIP: netip.MustParseAddr("127.0.0.1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	waitForHTTP(t, "http://"+httpAddr+"/boot.ipxe")
	for _, name := range []string{bootserver.EFIBootFile, bootserver.BIOSBootFile} {
		got := tftpGet(t, tftpAddr, name)
		if sha256.Sum256(got) != sha256.Sum256(want[name]) {
			t.Errorf("TFTP %s: %d bytes, sha256 %x; the build host's has %d bytes, sha256 %x",
				name, len(got), sha256.Sum256(got), len(want[name]), sha256.Sum256(want[name]))
		}
	}
}

// freePort returns an address on 127.0.0.1 that was free a moment ago
// (Prepared.Serve does not say which ports it bound).
func freePort(t *testing.T, network string) string {
	t.Helper()
	if network == "tcp4" {
		l, err := net.Listen(network, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	c, err := net.ListenPacket(network, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

// waitForHTTP waits until url answers: the server has returned from
// bootserver.Start, which binds the TFTP socket too. (A TFTP request sent
// before that is lost, and the client waits out its timeout.)
func waitForHTTP(t *testing.T, url string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("boot server does not answer: %v", err)
		}
	}
}

// tftpGet fetches name with the block size and tsize iPXE asks for.
func tftpGet(t *testing.T, addr, name string) []byte {
	t.Helper()
	client, err := tftp.NewClient(tftp.ClientBlocksize(1428), tftp.ClientTransferSize(true))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get(fmt.Sprintf("tftp://%s/%s", addr, name))
	if err != nil {
		t.Fatalf("TFTP get %s: %v", name, err)
	}
	got, err := io.ReadAll(resp)
	if err != nil {
		t.Fatalf("TFTP read %s: %v", name, err)
	}
	return got
}
