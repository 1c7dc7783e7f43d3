package lock

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func sample() *Lock {
	l := New()
	l.K3s = &K3s{Version: "v1.33.5+k3s1", Checksums: "sha256:c1", Binary: "sha256:b1", Airgap: "sha256:a1"}
	l.Charts = []Chart{{Component: "web", Repo: "https://charts.example", Name: "web", Version: "1.0.0", Digest: "sha256:w1"},
		{Component: "db", Repo: "oci://r.example/charts", Name: "db", Version: "0.3.0", Digest: "sha256:d1"}}
	l.Images = []Image{{Ref: "nginx:1.27", Index: "sha256:i1", Manifest: "sha256:m1"}, {Ref: "busybox:1.36", Manifest: "sha256:m2"}}
	return l
}

func TestWriteReadRoundTripIsSortedAndStable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "site.lock")
	if err := sample().Write(path, "site.yaml"); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Charts[0].Component != "db" || got.Images[0].Ref != "busybox:1.36" {
		t.Errorf("not sorted: %+v %+v", got.Charts, got.Images)
	}
	if d := Diff(sample(), got); len(d) != 0 {
		t.Errorf("round trip differs: %v", d)
	}
	if err := got.Write(path, "site.yaml"); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(path)
	if string(first) != string(second) {
		t.Errorf("rewriting changed the file:\n%s\n---\n%s", first, second)
	}
	if !strings.HasPrefix(string(first), "# Written by `builder lock --config site.yaml`") {
		t.Errorf("header missing:\n%s", first)
	}
}

func TestReadRejects(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"unknown.lock": "apiVersion: appliance/v1alpha1\nkind: Lock\nimagez: []\n",
		"kind.lock":    "apiVersion: appliance/v1alpha1\nkind: Site\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, want := range map[string]string{
		"unknown.lock": "line 3: field imagez not found in type lock.Lock",
		"kind.lock":    `not a appliance/v1alpha1 Lock (apiVersion "appliance/v1alpha1", kind "Site")`,
	} {
		_, err := Read(filepath.Join(dir, name))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to contain %q", name, err, want)
		}
	}
	if ok, err := Exists(filepath.Join(dir, "none.lock")); ok || err != nil {
		t.Errorf("Exists(missing) = %v, %v", ok, err)
	}
}

func TestDiff(t *testing.T) {
	have, want := sample(), sample()
	want.K3s.Version, want.K3s.Checksums = "v1.33.6+k3s1", "sha256:c2"
	want.Charts[0].Version, want.Charts[0].Digest = "1.1.0", "sha256:w2"
	want.Images = append(want.Images[1:], Image{Ref: "postgres:16", Manifest: "sha256:m3"})
	got := Diff(have, want)
	wantDiff := []string{
		"k3s: lock has v1.33.5+k3s1 (checksums sha256:c1), config needs v1.33.6+k3s1 (checksums sha256:c2)",
		"chart web: lock has web 1.0.0 from https://charts.example (sha256:w1), config needs web 1.1.0 from https://charts.example (sha256:w2)",
		"image postgres:16 is not in the lock",
		"image nginx:1.27 is in the lock but no longer needed",
	}
	if !reflect.DeepEqual(got, wantDiff) {
		t.Errorf("Diff:\n got %q\nwant %q", got, wantDiff)
	}
	if got := PathFor("configs/site.yaml"); got != "configs/site.lock" {
		t.Errorf("PathFor = %s", got)
	}
}

// TestReadRefusesWhatIsNotALockFile: a lock beside the config that is a
// device, a FIFO or too large is an error at once, not a hang or a crash.
func TestReadRefusesWhatIsNotALockFile(t *testing.T) {
	big := filepath.Join(t.TempDir(), "site.lock")
	if err := os.WriteFile(big, make([]byte, MaxBytes+1), 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"/dev/zero": "read lock: read /dev/zero: not a regular file (Dc---------)",
		big:         "read lock: read " + big + ": larger than 16777216 bytes",
	} {
		if _, err := Read(path); err == nil || err.Error() != want {
			t.Errorf("Read(%s): %v, want %s", path, err, want)
		}
	}
}

// TestBasePinRoundTripAndOldLockFile: the base pin is written and read
// back; a lock file written before the base was pinned (no base field) is
// read, has no base pin, and Diff says the base is not in it.
func TestBasePinRoundTripAndOldLockFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "site.lock")
	l := sample()
	l.Base = &Image{Ref: "r.example/bases/debian:12", Index: "sha256:bi", Manifest: "sha256:bm"}
	if err := l.Write(path, "site.yaml"); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), "\nbase:\n  ref: r.example/bases/debian:12\n  index: sha256:bi\n  manifest: sha256:bm\n") {
		t.Errorf("base pin not written as expected:\n%s", data)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if pin, ok := got.BaseImage("r.example/bases/debian:12"); !ok || pin != *l.Base || pin.RegistryDigest() != "sha256:bi" {
		t.Errorf("BaseImage = %+v, %v; want %+v", pin, ok, *l.Base)
	}
	if _, ok := got.BaseImage("r.example/bases/debian:13"); ok {
		t.Error("BaseImage pins another reference")
	}

	old := filepath.Join(dir, "old.lock")
	body := "# Written by `builder lock --config site.yaml`\napiVersion: appliance/v1alpha1\nkind: Lock\n" +
		"images:\n  - ref: busybox:1.36\n    manifest: sha256:m2\n"
	if err := os.WriteFile(old, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	prev, err := Read(old)
	if err != nil {
		t.Fatalf("a lock without a base field: %v", err)
	}
	if prev.Base != nil || len(prev.Images) != 1 {
		t.Errorf("old lock read as %+v", prev)
	}
	if _, ok := prev.BaseImage("r.example/bases/debian:12"); ok {
		t.Error("an old lock pins the base")
	}
	want := &Lock{Base: l.Base, Images: prev.Images}
	if d := Diff(prev, want); !reflect.DeepEqual(d, []string{"base os.base.image r.example/bases/debian:12 is not in the lock"}) {
		t.Errorf("Diff(old lock) = %q", d)
	}
}

func TestDiffBase(t *testing.T) {
	a := &Image{Ref: "r.example/debian:12", Manifest: "sha256:m1"}
	moved := &Image{Ref: "r.example/debian:12", Index: "sha256:i2", Manifest: "sha256:m2"}
	other := &Image{Ref: "r.example/debian:13", Manifest: "sha256:m3"}
	for _, c := range []struct {
		have, want *Image
		line       string
	}{
		{a, a, ""},
		{nil, nil, ""},
		{a, nil, "base image r.example/debian:12 is in the lock but os.base is not an image"},
		{a, other, "base: lock has image r.example/debian:12, os.base.image is r.example/debian:13"},
		{a, moved, "base os.base.image r.example/debian:12: lock has manifest sha256:m1, config needs index sha256:i2, linux/amd64 sha256:m2"},
	} {
		got := Diff(&Lock{Base: c.have}, &Lock{Base: c.want})
		if (c.line == "" && len(got) != 0) || (c.line != "" && !reflect.DeepEqual(got, []string{c.line})) {
			t.Errorf("Diff(%+v, %+v) = %q, want %q", c.have, c.want, got, c.line)
		}
	}
}
