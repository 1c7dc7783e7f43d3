package main

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/imageregistry"
	"github.com/ml-appliance/appliance/internal/testpayload"
)

// TestResolveThroughMirror: the double's containerd-like requests (HEAD
// the tag with ?ns=, GET the manifest by digest) against the real payload
// registry (package imageregistry) behind the first endpoint of
// registries.yaml, as firstboot writes it.
func TestResolveThroughMirror(t *testing.T) {
	dir := t.TempDir()
	tp := testpayload.Write(t, dir, "docker.io/library/busybox:1.36", "ghcr.io/example/model-server:v2")
	f, err := os.Open(tp.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	layout, err := imageregistry.Open(f, tp.Descriptor.Size, tp.Descriptor.Index)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(layout.Handler())
	defer srv.Close()
	testpayload.WriteDescriptor(t, dir, tp.Descriptor)
	descriptor := filepath.Join(dir, "usr/lib/appliance/images/payload.json")
	registries := filepath.Join(dir, "registries.yaml")
	write := func(content string) {
		if err := os.WriteFile(registries, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	write("mirrors:\n  docker.io:\n    endpoint:\n      - " + srv.URL + "\n      - http://10.0.0.10:5000\n  ghcr.io: {}\n")
	p, ok, err := planPull(descriptor, registries)
	if err != nil || !ok || p.base != srv.URL+"/v2" || p.repository != "library/busybox" || p.tag != "1.36" {
		t.Fatalf("planPull = %+v, %v, %v", p, ok, err)
	}
	dgst, mt, err := p.resolve(context.Background())
	if want := tp.Manifests["docker.io/library/busybox:1.36"].Digest; err != nil || dgst != want || mt != testpayload.MediaTypeManifest {
		t.Errorf("resolve = %s, %s, %v; want %s, %s", dgst, mt, err, want, testpayload.MediaTypeManifest)
	}

	// The payload's registry answers only for the registry a name is under.
	p.registry = "quay.io"
	if _, _, err := p.resolve(context.Background()); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("resolve under another registry: %v, want a 404", err)
	}

	write("mirrors:\n  docker.io: {}\n")
	if _, _, err := planPull(descriptor, registries); err == nil || !strings.Contains(err.Error(), "no endpoint for docker.io") {
		t.Errorf("no endpoint: %v", err)
	}
	if _, ok, err := planPull(filepath.Join(dir, "none.json"), registries); ok || err != nil {
		t.Errorf("no descriptor: %v, %v; want nothing to pull", ok, err)
	}
}
