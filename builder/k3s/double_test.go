package k3s

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
)

const testVersion = "v1.33.5+k3s1"

// releaseDouble is a test double of K3s's release download server: it
// serves a stand-in release (a shell script as "k3s", a one-file tar.zst as
// the airgap archive, and their sha256sum-amd64.txt) under the real layout
// /<version with + as %2B>/<asset>, and records every request.
type releaseDouble struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []string
	assets map[string][]byte // by raw request path
	// fail answers the next requests for a path with a status first.
	fail map[string][]int
}

func newReleaseDouble(t *testing.T) *releaseDouble {
	t.Helper()
	d := &releaseDouble{assets: map[string][]byte{}, fail: map[string][]int{}}
	bin := []byte("#!/bin/sh\necho 'k3s test double'\n")
	airgap := airgapDouble(t)
	d.put(BinaryAsset, bin)
	d.put(AirgapAsset, airgap)
	d.put(ChecksumsAsset, []byte(checksums(map[string][]byte{BinaryAsset: bin, AirgapAsset: airgap, "k3s-airgap-images-amd64.tar": []byte("tar variant")})))
	d.srv = httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(d.srv.Close)
	return d
}

// mirror is the double's release base URL.
func (d *releaseDouble) mirror() string { return d.srv.URL + "/k3s/releases/download" }

func (d *releaseDouble) path(asset string) string {
	return "/k3s/releases/download/v1.33.5%2Bk3s1/" + asset
}

func (d *releaseDouble) put(asset string, data []byte) { d.assets[d.path(asset)] = data }

func (d *releaseDouble) serve(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	d.reqs = append(d.reqs, r.Method+" "+r.RequestURI)
	var status int
	if s := d.fail[r.RequestURI]; len(s) > 0 {
		status, d.fail[r.RequestURI] = s[0], s[1:]
	}
	data, ok := d.assets[r.RequestURI]
	d.mu.Unlock()
	switch {
	case status != 0:
		http.Error(w, "injected failure", status)
	case !ok:
		http.NotFound(w, r)
	default:
		w.Write(data)
	}
}

func (d *releaseDouble) requests() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.reqs...)
}

func (d *releaseDouble) reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reqs = nil
}

// airgapDouble is a zstd-compressed tar holding one small file: the shape
// of an airgap archive, not its content.
func airgapDouble(t *testing.T) []byte {
	t.Helper()
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	content := []byte(`{"test":"airgap archive double"}`)
	if err := tw.WriteHeader(&tar.Header{Name: "index.json", Mode: 0o644, Size: int64(len(content))}); err != nil {
		t.Fatal(err)
	}
	tw.Write(content)
	tw.Close()
	var zb bytes.Buffer
	zw, err := zstd.NewWriter(&zb)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(tb.Bytes())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return zb.Bytes()
}

// checksums renders sha256sum output (text mode, two spaces) in name order.
func checksums(files map[string][]byte) string {
	var b strings.Builder
	for _, name := range []string{BinaryAsset, "k3s-airgap-images-amd64.tar", AirgapAsset} {
		if data, ok := files[name]; ok {
			fmt.Fprintf(&b, "%s  %s\n", hexSum(data), name)
		}
	}
	return b.String()
}

func hexSum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
