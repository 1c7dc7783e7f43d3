package bootinit

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diskfs/go-diskfs/partition/gpt"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

func TestPlanStateDisk(t *testing.T) {
	sysRoot, devRoot, disks := fakeDisks(t, map[string]fakeDisk{
		"sr0": {removable: true},
		"vda": {head: gptHead(3)}, // holds data
		"vdb": {},                 // empty
	})
	statePart := func(disk string, formatted bool) BlockDevice {
		d := BlockDevice{Name: disk + "1", Disk: disk, PartN: 1, PartName: bootparam.LabelState, Size: testMiB}
		if formatted {
			d.FSType, d.Label = fsExt4, bootparam.LabelState
		}
		return d
	}
	with := func(parts ...BlockDevice) []BlockDevice { return append(append([]BlockDevice{}, disks...), parts...) }
	auto := bootparam.InstallTarget{Device: bootparam.InstallAuto}
	for _, c := range []struct {
		name     string
		target   bootparam.InstallTarget
		devs     []BlockDevice
		bootDisk string
		want     StateDiskPlan
		err      string
	}{
		{name: "auto picks the empty disk", target: auto, devs: disks, want: StateDiskPlan{Disk: "/dev/vdb"}},
		{name: "auto reuses a STATE partition", target: auto, devs: with(statePart("vda", true)),
			want: StateDiskPlan{Partition: statePart("vda", true)}},
		{name: "an unformatted STATE partition is formatted", target: auto, devs: with(statePart("vda", false)),
			want: StateDiskPlan{Partition: statePart("vda", false), Format: true}},
		{name: "the boot medium's STATE is not used", target: auto, devs: with(statePart("vda", true)), bootDisk: "vda",
			want: StateDiskPlan{Disk: "/dev/vdb"}},
		{name: "a named disk uses only its own STATE", target: bootparam.InstallTarget{Device: "/dev/vdb"}, devs: with(statePart("vda", true)),
			want: StateDiskPlan{Disk: "/dev/vdb"}},
		{name: "a named disk with data is refused", target: bootparam.InstallTarget{Device: "/dev/vda"}, devs: disks,
			err: "/dev/vda holds data (GPT with 3 partitions) and no STATE partition; add force to use it for state"},
		{name: "force takes a disk with data", target: bootparam.InstallTarget{Device: "/dev/vda", Force: true}, devs: disks,
			want: StateDiskPlan{Disk: "/dev/vda", Content: "GPT with 3 partitions"}},
		{name: "a named boot medium is refused", target: bootparam.InstallTarget{Device: "/dev/vdb", Force: true}, devs: disks, bootDisk: "vdb",
			err: "/dev/vdb (vdb) is the boot medium"},
		{name: "a missing disk", target: bootparam.InstallTarget{Device: "/dev/vdz"}, devs: disks,
			err: "/dev/vdz: no such disk, or no medium"},
		{name: "auto without an empty disk", target: auto, devs: disks, bootDisk: "vdb",
			err: "no empty non-removable disk (sr0: not a disk; vda: holds data (GPT with 3 partitions); vdb: the boot medium)"},
	} {
		got, err := PlanStateDisk(c.target, c.devs, sysRoot, devRoot, c.bootDisk)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%s: error %v, want %s", c.name, err, c.err)
			}
			// Only a missing disk is worth waiting for.
			var missing diskMissingError
			if wait := strings.Contains(c.err, "no such disk"); errors.As(err, &missing) != wait {
				t.Errorf("%s: worth waiting %v, want %v", c.name, !wait, wait)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: got %+v, %v; want %+v", c.name, got, err, c.want)
		}
	}
}

func TestWriteStateGPT(t *testing.T) {
	const size = 64 * testMiB
	path := filepath.Join(t.TempDir(), "disk")
	old := bytes.Repeat([]byte("old data"), size/8)
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	disk, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer disk.Close()
	if err := WriteStateGPT(disk, size, 512, rand.Reader); err != nil {
		t.Fatal(err)
	}
	table, err := gpt.Read(disk, 512, 512)
	if err != nil {
		t.Fatalf("read back the GPT: %v", err)
	}
	if len(table.Partitions) != 1 {
		t.Fatalf("GPT has %d partitions, want 1", len(table.Partitions))
	}
	p := table.Partitions[0]
	if p.Name != bootparam.LabelState || p.Start != stateFirstLBA || p.End != size/512-34 || !strings.EqualFold(string(p.Type), stateTypeGUID) {
		t.Errorf("partition %s LBA %d-%d type %s; want %s LBA %d-%d type %s", p.Name, p.Start, p.End, p.Type, bootparam.LabelState, stateFirstLBA, size/512-34, stateTypeGUID)
	}
	// The old data in the partition's first MiB is gone: it would
	// otherwise look like a filesystem to whoever reads it first.
	// The partition starts at 1 MiB, right after the cleared MiB: clear
	// the old superblock area too, or mkfs's probe would see "old data".
	sb := make([]byte, 64<<10)
	if _, err := disk.ReadAt(sb, stateFirstLBA*512); err != nil {
		t.Fatal(err)
	}
	if !allZero(sb) {
		t.Errorf("old data left at the partition's start")
	}
	if content, _ := DiskContent(disk, size); content != "GPT with 1 partitions" {
		t.Errorf("DiskContent after WriteStateGPT = %q", content)
	}

	// Each disk gets its own GUIDs.
	first := p.GUID
	if err := WriteStateGPT(disk, size, 512, rand.Reader); err != nil {
		t.Fatal(err)
	}
	if again, _ := gpt.Read(disk, 512, 512); again.Partitions[0].GUID == first {
		t.Errorf("two writes gave the same partition GUID %s", first)
	}
}

func TestWriteStateGPTTooSmall(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "disk"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := WriteStateGPT(f, testMiB, 512, rand.Reader); err == nil || !strings.Contains(err.Error(), "too small") {
		t.Errorf("WriteStateGPT on 1 MiB: %v, want too small", err)
	}
}
