package newdir

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestMkdirAllAndRemoveEmpty(t *testing.T) {
	root := t.TempDir()
	made, err := MkdirAll(filepath.Join(root, "a", "b", "c"), 0o755)
	if err != nil {
		t.Fatal(err)
	}
	want := Created{filepath.Join(root, "a"), filepath.Join(root, "a", "b"), filepath.Join(root, "a", "b", "c")}
	if !reflect.DeepEqual(made, want) {
		t.Fatalf("created %q, want %q", made, want)
	}
	again, err := MkdirAll(filepath.Join(root, "a", "b"), 0o755)
	if err != nil || len(again) != 0 {
		t.Fatalf("MkdirAll of a directory that is there: %q, %v", again, err)
	}
	// Something put in a/b: c goes, a/b and a stay.
	if err := os.WriteFile(filepath.Join(root, "a", "b", "kept"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := made.RemoveEmpty(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(want[2]); !os.IsNotExist(err) {
		t.Errorf("%s is still there", want[2])
	}
	if _, err := os.Stat(filepath.Join(root, "a", "b", "kept")); err != nil {
		t.Errorf("the file put there is gone: %v", err)
	}
	// Emptied: all of them go, root stays.
	if err := os.Remove(filepath.Join(root, "a", "b", "kept")); err != nil {
		t.Fatal(err)
	}
	if err := made.RemoveEmpty(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(want[0]); !os.IsNotExist(err) {
		t.Errorf("%s is still there", want[0])
	}
	if _, err := os.Stat(root); err != nil {
		t.Errorf("root removed: %v", err)
	}
}
