package iso

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/builder/output"
	"github.com/ml-appliance/appliance/firstboot/bootinit"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// An installer ISO carries the layout and the images it names, each with
// the size and sha256 the layout records, and tells the init to install.
func TestInstallerISOCarriesTheRawLayout(t *testing.T) {
	in := installerInputs(t, 400000)
	// A secrets volume (its bytes are the builder's business here).
	in.Secrets = filepath.Join(t.TempDir(), "secrets.img")
	volume := append(append([]byte("APPLIANCE-SEC/1\n"), bytes.Repeat([]byte{0, 7}, 300)...), 0, 0, 0)
	if err := os.WriteFile(in.Secrets, volume, 0o600); err != nil {
		t.Fatal(err)
	}
	iso := filepath.Join(t.TempDir(), "ml-lab.iso")
	l, err := Write(context.Background(), iso, in, Options{WorkDir: t.TempDir(), Install: &Install{Device: "/dev/sdb", Force: true}})
	if err != nil {
		t.Fatal(err)
	}
	if want := wantCmdline + " appliance.install=/dev/sdb,force"; l.Cmdline != want {
		t.Errorf("cmdline %q, want %q", l.Cmdline, want)
	}
	cfg, err := bootinit.ParseConfig(l.Cmdline)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Install == nil || *cfg.Install != (bootparam.InstallTarget{Device: "/dev/sdb", Force: true}) {
		t.Errorf("the init reads install target %+v", cfg.Install)
	}
	if !strings.Contains(string(extract(t, iso, "/isolinux/isolinux.cfg")), "appliance.install=/dev/sdb,force") {
		t.Errorf("isolinux.cfg lacks the install argument")
	}

	layout := isoInstallLayout(t, iso)
	var names []string
	for _, p := range layout.Partitions {
		names = append(names, p.Name)
		if p.Source == "" {
			continue
		}
		b := extract(t, iso, p.Source)
		sum := sha256.Sum256(b)
		if int64(len(b)) != p.Size || hex.EncodeToString(sum[:]) != p.SHA256 {
			t.Errorf("%s on the ISO: %d bytes sha256 %x; layout says %d bytes sha256 %s", p.Source, len(b), sum, p.Size, p.SHA256)
		}
	}
	if got := strings.Join(names, ","); got != "ESP,OS-A,OS-B,SECRETS,STATE" {
		t.Errorf("layout partitions %s", got)
	}
	// SECRETS is written from the file a live boot reads, whole: its
	// trailing zeros are part of the volume.
	if p := installPartition(t, layout, "SECRETS"); p.Source != bootparam.ISOSecretsPath || p.Size != int64(len(volume)) {
		t.Errorf("SECRETS is written from %q (%d bytes), want %s (%d bytes)", p.Source, p.Size, bootparam.ISOSecretsPath, len(volume))
	}
	if !bytes.Equal(extract(t, iso, bootparam.ISOSecretsPath), volume) {
		t.Errorf("%s on the ISO is not the secrets volume", bootparam.ISOSecretsPath)
	}
	if p := installPartition(t, layout, "OS-A"); p.Source != bootparam.ISOOSImagePath {
		t.Errorf("OS-A is written from %q, want the live boot's %s (one copy of the OS image)", p.Source, bootparam.ISOOSImagePath)
	}
	if p := installPartition(t, layout, "STATE"); p.Sectors*512 != installStateSize {
		t.Errorf("STATE: %d sectors, want %d bytes", p.Sectors, installStateSize)
	}
	// The images are stored without their trailing zeros.
	for _, p := range []bootparam.InstallPartition{installPartition(t, layout, "ESP"), installPartition(t, layout, "STATE")} {
		if p.Size%512 != 0 || p.Size > p.Sectors*512/4 {
			t.Errorf("%s: %d bytes stored for a %d-byte partition: want its trailing zeros trimmed, to a whole sector", p.Source, p.Size, p.Sectors*512)
		}
	}
}

// installerInputs are testInputs for an installer ISO, whose raw layout
// checks the OS image's squashfs magic: an OS image of 4+8n bytes.
func installerInputs(t *testing.T, n int) output.Inputs {
	t.Helper()
	needTool(t, "xorriso", "xorriso")
	needTool(t, "mkfs.ext4", "e2fsprogs")
	in := testInputs(t)
	in.OSImage = filepath.Join(t.TempDir(), "os.squashfs")
	if err := os.WriteFile(in.OSImage, append([]byte("hsqs"), bytes.Repeat([]byte("squashfs"), n)...), 0o644); err != nil {
		t.Fatal(err)
	}
	return in
}

// isoInstallLayout reads the install layout of the ISO as the init does.
func isoInstallLayout(t *testing.T, iso string) bootparam.InstallLayout {
	t.Helper()
	layoutFile := filepath.Join(t.TempDir(), "layout.json")
	if err := os.WriteFile(layoutFile, extract(t, iso, bootparam.InstallLayoutPath), 0o644); err != nil {
		t.Fatal(err)
	}
	layout, err := bootinit.ReadInstallLayout(layoutFile)
	if err != nil {
		t.Fatal(err)
	}
	return layout
}

// installPartition is the partition of layout named name.
func installPartition(t *testing.T, layout bootparam.InstallLayout, name string) bootparam.InstallPartition {
	t.Helper()
	for _, p := range layout.Partitions {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("install layout has no partition %s", name)
	return bootparam.InstallPartition{}
}

func TestTrimTrailingZeros(t *testing.T) {
	for _, c := range []struct {
		name       string
		size, last int64 // last non-zero byte, -1 for none
		want       int64
	}{
		{"all zeros", 3 << 20, -1, 0},
		{"first byte", 3 << 20, 0, 512},
		{"a sector's last byte", 3 << 20, 1023, 1024},
		{"across a chunk boundary", 3 << 20, 2<<20 + 5, 2<<20 + 512},
		{"last byte", 3<<20 + 7, 3<<20 + 6, 3<<20 + 512},
	} {
		p := filepath.Join(t.TempDir(), "img")
		b := make([]byte, c.size)
		if c.last >= 0 {
			b[c.last] = 1
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := trimTrailingZeros(p); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		// Rounding up to a sector may extend the file with zeros.
		want := append(b[:min(c.want, c.size):min(c.want, c.size)], make([]byte, max(0, c.want-c.size))...)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: trimmed to %d bytes, want %d", c.name, len(got), c.want)
		}
	}
}
