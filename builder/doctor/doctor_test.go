package doctor

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func fakeLookPath(present map[string]string) LookPath {
	return func(file string) (string, error) {
		if p, ok := present[file]; ok {
			return p, nil
		}
		return "", exec.ErrNotFound
	}
}

func TestCheckNamesMissingToolsAndPackages(t *testing.T) {
	tools := []Tool{
		{Command: "tar2sqfs", Package: "squashfs-tools-ng", Purpose: "make the OS image"},
		{Command: "sgdisk", Package: "gdisk", Purpose: "verify partition tables"},
		{Command: "sqfs2tar", Package: "squashfs-tools-ng", Purpose: "read OS images"},
	}
	results, err := Check(tools, fakeLookPath(map[string]string{"sgdisk": "/usr/sbin/sgdisk"}))
	var missing *MissingError
	if !errors.As(err, &missing) {
		t.Fatalf("want *MissingError, got %v", err)
	}
	want := "missing host tools: tar2sqfs (make the OS image), sqfs2tar (read OS images); install with: apt-get install squashfs-tools-ng"
	if err.Error() != want {
		t.Errorf("error:\n got %q\nwant %q", err.Error(), want)
	}
	if len(results) != 3 || results[1].Path != "/usr/sbin/sgdisk" || results[0].Found() {
		t.Errorf("results: %+v", results)
	}
}

func TestCheckAllPresent(t *testing.T) {
	tools := []Tool{{Command: "sh", Package: "dash", Purpose: "shell"}}
	results, err := Check(tools, fakeLookPath(map[string]string{"sh": "/bin/sh"}))
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if !results[0].Found() || results[0].Path != "/bin/sh" {
		t.Errorf("results: %+v", results)
	}
}

func TestCheckDataFilesByAbsolutePath(t *testing.T) {
	present := filepath.Join(t.TempDir(), "ipxe.efi")
	if err := os.WriteFile(present, []byte("MZ"), 0o644); err != nil {
		t.Fatal(err)
	}
	absent := filepath.Join(t.TempDir(), "undionly.kpxe")
	tools := []Tool{
		{Command: present, Package: "ipxe", Purpose: "UEFI iPXE"},
		{Command: absent, Package: "ipxe", Purpose: "BIOS iPXE"},
	}
	results, err := Check(tools, fakeLookPath(nil))
	var missing *MissingError
	if !errors.As(err, &missing) || len(missing.Missing) != 1 || missing.Missing[0].Command != absent {
		t.Fatalf("want only %s missing, got %v", absent, err)
	}
	if results[0].Path != present || results[1].Found() {
		t.Errorf("results: %+v", results)
	}
}
