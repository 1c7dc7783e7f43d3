package agent

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/payload"
)

// TestSSHHostKeysReal generates host keys with the real ssh-keygen, checks
// them with ssh-keygen, then loses a .pub and checks it comes back.
func TestSSHHostKeysReal(t *testing.T) {
	root := newRoot(t, fixture{config: testConfig})
	var out bytes.Buffer
	env := newTestEnv(root, &out, testClock)
	env.Runner = ExecRunner{}
	env.Hostname = "node-1"
	if err := sshHostKeys(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	wantOut := regexp.MustCompile(`^firstboot: ssh-host-keys: generated /var/lib/appliance/ssh/ssh_host_ed25519_key SHA256:[A-Za-z0-9+/]{43}
firstboot: ssh-host-keys: generated /var/lib/appliance/ssh/ssh_host_rsa_key SHA256:[A-Za-z0-9+/]{43}
$`)
	if !wantOut.MatchString(out.String()) {
		t.Errorf("printed:\n%s", out.String())
	}
	bits := map[string]string{"ed25519": "256", "rsa": "3072"}
	pubs := map[string][]byte{}
	for _, keyType := range payload.SSHHostKeyTypes {
		key := filepath.Join(root, payload.SSHHostKeyPath(keyType))
		info, err := os.Stat(key)
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", key, err, info.Mode())
		}
		// ssh-keygen -y proves the private key parses; it must match .pub.
		derived, err := exec.Command("ssh-keygen", "-y", "-f", key).Output()
		if err != nil {
			t.Fatalf("ssh-keygen -y %s: %v", key, err)
		}
		pub, err := os.ReadFile(key + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(pub, bytes.TrimSpace(derived)) {
			t.Errorf("%s.pub = %q does not match the private key (%q)", key, pub, derived)
		}
		if !bytes.HasSuffix(bytes.TrimSpace(pub), []byte(" root@node-1")) {
			t.Errorf("%s.pub comment: %q", key, pub)
		}
		l, err := exec.Command("ssh-keygen", "-l", "-f", key+".pub").Output()
		if err != nil || !bytes.HasPrefix(l, []byte(bits[keyType]+" ")) {
			t.Errorf("ssh-keygen -l %s.pub = %q, %v; want %s bits", key, l, err, bits[keyType])
		}
		pubs[keyType] = pub
	}
	if left, _ := filepath.Glob(filepath.Join(root, payload.SSHHostKeyDir, ".tmp-*")); len(left) != 0 {
		t.Errorf("temp files left: %q", left)
	}

	// A power cut between the renames left a private key without .pub.
	edPub := filepath.Join(root, payload.SSHHostKeyPath("ed25519")) + ".pub"
	if err := os.Remove(edPub); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := sshHostKeys(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	wantOut = regexp.MustCompile(`^firstboot: ssh-host-keys: recovered public key of /var/lib/appliance/ssh/ssh_host_ed25519_key SHA256:\S+
firstboot: ssh-host-keys: kept /var/lib/appliance/ssh/ssh_host_rsa_key SHA256:\S+
$`)
	if !wantOut.MatchString(out.String()) {
		t.Errorf("second run printed:\n%s", out.String())
	}
	recovered, err := os.ReadFile(edPub)
	if err != nil {
		t.Fatal(err)
	}
	// ssh-keygen -y prints the key with the private key's comment.
	if !bytes.Equal(recovered, pubs["ed25519"]) {
		t.Errorf("recovered %q, want %q", recovered, pubs["ed25519"])
	}
}
