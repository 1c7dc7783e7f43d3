// Package imageregistry serves a node's image payload (firstboot/payload,
// ImagePayload) read-only over the OCI distribution API, so that K3s's
// containerd pulls the images a node runs from it, through registries.yaml
// mirror endpoints, instead of importing the whole payload at every start.
//
// The payload is the uncompressed OCI image layout tar builder/imagestore
// writes: the directories blobs/ and blobs/sha256/, one regular file
// blobs/sha256/<hex> per blob, index.json listing each image once under its
// containerd name (annotation io.containerd.image.name, always tagged:
// docker.io/library/nginx:1.25, or quay.io/x/y:sha256-<hex> for an image
// asked for by digest) and oci-layout. It is read in place: a raw partition
// whose bytes are the tar, or a file on the ISO or on STATE.
//
// Usage:
//
//	f, err := os.Open("/dev/disk/by-partlabel/" + bootparam.LabelPayload)
//	layout, err := imageregistry.Open(f, desc.Size, desc.Index)
//	srv := &http.Server{Addr: fmt.Sprintf(":%d", payload.ImageRegistryPort), Handler: layout.Handler()}
//
// Open walks the tar from header to header without reading blob content,
// reads index.json (at most 16 MiB) and checks its digest is the one the
// OS image names, then reads every manifest and index index.json reaches
// (at most 4 MiB each and 64 MiB in all, each checked against its digest)
// and checks that
// every blob they name is there with the size they give. Only the
// linux/amd64 manifest of a multi-platform index is in a payload, so an
// index's other manifests may be absent; at least one must be there. The
// tar may come from a partition anyone could have written: Open refuses
// entries other than those above (links, devices, other names, sparse
// files), duplicates, non-hex blob names, entries past the end, more than
// 65536 entries, and says which entry at which offset. It does not read
// configs and layers, which would mean reading the whole payload at every
// boot: containerd checks each blob's digest as it pulls, so a corrupt blob
// fails the pull of the image that has it, naming the blob.
//
// Handler answers GET and HEAD (anything else: 405):
//
//	/v2/                              200, Docker-Distribution-API-Version: registry/2.0
//	/v2/<name>/manifests/<tag>        the image index.json names <registry>/<name>:<tag>
//	/v2/<name>/manifests/<digest>     any manifest or index of the payload
//	/v2/<name>/blobs/<digest>         any blob of the payload, with Range support
//
// with Content-Type, Content-Length and Docker-Content-Digest. Containerd
// pulling through a mirror sends the registry the image is named under as
// the query parameter ns (containerd v2.3.2 core/remotes/docker/resolver.go:
// namespaceQueryArg = "ns", added by request.addNamespace when the mirror
// host is not the image's registry, RegistryHost.isProxy in registry.go;
// fetcher.go and resolver.go call it with refspec.Hostname()):
// GET /v2/library/nginx/manifests/1.25?ns=docker.io is
// docker.io/library/nginx:1.25. Without ns (a client talking to the
// registry directly), the name's first component is the registry:
// /v2/docker.io/library/nginx/manifests/1.25. Everything else is 404 with
// an OCI error body ({"errors":[{"code":"MANIFEST_UNKNOWN",...}]}).
//
// Images lists the payload's image names. The package logs nothing;
// Stats counts what the handler served, and a caller that logs requests
// wraps the handler.
package imageregistry
