package agent

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/clustersecrets"
	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// siteVolume is a secrets volume as the builder writes it for a site with
// a cluster CA and S3 snapshots.
func siteVolume() clustersecrets.Volume {
	return clustersecrets.Volume{
		clustersecrets.Token:           []byte("SERVER-SECRET\n"),
		clustersecrets.JoinToken:       []byte("K10abc::server:SERVER-SECRET\n"),
		clustersecrets.AgentToken:      []byte("AGENT-SECRET\n"),
		clustersecrets.AgentJoinToken:  []byte("K10abc::node:AGENT-SECRET\n"),
		clustersecrets.EtcdS3SecretKey: []byte("S3-SECRET\n"),
		"tls/client-ca.key":            []byte("CLIENT CA KEY\n"),
		"tls/etcd/peer-ca.key":         []byte("PEER CA KEY\n"),
	}
}

// secretsDisk lays out, in root, a raw disk vda whose STATE is vda4 (the
// fixture's mounted STATE) and whose SECRETS partition vda5 holds vol,
// and a second disk vdb with a SECRETS partition of its own (a stranger's
// USB stick). It returns the host paths of the two SECRETS partitions.
func secretsDisk(t *testing.T, root string, vol clustersecrets.Volume) (own, stranger string) {
	t.Helper()
	data, err := clustersecrets.Encode(vol)
	if err != nil {
		t.Fatal(err)
	}
	part := append(data, make([]byte, 8192)...)
	for _, p := range []struct{ disk, name, label string }{
		{"vda", "vda4", bootparam.LabelState}, {"vda", "vda5", bootparam.LabelSecrets}, {"vdb", "vdb1", bootparam.LabelSecrets},
	} {
		dev := "/sys/devices/virtual/block/" + p.disk + "/" + p.name
		writeTestFile(t, root, dev+"/uevent", "DEVTYPE=partition\nDEVNAME="+p.name+"\nPARTNAME="+p.label+"\n")
		if err := os.Symlink("../../devices/virtual/block/"+p.disk+"/"+p.name, filepath.Join(root, "sys/class/block", p.name)); err != nil {
			t.Fatal(err)
		}
		if p.label == bootparam.LabelSecrets {
			if err := os.WriteFile(filepath.Join(root, "dev", p.name), part, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	return filepath.Join(root, "dev/vda5"), filepath.Join(root, "dev/vdb1")
}

// secretsEnv is an Env for role on a fresh fixture with STATE mounted and
// K3s in the image.
func secretsEnv(t *testing.T, role string, state bool) (*Env, *bytes.Buffer) {
	t.Helper()
	f := fixture{config: clusterConfig()}
	if state {
		f.stateImage = makeExt4(t, 4096, 4096)
	}
	root := newRoot(t, f)
	if err := os.MkdirAll(filepath.Join(root, "dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, root, payload.K3sBinaryPath, "#!/bin/sh\n")
	var out bytes.Buffer
	env := newTestEnv(root, &out, testClock)
	env.Config, env.Role = clusterConfig(), role
	return env, &out
}

func readSecretFile(t *testing.T, env *Env, p string) string {
	t.Helper()
	info, err := os.Stat(env.Path(p))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %04o, want 0600", p, info.Mode().Perm())
	}
	data, err := os.ReadFile(env.Path(p))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestClusterSecretsServer(t *testing.T) {
	env, out := secretsEnv(t, nodeconfig.RoleServer, true)
	own, stranger := secretsDisk(t, env.Root, siteVolume())
	strangerBefore, _ := os.ReadFile(stranger)
	if err := clusterSecrets(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{
		nodeconfig.TokenPath: "SERVER-SECRET\n", nodeconfig.JoinTokenPath: "K10abc::server:SERVER-SECRET\n",
		nodeconfig.AgentTokenPath: "AGENT-SECRET\n", nodeconfig.AgentJoinTokenPath: "K10abc::node:AGENT-SECRET\n",
		nodeconfig.EtcdS3SecretKeyPath: "S3-SECRET\n", nodeconfig.CAKeyDir + "/etcd/peer-ca.key": "PEER CA KEY\n",
	} {
		if got := readSecretFile(t, env, p); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	for _, d := range []string{nodeconfig.SecretsDir, nodeconfig.CAKeyDir, nodeconfig.CAKeyDir + "/etcd"} {
		if info, err := os.Stat(env.Path(d)); err != nil || info.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v, want a 0700 directory", d, info.Mode(), err)
		}
	}
	wantWiped(t, own)
	if after, _ := os.ReadFile(stranger); !bytes.Equal(after, strangerBefore) {
		t.Error("the SECRETS partition of another disk was touched")
	}
	printed := out.String()
	for _, want := range []string{
		"firstboot: cluster-secrets: partition SECRETS (/dev/vda5): installed 7 of its 7 files in /var/lib/appliance/cluster for role server (agent-join-token, agent-token, etcd-s3-secret-key, join-token, tls/client-ca.key, tls/etcd/peer-ca.key, token)\n",
		"firstboot: cluster-secrets: wiped partition SECRETS (/dev/vda5) (",
	} {
		if !strings.Contains(printed, want) {
			t.Errorf("output lacks %q:\n%s", want, printed)
		}
	}
	if strings.Contains(printed, "SECRET\n") || strings.Contains(printed, "KEY") {
		t.Errorf("a secret was printed:\n%s", printed)
	}

	// The next boot finds the partition wiped and keeps what STATE holds.
	out.Reset()
	if err := clusterSecrets(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "cluster-secrets: partition SECRETS (/dev/vda5) is empty (wiped at the first boot)") {
		t.Errorf("second boot printed:\n%s", out)
	}
	if got := readSecretFile(t, env, nodeconfig.TokenPath); got != "SERVER-SECRET\n" {
		t.Errorf("the second boot lost the token: %q", got)
	}
}

func TestClusterSecretsAgentKeepsOnlyItsToken(t *testing.T) {
	env, out := secretsEnv(t, nodeconfig.RoleAgent, true)
	own, _ := secretsDisk(t, env.Root, siteVolume())
	// Left on STATE by an earlier life as a server.
	writeTestFile(t, env.Root, nodeconfig.TokenPath, "OLD-SERVER-SECRET\n")
	writeTestFile(t, env.Root, nodeconfig.CAKeyDir+"/server-ca.key", "OLD CA KEY\n")
	if err := clusterSecrets(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if got := readSecretFile(t, env, nodeconfig.AgentJoinTokenPath); got != "K10abc::node:AGENT-SECRET\n" {
		t.Errorf("agent join token = %q", got)
	}
	entries, err := os.ReadDir(env.Path(nodeconfig.SecretsDir))
	var kept []string
	for _, e := range entries {
		kept = append(kept, e.Name())
	}
	if err != nil || strings.Join(kept, " ") != installedMarker+" agent-join-token" {
		t.Errorf("an agent keeps %q, want the agent join token alone (and the marker)", kept)
	}
	wantWiped(t, own)
	for _, want := range []string{
		"cluster-secrets: partition SECRETS (/dev/vda5): installed 1 of its 7 files in /var/lib/appliance/cluster for role agent (agent-join-token)\n",
		"cluster-secrets: agent: removed 2 server secret files from /var/lib/appliance/cluster\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// A live boot reads the ISO's volume and cannot wipe it.
func TestClusterSecretsFromISO(t *testing.T) {
	env, out := secretsEnv(t, nodeconfig.RoleServer, false)
	data, err := clustersecrets.Encode(siteVolume())
	if err != nil {
		t.Fatal(err)
	}
	iso := bootparam.ISOMount + bootparam.ISOSecretsPath
	writeTestFile(t, env.Root, iso, string(data))
	if err := clusterSecrets(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if got := readSecretFile(t, env, nodeconfig.TokenPath); got != "SERVER-SECRET\n" {
		t.Errorf("token = %q", got)
	}
	if after, _ := os.ReadFile(env.Path(iso)); !bytes.Equal(after, data) {
		t.Error("the ISO's volume changed")
	}
	if !strings.Contains(out.String(), "cluster-secrets: the ISO's /install/secrets.img is read-only and keeps the server secrets: keep the medium locked away\n") {
		t.Errorf("output:\n%s", out)
	}
}

// A netbooted agent has no volume; its token comes in its node config.
func TestClusterSecretsNetbooted(t *testing.T) {
	env, out := secretsEnv(t, nodeconfig.RoleAgent, false)
	if err := clusterSecrets(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "cluster-secrets: no secrets volume on this node's boot medium") {
		t.Errorf("output:\n%s", out)
	}
}

func TestClusterSecretsRefusesABadVolume(t *testing.T) {
	env, _ := secretsEnv(t, nodeconfig.RoleServer, true)
	own, _ := secretsDisk(t, env.Root, siteVolume())
	data, err := os.ReadFile(own)
	if err != nil {
		t.Fatal(err)
	}
	data[clustersecrets.HeaderSize+2] ^= 0xff
	if err := os.WriteFile(own, data, 0o600); err != nil {
		t.Fatal(err)
	}
	err = clusterSecrets(context.Background(), env)
	if want := "secrets volume partition SECRETS (/dev/vda5): the secrets do not match the header's sha256"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want %q", err, want)
	}
	if _, err := os.Stat(env.Path(nodeconfig.TokenPath)); err == nil {
		t.Error("a corrupted volume was installed")
	}
}

// A power cut during the wipe leaves the header over zeroed secrets; the
// next boot, seeing the marker of a complete install, finishes the wipe.
func TestClusterSecretsFinishesAnInterruptedWipe(t *testing.T) {
	env, out := secretsEnv(t, nodeconfig.RoleServer, true)
	vol := siteVolume()
	// Larger than the header's sector, as a volume with CA keys is.
	vol["tls/server-ca.key"] = bytes.Repeat([]byte("K"), 3000)
	own, _ := secretsDisk(t, env.Root, vol)
	volume, err := os.ReadFile(own)
	if err != nil {
		t.Fatal(err)
	}
	if err := clusterSecrets(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	// The state of the cut: secrets zeroed, header's sector not yet.
	wiped, err := os.ReadFile(own)
	if err != nil {
		t.Fatal(err)
	}
	copy(wiped, volume[:512])
	if err := os.WriteFile(own, wiped, 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := clusterSecrets(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if want := "cluster-secrets: finished wiping partition SECRETS (/dev/vda5), which an earlier boot had begun"; !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	wantWiped(t, own)
	if got := readSecretFile(t, env, nodeconfig.TokenPath); got != "SERVER-SECRET\n" {
		t.Errorf("token = %q", got)
	}

	// Without the marker (nothing was installed) a damaged volume stops
	// the boot instead.
	if err := os.Remove(env.Path(nodeconfig.SecretsDir + "/" + installedMarker)); err != nil {
		t.Fatal(err)
	}
	copy(wiped, volume[:512])
	if err := os.WriteFile(own, wiped, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := clusterSecrets(context.Background(), env); err == nil || !strings.Contains(err.Error(), "do not match the header's sha256") {
		t.Errorf("err = %v", err)
	}
}

func wantWiped(t *testing.T, part string) {
	t.Helper()
	data, err := os.ReadFile(part)
	if err != nil {
		t.Fatal(err)
	}
	if i := bytes.IndexFunc(data, func(r rune) bool { return r != 0 }); i >= 0 {
		t.Errorf("%s is not wiped: byte %d is %#x", part, i, data[i])
	}
}
