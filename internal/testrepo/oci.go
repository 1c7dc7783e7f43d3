package testrepo

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/registry"
)

// PushChart packages ch and pushes it to the OCI reference ref
// (host/path/name:version, plain HTTP on 127.0.0.1) with Helm's own
// registry client, as `helm push` does. It returns the archive's sha256
// as "sha256:<hex>" and the manifest's digest.
func PushChart(t testing.TB, ch *chart.Chart, ref string) (archive, manifest string) {
	t.Helper()
	dir := t.TempDir()
	path, err := chartutil.Save(ch, dir)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	client, err := registry.NewClient(registry.ClientOptPlainHTTP(),
		registry.ClientOptCredentialsFile(filepath.Join(dir, "registry.json")))
	if err != nil {
		t.Fatal(err)
	}
	pushed, err := client.Push(raw, ref)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:]), pushed.Manifest.Digest
}
