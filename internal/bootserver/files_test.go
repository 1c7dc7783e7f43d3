package bootserver

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pack.ag/tftp"
)

// startLoopback runs a server with DHCP off on 127.0.0.1, serving bundle
// over HTTP and tftpDir over TFTP.
func startLoopback(t *testing.T, bundle, tftpDir string) (*Server, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	srv, err := Start(Options{
		Dir: bundle, TFTPDir: tftpDir, DHCP: NoDHCP, ServerIP: netip.MustParseAddr("127.0.0.1"),
		HTTPAddr: "127.0.0.1:0", TFTPAddr: "127.0.0.1:0", Logger: logs.logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return srv, logs
}

func writeRandomFile(t *testing.T, path string, size int) []byte {
	t.Helper()
	data := make([]byte, size)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return data
}

func TestTFTPSendsFileWithNegotiatedBlockSizeAndSize(t *testing.T) {
	dir := t.TempDir()
	// Not a multiple of 1428, so the last block is short.
	want := writeRandomFile(t, filepath.Join(dir, EFIBootFile), 1428*70+333)
	srv, logs := startLoopback(t, t.TempDir(), dir)

	client, err := tftp.NewClient(tftp.ClientBlocksize(1428), tftp.ClientTransferSize(true))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get(fmt.Sprintf("tftp://%s/%s", srv.TFTPAddr(), EFIBootFile))
	if err != nil {
		t.Fatalf("TFTP get: %v", err)
	}
	size, err := resp.Size()
	if err != nil {
		t.Fatalf("server sent no tsize: %v", err)
	}
	if size != int64(len(want)) {
		t.Errorf("tsize = %d, want %d", size, len(want))
	}
	got, err := io.ReadAll(resp)
	if err != nil {
		t.Fatalf("TFTP read: %v", err)
	}
	if len(got) != len(want) || sha256.Sum256(got) != sha256.Sum256(want) {
		t.Fatalf("got %d bytes sha256 %x, want %d bytes sha256 %x", len(got), sha256.Sum256(got), len(want), sha256.Sum256(want))
	}
	logs.waitForLine(t, "msg=tftp", "file=/"+EFIBootFile, fmt.Sprintf("bytes=%d", len(want)))
}

func TestTFTPMissingFileIsErrorOneAndLogged(t *testing.T) {
	srv, logs := startLoopback(t, t.TempDir(), t.TempDir())
	client, err := tftp.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get(fmt.Sprintf("tftp://%s/nope.efi", srv.TFTPAddr()))
	if err == nil {
		_, err = io.ReadAll(resp)
	}
	if err == nil {
		t.Fatal("TFTP get of a missing file succeeded")
	}
	// The library names the error packet's code: ErrCodeFileNotFound is 1.
	if tftp.ErrCodeFileNotFound != 1 || !tftp.IsRemoteError(err) || !strings.Contains(err.Error(), "Code: "+tftp.ErrCodeFileNotFound.String()) {
		t.Errorf("error %q does not carry TFTP error 1 (file not found)", err)
	}
	logs.waitForLine(t, "level=WARN", "msg=tftp", "file=/nope.efi", "file not found", "TFTP error 1")
}

func TestTFTPStaysInsideItsDirectory(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "tftp")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeRandomFile(t, filepath.Join(parent, "secret"), 10)
	srv, _ := startLoopback(t, t.TempDir(), dir)
	client, _ := tftp.NewClient()
	resp, err := client.Get(fmt.Sprintf("tftp://%s/../secret", srv.TFTPAddr()))
	if err == nil {
		_, err = io.ReadAll(resp)
	}
	if err == nil {
		t.Fatal("TFTP served a file outside its directory")
	}
}

func TestHTTPServesRangeAndLogs(t *testing.T) {
	bundle := t.TempDir()
	want := writeRandomFile(t, filepath.Join(bundle, "os.squashfs"), 1<<20)
	srv, logs := startLoopback(t, bundle, t.TempDir())

	req, _ := http.NewRequest(http.MethodGet, "http://"+srv.HTTPAddr().String()+"/os.squashfs", nil)
	req.Header.Set("Range", "bytes=1000-4999")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusPartialContent {
		t.Fatalf("status %d, want 206", resp.StatusCode)
	}
	if string(got) != string(want[1000:5000]) {
		t.Errorf("range body: got %d bytes, not bytes 1000-4999 of the file", len(got))
	}
	if cr := resp.Header.Get("Content-Range"); cr != "bytes 1000-4999/1048576" {
		t.Errorf("Content-Range = %q", cr)
	}
	logs.waitForLine(t, "msg=http", "method=GET", "path=/os.squashfs", "status=206", "bytes=4000", "client=127.0.0.1:")
}

func TestHTTPMissingFileIs404AndLogged(t *testing.T) {
	srv, logs := startLoopback(t, t.TempDir(), t.TempDir())
	resp, err := http.Get("http://" + srv.HTTPAddr().String() + "/nodes/worker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d, want 404", resp.StatusCode)
	}
	logs.waitForLine(t, "msg=http", "path=/nodes/worker.yaml", "status=404")
}

func TestHTTPIsReadOnlyAndHasNoListings(t *testing.T) {
	bundle := t.TempDir()
	if err := os.Mkdir(filepath.Join(bundle, "nodes"), 0o755); err != nil {
		t.Fatal(err)
	}
	srv, _ := startLoopback(t, bundle, t.TempDir())
	base := "http://" + srv.HTTPAddr().String()
	put, _ := http.NewRequest(http.MethodPut, base+"/x", strings.NewReader("x"))
	for _, c := range []struct {
		req  *http.Request
		want int
	}{
		{put, http.StatusMethodNotAllowed},
		{mustGet(base + "/nodes/"), http.StatusNotFound},
		{mustGet(base + "/../../etc/passwd"), http.StatusNotFound},
	} {
		resp, err := http.DefaultClient.Do(c.req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s %s: status %d, want %d", c.req.Method, c.req.URL.Path, resp.StatusCode, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(bundle, "x")); err == nil {
		t.Error("PUT created a file")
	}
}

func mustGet(url string) *http.Request {
	r, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		panic(err)
	}
	return r
}

func TestStartReportsBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Start(Options{Dir: t.TempDir(), DHCP: NoDHCP, ServerIP: netip.MustParseAddr("127.0.0.1"),
		HTTPAddr: ln.Addr().String(), TFTPAddr: "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "listen for HTTP") {
		t.Fatalf("want a listen for HTTP error, got %v", err)
	}
}

func TestHTTPServesExtraFileSection(t *testing.T) {
	// A "partition" whose first 64 KiB are the image: only those are served.
	partPath := filepath.Join(t.TempDir(), "part")
	part := writeRandomFile(t, partPath, 1<<20)
	f, err := os.Open(partPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	logs := &logBuffer{}
	srv, err := Start(Options{
		Dir: t.TempDir(), DHCP: NoDHCP, ServerIP: netip.MustParseAddr("127.0.0.1"),
		HTTPAddr: "127.0.0.1:0", TFTPAddr: "127.0.0.1:0", Logger: logs.logger(),
		Files: map[string]File{"/os.squashfs": {Content: io.NewSectionReader(f, 0, 64<<10)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Serve(ctx)
	for range 2 { // the section is not consumed by the first request
		resp, err := http.Get("http://" + srv.HTTPAddr().String() + "/os.squashfs")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.ContentLength != 64<<10 || string(got) != string(part[:64<<10]) {
			t.Fatalf("GET /os.squashfs: status %d, length %d, %d bytes, want the first 64 KiB of the partition", resp.StatusCode, resp.ContentLength, len(got))
		}
	}
	logs.waitForLine(t, "msg=http", "path=/os.squashfs", "status=200", "bytes=65536")
}
