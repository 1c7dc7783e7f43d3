// Package imagepayload is the node's side of the image payload (package
// payload, ImagePayload): it reads the descriptor the OS image carries,
// finds the payload that descriptor names on this node, opens it read-only
// and checks it (package imageregistry), and serves it over the OCI
// distribution API (`firstboot registry serve`).
//
// A payload is looked for, in this order (Find):
//
//  1. on STATE, payload.ImagePayloadStateDir/<index hex>.tar (where an
//     upgrade leaves a new payload): a regular file, opened without
//     following a symbolic link;
//  2. the partition labelled bootparam.LabelPayload (the raw disk, or a
//     disk an ISO installed): /dev/disk/by-partlabel/PAYLOAD, else the
//     partition of that name /sys/class/block lists (udev may not have
//     made the link yet); a block device, nothing else;
//  3. on a live ISO boot, bootparam.ISOPayloadPath under bootparam.ISOMount:
//     a regular file, not followed if a link.
//
// The first whose index.json has the descriptor's digest is the node's.
// Every open is non-blocking, so a FIFO planted at one of these paths is
// refused instead of hanging the boot.
//
//	d, err := imagepayload.ReadDescriptor(root)
//	p, attempts := imagepayload.Find(root, d)
//	defer p.Close()
//	http.Serve(ln, p.Layout.Handler())
package imagepayload

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"

	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/internal/smallfile"
)

// MaxDescriptorSize bounds the descriptor: a few hundred bytes per image.
const MaxDescriptorSize = 4 << 20

// ReadDescriptor reads and checks payload.ImagePayloadDescriptor under
// root. When the image has none, the error satisfies
// errors.Is(err, fs.ErrNotExist).
func ReadDescriptor(root string) (payload.ImagePayload, error) {
	var d payload.ImagePayload
	data, err := smallfile.Read(filepath.Join(root, payload.ImagePayloadDescriptor), MaxDescriptorSize)
	if err != nil {
		return d, fmt.Errorf("payload descriptor %s: %w", payload.ImagePayloadDescriptor, smallfile.Cause(err))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return d, fmt.Errorf("payload descriptor %s: %w", payload.ImagePayloadDescriptor, err)
	}
	if err := CheckDescriptor(d); err != nil {
		return d, fmt.Errorf("payload descriptor %s: %w", payload.ImagePayloadDescriptor, err)
	}
	return d, nil
}

var (
	indexDigest = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	sha256Hex   = regexp.MustCompile(`^[0-9a-f]{64}$`)
	// registryHost is a registry as containerd names it: a DNS name or
	// IPv4 address with an optional port (what registries.yaml takes as a
	// mirror key and containerd sends as ?ns=).
	registryHost = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$`)
	// imageName is a containerd image name: registry host, path, and a
	// tag and/or digest; printable, no blanks or quotes.
	imageName = regexp.MustCompile(`^[a-z0-9][a-z0-9.:-]*/[a-z0-9._/-]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[0-9a-f]{64})?$`)
)

// CheckDescriptor checks what the node relies on: the format, the index
// digest (it names a file on STATE), the size, and the names that go into
// registries.yaml and console lines.
func CheckDescriptor(d payload.ImagePayload) error {
	switch {
	case d.Format != payload.ImagePayloadFormat:
		return fmt.Errorf("format %d, this firstboot reads format %d", d.Format, payload.ImagePayloadFormat)
	case !indexDigest.MatchString(d.Index):
		return fmt.Errorf("index %q is not sha256:<64 hex>", d.Index)
	case !sha256Hex.MatchString(d.SHA256):
		return fmt.Errorf("sha256 %q is not 64 hex digits", d.SHA256)
	case d.Size <= 0:
		return fmt.Errorf("size %d is not positive", d.Size)
	case len(d.Images) == 0:
		return fmt.Errorf("no images")
	}
	for _, name := range d.Images {
		if len(name) > 512 || !imageName.MatchString(name) {
			return fmt.Errorf("image %q is not a containerd image name (registry/path[:tag][@sha256:digest])", name)
		}
	}
	for _, host := range d.Registries {
		if len(host) > 255 || !registryHost.MatchString(host) {
			return fmt.Errorf("registry %q is not a host[:port]", host)
		}
	}
	return nil
}

// Short is the index digest cut for a console line: "sha256:" and 12 hex
// digits.
func Short(index string) string {
	if len(index) > len("sha256:")+12 {
		return index[:len("sha256:")+12] + "…"
	}
	return index
}
