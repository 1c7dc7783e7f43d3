package imagestore

import (
	"fmt"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ml-appliance/appliance/internal/testfixture"
)

// benchImageCount is how many images every collection benchmark collects.
const benchImageCount = 6

// pushBenchImages pushes the image set the collection benchmarks collect
// to the registry at host and returns their references and the bytes of
// distinct layer content (what an archive of them holds, give or take
// manifests, configs and tar headers). Image i has three layers, all of
// incompressible content generated as it is read: a base layer all images
// share (2 units), one of three runtime layers each shared by two images
// (1 unit) and its own app layer (1 unit): 11 units of distinct content,
// 24 units if shared layers were not shared.
func pushBenchImages(tb testing.TB, host string, unit int64) (refs []string, distinct int64) {
	tb.Helper()
	base := testfixture.StreamedLayer(tb, "base", 2*unit)
	var runtimes []v1.Layer
	for i := range benchImageCount / 2 {
		runtimes = append(runtimes, testfixture.StreamedLayer(tb, fmt.Sprintf("runtime-%d", i), unit))
	}
	for _, l := range append([]v1.Layer{base}, runtimes...) {
		distinct += layerSize(tb, l)
	}
	for i := range benchImageCount {
		app := testfixture.StreamedLayer(tb, fmt.Sprintf("app-%d", i), unit)
		distinct += layerSize(tb, app)
		ref := fmt.Sprintf("%s/bench/app-%d:1.0", host, i)
		testfixture.PushStreamed(tb, ref, benchImage(tb, base, runtimes[i/2], app))
		refs = append(refs, ref)
	}
	return refs, distinct
}

// benchImage is a linux/amd64 OCI image made of layers.
func benchImage(tb testing.TB, layers ...v1.Layer) v1.Image {
	tb.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.ConfigFile(img, &v1.ConfigFile{OS: "linux", Architecture: "amd64",
		RootFS: v1.RootFS{Type: "layers"}})
	if err != nil {
		tb.Fatal(err)
	}
	if img, err = mutate.AppendLayers(img, layers...); err != nil {
		tb.Fatal(err)
	}
	return img
}

func layerSize(tb testing.TB, l v1.Layer) int64 {
	tb.Helper()
	n, err := l.Size()
	if err != nil {
		tb.Fatal(err)
	}
	return n
}
