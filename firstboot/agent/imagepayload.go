package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/imagepayload"
	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/internal/smallfile"
)

// ImagePayloadStatusPath holds what the image-payload step found on this
// boot, an ImagePayloadStatus as JSON: `firstboot status` prints it, and
// `firstboot registry serve` serves the payload it names. It is in /run:
// it says what this boot found, and the step writes it at every boot.
const ImagePayloadStatusPath = "/run/appliance/image-payload.json"

// ImagePayloadStatus is where this node's images come from.
type ImagePayloadStatus struct {
	// Index, Images and Size are the OS image's descriptor's; Index is ""
	// when the OS image names no payload.
	Index  string `json:"index,omitempty"`
	Images int    `json:"images,omitempty"`
	Size   int64  `json:"size,omitempty"`
	// Location is where this node's payload is, nil when it has none.
	Location *imagepayload.Location `json:"location,omitempty"`
	// Listen is the address the payload is served on.
	Listen string `json:"listen,omitempty"`
	// Problem says why this node serves no payload although its OS image
	// names one.
	Problem string `json:"problem,omitempty"`
	// Endpoints are the mirror endpoints registries.yaml gets for every
	// registry of the payload, in the order containerd tries them, after
	// K3s's embedded mirror and before the registry itself.
	Endpoints []string `json:"endpoints,omitempty"`
}

// Summary is the status's line for `firstboot status`.
func (s ImagePayloadStatus) Summary() string {
	switch {
	case s.Index == "" && s.Problem == "":
		return "images: this OS image names no payload (no platform images)"
	case s.Location != nil:
		return fmt.Sprintf("images: payload %s (%d images, %s) served on %s from %s",
			imagepayload.Short(s.Index), s.Images, humanSize(s.Size), s.Listen, s.Location)
	}
	from := "the embedded mirror only (no server to pull from)"
	if len(s.Endpoints) > 0 {
		from = "the servers (" + strings.Join(s.Endpoints, ", ") + ") and the embedded mirror"
	}
	return "images: from " + from + ": this node has no payload: " + s.Problem
}

// maxImagePayloadStatus bounds the record ReadImagePayloadStatus reads.
const maxImagePayloadStatus = 1 << 20

// ReadImagePayloadStatus reads the image-payload step's record under
// root; nil when the step has not run there.
func ReadImagePayloadStatus(root string) (*ImagePayloadStatus, error) {
	p := filepath.Join(root, ImagePayloadStatusPath)
	data, err := smallfile.Read(p, maxImagePayloadStatus)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read image payload status: %w", err)
	}
	var s ImagePayloadStatus
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("read image payload status %s: %w", p, err)
	}
	return &s, nil
}

// imagePayloadState is what the image-payload step leaves for the
// k3s-platform step's registries.yaml.
type imagePayloadState struct {
	// registries are the descriptor's registry hosts, nil without one.
	registries []string
	// endpoints are ImagePayloadStatus.Endpoints.
	endpoints []string
}

// imagePayload finds this node's image payload (package imagepayload)
// when the OS image names one, and queues payload.RegistryUnitName to
// serve it, every boot (the unit is not enabled; an upgrade may bring
// another payload). Which endpoints registries.yaml gets follows from it
// (k3s-platform). A payload that is missing, damaged or another than the
// descriptor names is a warning, never an error: the node then pulls from
// the servers and still joins.
func imagePayload(ctx context.Context, env *Env) error {
	var st ImagePayloadStatus
	d, err := imagepayload.ReadDescriptor(env.Root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		env.imagePayload = nil
		if env.hasK3s() {
			env.Printf("image-payload: no %s in this image: no payload to serve", payload.ImagePayloadDescriptor)
		}
		return writeImagePayloadStatus(env, st)
	case err != nil:
		d, st.Problem = payload.ImagePayload{}, err.Error()
	default:
		st.Index, st.Images, st.Size = d.Index, len(d.Images), d.Size
		findImagePayload(env, d, &st)
	}
	st.Endpoints = payloadEndpoints(env, st.Location != nil)
	env.imagePayload = &imagePayloadState{registries: d.Registries, endpoints: st.Endpoints}
	if err := writeImagePayloadStatus(env, st); err != nil {
		return err
	}
	if st.Location != nil {
		if err := queueRegistry(ctx, env, &st); err != nil {
			return err
		}
	}
	if st.Problem != "" && env.Role == nodeconfig.RoleServer {
		env.Printf("image-payload: warning: this server serves no images: %s", st.Problem)
	}
	env.Printf("image-payload: %s", st.Summary())
	return nil
}

// queueRegistry starts payload.RegistryUnitName (after the record it
// reads is written). When it cannot, the node serves nothing after all:
// its record and registries.yaml's endpoints say so.
func queueRegistry(ctx context.Context, env *Env, st *ImagePayloadStatus) error {
	_, err := env.Runner.Run(ctx, "systemctl", "start", "--no-block", payload.RegistryUnitName)
	if err == nil {
		env.Printf("image-payload: %s queued", payload.RegistryUnitName)
		return nil
	}
	st.Location, st.Listen, st.Problem = nil, "", fmt.Sprintf("queue %s: %v", payload.RegistryUnitName, err)
	st.Endpoints = payloadEndpoints(env, false)
	env.imagePayload.endpoints = st.Endpoints
	return writeImagePayloadStatus(env, *st)
}

// findImagePayload looks for the payload d names and fills in where it
// is, or why there is none.
func findImagePayload(env *Env, d payload.ImagePayload, st *ImagePayloadStatus) {
	p, attempts := imagepayload.Find(env.Root, d)
	var refused, missing []string
	for _, a := range attempts {
		if errors.Is(a.Err, fs.ErrNotExist) {
			missing = append(missing, a.Location.String())
			continue
		}
		refused = append(refused, fmt.Sprintf("%s refused: %v", a.Location, a.Err))
		env.Printf("image-payload: warning: %s refused: %v", a.Location, a.Err)
	}
	if p != nil {
		// The registry service opens it again; this only checked it.
		p.Close()
		st.Location = &p.Location
		st.Listen = imagepayload.Listen(env.Role == nodeconfig.RoleServer)
		return
	}
	if len(refused) > 0 {
		st.Problem = strings.Join(refused, "; ")
		return
	}
	st.Problem = "none found (looked at " + strings.Join(missing, ", ") + "; a netbooted node has none)"
}

func writeImagePayloadStatus(env *Env, st ImagePayloadStatus) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode image payload status: %w", err)
	}
	return writeFileAtomic(env.Path(ImagePayloadStatusPath), append(data, '\n'), 0o644)
}

// payloadEndpoints are the mirror endpoints of the payload's registries:
// this node's own registry when it serves the payload, then the one of
// the server it joins (its K3s config's server:, which firstboot writes
// from the same setting), so a netbooted agent pulls from the servers.
// containerd tries them in order after K3s's embedded mirror, and the
// registry itself last (see registries.go).
func payloadEndpoints(env *Env, serves bool) []string {
	port := fmt.Sprint(payload.ImageRegistryPort)
	var eps []string
	if serves {
		eps = append(eps, "http://"+net.JoinHostPort("127.0.0.1", port))
	}
	if host := serverHost(joinServerURL(env)); host != "" {
		eps = append(eps, "http://"+net.JoinHostPort(host, port))
	}
	return eps
}

// dnsName is a host name an endpoint URL may carry.
var dnsName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$`)

// serverHost is the host of a K3s server URL: a DNS name or an IP address
// without a zone; "" for anything else.
func serverHost(server string) string {
	u, err := url.Parse(server)
	if err != nil {
		return ""
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return ""
		}
		return a.String()
	}
	if len(host) > 253 || !dnsName.MatchString(host) {
		return ""
	}
	return host
}

// joinServerURL is the K3s server URL this node joins ("" on the
// initial server): the cloud-config's appliance.server, else the node
// config's cluster.server.
func joinServerURL(env *Env) string {
	if env.ClusterInit {
		return ""
	}
	var site string
	if env.Config.Cluster != nil {
		site = env.Config.Cluster.Server
	}
	return firstNonEmpty(env.Cloud.Appliance.Server, site)
}
