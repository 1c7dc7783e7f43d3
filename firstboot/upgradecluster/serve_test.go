package upgradecluster

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeBundle serves a bundle directory on 127.0.0.1 and asks for
// what a node fetches and for what it must not get.
func TestServeBundle(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "lab-upgrade")
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("manifest.json", `{"format":1}`)
	write("vmlinuz", "0123456789")
	write(".firstboot-manifest.json.tmp-1", "partial")
	write("sub/x", "nested")
	if err := os.WriteFile(filepath.Join(root, "secret"), []byte("outside"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../secret", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	var logged lines
	go func() {
		served <- ServeBundle(ctx, ln, dir, func(f string, a ...any) { logged.add(f) })
	}()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Timeout: 5 * time.Second}

	for _, tc := range []struct {
		method, path, rangeHdr string
		status                 int
		body                   string
	}{
		{"GET", "/lab-upgrade/manifest.json", "", 200, `{"format":1}`},
		{"HEAD", "/lab-upgrade/manifest.json", "", 200, ""},
		{"GET", "/lab-upgrade/vmlinuz", "bytes=2-4", 206, "234"},
		{"POST", "/lab-upgrade/manifest.json", "", 405, ""},
		{"PUT", "/lab-upgrade/new", "", 405, ""},
		{"GET", "/lab-upgrade/", "", 404, ""},
		{"GET", "/", "", 404, ""},
		{"GET", "/lab-upgrade/sub", "", 404, ""},
		{"GET", "/lab-upgrade/sub/x", "", 404, ""},
		{"GET", "/lab-upgrade/link", "", 404, ""},
		{"GET", "/lab-upgrade/fifo", "", 404, ""},
		{"GET", "/lab-upgrade/.firstboot-manifest.json.tmp-1", "", 404, ""},
		{"GET", "/lab-upgrade/%2e%2e/secret", "", 404, ""},
		{"GET", "/other-upgrade/manifest.json", "", 404, ""},
	} {
		req, err := http.NewRequest(tc.method, base+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tc.rangeHdr != "" {
			req.Header.Set("Range", tc.rangeHdr)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Errorf("%s %s: %v", tc.method, tc.path, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || (tc.status < 300 && string(body) != tc.body) {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, resp.StatusCode, body, tc.status, tc.body)
		}
		if strings.Contains(string(body), "outside") || strings.Contains(string(body), "partial") {
			t.Errorf("%s %s served %q", tc.method, tc.path, body)
		}
	}
	if len(logged.all()) == 0 {
		t.Error("no request logged")
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("ServeBundle: %v", err)
	}
}

// TestServeBundleRefusesALinkedDirectory: the directory itself is not
// followed through a symbolic link either.
func TestServeBundleRefusesALinkedDirectory(t *testing.T) {
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "lab-upgrade")
	if err := os.Symlink("real", link); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := ServeBundle(t.Context(), ln, link, nil); err == nil || !strings.Contains(err.Error(), "open directory") {
		t.Errorf("ServeBundle of a link: %v, want an error opening the directory", err)
	}
}
