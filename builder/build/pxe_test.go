package build

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/builder/output/pxe"
	"github.com/ml-appliance/appliance/builder/site"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// TestOSImageHoldsFilesNotHostLinks builds an image with
// outputs.pxe.serveFromInitServer from the build host's own iPXE package
// (Debian's /usr/lib/ipxe, where ipxe.efi is a symbolic link to
// /boot/ipxe.efi) and reads the OS image back with unsquashfs:
//   - the initial server's TFTP files are regular files with the host's
//     bytes, not links to a /boot of the build host;
//   - sshd's keys-only drop-in is there with its lines.
func TestOSImageHoldsFilesNotHostLinks(t *testing.T) {
	for _, b := range pxe.TFTPBinaries {
		if _, err := os.Stat(filepath.Join(pxe.DefaultTFTPSource, b)); err != nil {
			t.Fatalf("needs the host's iPXE binaries (Debian package ipxe, `make deps`): %v", err)
		}
	}
	work := t.TempDir()
	base := filepath.Join(work, "base.tar")
	if err := os.WriteFile(base, fakeBase(t), 0o644); err != nil {
		t.Fatal(err)
	}
	s := testSite(site.Base{Rootfs: base})
	s.Outputs.PXE = &site.PXEOutput{ServeFromInitServer: true}
	s.SetDefaults()
	if _, err := runBuild(t, s, filepath.Join(work, "out"), filepath.Join(work, "cache"), false); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(work, "out", "lab.squashfs")
	tftp := payload.PXEDir + "/" + payload.PXETFTPDir
	listing := unsquashfsLong(t, img)
	root := filepath.Join(work, "root")
	if out, err := exec.Command("unsquashfs", "-d", root, img, tftp, filepath.Dir(payload.SSHDKeysOnlyPath)).CombinedOutput(); err != nil {
		t.Fatalf("unsquashfs: %v\n%s", err, out)
	}

	t.Run("TFTP files", func(t *testing.T) {
		for _, b := range pxe.TFTPBinaries {
			name := tftp + "/" + b
			if mode := listing[name]; !strings.HasPrefix(mode, "-") {
				t.Errorf("OS image's %s is %q, want a regular file", name, mode)
				continue
			}
			want, err := os.ReadFile(filepath.Join(pxe.DefaultTFTPSource, b))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := os.ReadFile(filepath.Join(root, name)); err != nil || !bytes.Equal(got, want) {
				t.Errorf("OS image's %s: %d bytes (%v), want the host's %d", name, len(got), err, len(want))
			}
		}
	})
	t.Run("sshd keys only", func(t *testing.T) {
		got, err := os.ReadFile(filepath.Join(root, payload.SSHDKeysOnlyPath))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"\nPasswordAuthentication no\n", "\nKbdInteractiveAuthentication no\n", "\nPermitRootLogin prohibit-password\n"} {
			if !bytes.Contains(got, []byte(want)) {
				t.Errorf("OS image's %s lacks %q:\n%s", payload.SSHDKeysOnlyPath, strings.TrimSpace(want), got)
			}
		}
	})
}

// unsquashfsLong lists img: path -> the mode column of unsquashfs -lls
// ("-rw-r--r--", "lrwxrwxrwx", ...).
func unsquashfsLong(t *testing.T, img string) map[string]string {
	t.Helper()
	out, err := exec.Command("unsquashfs", "-lls", "-d", "", img).CombinedOutput()
	if err != nil {
		t.Fatalf("unsquashfs -lls: %v\n%s", err, out)
	}
	modes := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		// -rw-r--r-- root/root  850528 2001-09-09 01:46 /usr/lib/...[ -> target]
		fields := strings.Fields(line)
		if len(fields) < 6 || !strings.HasPrefix(fields[5], "/") {
			continue
		}
		modes[fields[5]] = fields[0]
	}
	return modes
}
