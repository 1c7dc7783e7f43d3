package output

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ml-appliance/appliance/builder/report"
)

// An artifact that holds the secrets volume is made root-only and marked;
// one that does not keeps its mode. Described from a known digest, it is
// the same artifact as hashed.
func TestDescribeSecret(t *testing.T) {
	dir := t.TempDir()
	// sha256 of "bytes".
	known := report.Digest{Size: 5, SHA256: "277089d91c0bdf4f2e6862ba7e4a07605119431f5d13f726dd352b06f1b206a9"}
	describers := map[string]func(path string, secret bool) (report.Artifact, error){
		"hashed": func(p string, secret bool) (report.Artifact, error) {
			return DescribeSecret("raw", p, "site.raw", secret)
		},
		"digest": func(p string, secret bool) (report.Artifact, error) {
			return DescribeSecretDigest("raw", p, "site.raw", secret, known)
		},
	}
	for name, describe := range describers {
		for _, secret := range []bool{true, false} {
			p := filepath.Join(dir, "artifact")
			os.Remove(p)
			if err := os.WriteFile(p, []byte("bytes"), 0o644); err != nil {
				t.Fatal(err)
			}
			a, err := describe(p, secret)
			if err != nil {
				t.Fatal(err)
			}
			info, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			wantMode, wantSecrets := os.FileMode(0o644), ""
			if secret {
				wantMode, wantSecrets = 0o600, report.SecretsServer
			}
			if info.Mode().Perm() != wantMode || a.Secrets != wantSecrets || a.Size != known.Size || a.SHA256 != known.SHA256 || a.Path != "site.raw" || a.Kind != "raw" {
				t.Errorf("%s, secret=%v: mode %04o, artifact %+v; want mode %04o, secrets %q, %+v", name, secret, info.Mode().Perm(), a, wantMode, wantSecrets, known)
			}
		}
	}
}
