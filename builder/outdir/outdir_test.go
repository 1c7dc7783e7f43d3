package outdir

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
)

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestCommitMovesEverythingIntoPlace(t *testing.T) {
	out := t.TempDir()
	d, err := Begin(out)
	if err != nil {
		t.Fatal(err)
	}
	scratch, err := d.Scratch()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(scratch, "tmp"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"disk.raw", "build-report.json", "os.squashfs"} {
		if err := os.WriteFile(d.Path(n), []byte(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := listDir(t, out); len(got) != 1 {
		t.Fatalf("before commit the output dir should hold only the staging dir, has %v", got)
	}
	if err := d.Commit("build-report.json"); err != nil {
		t.Fatal(err)
	}
	want := []string{"build-report.json", "disk.raw", "os.squashfs"}
	if got := listDir(t, out); !reflect.DeepEqual(got, want) {
		t.Fatalf("after commit: got %v, want %v", got, want)
	}
	b, err := os.ReadFile(filepath.Join(out, "disk.raw"))
	if err != nil || string(b) != "disk.raw" {
		t.Fatalf("disk.raw content %q, %v", b, err)
	}
}

func TestInterruptedBuildLeavesNoFinalNameAndIsCleanedUp(t *testing.T) {
	out := t.TempDir()
	d, err := Begin(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.Path("disk.raw"), []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The build dies here: no Commit, no Abort.
	if _, err := os.Stat(filepath.Join(out, "disk.raw")); !os.IsNotExist(err) {
		t.Fatalf("half-written artifact visible under its final name: %v", err)
	}
	d2, err := Begin(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, out); !reflect.DeepEqual(got, []string{filepath.Base(d2.staging)}) {
		t.Fatalf("stale staging dir not removed: %v", got)
	}
}

func TestAbortRemovesStaging(t *testing.T) {
	out := t.TempDir()
	d, err := Begin(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.Path("x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.Abort(); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, out); len(got) != 0 {
		t.Fatalf("abort left %v", got)
	}
}

// A directory artifact (the PXE bundle) replaces the previous build's:
// swapped in one step, the old one removed with the staging area.
func TestCommitReplacesADirectory(t *testing.T) {
	out := t.TempDir()
	build := func(files ...string) {
		t.Helper()
		d, err := Begin(out)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(d.Path("pxe"), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(d.Path("pxe"), f), []byte(f), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	build("boot.ipxe", "old-only")
	build("boot.ipxe", "new-only")
	if got, want := listDir(t, filepath.Join(out, "pxe")), []string{"boot.ipxe", "new-only"}; !reflect.DeepEqual(got, want) {
		t.Errorf("pxe/ after the second build: %v, want %v", got, want)
	}
	if got := listDir(t, out); !reflect.DeepEqual(got, []string{"pxe"}) {
		t.Errorf("output dir after the second build: %v, want only pxe (no staging left)", got)
	}
}

// TestAbortRemovesTheNewOutputDirectory: a failed build leaves no output
// directory it created (nor the parents it created); Commit keeps it, and
// Abort keeps one that was there.
func TestAbortRemovesTheNewOutputDirectory(t *testing.T) {
	root := t.TempDir()
	out := filepath.Join(root, "new", "out")
	d, err := Begin(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.Path("disk.raw"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.Abort(); err != nil {
		t.Fatal(err)
	}
	if names := listDir(t, root); len(names) != 0 {
		t.Errorf("an aborted build left %q", names)
	}

	d, err = Begin(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.Path("disk.raw"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.Commit(); err != nil {
		t.Fatal(err)
	}
	if names := listDir(t, out); !reflect.DeepEqual(names, []string{"disk.raw"}) {
		t.Fatalf("committed: %q", names)
	}
	d, err = Begin(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Abort(); err != nil {
		t.Fatal(err)
	}
	if names := listDir(t, out); !reflect.DeepEqual(names, []string{"disk.raw"}) {
		t.Errorf("aborting a build into an existing directory left %q", names)
	}
}
