package cache

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Registry mirrors (Options.RegistryMirrors) change where the cache sends a
// registry request, never what an image is called: the reference asked for
// is the one recorded under refs/ and returned, as artifacts keep upstream
// names, and a manifest's digest is the same through a mirror. The scheme
// follows go-containerregistry's rule: http for localhost, 127.0.0.1 and
// private (RFC 1918) addresses, https otherwise.

// mirror is where one upstream registry's repositories are reached.
type mirror struct {
	registry name.Registry
	prefix   string // path before the upstream repository; may be empty
}

// parseMirrors checks the operator's mirror map and keys it by registry as
// go-containerregistry names it (docker.io is "index.docker.io").
func parseMirrors(in map[string]string) (map[string]mirror, error) {
	out := map[string]mirror{}
	written := map[string]string{}
	for _, upstream := range slices.Sorted(maps.Keys(in)) {
		to := in[upstream]
		reg, err := name.NewRegistry(upstream, name.StrictValidation)
		if err != nil {
			return nil, fmt.Errorf("registry mirror for %q: upstream is not a registry host[:port]: %w", upstream, err)
		}
		key := reg.RegistryStr()
		if prev, ok := written[key]; ok {
			return nil, fmt.Errorf("registry mirrors for %q and %q: both name registry %s", prev, upstream, key)
		}
		written[key] = upstream
		m, err := parseMirror(to)
		if err != nil {
			return nil, fmt.Errorf("registry mirror for %s: %q: %w", upstream, to, err)
		}
		out[key] = m
	}
	return out, nil
}

// parseMirror reads "host[:port][/path prefix]".
func parseMirror(s string) (mirror, error) {
	if strings.Contains(s, "://") {
		return mirror{}, errors.New("write host[:port][/path], without a scheme")
	}
	host, prefix, _ := strings.Cut(strings.TrimSuffix(s, "/"), "/")
	reg, err := name.NewRegistry(host, name.StrictValidation)
	if err != nil {
		return mirror{}, err
	}
	if prefix != "" {
		// NewRepository checks the path's characters and components.
		if _, err := name.NewRepository(reg.RegistryStr()+"/"+prefix, name.StrictValidation); err != nil {
			return mirror{}, err
		}
	}
	return mirror{registry: reg, prefix: prefix}, nil
}

// contact is remoteRef for ref (parsed as r), with where to name it in
// errors: ref, and the mirror when one is used (logged).
func (c *Cache) contact(ref string, r name.Reference) (name.Reference, string) {
	fetch, mirrored := c.remoteRef(r)
	if !mirrored {
		return fetch, ref
	}
	c.log.Info("registry mirror", "ref", ref, "mirror", fetch.String())
	return fetch, ref + " (mirror " + fetch.String() + ")"
}

// remoteRef is the reference to contact for r: r itself, or, when r's
// registry has a mirror, the same repository and tag or digest there; ok
// says whether a mirror is used.
func (c *Cache) remoteRef(r name.Reference) (name.Reference, bool) {
	m, ok := c.mirrors[r.Context().RegistryStr()]
	if !ok {
		return r, false
	}
	repo := m.registry.Repo(m.prefix, r.Context().RepositoryStr())
	if d, isDigest := r.(name.Digest); isDigest {
		return repo.Digest(d.DigestStr()), true
	}
	return repo.Tag(r.Identifier()), true
}
