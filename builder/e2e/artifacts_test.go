package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/builder/diskimage"
	"github.com/ml-appliance/appliance/builder/report"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/bootslot"
)

// checkRawImage runs validators nobody here wrote over a built raw disk and
// the report that describes it: sgdisk -v on the partition table,
// fsck.fat on the ESP, e2fsck on STATE, unsquashfs on OS-A, and the
// report's sha256 and sizes against the files.
func checkRawImage(t *testing.T, raw string) {
	t.Helper()
	dir := filepath.Dir(raw)
	rep := readReport(t, dir)
	found := map[string]bool{}
	for _, a := range rep.Artifacts {
		found[a.Kind] = true
		p := filepath.Join(dir, a.Path)
		if got := sha256File(t, p); got != a.SHA256 {
			t.Errorf("report says %s has sha256 %s, file has %s", a.Path, a.SHA256, got)
		}
	}
	for _, k := range []string{"raw", "os-image", "kernel", "initramfs"} {
		if !found[k] {
			t.Errorf("report lists no %s artifact", k)
		}
	}
	inputs := map[string]bool{}
	for _, in := range rep.Inputs {
		inputs[in.Name] = strings.HasPrefix(in.Digest, "sha256:") && len(in.Digest) == len("sha256:")+64
	}
	for _, n := range []string{"base", "kernel", "firstboot", "appliance-init", "overlay"} {
		if !inputs[n] {
			t.Errorf("report has no input %q with a sha256 digest: %+v", n, rep.Inputs)
		}
	}

	if out := run(t, "sgdisk", "-v", raw); !strings.Contains(out, "No problems found") {
		t.Errorf("sgdisk -v:\n%s", out)
	}
	work := t.TempDir()
	esp := extract(t, raw, partition(t, dir, bootparam.LabelESP), filepath.Join(work, "esp.img"))
	run(t, "fsck.fat", "-n", esp)
	for _, f := range []string{"::/EFI/BOOT/BOOTX64.EFI", "::/loader/entries/appliance-a.conf", "::/appliance/a/vmlinuz", "::/appliance/a/initrd.img"} {
		run(t, "mdir", "-i", esp, f)
	}
	// The A/B layout (firstboot/bootslot): loader.conf boots the first
	// appliance entry, slot A's is the only one, blessed, at generation 1.
	if got := run(t, "mtype", "-i", esp, "::/"+bootslot.LoaderConfPath); got != bootslot.LoaderConf() {
		t.Errorf("loader.conf:\n%s\nwant:\n%s", got, bootslot.LoaderConf())
	}
	if got := run(t, "mdir", "-b", "-i", esp, "::/"+bootslot.EntriesDir); strings.TrimSpace(got) != "::/"+bootslot.EntriesDir+"/appliance-a.conf" {
		t.Errorf("loader entries:\n%s\nwant slot A's alone", got)
	}
	entry := run(t, "mtype", "-i", esp, "::/"+bootslot.EntriesDir+"/appliance-a.conf")
	if e, err := bootslot.ParseInstalled("appliance-a.conf", []byte(entry)); err != nil || e.Entry.Generation != 1 || e.Name.Counting {
		t.Errorf("slot A's entry reads back as %+v, %v:\n%s", e, err, entry)
	}
	state := extract(t, raw, partition(t, dir, bootparam.LabelState), filepath.Join(work, "state.img"))
	run(t, "e2fsck", "-fn", state)
	osA := extract(t, raw, partition(t, dir, bootparam.LabelOSA), filepath.Join(work, "os-a.img"))
	if out := run(t, "unsquashfs", "-s", osA); !strings.Contains(out, "Found a valid SQUASHFS 4:0 superblock") {
		t.Errorf("unsquashfs -s on OS-A:\n%s", out)
	}
	listing := run(t, "unsquashfs", "-l", "-d", "", filepath.Join(dir, rep.Site+".squashfs"))
	for _, want := range []string{"/usr/local/bin/firstboot", "/etc/appliance/node.yaml",
		"/usr/lib/systemd/system/firstboot.service", "/etc/systemd/network/80-dhcp.network"} {
		if !strings.Contains(listing, "\n"+want+"\n") {
			t.Errorf("OS image lacks %s", want)
		}
	}
	if strings.Contains(listing, "/etc/ssh/ssh_host_") {
		t.Errorf("OS image carries the base's SSH host keys: every appliance would share them")
	}
}

func readReport(t *testing.T, dir string) report.Report {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, report.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var r report.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", report.FileName, err)
	}
	return r
}

// partition returns the partition labelled label from the raw disk the
// report in dir describes.
func partition(t *testing.T, dir, label string) diskimage.Partition {
	t.Helper()
	for _, a := range readReport(t, dir).Artifacts {
		if a.Kind != "raw" {
			continue
		}
		var layout diskimage.Layout
		b, _ := json.Marshal(a.Details)
		if err := json.Unmarshal(b, &layout); err != nil {
			t.Fatalf("raw artifact details: %v", err)
		}
		for _, p := range layout.Partitions {
			if p.Label == label {
				return p
			}
		}
	}
	t.Fatalf("report in %s lists no partition %q", dir, label)
	return diskimage.Partition{}
}

// extract copies one partition of raw into its own file.
func extract(t *testing.T, raw string, p diskimage.Partition, dst string) string {
	t.Helper()
	if p.Size == 0 {
		t.Fatalf("partition %q not in the layout", p.Label)
	}
	src, err := os.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.Copy(out, io.NewSectionReader(src, p.Start, p.Size)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sameFile compares two files byte for byte.
func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	return sha256File(t, a) == sha256File(t, b)
}
