package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ml-appliance/appliance/firstboot/payload"
)

// What containerd v2.3.2 sends to resolve a tag (core/remotes/docker/
// resolver.go, NewResolver: the resolve header, Accept of every manifest
// type it handles) and then to fetch the manifest by digest
// (request.setMediaType: "<media type>, */*").
const resolveAccept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, " +
	"application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, */*"

// pullPlan is the first image of the OS image's payload and where
// containerd would fetch it from after K3s's embedded mirror (which this
// double does not run): its registry's first registries.yaml endpoint.
type pullPlan struct {
	image, registry, repository, tag string
	// base is the endpoint as K3s writes it into hosts.toml: its path
	// "/v2" when it has none (pkg/agent/containerd/config.go,
	// normalizeEndpointAddress).
	base string
}

// planPull reads the descriptor and registries.yaml (normally
// payload.ImagePayloadDescriptor and payload.K3sRegistriesPath); ok is
// false when the image names no payload (nothing to pull).
func planPull(descriptor, registries string) (pullPlan, bool, error) {
	var p pullPlan
	data, err := os.ReadFile(descriptor)
	if errors.Is(err, os.ErrNotExist) {
		return p, false, nil
	}
	if err != nil {
		return p, false, err
	}
	var d payload.ImagePayload
	if err := json.Unmarshal(data, &d); err != nil {
		return p, false, fmt.Errorf("%s: %w", descriptor, err)
	}
	if len(d.Images) == 0 {
		return p, false, fmt.Errorf("%s lists no image", descriptor)
	}
	p.image = d.Images[0]
	var rest string
	p.registry, rest, _ = strings.Cut(p.image, "/")
	i := strings.LastIndex(rest, ":")
	if i < 0 || strings.Contains(rest[i:], "/") {
		return p, false, fmt.Errorf("image %s has no tag", p.image)
	}
	p.repository, p.tag = rest[:i], rest[i+1:]
	data, err = os.ReadFile(registries)
	if err != nil {
		return p, false, err
	}
	var reg struct {
		Mirrors map[string]struct {
			Endpoint []string `yaml:"endpoint"`
		} `yaml:"mirrors"`
	}
	if err := yaml.Unmarshal(data, &reg); err != nil {
		return p, false, fmt.Errorf("%s: %w", registries, err)
	}
	eps := reg.Mirrors[p.registry].Endpoint
	if len(eps) == 0 {
		return p, false, fmt.Errorf("%s: no endpoint for %s", registries, p.registry)
	}
	u, err := url.Parse(eps[0])
	if err != nil {
		return p, false, fmt.Errorf("%s: endpoint %q: %w", registries, eps[0], err)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/v2"
	}
	p.base = u.String()
	return p, true, nil
}

// resolve does what containerd does first for the image through the
// endpoint: HEAD the tag's manifest with ?ns=<registry> (request.
// addNamespace: the endpoint is not the registry), then GET the manifest
// by the digest the registry gave and check its bytes have that digest.
// It returns the digest and media type.
func (p pullPlan) resolve(ctx context.Context) (string, string, error) {
	q := "?ns=" + url.QueryEscape(p.registry)
	resp, err := request(ctx, http.MethodHead, p.base+"/"+p.repository+"/manifests/"+p.tag+q, resolveAccept)
	if err != nil {
		return "", "", err
	}
	resp.Body.Close()
	dgst, mediaType := resp.Header.Get("Docker-Content-Digest"), resp.Header.Get("Content-Type")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(dgst, "sha256:") {
		return "", "", fmt.Errorf("HEAD %s: %s, digest %q", resp.Request.URL, resp.Status, dgst)
	}
	resp, err = request(ctx, http.MethodGet, p.base+"/"+p.repository+"/manifests/"+dgst+q, mediaType+", */*")
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(resp.Body, 4<<20)); err != nil {
		return "", "", fmt.Errorf("GET %s: %w", resp.Request.URL, err)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); resp.StatusCode != http.StatusOK || got != dgst {
		return "", "", fmt.Errorf("GET %s: %s, content %s", resp.Request.URL, resp.Status, got)
	}
	return dgst, mediaType, nil
}

func request(ctx context.Context, method, u, accept string) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = cancelOnClose{resp.Body, cancel}
	return resp, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// pullFirstImage resolves the payload's first image through its first
// endpoint, retrying for up to limit (on an agent the server's registry
// may not be up yet; kubelet retries a pull too), then records the result
// in role-pull under recordDir and prints one console line.
func pullFirstImage(ctx context.Context, role string, limit time.Duration) {
	p, ok, err := planPull(payload.ImagePayloadDescriptor, payload.K3sRegistriesPath)
	switch {
	case err != nil:
		finishPull(role, "error: "+err.Error())
		return
	case !ok:
		return
	}
	deadline := time.Now().Add(limit)
	for {
		dgst, mt, err := p.resolve(ctx)
		if err == nil {
			finishPull(role, fmt.Sprintf("resolved %s through %s: %s (%s)", p.image, p.base, dgst, mt))
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			finishPull(role, fmt.Sprintf("error: %s through %s: %v", p.image, p.base, err))
			return
		}
		time.Sleep(2 * time.Second)
	}
}

func finishPull(role, result string) {
	if err := os.WriteFile(filepath.Join(recordDir, role+"-pull"), []byte(result+"\n"), 0o600); err != nil {
		result += " (not recorded: " + err.Error() + ")"
	}
	say("k3s-standin: test double (not K3s): image pull %s", result)
}
