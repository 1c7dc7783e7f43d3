package upgrade

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/atomicfile"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
	"github.com/ml-appliance/appliance/internal/testpayload"
)

// payloadBundle is a bundle directory holding only the payload tp, and a
// manifest naming it.
func payloadBundle(t *testing.T, tp testpayload.Payload) (Source, upgradebundle.Manifest) {
	t.Helper()
	data, err := os.ReadFile(tp.Path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, upgradebundle.PayloadFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	f := fileOf(upgradebundle.PayloadFile, data)
	m := upgradebundle.Manifest{Release: upgradebundle.Release{Payload: tp.Descriptor.Index}, Payload: &f}
	src, err := OpenSource(dir, HTTPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src, m
}

func writeState(t *testing.T, root, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(root, payload.ImagePayloadStateDir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o444); err != nil {
		t.Fatal(err)
	}
	return p
}

func statePayloads(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, payload.ImagePayloadStateDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestPutPayloadFetches: a payload the node lacks is written to STATE
// under its index digest; payloads on STATE that neither the running
// release nor the new one use are removed, others left alone.
func TestPutPayloadFetches(t *testing.T) {
	running := testpayload.Write(t, t.TempDir(), "docker.io/library/busybox:1.36")
	next := testpayload.Write(t, t.TempDir(), "docker.io/library/busybox:1.37")
	root := t.TempDir()
	testpayload.WriteDescriptor(t, root, running.Descriptor)
	runningData, _ := os.ReadFile(running.Path)
	runningName := filepath.Base(statePayloadPath(running.Descriptor.Index))
	writeState(t, root, runningName, runningData)
	stale := strings.Repeat("e", 64) + ".tar"
	writeState(t, root, stale, []byte("an older release's payload"))
	writeState(t, root, "notes.txt", []byte("not a payload"))

	src, m := payloadBundle(t, next)
	note, err := putPayload(context.Background(), root, src, m)
	if err != nil {
		t.Fatal(err)
	}
	newName := filepath.Base(statePayloadPath(next.Descriptor.Index))
	if want := "payload " + next.Descriptor.Index[:19] + "… "; !strings.HasPrefix(note, want) || !strings.Contains(note, "removed the unused "+stale) {
		t.Errorf("note %q, want %q… and the removal", note, want)
	}
	got, err := os.ReadFile(filepath.Join(root, statePayloadPath(next.Descriptor.Index)))
	want, _ := os.ReadFile(next.Path)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("new payload on STATE: %v", err)
	}
	names := strings.Join(statePayloads(t, root), " ")
	for _, keep := range []string{runningName, newName, "notes.txt"} {
		if !strings.Contains(names, keep) {
			t.Errorf("STATE holds %s, want %s kept", names, keep)
		}
	}
	if strings.Contains(names, stale) || strings.Contains(names, atomicfile.TempPrefix) {
		t.Errorf("STATE holds %s: a stale payload or a temporary file", names)
	}
}

// TestPutPayloadKeeps: a node that has the payload (on STATE or its
// PAYLOAD partition: imagepayload.Find) does not fetch it; the bundle's
// file is not even opened.
func TestPutPayloadKeeps(t *testing.T) {
	tp := testpayload.Write(t, t.TempDir(), "docker.io/library/busybox:1.36")
	root := t.TempDir()
	testpayload.WriteDescriptor(t, root, tp.Descriptor)
	data, _ := os.ReadFile(tp.Path)
	writeState(t, root, filepath.Base(statePayloadPath(tp.Descriptor.Index)), data)
	src, m := payloadBundle(t, tp)
	if err := os.Remove(filepath.Join(src.String(), upgradebundle.PayloadFile)); err != nil {
		t.Fatal(err)
	}
	note, err := putPayload(context.Background(), root, src, m)
	if err != nil || !strings.Contains(note, "the node has the payload") || !strings.Contains(note, "at STATE") {
		t.Errorf("note %q, %v", note, err)
	}
}

// TestPutPayloadRefuses: a corrupted payload and one STATE has no room
// for leave nothing on STATE.
func TestPutPayloadRefuses(t *testing.T) {
	tp := testpayload.Write(t, t.TempDir(), "docker.io/library/busybox:1.36")
	root := t.TempDir()
	src, m := payloadBundle(t, tp)
	corrupt := *m.Payload
	corrupt.SHA256 = strings.Repeat("0", 64)
	huge := *m.Payload
	huge.Size = 1 << 55
	for _, tc := range []struct {
		f    upgradebundle.File
		want string
	}{
		{corrupt, "payload: write " + filepath.Join(root, statePayloadPath(tp.Descriptor.Index)) + ": payload.tar has sha256"},
		{huge, "no room for the image payload on " + filepath.Join(root, payload.ImagePayloadStateDir)},
	} {
		m.Payload = &tc.f
		_, err := putPayload(context.Background(), root, src, m)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
		if names := statePayloads(t, root); len(names) != 0 {
			t.Errorf("STATE holds %v", names)
		}
	}
}
