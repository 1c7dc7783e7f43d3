package imagestore

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
)

// dockerHub is the registry name containerd writes for Docker Hub images;
// go-containerregistry calls the same registry name.DefaultRegistry
// ("index.docker.io").
const dockerHub = "docker.io"

// ContainerdName returns ref as containerd names it: the full name with
// registry, repository and either the digest or the tag ("latest" when
// none is given), as github.com/distribution/reference's ParseDockerRef
// (normalize.go, which containerd uses to name imported and pulled
// images) does:
//
//   - a registry-less name is on Docker Hub, written "docker.io", and a
//     one-part Docker Hub repository is in "library/"
//     (nginx:1.25.4 -> docker.io/library/nginx:1.25.4);
//   - "index.docker.io" is written "docker.io";
//   - other registries, ports included, stay as given;
//   - a reference with both a tag and a digest keeps only the digest.
//
// Parsing is go-containerregistry's; names it rejects (upper-case
// repositories among them) are errors here.
func ContainerdName(ref string) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("image name %q: %w", ref, err)
	}
	repo := r.Context()
	registry := repo.RegistryStr()
	if registry == name.DefaultRegistry {
		registry = dockerHub
	}
	base := registry + "/" + repo.RepositoryStr()
	switch r := r.(type) {
	case name.Digest:
		return base + "@" + r.DigestStr(), nil
	case name.Tag:
		return base + ":" + r.TagStr(), nil
	}
	return "", fmt.Errorf("image name %q: neither tag nor digest", ref)
}
