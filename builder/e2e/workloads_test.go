package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"golang.org/x/crypto/ssh"

	"github.com/ml-appliance/appliance/builder/report"
	"github.com/ml-appliance/appliance/firstboot/imagepayload"
	"github.com/ml-appliance/appliance/internal/testassets"
	"github.com/ml-appliance/appliance/internal/testfixture"
	"github.com/ml-appliance/appliance/internal/testrepo"
)

// TestSiteWorkloadsReachK3s builds the single-node site with the K3s
// stand-in and the site's own workloads (the example chart of configs/,
// a manifest and an extra image, their images served by a registry on
// 127.0.0.1), boots it as the initial server and, over SSH, checks that
// firstboot copied the site's chart and HelmChart manifest and the site's
// manifest where a K3s server serves and applies them, listed the
// registry in registries.yaml, and that `firstboot status` lists the site's
// chart. The stand-in runs no API server: the status shows every
// component waiting for it, which is what this can check. The site's
// images are the image payload: the raw disk's PAYLOAD partition holds it,
// the node finds it at /dev/disk/by-partlabel/PAYLOAD and serves it on
// port 5000 (appliance-registry.service), registries.yaml names that
// registry as the mirror endpoint of the site's registry, the stand-in
// resolves the payload's first image through it as containerd would, and
// `firstboot status` says where the images come from.
func TestSiteWorkloadsReachK3s(t *testing.T) {
	if testing.Short() {
		t.Skip("boots a VM")
	}
	t.Parallel()
	work := t.TempDir()
	reg := testrepo.Registry(t)
	for _, ref := range []string{"models/mlserver:1.3.5-sklearn", "tools/curl:8.11.1", "team/notebook:1.2"} {
		img, err := random.Image(4096, 1)
		if err != nil {
			t.Fatal(err)
		}
		testfixture.PushImage(t, reg.Host+"/"+ref, img)
	}
	smoke, err := os.ReadFile(filepath.Join(testassets.RepoRoot(), "configs", "manifests", "model-smoke-test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(work, "model-smoke-test.yaml")
	smoke = bytes.ReplaceAll(smoke, []byte("docker.io/curlimages/curl:8.11.1"), []byte(reg.Host+"/tools/curl:8.11.1"))
	if err := os.WriteFile(manifest, smoke, 0o644); err != nil {
		t.Fatal(err)
	}
	signer, authorizedKey := sshKey(t)

	standIn := withStandInK3s(t, work)
	config := siteConfig(t, work, "single-node.yaml", func(doc map[string]any) {
		standIn(doc)
		doc["cluster"].(map[string]any)["ssh"] = map[string]any{"authorizedKeys": []any{authorizedKey}}
		doc["charts"] = []any{map[string]any{
			"name": "iris-model", "namespace": "models",
			"path":   filepath.Join(testassets.RepoRoot(), "configs", "charts", "tiny-model-server"),
			"values": map[string]any{"image": map[string]any{"repository": reg.Host + "/models/mlserver"}},
		}}
		doc["manifests"] = []any{manifest}
		doc["images"] = []any{reg.Host + "/team/notebook:1.2"}
	})
	out := filepath.Join(work, "out")
	build(t, config, out)
	checkSiteWorkloadsReport(t, readReport(t, out), reg.Host)
	// The site's images make an image payload: the raw disk carries it in
	// its PAYLOAD partition.
	raw := filepath.Join(out, "single-node.raw")
	desc, artifact := payloadDescriptor(t, out, filepath.Join(out, "single-node.squashfs"))
	if got := sha256File(t, artifact); got != desc.SHA256 {
		t.Errorf("payload artifact %s has sha256 %s, its descriptor says %s", artifact, got, desc.SHA256)
	}
	payloadPart := checkPayloadPartition(t, raw, desc)

	port := freePort(t)
	vm := bootCopy(t, raw, "52:54:00:00:00:01", &bootExtra{sshPort: port})
	start := time.Now()
	expect(t, vm, consoleLine+`firstboot: k3s-platform: copied /var/lib/rancher/k3s/server/manifests/model-smoke-test.yaml from `, 0, bootTimeout)
	expect(t, vm, consoleLine+`firstboot: done role=server hostname=node-1$`, 0, bootTimeout)
	expect(t, vm, consoleLine+`k3s-standin: test double \(not K3s\): server started with `, 0, bootTimeout)
	t.Logf("initial server: firstboot done and K3s (stand-in) started %.1fs after boot began", time.Since(start).Seconds())

	// The payload is served from its partition on every address (agents
	// pull from a server), and containerd's first endpoint, this node's
	// own registry, answers for the payload's images.
	where := fmt.Sprintf("%s (/dev/vda%d)", imagepayload.KindPartition, payloadPart.Number)
	expectPayloadServed(t, vm, desc, where, ":5000", "[::]:5000")
	expectStandInPull(t, vm, desc, readReport(t, out), "http://127.0.0.1:5000/v2")

	got := sshRun(t, port, signer, "ls /var/lib/rancher/k3s/server/static/charts /var/lib/rancher/k3s/server/manifests; "+
		"cat /var/lib/rancher/k3s/server/manifests/iris-model.yaml; "+
		"cmp /usr/lib/appliance/k3s/manifests/model-smoke-test.yaml /var/lib/rancher/k3s/server/manifests/model-smoke-test.yaml && echo manifest-copied-unchanged; "+
		"for i in $(seq 60); do firstboot status | grep -q iris-model && break; sleep 1; done; firstboot status")
	for _, want := range []string{
		"/var/lib/rancher/k3s/server/static/charts:\ntiny-model-server-0.1.0.tgz\n",
		"iris-model.yaml\n", "model-smoke-test.yaml\n",
		"kind: HelmChart\n", "chart: https://%{KUBERNETES_API}%/static/charts/tiny-model-server-0.1.0.tgz\n", "targetNamespace: models\n",
		"repository: " + reg.Host + "/models/mlserver\n",
		"manifest-copied-unchanged\n",
		"iris-model (site chart) waiting: waiting for the API server\n",
		"images: payload " + imagepayload.Short(desc.Index) + " (3 images, ",
		") served on :5000 from " + where + "\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("on the initial server, lacks %q:\n%s", want, got)
		}
	}
	checkRegistriesYAML(t, sshRun(t, port, signer, "cat /etc/rancher/k3s/registries.yaml"),
		map[string][]string{reg.Host: {"http://127.0.0.1:5000"}})
	checkNodePayload(t, port, signer, desc, payloadPart.Number)
	vm.Kill()
}

// checkSiteWorkloadsReport checks that the build report lists the site's
// chart (with its origin and path) and every image of the site's.
func checkSiteWorkloadsReport(t *testing.T, rep report.Report, host string) {
	t.Helper()
	found := false
	for _, c := range rep.Charts {
		if c.Component == "iris-model" {
			found = true
			if c.Origin != "site" || c.Name != "tiny-model-server" || !strings.HasSuffix(c.Path, "configs/charts/tiny-model-server") {
				t.Errorf("report chart %+v", c)
			}
		}
	}
	if !found {
		t.Errorf("report lists no chart iris-model: %+v", rep.Charts)
	}
	found = false
	for _, in := range rep.Inputs {
		found = found || (in.Name == "site-manifest model-smoke-test.yaml" && strings.HasSuffix(in.Source, "/model-smoke-test.yaml") &&
			strings.HasPrefix(in.Digest, "sha256:"))
	}
	if !found {
		t.Errorf("report lists no input site-manifest model-smoke-test.yaml: %+v", rep.Inputs)
	}
	images := map[string][]string{}
	for _, img := range rep.Images {
		images[img.Name] = img.Components
	}
	for name, components := range map[string]string{
		host + "/models/mlserver:1.3.5-sklearn": "iris-model",
		host + "/tools/curl:8.11.1":             "site",
		host + "/team/notebook:1.2":             "site",
	} {
		if got := strings.Join(images[name], ","); got != components {
			t.Errorf("report image %s: components %q, want %q (images: %v)", name, got, components, images)
		}
	}
}

// sshKey makes an ed25519 key: its signer and its authorized_keys line.
func sshKey(t *testing.T) (ssh.Signer, string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return signer, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " e2e-test"
}

// sshRun runs command as root on the VM whose sshd is forwarded to
// 127.0.0.1:port and returns its standard output and error, retrying the
// connection while sshd starts.
func sshRun(t *testing.T, port int, signer ssh.Signer, command string) string {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	return sshRunVia(t, addr, func() (net.Conn, error) { return net.DialTimeout("tcp", addr, 30*time.Second) }, signer, command)
}

// sshRunVia is sshRun over the connections dial makes to addr (a VM on a
// bridge in a network namespace: netnsDialer).
func sshRunVia(t *testing.T, addr string, dial func() (net.Conn, error), signer ssh.Signer, command string) string {
	t.Helper()
	config := &ssh.ClientConfig{
		User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		// The node's host key is not what this checks.
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         30 * time.Second,
	}
	var client *ssh.Client
	var err error
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(2 * time.Second) {
		if client, err = sshClient(addr, dial, config); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("SSH to %s: %v", addr, err)
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close()
	out, err := session.CombinedOutput(command)
	if err != nil {
		t.Fatalf("ssh %q: %v\n%s", command, err, out)
	}
	return string(out)
}

// sshClient is ssh.Dial over a connection dial makes.
func sshClient(addr string, dial func() (net.Conn, error), config *ssh.ClientConfig) (*ssh.Client, error) {
	conn, err := dial()
	if err != nil {
		return nil, err
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, config)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return ssh.NewClient(c, chans, reqs), nil
}
