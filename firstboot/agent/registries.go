package agent

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/internal/smallfile"
)

// syncRegistries installs the registries.yaml this image and node want
// (registriesWanted) as payload.K3sRegistriesPath (mode 0644: K3s asks for
// no stricter, and it holds no credentials) when there is none, or when
// the one there is the one firstboot installed (sha256 installed), and
// returns the sha256 to record. A file the operator changed is kept. When
// the image wants none, the one firstboot installed is removed.
func syncRegistries(env *Env, installed string) (string, error) {
	dst := payload.K3sRegistriesPath
	if err := removeLeftovers(env, "k3s-platform", path.Dir(dst)); err != nil {
		return "", err
	}
	want, from, err := registriesWanted(env)
	if err != nil {
		return "", err
	}
	wantSum := ""
	if want != nil {
		sum := sha256.Sum256(want)
		wantSum = hex.EncodeToString(sum[:])
	}
	dstSum, err := regularFileSHA256(env, dst)
	if err != nil {
		return "", err
	}
	_, lstatErr := os.Lstat(env.Path(dst))
	dstExists := lstatErr == nil
	switch {
	case want == nil && (!dstExists || installed == ""):
		return "", nil
	case want == nil && dstSum == installed:
		if err := os.Remove(env.Path(dst)); err != nil {
			return "", fmt.Errorf("remove stale %s: %w", dst, err)
		}
		env.Printf("k3s-platform: removed stale %s (not in this image)", dst)
		return "", syncDir(env.Path(path.Dir(dst)))
	case want == nil:
		env.Printf("k3s-platform: kept %s (changed by the operator)", dst)
		return "", nil
	case wantSum == dstSum:
		env.Printf("k3s-platform: kept %s (same as %s)", dst, from)
		return wantSum, nil
	case !dstExists || (dstSum != "" && dstSum == installed):
		if err := writeAtomic(env.Path(dst), 0o644, 0o755, func(w io.Writer) error {
			_, err := w.Write(want)
			return err
		}); err != nil {
			return "", fmt.Errorf("write %s: %w", dst, err)
		}
		verb := "copied"
		if dstExists {
			verb = "updated"
		}
		env.Printf("k3s-platform: %s %s from %s", verb, dst, from)
		return wantSum, nil
	default:
		env.Printf("k3s-platform: kept %s (changed by the operator; %s not installed)", dst, from)
		return installed, nil
	}
}

// maxRegistriesTemplate bounds the builder's registries.yaml.
const maxRegistriesTemplate = 1 << 20

// registriesWanted is the registries.yaml the node wants and what it is
// made from: payload.RegistriesTemplate as it is when the image names no
// payload; else every registry of the template and of the payload
// descriptor, each with the image-payload step's endpoints
// (renderRegistries). nil when there is neither.
func registriesWanted(env *Env) (content []byte, from string, err error) {
	tmpl := payload.RegistriesTemplate
	if info, err := os.Lstat(env.Path(tmpl)); err == nil && !info.Mode().IsRegular() {
		return nil, "", fmt.Errorf("%s is not a regular file (%s)", tmpl, info.Mode().Type())
	}
	data, err := smallfile.Read(env.Path(tmpl), maxRegistriesTemplate)
	missing := errors.Is(err, fs.ErrNotExist)
	if err != nil && !missing {
		return nil, "", fmt.Errorf("registries template: %w", err)
	}
	switch {
	case env.imagePayload == nil && missing:
		return nil, "", nil
	case env.imagePayload == nil:
		return data, tmpl, nil
	}
	from = payload.ImagePayloadDescriptor
	if !missing {
		from = tmpl + " and " + from
	}
	content, err = renderRegistries(data, env.imagePayload, from)
	return content, from, err
}

// registriesFile is the part of K3s's registries.yaml the appliance
// writes (rancher/wharfie pkg/registries, Registry: mirrors, each with
// endpoint and rewrite).
type registriesFile struct {
	Mirrors map[string]registryMirror `yaml:"mirrors"`
}

type registryMirror struct {
	Endpoint []string          `yaml:"endpoint,omitempty"`
	Rewrite  map[string]string `yaml:"rewrite,omitempty"`
}

// renderRegistries lists every registry of the template (the builder's:
// mirrors with no endpoints) and of the payload, each with the payload's
// endpoints ahead of any the template gives.
//
// How K3s v1.36 turns this into containerd's hosts.toml (k3s-io/k3s
// pkg/agent/containerd/config.go, getHostConfigs): each mirror's endpoints
// become hosts in the order listed, and the registry's own default
// endpoint (https://<registry>/v2) stays last unless
// --disable-default-registry-endpoint is set; with embedded-registry
// (pkg/agent/config/config.go, get, calling pkg/spegel/registry.go,
// InjectMirror) K3s prepends its embedded mirror
// (https://127.0.0.1:6443/v2) to every mirror that is not localhost. So
// containerd asks the cluster's peers first, then this node's own payload,
// then the server it joins, then the registry itself, which an air gap
// does not answer (docs.k3s.io installation/private-registry, "Default
// Endpoint Fallback": the default endpoint is always tried as a last
// resort). containerd sends ?ns=<registry> to every endpoint but the
// registry itself (containerd v2.3.2 core/remotes/docker/resolver.go,
// addNamespace), which package imageregistry reads.
func renderRegistries(tmpl []byte, st *imagePayloadState, from string) ([]byte, error) {
	var f registriesFile
	if len(tmpl) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(tmpl))
		dec.KnownFields(true)
		if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: %w", payload.RegistriesTemplate, err)
		}
	}
	if f.Mirrors == nil {
		f.Mirrors = map[string]registryMirror{}
	}
	for _, host := range st.registries {
		if _, ok := f.Mirrors[host]; !ok {
			f.Mirrors[host] = registryMirror{}
		}
	}
	for host, m := range f.Mirrors {
		eps := slices.Clone(st.endpoints)
		for _, e := range m.Endpoint {
			if !slices.Contains(eps, e) {
				eps = append(eps, e)
			}
		}
		m.Endpoint = eps
		f.Mirrors[host] = m
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Written by firstboot at every boot from %s.\n", from)
	b.WriteString("# containerd tries K3s's embedded registry mirror, then these endpoints in\n")
	b.WriteString("# order, then the registry itself. Edit it and firstboot leaves it alone.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("encode registries.yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode registries.yaml: %w", err)
	}
	return b.Bytes(), nil
}
