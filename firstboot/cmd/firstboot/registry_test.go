package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/agent"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/imagepayload"
	"github.com/ml-appliance/appliance/internal/testpayload"
)

// serving runs `firstboot registry serve` with args until the test ends
// and returns the address it serves on, read from its console line.
func serving(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // request log lines nobody reads
			}
		}
	}()
	done := make(chan int, 1)
	var stderr strings.Builder
	go func() { done <- run(ctx, append([]string{"registry", "serve"}, args...), pw, &stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("registry serve exited %d after it was stopped: %s", code, stderr.String())
			}
		case <-time.After(10 * time.Second):
			t.Error("registry serve did not stop")
		}
		pw.Close()
	})
	deadline := time.After(20 * time.Second)
	for {
		select {
		case line := <-lines:
			if _, addr, ok := strings.Cut(line, " on "); ok && strings.HasPrefix(line, "firstboot: registry: serving payload ") {
				return addr
			}
		case code := <-done:
			t.Fatalf("registry serve exited %d: %s", code, stderr.String())
		case <-deadline:
			t.Fatal("registry serve printed no serving line")
		}
	}
}

func get(t *testing.T, url string, accept string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// containerdAccept is the Accept header containerd v2.3.2 resolves a tag
// with (core/remotes/docker/resolver.go, NewResolver).
const containerdAccept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, " +
	"application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, */*"

// TestRegistryServe starts the subcommand as the unit does (no flags but
// the root: the payload and address come from the image-payload step's
// record) on a free port, and pulls a manifest the way containerd does
// through a mirror.
func TestRegistryServe(t *testing.T) {
	root := t.TempDir()
	tp := testpayload.Write(t, t.TempDir(), "docker.io/library/busybox:1.36", "ghcr.io/example/model-server:v2")
	testpayload.WriteDescriptor(t, root, tp.Descriptor)
	data, err := os.ReadFile(tp.Path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, bootparam.ISOMount+bootparam.ISOPayloadPath), string(data))
	rec, err := json.Marshal(agent.ImagePayloadStatus{
		Index: tp.Descriptor.Index, Images: 2, Size: tp.Descriptor.Size, Listen: "127.0.0.1:0",
		Location: &imagepayload.Location{Kind: imagepayload.KindISO, Path: bootparam.ISOMount + bootparam.ISOPayloadPath},
	})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, agent.ImagePayloadStatusPath), string(rec))
	sock := filepath.Join(t.TempDir(), "notify")
	notify, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer notify.Close()
	t.Setenv("NOTIFY_SOCKET", sock)

	addr := serving(t, "--root", root)
	buf := make([]byte, 64)
	notify.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := notify.Read(buf); err != nil || string(buf[:n]) != "READY=1" {
		t.Errorf("systemd got %q (%v), want READY=1", buf[:n], err)
	}
	resp, _ := get(t, "http://"+addr+"/v2/", "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Errorf("GET /v2/: %s, %v", resp.Status, resp.Header)
	}
	want := tp.Manifests["ghcr.io/example/model-server:v2"]
	resp, body := get(t, "http://"+addr+"/v2/example/model-server/manifests/v2?ns=ghcr.io", containerdAccept)
	if resp.StatusCode != http.StatusOK || string(body) != string(want.Content) || resp.Header.Get("Docker-Content-Digest") != want.Digest {
		t.Errorf("GET manifest: %s, digest %q, body %q; want 200, %s", resp.Status, resp.Header.Get("Docker-Content-Digest"), body, want.Digest)
	}
	if resp, _ := get(t, "http://"+addr+"/v2/example/model-server/manifests/v2?ns=docker.io", containerdAccept); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET a manifest of another registry: %s, want 404", resp.Status)
	}
}

// TestRegistryServeNamed serves a payload named by hand, and refuses to
// serve without one when firstboot found none.
func TestRegistryServeNamed(t *testing.T) {
	root := t.TempDir()
	tp := testpayload.Write(t, t.TempDir(), "docker.io/library/busybox:1.36")
	testpayload.WriteDescriptor(t, root, tp.Descriptor)
	var stdout, stderr strings.Builder
	code := run(context.Background(), []string{"registry", "serve", "--root", root}, &stdout, &stderr)
	if want := "firstboot found no payload to serve on this boot"; code != 1 || !strings.Contains(stderr.String(), want) {
		t.Errorf("no record: code %d, stderr %q; want 1 and %q", code, stderr.String(), want)
	}
	// --payload is a path of the host, under --root.
	link := filepath.Join(root, "payload.tar")
	if err := os.Symlink(tp.Path, link); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	code = run(context.Background(), []string{"registry", "serve", "--root", root, "--payload", "/payload.tar", "--listen", "127.0.0.1:0"}, &stdout, &stderr)
	if want := "/payload.tar is a symbolic link, not a regular file"; code != 1 || !strings.Contains(stderr.String(), want) {
		t.Errorf("a link: code %d, stderr %q; want 1 and %q", code, stderr.String(), want)
	}
	os.Remove(link)
	data, err := os.ReadFile(tp.Path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, link, string(data))
	addr := serving(t, "--root", root, "--payload", "/payload.tar", "--listen", "127.0.0.1:0")
	want := tp.Manifests["docker.io/library/busybox:1.36"]
	resp, body := get(t, "http://"+addr+"/v2/library/busybox/manifests/1.36?ns=docker.io", containerdAccept)
	if resp.StatusCode != http.StatusOK || string(body) != string(want.Content) {
		t.Errorf("GET manifest: %s, body %q", resp.Status, body)
	}
}

// noImages is what `firstboot status` says before the image-payload step.
const noImages = "images: not checked yet (firstboot has not got that far)\n"

// TestStatusShowsImages: `firstboot status` says where the node's images
// come from, in text and JSON.
func TestStatusShowsImages(t *testing.T) {
	index := "sha256:" + strings.Repeat("ab", 32)
	for _, c := range []struct {
		name string
		st   agent.ImagePayloadStatus
		want string
	}{
		{"served", agent.ImagePayloadStatus{
			Index: index, Images: 41, Size: 5 << 30, Listen: ":5000",
			Location:  &imagepayload.Location{Kind: imagepayload.KindPartition, Path: imagepayload.PartLabelLink, Target: "/dev/vda4"},
			Endpoints: []string{"http://127.0.0.1:5000"},
		}, "images: payload sha256:abababababab… (41 images, 5.0 GiB) served on :5000 from PARTLABEL=PAYLOAD (/dev/vda4)\n"},
		{"netbooted", agent.ImagePayloadStatus{
			Index: index, Images: 41, Size: 5 << 30, Problem: "none found (looked at ...)",
			Endpoints: []string{"http://[fd00::10]:5000"},
		}, "images: from the servers (http://[fd00::10]:5000) and the embedded mirror: this node has no payload: none found (looked at ...)\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			data, err := json.Marshal(c.st)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(root, agent.ImagePayloadStatusPath), string(data))
			var stdout, stderr strings.Builder
			if code := run(context.Background(), []string{"status", "--root", root}, &stdout, &stderr); code != 0 {
				t.Fatalf("status: code %d, %s", code, stderr.String())
			}
			if !strings.Contains(stdout.String(), "\n"+c.want) {
				t.Errorf("status printed:\n%s\nwant the line %q", stdout.String(), c.want)
			}
			stdout.Reset()
			if code := run(context.Background(), []string{"status", "--root", root, "-o", "json"}, &stdout, &stderr); code != 0 {
				t.Fatalf("status -o json: code %d, %s", code, stderr.String())
			}
			var rep statusReport
			if err := json.Unmarshal([]byte(stdout.String()), &rep); err != nil || rep.Images == nil || rep.Images.Index != index || len(rep.Images.Endpoints) != 1 {
				t.Errorf("status JSON (%v):\n%s", err, stdout.String())
			}
		})
	}
}
