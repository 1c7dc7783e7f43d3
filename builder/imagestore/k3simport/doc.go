// Package k3simport checks, against containerd 2.3 built from its upstream
// module, how K3s v1.36 imports and pins the appliance's image archives:
// the platform archive the builder writes (builder/imagestore) is imported
// with the options K3s uses, K3s's own post-import naming and pinning run
// as a named test double of K3s's code, and containerd's CRI (the one
// kubelet asks) must then resolve every image by its tag and by
// name@<registry digest>, pinned. It also checks the alternative to the
// import: containerd's CRI pulling through K3s's registries.yaml mirrors
// from the payload served by firstboot/imageregistry (mirror_test.go), and
// benchmarks the two against each other (bench_firstboot_test.go).
//
// It holds only tests and is a module of its own (go.mod beside this
// file) so the containerd module stays out of the product's go.mod; `go
// test ./...` at the root does not enter it, `make test` does. The tests
// build the containerd daemon from this module (a cold build takes about
// four minutes) and run it as K3s does, as a child process on a socket.
//
// K3s cannot be run here. The K3s behaviour the double follows is read
// from k3s-io/k3s pkg/agent/containerd (containerd.go and watcher.go,
// release-1.36); each function cites what it mirrors.
package k3simport
