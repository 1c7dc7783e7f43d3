package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"gopkg.in/yaml.v3"

	"github.com/ml-appliance/appliance/builder/diskimage"
	"github.com/ml-appliance/appliance/builder/report"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/imagepayload"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/internal/vmtest"
)

// payloadDescriptor reads the image payload descriptor the OS image in
// out carries (payload.ImagePayloadDescriptor) and checks that the
// report lists the payload as an artifact with the descriptor's sha256
// and size; it returns the descriptor and the artifact's path.
func payloadDescriptor(t *testing.T, out, squashfs string) (payload.ImagePayload, string) {
	t.Helper()
	dir := t.TempDir()
	run(t, "unsquashfs", "-q", "-no-xattrs", "-d", filepath.Join(dir, "root"), squashfs, strings.TrimPrefix(payload.ImagePayloadDescriptor, "/"))
	b, err := os.ReadFile(filepath.Join(dir, "root", payload.ImagePayloadDescriptor))
	if err != nil {
		t.Fatalf("the OS image names no image payload (%v): the site has images, so the build should make one", err)
	}
	var d payload.ImagePayload
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", payload.ImagePayloadDescriptor, err)
	}
	for _, a := range readReport(t, out).Artifacts {
		if a.SHA256 == d.SHA256 && a.Size == d.Size {
			return d, filepath.Join(out, a.Path)
		}
	}
	t.Fatalf("the report lists no artifact with the payload's sha256 %s and size %d", d.SHA256, d.Size)
	return d, ""
}

// checkPayloadPartition checks the raw image's PAYLOAD partition, as the
// report in out describes it: the payload's type and read-only attribute,
// the payload's bytes at its start, padded to a MiB.
func checkPayloadPartition(t *testing.T, raw string, d payload.ImagePayload) diskimage.Partition {
	t.Helper()
	p := partition(t, filepath.Dir(raw), bootparam.LabelPayload)
	if p.TypeGUID != diskimage.TypePayload || p.Attributes != diskimage.AttrReadOnly || p.Size != (d.Size+diskimage.MiB-1)/diskimage.MiB*diskimage.MiB {
		t.Errorf("PAYLOAD %+v: want type %s, attributes %#x, the %d-byte payload rounded up to MiB", p, diskimage.TypePayload, diskimage.AttrReadOnly, d.Size)
	}
	f, err := os.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, p.Start, d.Size)); err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != d.SHA256 {
		t.Errorf("PAYLOAD's first %d bytes have sha256 %s, the payload %s", d.Size, got, d.SHA256)
	}
	return p
}

// checkNodePayload checks over SSH that the node sees PAYLOAD where the
// node side looks for it (udev's by-partlabel link), on partition number
// of its disk vda, holding the payload.
func checkNodePayload(t *testing.T, port int, signer ssh.Signer, d payload.ImagePayload, number int) {
	t.Helper()
	link := "/dev/disk/by-partlabel/" + bootparam.LabelPayload
	got := sshRun(t, port, signer, fmt.Sprintf("readlink -f %s; head -c %d %s | sha256sum", link, d.Size, link))
	want := fmt.Sprintf("/dev/vda%d\n%s  -\n", number, d.SHA256)
	if got != want {
		t.Errorf("on the node, %s and the sha256 of its first %d bytes:\n%s\nwant:\n%s", link, d.Size, got, want)
	}
}

// expectPayloadServed waits for the console lines of a node that serves
// the payload d from where (a location as the console names it:
// "PARTLABEL=PAYLOAD (/dev/vda5)", "ISO (/run/appliance/iso/appliance/payload.tar)"):
// the image-payload step's (agent.ImagePayloadStatus.Summary, listening
// on listen) and the registry service's (imagepayload.Serve, on addr, the
// address its socket got). It returns the step's line.
func expectPayloadServed(t *testing.T, vm *vmtest.VM, d payload.ImagePayload, where, listen, addr string) string {
	t.Helper()
	short := regexp.QuoteMeta(imagepayload.Short(d.Index))
	line, _ := expect(t, vm, consoleLine+`firstboot: image-payload: images: payload `+short+
		fmt.Sprintf(` \(%d images, [0-9.]+ [KMG]?i?B\) served on `, len(d.Images))+regexp.QuoteMeta(listen+" from "+where)+`$`, 0, bootTimeout)
	expect(t, vm, consoleLine+`firstboot: registry: serving payload `+short+
		fmt.Sprintf(` \(%d images\) from `, len(d.Images))+regexp.QuoteMeta(where+" on "+addr)+`$`, 0, bootTimeout)
	return line
}

// standInPull is the K3s test double's line for the payload's first
// image (internal/k3sstandin, pull.go).
const standInPull = `k3s-standin: test double \(not K3s\): image pull resolved (\S+) through (\S+): (sha256:[0-9a-f]{64}) \((\S+)\)$`

// expectStandInPull waits for the K3s test double to resolve the payload's
// first image through endpoint (as containerd would, from registries.yaml)
// and checks it got the manifest the build pulled (the report's digest).
func expectStandInPull(t *testing.T, vm *vmtest.VM, d payload.ImagePayload, rep report.Report, endpoint string) {
	t.Helper()
	line, _ := expect(t, vm, consoleLine+`k3s-standin: test double \(not K3s\): image pull `, 0, bootTimeout)
	m := regexp.MustCompile(standInPull).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("the K3s stand-in did not resolve the payload's first image: %q", line)
	}
	if m[1] != d.Images[0] || m[2] != endpoint {
		t.Errorf("the K3s stand-in resolved %s through %s; want %s (the payload's first image) through %s", m[1], m[2], d.Images[0], endpoint)
	}
	for _, img := range rep.Images {
		if img.Name == m[1] {
			if m[3] != img.Digest && m[3] != img.Index {
				t.Errorf("%s resolved to %s; the build pulled manifest %s (index %q)", m[1], m[3], img.Digest, img.Index)
			}
			t.Logf("%s resolved through %s: %s (%s)", m[1], m[2], m[3], m[4])
			return
		}
	}
	t.Errorf("the report lists no image %s", m[1])
}

// checkRegistriesYAML checks the registries.yaml firstboot wrote (got)
// mirrors exactly the registries of want, each with want's endpoints in
// that order (agent/registries.go, renderRegistries).
func checkRegistriesYAML(t *testing.T, got string, want map[string][]string) {
	t.Helper()
	if !strings.HasPrefix(got, "# Written by firstboot at every boot from ") {
		t.Errorf("registries.yaml is not the one firstboot writes:\n%s", got)
	}
	var f struct {
		Mirrors map[string]struct {
			Endpoint []string          `yaml:"endpoint"`
			Rewrite  map[string]string `yaml:"rewrite"`
		} `yaml:"mirrors"`
	}
	dec := yaml.NewDecoder(strings.NewReader(got))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("registries.yaml: %v\n%s", err, got)
	}
	mirrors := map[string][]string{}
	for host, m := range f.Mirrors {
		mirrors[host] = m.Endpoint
	}
	if !reflect.DeepEqual(mirrors, want) {
		t.Errorf("registries.yaml mirrors %v, want %v:\n%s", mirrors, want, got)
	}
}
