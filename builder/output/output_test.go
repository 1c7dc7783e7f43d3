package output

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ml-appliance/appliance/builder/report"
)

// An artifact that holds the secrets volume is made root-only and marked;
// one that does not keeps its mode.
func TestDescribeSecret(t *testing.T) {
	dir := t.TempDir()
	for _, secret := range []bool{true, false} {
		p := filepath.Join(dir, "artifact")
		os.Remove(p)
		if err := os.WriteFile(p, []byte("bytes"), 0o644); err != nil {
			t.Fatal(err)
		}
		a, err := DescribeSecret("raw", p, "site.raw", secret)
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
		if info.Mode().Perm() != wantMode || a.Secrets != wantSecrets || a.Size != 5 || a.Path != "site.raw" {
			t.Errorf("secret=%v: mode %04o, artifact %+v; want mode %04o, secrets %q", secret, info.Mode().Perm(), a, wantMode, wantSecrets)
		}
	}
}
