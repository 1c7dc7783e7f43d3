package upgrade

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
	"github.com/ml-appliance/appliance/internal/testpayload"
)

// cutFirst serves the bundle directory dir (with Range support:
// http.ServeFile), but cuts the first cuts answers for each file over
// 64 KiB half-way and drops the connection, as a server that dies
// mid-transfer does.
type cutFirst struct {
	dir  string
	cuts int
	mu   sync.Mutex
	seen map[string]int
}

func (c *cutFirst) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := path.Base(r.URL.Path)
	data, err := os.ReadFile(filepath.Join(c.dir, name))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	c.mu.Lock()
	c.seen[name]++
	n := c.seen[name]
	c.mu.Unlock()
	if len(data) > 64<<10 && n <= c.cuts {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Write(data[:len(data)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	http.ServeFile(w, r, filepath.Join(c.dir, name))
}

// TestApplyOverHTTP: a bundle served over HTTP by a server that cuts
// every file's first answer short is applied whole (each file resumed),
// payload included.
func TestApplyOverHTTP(t *testing.T) {
	n := newTestNode(t)
	tp := testpayload.Write(t, t.TempDir(), "docker.io/library/busybox:1.37")
	payload, err := os.ReadFile(tp.Path)
	if err != nil {
		t.Fatal(err)
	}
	b := n.newBundle("2.0.0", func(m *upgradebundle.Manifest) {
		f := fileOf(upgradebundle.PayloadFile, payload)
		m.Payload, m.Release.Payload = &f, tp.Descriptor.Index
	})
	b.files[upgradebundle.PayloadFile] = payload
	b.write(t, n.key)
	c := &cutFirst{dir: b.dir, cuts: 1, seen: map[string]int{}}
	srv := httptest.NewServer(http.StripPrefix("/lab-upgrade", c))
	defer srv.Close()
	url := srv.URL + "/lab-upgrade/manifest.json"
	applied, err := Apply(context.Background(), n.options(url))
	if err != nil {
		t.Fatalf("%v\n%s", err, n.out.String())
	}
	if got := n.boots(); got != "b" {
		t.Errorf("systemd-boot would boot slot %s, want b", got)
	}
	if applied.Source != srv.URL+"/lab-upgrade/" {
		t.Errorf("record's source %q", applied.Source)
	}
	for name, want := range map[string]int{
		upgradebundle.OSImageFile: 2, upgradebundle.KernelFile: 2, upgradebundle.InitrdFile: 2, // cut, then resumed
		upgradebundle.PayloadFile: 1, upgradebundle.ManifestFile: 1, upgradebundle.SignatureFile: 1,
	} {
		if c.seen[name] != want {
			t.Errorf("%s requested %d times, want %d", name, c.seen[name], want)
		}
	}
	got, err := os.ReadFile(filepath.Join(n.root, statePayloadPath(tp.Descriptor.Index)))
	if err != nil || string(got) != string(payload) {
		t.Errorf("payload on STATE: %v", err)
	}
	if !strings.Contains(n.out.String(), "upgrade: GET "+srv.URL+"/lab-upgrade/os.squashfs: the body ended at") {
		t.Errorf("no retry line:\n%s", n.out.String())
	}
}

// TestApplyOverHTTPGivesUp: a server that never sends os.squashfs whole
// is given up on, and the node keeps booting slot a.
func TestApplyOverHTTPGivesUp(t *testing.T) {
	n := newTestNode(t)
	b := n.newBundle("2.0.0", nil)
	srv := httptest.NewServer(&cutFirst{dir: b.dir, cuts: 100, seen: map[string]int{}})
	defer srv.Close()
	_, err := Apply(context.Background(), n.options(srv.URL+"/"))
	want := "upgrade not applied, slot a (1.0.0) still boots: write slot b (/dev/vda3): os.squashfs: after 2621449 bytes: GET " + srv.URL + "/os.squashfs: "
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "(after 4 attempts") {
		t.Fatalf("err = %v, want %q… after 4 attempts", err, want)
	}
	if got := n.boots(); got != "a" {
		t.Errorf("systemd-boot would boot slot %s, want a", got)
	}
}

// TestApplyPayloadKept: a node that has the release's payload already
// does not fetch it.
func TestApplyPayloadKept(t *testing.T) {
	n := newTestNode(t)
	tp := testpayload.Write(t, t.TempDir(), "docker.io/library/busybox:1.36")
	testpayload.WriteDescriptor(t, n.root, tp.Descriptor)
	payload, err := os.ReadFile(tp.Path)
	if err != nil {
		t.Fatal(err)
	}
	writeState(t, n.root, filepath.Base(statePayloadPath(tp.Descriptor.Index)), payload)
	b := n.newBundle("2.0.0", func(m *upgradebundle.Manifest) {
		f := fileOf(upgradebundle.PayloadFile, payload)
		m.Payload, m.Release.Payload = &f, tp.Descriptor.Index
	})
	// The bundle does not even hold the payload's file.
	c := &cutFirst{dir: b.dir, seen: map[string]int{}}
	srv := httptest.NewServer(c)
	defer srv.Close()
	if _, err := Apply(context.Background(), n.options(srv.URL+"/")); err != nil {
		t.Fatalf("%v\n%s", err, n.out.String())
	}
	if c.seen[upgradebundle.PayloadFile] != 0 || !strings.Contains(n.out.String(), "the node has the payload") {
		t.Errorf("payload requested %d times:\n%s", c.seen[upgradebundle.PayloadFile], n.out.String())
	}
}
