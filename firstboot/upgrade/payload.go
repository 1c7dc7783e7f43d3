package upgrade

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ml-appliance/appliance/firstboot/atomicfile"
	"github.com/ml-appliance/appliance/firstboot/imagepayload"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
)

// PayloadReserve is what a new payload must leave free on STATE, for K3s
// and the platform's volumes.
const PayloadReserve = 256 << 20

// payloadFile is a payload's name in payload.ImagePayloadStateDir.
var payloadFile = regexp.MustCompile(`^([0-9a-f]{64})\.tar$`)

// bundlePayload is the payload descriptor of the bundle's release: what
// imagepayload finds on a node and checks (index digest and size).
func bundlePayload(m upgradebundle.Manifest) payload.ImagePayload {
	return payload.ImagePayload{
		Format: payload.ImagePayloadFormat,
		Index:  m.Release.Payload,
		SHA256: m.Payload.SHA256,
		Size:   m.Payload.Size,
	}
}

// statePayloadPath is where the payload with index digest index lives on
// STATE, a path of the host.
func statePayloadPath(index string) string {
	return path.Join(payload.ImagePayloadStateDir, strings.TrimPrefix(index, "sha256:")+".tar")
}

// putPayload makes sure the node has the payload the bundle's release
// names: one this node has already (on STATE, the PAYLOAD partition:
// imagepayload.Find) is kept; else it is streamed from the bundle to
// STATE under a temporary name, its sha256 and index digest checked, and
// renamed to <index hex>.tar (atomicfile). Payloads on STATE that
// neither the running release nor the new one use are removed first,
// to make room. It returns what it did, for the console.
func putPayload(ctx context.Context, root string, src Source, m upgradebundle.Manifest) (string, error) {
	keep := map[string]bool{}
	if m.Payload != nil {
		keep[path.Base(statePayloadPath(m.Release.Payload))] = true
	}
	running, err := imagepayload.ReadDescriptor(root)
	switch {
	case err == nil:
		keep[path.Base(statePayloadPath(running.Index))] = true
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("the running release's payload: %w", err)
	}
	removed, err := removePayloads(filepath.Join(root, payload.ImagePayloadStateDir), keep)
	if err != nil {
		return "", err
	}
	var note string
	if len(removed) > 0 {
		note = fmt.Sprintf(" (removed the unused %s)", strings.Join(removed, ", "))
	}
	if m.Payload == nil {
		return "the release has no image payload" + note, nil
	}
	d := bundlePayload(m)
	if p, _ := imagepayload.Find(root, d); p != nil {
		p.Close()
		return fmt.Sprintf("the node has the payload %s already, at %s", imagepayload.Short(d.Index), p.Location) + note, nil
	}
	dst := filepath.Join(root, statePayloadPath(d.Index))
	if err := checkFree(filepath.Dir(dst), m.Payload.Size+PayloadReserve, "the image payload"); err != nil {
		return "", err
	}
	r, err := src.Open(ctx, *m.Payload)
	if err != nil {
		return "", fmt.Errorf("payload: %w", err)
	}
	defer r.Close()
	err = atomicfile.Write(dst, 0o444, func(w io.Writer) error {
		_, err := copyVerified(w, r, *m.Payload)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("payload: %w", err)
	}
	loc := imagepayload.Location{Kind: imagepayload.KindState, Path: statePayloadPath(d.Index)}
	p, err := imagepayload.Open(root, loc, d)
	if err != nil {
		return "", errors.Join(fmt.Errorf("payload: %w", err), os.Remove(dst))
	}
	p.Close()
	return fmt.Sprintf("payload %s (%s) written to %s", imagepayload.Short(d.Index), humanSize(d.Size), loc.Path) + note, nil
}

// removePayloads removes the payload tars in dir whose names keep does
// not hold; it makes dir when missing and returns the names removed.
func removePayloads(dir string, keep map[string]bool) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("payload directory: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("payload directory: %w", err)
	}
	var removed []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !payloadFile.MatchString(e.Name()) || keep[e.Name()] {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return removed, fmt.Errorf("remove the unused payload: %w", err)
		}
		removed = append(removed, e.Name())
	}
	if len(removed) > 0 {
		if err := atomicfile.SyncDir(dir); err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// checkFree refuses when the filesystem of dir has less than need bytes
// available.
func checkFree(dir string, need int64, what string) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Errorf("free space of %s: %w", dir, err)
	}
	if free := int64(st.Bavail) * st.Bsize; free < need {
		return fmt.Errorf("no room for %s on %s: %s free, %s needed", what, dir, humanSize(free), humanSize(need))
	}
	return nil
}
