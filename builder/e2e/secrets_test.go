package e2e

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/builder/report"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/clustersecrets"
)

// serverSecrets are the byte strings whose presence in a file gives the
// site's cluster away: the server token, and the first base64 line of each
// CA key's PEM body, which encodes the private scalar's start (from the
// builder's secrets directory, which nothing serves).
func serverSecrets(t *testing.T, out, site string) map[string][]byte {
	t.Helper()
	dir := filepath.Join(out, "secrets", site)
	token := bytes.TrimSpace([]byte(readFile(t, filepath.Join(dir, "token"))))
	secrets := map[string][]byte{"server token": token}
	keys, err := filepath.Glob(filepath.Join(dir, "tls", "*.key"))
	if err != nil || len(keys) == 0 {
		t.Fatalf("no CA keys in %s: %v", dir, err)
	}
	for _, k := range keys {
		lines := strings.Split(readFile(t, k), "\n")
		if len(lines) < 3 || !strings.HasPrefix(lines[0], "-----BEGIN ") || len(lines[1]) < 60 {
			t.Fatalf("%s: not a PEM key", k)
		}
		secrets["CA key "+filepath.Base(k)] = []byte(lines[1])
	}
	return secrets
}

// checkNothingServedOwnsTheCluster is the attacker on the PXE network: it
// reads every file of the PXE bundle and every file of the OS image the
// bundle (and the initial server) serves, unpacked with unsquashfs, and
// finds none of the server secrets. The agents' node configs carry the
// agent join token, by design, and the report says so; the raw disk holds
// the secrets only in its SECRETS partition and is 0600.
func checkNothingServedOwnsTheCluster(t *testing.T, out, site string) {
	t.Helper()
	secrets := serverSecrets(t, out, site)
	agentSecret := bytes.TrimSpace([]byte(readFile(t, filepath.Join(out, "secrets", site, "agent-token"))))
	unpacked := filepath.Join(t.TempDir(), "os")
	run(t, "unsquashfs", "-q", "-no-xattrs", "-d", unpacked, filepath.Join(out, "pxe", bootparam.PXEOSImage))
	files, agentConfigs := 0, 0
	for _, dir := range []string{filepath.Join(out, "pxe"), unpacked} {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() || p == filepath.Join(out, "pxe", bootparam.PXEOSImage) {
				return err
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files++
			for what, s := range secrets {
				if bytes.Contains(data, s) {
					t.Errorf("served file %s holds the %s", p, what)
				}
			}
			if bytes.Contains(data, []byte("::server:")) {
				t.Errorf("served file %s holds a server join token", p)
			}
			if bytes.Contains(data, agentSecret) {
				agentConfigs++
				if !strings.Contains(p, "/nodes/") {
					t.Errorf("the agent token is in %s, not an agent's node config", p)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if agentConfigs == 0 {
		t.Error("no served node config carries the agent join token: netbooted agents could not join")
	}
	t.Logf("attacker's view: %d served files (the PXE bundle and its OS image unpacked) hold no server secret; %d hold the agent join token (agents' node configs)", files, agentConfigs)

	rep := readReport(t, out)
	for _, a := range rep.Artifacts {
		info, err := os.Stat(filepath.Join(out, a.Path))
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case a.Kind == "raw" && (a.Secrets != report.SecretsServer || info.Mode().Perm() != 0o600):
			t.Errorf("raw disk %s: secrets %q mode %04o, want %q and 0600", a.Path, a.Secrets, info.Mode().Perm(), report.SecretsServer)
		case a.Kind != "raw" && a.Secrets == report.SecretsServer:
			t.Errorf("%s %s is reported as holding the server secrets", a.Kind, a.Path)
		case a.Secrets == report.SecretsAgentToken && info.Mode().Perm() != 0o600:
			t.Errorf("%s %s holds the agent join token but has mode %04o, want 0600", a.Kind, a.Path, info.Mode().Perm())
		}
	}
	// The raw disk: its SECRETS partition is the volume, and the
	// volume is the only place the server token is.
	raw := filepath.Join(out, site+".raw")
	vol := extract(t, raw, partition(t, out, bootparam.LabelSecrets), filepath.Join(t.TempDir(), "secrets.img"))
	f, err := os.Open(vol)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, _, err := clustersecrets.Decode(f)
	if err != nil {
		t.Fatalf("the raw disk's SECRETS partition: %v", err)
	}
	if !bytes.Equal(bytes.TrimSpace(v[clustersecrets.Token]), secrets["server token"]) {
		t.Error("the raw disk's secrets volume holds another server token than the secrets directory")
	}
}
