package datasource

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/nocloud"
)

// filesMounter is a nocloud.Mounter double: "mounting" writes files into
// the mount point, unmounting removes them.
type filesMounter struct {
	files   map[string]string
	mounted []string
}

func (m *filesMounter) MountReadOnly(device, dir, fstype string) error {
	m.mounted = append(m.mounted, device+" "+fstype)
	for name, content := range m.files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (m *filesMounter) Unmount(dir string) error {
	for name := range m.files {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	return nil
}

// addSeedDevice makes root/sys/class/block/vdb and root/dev/vdb holding a
// FAT boot sector labelled CIDATA, which is all nocloud.FindDevice reads.
func addSeedDevice(t *testing.T, root string) {
	t.Helper()
	bs := make([]byte, 1024)
	bs[0], bs[1], bs[2] = 0xEB, 0x3C, 0x90
	binary.LittleEndian.PutUint16(bs[11:], 512) // bytes per sector
	bs[13] = 1                                  // sectors per cluster
	binary.LittleEndian.PutUint16(bs[22:], 1)   // sectors per FAT: not FAT32
	bs[0x26] = 0x29
	copy(bs[0x2B:], "CIDATA     ")
	copy(bs[0x36:], "FAT12   ")
	bs[510], bs[511] = 0x55, 0xAA
	writeFile(t, root, "/dev/vdb", string(bs))
	writeFile(t, root, "/sys/class/block/vdb/size", "2\n")
}

func writeFile(t *testing.T, root, path, content string) {
	t.Helper()
	p := filepath.Join(root, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestGatherAllSources(t *testing.T) {
	_, base := startServer(t, map[string]string{
		"/seed/meta-data":      "instance-id: iid-net\nlocal-hostname: from-server\n",
		"/seed/user-data":      "#cloud-config\nhostname: net\n",
		"/seed/network-config": "version: 2\n",
		"/c.yaml":              "test",
	}, nil)
	var rec recorder
	opts := rec.options(t, "ro ds=nocloud-net;s="+base+"/seed;h=node-7 firstboot.config="+base+"/c.yaml firstboot.config.sha256="+digest)
	addSeedDevice(t, opts.Root)
	mounter := &filesMounter{files: map[string]string{"user-data": "#cloud-config\nhostname: disk\n", "network-config": "version: 1\n"}}
	opts.Mounter = mounter

	sources, err := Gather(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	want := []Source{
		{
			Name:          "NoCloud seed /dev/vdb (vfat, label CIDATA)",
			UserData:      []byte("#cloud-config\nhostname: disk\n"),
			NetworkConfig: []byte("version: 1\n"),
			Warnings:      []string{"meta-data: missing on /dev/vdb, treated as empty"},
		},
		{
			Name:          "kernel command line ds=nocloud-net;s=" + base + "/seed;h=node-7",
			MetaData:      []byte("instance-id: iid-net\nlocal-hostname: node-7\n"),
			UserData:      []byte("#cloud-config\nhostname: net\n"),
			NetworkConfig: []byte("version: 2\n"),
		},
		{Name: "kernel command line firstboot.config=" + base + "/c.yaml", UserData: []byte("test")},
	}
	if !reflect.DeepEqual(sources, want) {
		t.Errorf("Gather =\n%q\nwant\n%q", sources, want)
	}
	if wantMount := []string{filepath.Join(opts.Root, "dev/vdb") + " vfat"}; !reflect.DeepEqual(mounter.mounted, wantMount) {
		t.Errorf("mounted %q, want %q", mounter.mounted, wantMount)
	}
	if len(rec.logs) != 0 {
		t.Errorf("logs = %q, want none", rec.logs)
	}
}

func TestGatherFilesUnderRoot(t *testing.T) {
	var rec recorder
	opts := rec.options(t, "")
	writeFile(t, opts.Root, "/proc/cmdline", "ro ds=nocloud;s=file:///var/seed;i=iid-cmdline firstboot.config=/etc/x.yaml\n")
	writeFile(t, opts.Root, "/var/seed/meta-data", `{"instance-id": "iid-file", "public-keys": []}`)
	writeFile(t, opts.Root, "/var/seed/user-data", "#cloud-config\n")
	writeFile(t, opts.Root, "/etc/x.yaml", "#cloud-config\nhostname: x\n")

	sources, err := Gather(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(sources) != 2 {
		t.Fatalf("Gather = %q, want the ds=nocloud and firstboot.config sources", sources)
	}
	seed, config := sources[0], sources[1]
	if seed.Name != "kernel command line ds=nocloud;s=file:///var/seed;i=iid-cmdline" || string(seed.UserData) != "#cloud-config\n" || seed.NetworkConfig != nil {
		t.Errorf("ds=nocloud source = %q", seed)
	}
	// i= wins over the file's instance-id; the other keys stay.
	meta, warnings, err := nocloud.ParseMetaData(seed.MetaData)
	wantWarnings := []string{`meta-data line 2: key "public-keys" is not supported yet, ignored`}
	if err != nil || meta != (nocloud.MetaData{InstanceID: "iid-cmdline"}) || !reflect.DeepEqual(warnings, wantWarnings) {
		t.Errorf("meta-data %q parses to %+v %q %v", seed.MetaData, meta, warnings, err)
	}
	if config.Name != "kernel command line firstboot.config=/etc/x.yaml" || string(config.UserData) != "#cloud-config\nhostname: x\n" {
		t.Errorf("firstboot.config source = %q", config)
	}

	writeFile(t, opts.Root, "/proc/cmdline", "firstboot.config=/etc/../etc/missing.yaml\n")
	_, err = Gather(context.Background(), opts)
	if want := "kernel command line firstboot.config=/etc/../etc/missing.yaml: read /etc/../etc/missing.yaml: no such file or directory"; err == nil || err.Error() != want {
		t.Errorf("err =\n%v\nwant\n%s", err, want)
	}
}

func TestGatherNothing(t *testing.T) {
	var rec recorder
	opts := rec.options(t, "")
	writeFile(t, opts.Root, "/proc/cmdline", "ro quiet ds=openstack\n")
	sources, err := Gather(context.Background(), opts)
	if err != nil || sources == nil || len(sources) != 0 {
		t.Errorf("Gather = %#v, %v; want an empty slice", sources, err)
	}
	if want := []string{"datasource: kernel command line ds=openstack is not NoCloud, ignored"}; !reflect.DeepEqual(rec.logs, want) {
		t.Errorf("logs = %q, want %q", rec.logs, want)
	}

	_, err = Gather(context.Background(), rec.options(t, ""))
	if err == nil || !strings.HasPrefix(err.Error(), "read kernel command line: open ") {
		t.Errorf("err = %v, want the missing /proc/cmdline named", err)
	}
}

func TestWithCmdlineMeta(t *testing.T) {
	for _, tc := range []struct{ in, hostname, instanceID, want, err string }{
		{in: "", hostname: "n1", instanceID: "iid-1", want: "instance-id: iid-1\nlocal-hostname: n1\n"},
		{in: "~\n", instanceID: "007", want: "instance-id: \"007\"\n"},
		{in: "local-hostname: old\ninstance-id: keep\nextra: [1]\n", hostname: "new",
			want: "local-hostname: new\ninstance-id: keep\nextra: [1]\n"},
		{in: `{"instance-id": "a", "local-hostname": "b"}`, hostname: "c",
			want: "\"instance-id\": \"a\"\n\"local-hostname\": c\n"},
		{in: "instance-id: x\n", want: "instance-id: x\n"},
		{in: "- a\n", hostname: "n", err: "meta-data line 1: want a mapping to set h= and i= in"},
		{in: "a: [\n", hostname: "n", err: "meta-data: yaml: line 1: did not find expected node content"},
	} {
		got, err := withCmdlineMeta([]byte(tc.in), tc.hostname, tc.instanceID)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("withCmdlineMeta(%q) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("withCmdlineMeta(%q, %q, %q) = %q, %v; want %q", tc.in, tc.hostname, tc.instanceID, got, err, tc.want)
		}
	}
}
