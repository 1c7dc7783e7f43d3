package iso

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/ml-appliance/appliance/builder/diskimage"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// testPayload writes a small tar (the payload's format; the raw layout of
// an installer checks its magic) of about 2.5 MiB and returns its path and
// bytes.
func testPayload(t *testing.T) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	blob := bytes.Repeat([]byte("layer-bytes-"), 220000)
	if err := tw.WriteHeader(&tar.Header{Name: "blobs/sha256/aa", Mode: 0o644, Size: int64(len(blob)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(blob); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "payload.tar")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, buf.Bytes()
}

// isoFiles lists the regular files of the ISO, sorted.
func isoFiles(t *testing.T, iso string) []string {
	t.Helper()
	var files []string
	for _, m := range regexp.MustCompile(`(?m)^'(/[^']+)'$`).FindAllStringSubmatch(run(t, "xorriso", "-indev", iso, "-find", "/", "-type", "f"), -1) {
		files = append(files, m[1])
	}
	slices.Sort(files)
	return files
}

// A live ISO carries the payload, byte for byte, at
// bootparam.ISOPayloadPath, where a live node serves it from the mounted
// ISO; without a payload it carries none.
func TestWriteGraftsThePayload(t *testing.T) {
	needTool(t, "xorriso", "xorriso")
	in := testInputs(t)
	without := filepath.Join(t.TempDir(), "ml-lab.iso")
	if l := writeISO(t, in, without); l.Payload != "" {
		t.Errorf("an ISO without payload: layout payload %q", l.Payload)
	}
	if files := isoFiles(t, without); slices.Contains(files, bootparam.ISOPayloadPath) {
		t.Errorf("an ISO without payload holds %s", bootparam.ISOPayloadPath)
	}

	var want []byte
	in.Payload, want = testPayload(t)
	iso := filepath.Join(t.TempDir(), "ml-lab.iso")
	if l := writeISO(t, in, iso); l.Payload != bootparam.ISOPayloadPath {
		t.Errorf("layout payload %q, want %s", l.Payload, bootparam.ISOPayloadPath)
	}
	if got := extract(t, iso, bootparam.ISOPayloadPath); !bytes.Equal(got, want) {
		t.Errorf("%s on the ISO: %d bytes, not the payload's %d", bootparam.ISOPayloadPath, len(got), len(want))
	}
	wantFiles := []string{"/appliance/os.squashfs", bootparam.ISOPayloadPath, "/boot/efi.img", "/boot/initrd", "/boot/vmlinuz",
		"/isolinux/isolinux.bin", "/isolinux/isolinux.cfg", "/isolinux/ldlinux.c32"}
	slices.Sort(wantFiles)
	if files := isoFiles(t, iso); !slices.Equal(files, wantFiles) {
		t.Errorf("ISO files %q, want %q", files, wantFiles)
	}
}

// An installer ISO's layout has PAYLOAD between SECRETS and STATE,
// written from the one copy of the payload the live boot serves too,
// with its size, sha256, type and read-only attribute.
func TestInstallerISOCarriesThePayload(t *testing.T) {
	in := installerInputs(t, 1000)
	var payload []byte
	in.Payload, payload = testPayload(t)
	iso := filepath.Join(t.TempDir(), "ml-lab.iso")
	if _, err := Write(context.Background(), iso, in, Options{WorkDir: t.TempDir(), Install: &Install{Device: "auto"}}); err != nil {
		t.Fatal(err)
	}
	layout := isoInstallLayout(t, iso)
	var names []string
	for _, p := range layout.Partitions {
		names = append(names, p.Name)
	}
	if want := []string{"ESP", "OS-A", "OS-B", "SECRETS", "PAYLOAD", "STATE"}; !slices.Equal(names, want) {
		t.Errorf("layout partitions %q, want %q", names, want)
	}
	p := installPartition(t, layout, "PAYLOAD")
	sum := sha256.Sum256(payload)
	want := bootparam.InstallPartition{
		Name: "PAYLOAD", TypeGUID: diskimage.TypePayload, UniqueGUID: p.UniqueGUID,
		FirstLBA: p.FirstLBA, Sectors: 3 * diskimage.MiB / 512, Attributes: diskimage.AttrReadOnly,
		Source: bootparam.ISOPayloadPath, Size: int64(len(payload)), SHA256: hex.EncodeToString(sum[:]),
	}
	if p != want {
		t.Errorf("PAYLOAD in the install layout:\n got %+v\nwant %+v", p, want)
	}
	if secrets := installPartition(t, layout, "SECRETS"); p.FirstLBA != secrets.FirstLBA+secrets.Sectors {
		t.Errorf("PAYLOAD starts at LBA %d, not right after SECRETS (%d+%d)", p.FirstLBA, secrets.FirstLBA, secrets.Sectors)
	}
	if !bytes.Equal(extract(t, iso, bootparam.ISOPayloadPath), payload) {
		t.Errorf("%s on the ISO is not the payload", bootparam.ISOPayloadPath)
	}
	// One copy: no other file of the ISO has the payload's size.
	lba := run(t, "xorriso", "-indev", iso, "-find", "/", "-type", "f", "-exec", "report_lba")
	sized := regexp.MustCompile(`(?m)^File data lba:\s+\d+ ,\s+\d+ ,\s+\d+ ,\s+`+strconv.Itoa(len(payload))+` , '([^']+)'$`).FindAllStringSubmatch(lba, -1)
	if len(sized) != 1 || sized[0][1] != bootparam.ISOPayloadPath {
		t.Errorf("files of the payload's size on the ISO: %q, want only %s\n%s", sized, bootparam.ISOPayloadPath, lba)
	}
}

// The install layout takes the payload's digest from the inputs (the
// build cache's record) rather than hashing gigabytes again: given, it is
// the layout's as is (a well-formed digest of other bytes shows it is not
// recomputed), the right one gives the layout the fallback's hash gives,
// and one of another length is refused.
func TestInstallLayoutTakesThePayloadDigest(t *testing.T) {
	in := installerInputs(t, 1000)
	var payload []byte
	in.Payload, payload = testPayload(t)
	sum := sha256.Sum256(payload)
	right := hex.EncodeToString(sum[:])
	other := sha256.Sum256([]byte("other bytes"))
	layoutWith := func(sha string, size int64) (bootparam.InstallLayout, error) {
		in := in
		in.PayloadSHA256, in.PayloadSize = sha, size
		_, l, err := prepareInstall(context.Background(), in, t.TempDir())
		return l, err
	}
	hashed, err := layoutWith("", 0)
	if err != nil {
		t.Fatal(err)
	}
	if p := installPartition(t, hashed, "PAYLOAD"); p.SHA256 != right || p.Size != int64(len(payload)) {
		t.Errorf("hashed: PAYLOAD %d bytes sha256 %s, want %d bytes sha256 %s", p.Size, p.SHA256, len(payload), right)
	}
	given, err := layoutWith(right, int64(len(payload)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(given, hashed) {
		t.Errorf("install layout from the given digest:\n%+v\nhashed:\n%+v", given, hashed)
	}
	taken, err := layoutWith(hex.EncodeToString(other[:]), int64(len(payload)))
	if err != nil {
		t.Fatal(err)
	}
	if p := installPartition(t, taken, "PAYLOAD"); p.SHA256 != hex.EncodeToString(other[:]) {
		t.Errorf("PAYLOAD sha256 %s: the given digest was not taken", p.SHA256)
	}
	_, err = layoutWith(right, int64(len(payload))+1)
	if want := fmt.Sprintf("install layout: digest of %s: it is %d bytes, the digest is of %d bytes", in.Payload, len(payload), len(payload)+1); err == nil || err.Error() != want {
		t.Errorf("a digest of another length: %v, want %s", err, want)
	}
}
