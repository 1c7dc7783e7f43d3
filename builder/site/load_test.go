package site

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestDefaults(t *testing.T) {
	s := checkLoad(t, withNodes(`{hostname: a, role: server, init: true, mac: "52-54-00-AB-CD-EF"}`, "{hostname: b}")+
		"  ssh:\n    authorizedKeys: []\n", "", nil)
	if s == nil {
		t.Fatal("no Site")
	}
	got := struct {
		Seed        string
		Cmdline     []string
		Compression string
		DefaultRole string
		Nodes       []Node
		Raw         *RawOutput
		KernelBase  bool
		BaseKind    string
	}{s.Seed, s.OS.Cmdline, s.OS.Initramfs.Compression, s.Cluster.DefaultRole, s.Cluster.Nodes, s.Outputs.Raw, s.OS.Kernel.FromBase(), s.OS.Base.Kind()}
	want := got
	want.Seed = "lab"
	want.Cmdline = []string{"console=tty0", "console=ttyS0,115200"}
	want.Compression = "gzip"
	want.DefaultRole = "agent"
	want.Nodes = []Node{
		{Hostname: "a", MAC: "52:54:00:ab:cd:ef", Role: "server", Init: true},
		{Hostname: "b", Role: "agent"},
	}
	want.Raw = &RawOutput{Size: 0}
	want.KernelBase = true
	want.BaseKind = BaseRootfs
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", got, want)
	}
}

func TestExplicitValuesKeepTheirMeaning(t *testing.T) {
	s := checkLoad(t, withOS("cmdline: []", "initramfs: {compression: none}")+
		"seed: fixed\noutputs:\n  raw:\n", "", nil)
	if s == nil {
		t.Fatal("no Site")
	}
	if s.OS.Cmdline == nil || len(s.OS.Cmdline) != 0 {
		t.Errorf("cmdline: [] became %q, want an empty list", s.OS.Cmdline)
	}
	if s.Seed != "fixed" || s.OS.Initramfs.Compression != CompressionNone {
		t.Errorf("seed %q compression %q, want fixed none", s.Seed, s.OS.Initramfs.Compression)
	}
	if s.Outputs.Raw == nil || s.Outputs.Raw.Size != 0 {
		t.Errorf("raw: with no value = %+v, want raw output with size 0", s.Outputs.Raw)
	}
}

// writeFile writes data to dir/name, making directories.
func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRelativePathsResolveAgainstTheConfigDir(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "overlays", "common"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, root, "overlays/file", "not a directory")
	cfg := writeFile(t, root, "configs/site.yaml", strings.Replace(valid, "    rootfs: base.tar\n",
		"    rootfs: ../out/base.tar\n"+
			"  kernel: {deb: /abs/linux.deb}\n"+
			"  bootloader: {efi: efi/BOOTX64.EFI}\n"+
			"  overlays: [../overlays/common, ./missing, ../overlays/file]\n", 1))

	// Load from another working directory, by a relative name.
	t.Chdir(root)
	s, warnings, err := Load("configs/site.yaml")
	want := "configs/site.yaml:10: os.overlays[1]: " + filepath.Join(root, "configs/missing") + ": no such directory\n" +
		"configs/site.yaml:10: os.overlays[2]: " + filepath.Join(root, "overlays/file") + ": not a directory"
	if err == nil || err.Error() != want {
		t.Fatalf("Load error:\n got %v\nwant %s", err, want)
	}
	if s != nil || warnings != nil {
		t.Errorf("Load = %v, %q along with an error", s, warnings)
	}

	// Without the bad overlays, every path is absolute against configs/.
	writeFile(t, root, "configs/site.yaml", strings.Replace(valid, "    rootfs: base.tar\n",
		"    rootfs: ../out/base.tar\n"+
			"  kernel: {deb: /abs/linux.deb}\n"+
			"  bootloader: {efi: efi/BOOTX64.EFI}\n"+
			"  overlays: [../overlays/common]\n", 1))
	s, _, err = Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{s.Dir, s.OS.Base.Rootfs, s.OS.Kernel.Deb, s.OS.Bootloader.EFI, s.OS.Overlays[0]}
	wantPaths := []string{filepath.Join(root, "configs"), filepath.Join(root, "out/base.tar"), "/abs/linux.deb",
		filepath.Join(root, "configs/efi/BOOTX64.EFI"), filepath.Join(root, "overlays/common")}
	if !reflect.DeepEqual(got, wantPaths) {
		t.Errorf("paths:\n got %q\nwant %q", got, wantPaths)
	}

	// A URL is not a path.
	s = checkLoad(t, withBase("rootfs: https://mirror.internal/base.tar", "sha256: "+strings.Repeat("ab", 32)), "", nil)
	if s != nil && s.OS.Base.Rootfs != "https://mirror.internal/base.tar" {
		t.Errorf("rootfs URL became %q", s.OS.Base.Rootfs)
	}
}

func TestAllErrorsTogetherInLineOrder(t *testing.T) {
	data := `apiVersion: appliance/v1alpha1
kind: Site
metadata:
  name: Lab
os:
  base: {rootfs: base.tar, image: "debian:12"}
  kernal: {}
  initramfs: {compression: lz4}
cluster:
  defaultRole: agent
  nodes:
    - {hostname: a, mac: "52:54:00:00:00:01", role: server, init: true}
    - {hostname: b, mac: "52:54:00:00:00:01", role: server, init: true}
    - {hostname: 7, init: "no"}
outputs:
  raw: {size: 16 GB}
  vhd: {}
`
	want := strings.Join([]string{
		`site.yaml:4: metadata.name: invalid name "Lab": ` + dnsLabelRule,
		`site.yaml:6: os.base: set only one of rootfs, dir or image (found rootfs and image)`,
		`site.yaml:7: os.kernal: unknown field (did you mean "kernel"?)`,
		`site.yaml:8: os.initramfs.compression: unsupported "lz4" (want gzip, zstd or none)`,
		"site.yaml:9: cluster.server: required with more than one node: the https URL joining nodes dial, like https://10.0.0.10:6443 (it defaults to the initial server's address, and cluster.nodes[0] has none)",
		`site.yaml:13: cluster.nodes[1].mac: duplicate MAC 52:54:00:00:00:01 (also cluster.nodes[0])`,
		`site.yaml:13: cluster.nodes[1].init: a second initial server (cluster.nodes[0] has init: true): exactly one node initialises the cluster`,
		// nodes[2].hostname did not decode: no "required" on top of it.
		`site.yaml:14: cluster.nodes[2].hostname: expected a string, got integer 7`,
		`site.yaml:14: cluster.nodes[2].init: expected a boolean (true or false), got string "no"`,
		`site.yaml:17: outputs.vhd: unknown field`,
	}, "\n")
	// Two servers would warn, but nodes[2] did not decode, so the warning
	// stays quiet rather than count a node it cannot read.
	checkLoad(t, data, want, nil)

	// Each error is an *Error with its parts.
	_, _, err := load("site.yaml", []byte(data))
	var first *Error
	if !errors.As(err, &first) {
		t.Fatalf("%v is not an *Error", err)
	}
	if *first != (Error{File: "site.yaml", Line: 4, Path: "metadata.name", Msg: `invalid name "Lab": ` + dnsLabelRule}) {
		t.Errorf("first error = %+v", *first)
	}
}

func TestLoadMissingFileIsNotAConfigError(t *testing.T) {
	_, _, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || IsConfigError(err) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v; want a not-exist error that is not a config error", err)
	}
}

func TestValidateSiteBuiltInCode(t *testing.T) {
	s := &Site{APIVersion: APIVersion, Kind: Kind, Metadata: Metadata{Name: "lab"}, OS: OS{Base: Base{Image: "debian"}}}
	s.SetDefaults()
	warnings, err := s.Validate()
	wantErr := `os.base.image: image reference "debian" has no tag or digest (want repo:tag or repo@sha256:...)`
	if err == nil || err.Error() != wantErr {
		t.Errorf("Validate error = %v, want %s", err, wantErr)
	}
	wantWarn := []string{"cluster: " + strings.TrimPrefix(noInit, "site.yaml:8: cluster: ")}
	if !reflect.DeepEqual(warnings, wantWarn) {
		t.Errorf("warnings = %q, want %q", warnings, wantWarn)
	}
}
