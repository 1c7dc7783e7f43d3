package bootinit

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

func TestLoadModules(t *testing.T) {
	order := filepath.Join(t.TempDir(), "modules.order")
	os.WriteFile(order, []byte("/lib/modules/v/a.ko\n\n/lib/modules/v/b.ko\n/lib/modules/v/c.ko\n"), 0o644)
	var tried []string
	// loadTestDouble stands in for finit_module: b is already loaded, c fails.
	loadTestDouble := func(p string) error {
		tried = append(tried, filepath.Base(p))
		switch filepath.Base(p) {
		case "b.ko":
			return fmt.Errorf("finit_module: %w", unix.EEXIST)
		case "c.ko":
			return errors.New("exec format error")
		}
		return nil
	}
	var logBuf bytes.Buffer
	loaded, failed, err := LoadModules(order, loadTestDouble, log.New(&logBuf, "", 0))
	if err != nil || loaded != 2 || failed != 1 {
		t.Errorf("LoadModules() = %d, %d, %v; want 2 loaded, 1 failed", loaded, failed, err)
	}
	if want := []string{"a.ko", "b.ko", "c.ko"}; !reflect.DeepEqual(tried, want) {
		t.Errorf("tried %v, want %v", tried, want)
	}
	if got := logBuf.String(); got != "load module /lib/modules/v/c.ko: exec format error\n" {
		t.Errorf("log = %q", got)
	}
	_, _, err = LoadModules(filepath.Join(t.TempDir(), "none"), loadTestDouble, log.New(&logBuf, "", 0))
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing list: %v", err)
	}
}

func TestDiagnose(t *testing.T) {
	var out bytes.Buffer
	devs := []BlockDevice{{Name: "vda", Size: 64 << 20}, {Name: "vda1", PartName: "OS-A", Size: 8 << 20}}
	Diagnose(&out, errors.New("mount OS image /dev/vda1 (squashfs) on /run/appliance/os: invalid argument"), devs, nil)
	want := "appliance-init: BOOT FAILED: mount OS image /dev/vda1 (squashfs) on /run/appliance/os: invalid argument\n" +
		"appliance-init: found 2 block devices:\n" +
		"appliance-init:   vda 64 MiB\n" +
		"appliance-init:   vda1 8 MiB PARTNAME=OS-A\n"
	if out.String() != want {
		t.Errorf("Diagnose() wrote\n%s\nwant\n%s", out.String(), want)
	}
}
