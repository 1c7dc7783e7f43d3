package baseos

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/ml-appliance/appliance/builder/rootfs"
	"github.com/ml-appliance/appliance/internal/testfixture"
)

// buildMachine is what mmdebstrap leaves in a base made on a build machine
// called "vm" whose resolver is 10.255.255.53 (seen in out/base before this
// was fixed), with systemd-resolved's postinst having moved the copied
// resolv.conf aside and linked its stub.
func buildMachine(resolved bool) []testfixture.TarEntry {
	entries := []testfixture.TarEntry{
		{Name: "etc/"},
		{Name: "etc/hostname", Body: "vm\n"},
		{Name: "etc/hosts", Body: "127.0.0.1\tlocalhost\n10.1.2.3\tvm.factory.internal vm\n"},
		{Name: "etc/os-release", Body: "ID=debian\n"},
		{Name: "etc/machine-id", Body: "0123456789abcdef0123456789abcdef\n"},
		{Name: "etc/ssh/"},
		{Name: "etc/ssh/ssh_host_ed25519_key", Body: "shared secret", Mode: 0o600},
	}
	if !resolved {
		return append(entries, testfixture.TarEntry{Name: "etc/resolv.conf", Body: "nameserver 10.255.255.53\n"})
	}
	return append(entries,
		testfixture.TarEntry{Name: "etc/resolv.conf", Type: tar.TypeSymlink, Link: ResolvedStubLink},
		testfixture.TarEntry{Name: "etc/.resolv.conf.systemd-resolved.bak", Body: "nameserver 10.255.255.53\n"},
		testfixture.TarEntry{Name: "etc/systemd/system/sysinit.target.wants/"},
		testfixture.TarEntry{Name: "etc/systemd/system/sysinit.target.wants/systemd-resolved.service", Type: tar.TypeSymlink,
			Link: "/lib/systemd/system/systemd-resolved.service"},
		testfixture.TarEntry{Name: "usr/lib/systemd/systemd-resolved", Body: "elf", Mode: 0o755},
	)
}

// TestBuildHostFilesReplaced feeds each kind of base (tarball, directory,
// OCI image) the files a build machine leaves, and checks the tree holds
// none of them: no hostname, loopback-only hosts, and a resolv.conf that is
// systemd-resolved's stub when the base runs it, else none (firstboot
// writes one from the node's config).
func TestBuildHostFilesReplaced(t *testing.T) {
	for _, resolved := range []bool{true, false} {
		data := testfixture.Tar(t, buildMachine(resolved)...)
		sources := map[string]func(t *testing.T) Source{
			"tar": func(t *testing.T) Source {
				p := filepath.Join(t.TempDir(), "base.tar")
				if err := os.WriteFile(p, data, 0o644); err != nil {
					t.Fatal(err)
				}
				return Source{TarPath: p}
			},
			"dir": func(t *testing.T) Source {
				return Source{Dir: unpack(t, buildMachine(resolved))}
			},
			"image": func(t *testing.T) Source {
				img, err := mutate.AppendLayers(empty.Image, layerOf(t, data))
				if err != nil {
					t.Fatal(err)
				}
				return Source{Image: img}
			},
		}
		for kind, source := range sources {
			name := kind + " without systemd-resolved"
			if resolved {
				name = kind + " with systemd-resolved"
			}
			t.Run(name, func(t *testing.T) {
				tree := newTree(t)
				if err := AddTo(context.Background(), tree, source(t)); err != nil {
					t.Fatal(err)
				}
				checkApplianceEtc(t, tree, resolved)
			})
		}
	}
}

func checkApplianceEtc(t *testing.T, tree *rootfs.Tree, resolved bool) {
	t.Helper()
	for _, p := range []string{"etc/hostname", "etc/.resolv.conf.systemd-resolved.bak", "etc/ssh/ssh_host_ed25519_key"} {
		if _, err := tree.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: %v, want it gone", p, err)
		}
	}
	if got, err := fs.ReadFile(tree, "etc/machine-id"); err != nil || len(got) != 0 {
		t.Errorf("etc/machine-id = %q, %v; want it empty", got, err)
	}
	if got, err := fs.ReadFile(tree, "etc/hosts"); err != nil || string(got) != applianceHosts {
		t.Errorf("etc/hosts = %q, %v; want the appliance's", got, err)
	}
	if origin, _ := tree.Origin("etc/hosts"); origin != "builder" {
		t.Errorf("etc/hosts comes from %q", origin)
	}
	target, err := tree.ReadLink("etc/resolv.conf")
	switch {
	case resolved && (err != nil || target != ResolvedStubLink):
		t.Errorf("etc/resolv.conf -> %q, %v; want %s", target, err, ResolvedStubLink)
	case !resolved:
		if _, err := tree.Lstat("etc/resolv.conf"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("etc/resolv.conf: %v; want none without systemd-resolved", err)
		}
	}
	if got, _ := fs.ReadFile(tree, "etc/os-release"); string(got) != "ID=debian\n" {
		t.Errorf("the rest of the base was touched: etc/os-release = %q", got)
	}
}

// TestResolvedInstalledButDisabled: a base that has systemd-resolved but
// does not enable it gets no stub link (it would point at nothing).
func TestResolvedInstalledButDisabled(t *testing.T) {
	entries := buildMachine(true)
	var kept []testfixture.TarEntry
	for _, e := range entries {
		if filepath.Base(e.Name) != "systemd-resolved.service" {
			kept = append(kept, e)
		}
	}
	tree := newTree(t)
	if err := tree.AddTar(bytes.NewReader(testfixture.Tar(t, kept...)), "base"); err != nil {
		t.Fatal(err)
	}
	if err := replaceBuildHostFiles(tree); err != nil {
		t.Fatal(err)
	}
	checkApplianceEtc(t, tree, false)
}

// unpack writes entries into a new directory, as a directory base.
func unpack(t *testing.T, entries []testfixture.TarEntry) string {
	t.Helper()
	dir := t.TempDir()
	for _, e := range entries {
		p := filepath.Join(dir, e.Name)
		var err error
		switch {
		case e.Type == tar.TypeSymlink:
			if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
				err = os.Symlink(e.Link, p)
			}
		case e.Name[len(e.Name)-1] == '/':
			err = os.MkdirAll(p, 0o755)
		default:
			if err = os.MkdirAll(filepath.Dir(p), 0o755); err == nil {
				err = os.WriteFile(p, []byte(e.Body), 0o644)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
