package upgrade

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
)

func TestAppliedRecord(t *testing.T) {
	root := t.TempDir()
	if _, err := ReadApplied(root); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("no record: %v, want not found", err)
	}
	a := Applied{
		Slot: "b", Release: upgradebundle.Release{Site: "lab", Version: "2.0.0"}, Generation: 2, Entry: "appliance-b+3.conf",
		PreviousSlot: "a", PreviousRelease: upgradebundle.Release{Site: "lab", Version: "1.0.0"},
		Source: "http://10.0.0.1/lab-upgrade/", Time: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	if err := writeApplied(root, a); err != nil {
		t.Fatal(err)
	}
	got, err := ReadApplied(root)
	if err != nil || !reflect.DeepEqual(got, a) {
		t.Errorf("read back %+v, %v; want %+v", got, err, a)
	}
	if err := os.WriteFile(filepath.Join(root, AppliedPath), []byte(`{"slot":"b","extra":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadApplied(root); err == nil || !strings.Contains(err.Error(), `unknown field "extra"`) {
		t.Errorf("unknown field: %v", err)
	}
}
