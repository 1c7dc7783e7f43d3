package agent

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/imagepayload"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/internal/testpayload"
)

var payloadImages = []string{"docker.io/library/busybox:1.36", "ghcr.io/example/model-server:v2"}

// withPayload gives the image a payload descriptor and puts the payload
// where (imagepayload.KindState or KindISO; "" puts it nowhere, as on a
// netbooted node).
func withPayload(t *testing.T, root, where string) testpayload.Payload {
	t.Helper()
	tp := testpayload.Write(t, t.TempDir(), payloadImages...)
	testpayload.WriteDescriptor(t, root, tp.Descriptor)
	data, err := os.ReadFile(tp.Path)
	if err != nil {
		t.Fatal(err)
	}
	switch where {
	case imagepayload.KindState:
		writeTestFile(t, root, payload.ImagePayloadStateDir+"/"+strings.TrimPrefix(tp.Descriptor.Index, "sha256:")+".tar", string(data))
	case imagepayload.KindISO:
		writeTestFile(t, root, bootparam.ISOMount+bootparam.ISOPayloadPath, string(data))
	}
	return tp
}

// registriesYAML is registries.yaml as firstboot writes it for the test
// payload's registries with endpoints.
func registriesYAML(from string, endpoints ...string) string {
	var b strings.Builder
	b.WriteString("# Written by firstboot at every boot from " + from + ".\n" +
		"# containerd tries K3s's embedded registry mirror, then these endpoints in\n" +
		"# order, then the registry itself. Edit it and firstboot leaves it alone.\n" +
		"mirrors:\n")
	for _, host := range []string{"docker.io", "ghcr.io"} {
		if len(endpoints) == 0 {
			b.WriteString("  " + host + ": {}\n")
			continue
		}
		b.WriteString("  " + host + ":\n    endpoint:\n")
		for _, e := range endpoints {
			b.WriteString("      - " + e + "\n")
		}
	}
	return b.String()
}

const bothSources = payload.RegistriesTemplate + " and " + payload.ImagePayloadDescriptor

func readRegistries(t *testing.T, root string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, payload.K3sRegistriesPath))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestImagePayloadServers(t *testing.T) {
	for _, c := range []struct {
		name, mac, where string
		// want is where the node's images come from; endpoints what
		// registries.yaml lists.
		want      string
		endpoints []string
	}{
		{"initial server, payload on STATE", "52:54:00:00:00:01", imagepayload.KindState,
			"served on :5000 from STATE (/var/lib/appliance/payload/", []string{"http://127.0.0.1:5000"}},
		{"joining server, payload on the ISO", "52:54:00:00:00:02", imagepayload.KindISO,
			"served on :5000 from ISO (/run/appliance/iso/appliance/payload.tar)", []string{"http://127.0.0.1:5000", "http://10.0.0.10:5000"}},
		{"agent, payload on the ISO", "52:54:00:12:34:56", imagepayload.KindISO,
			"served on 127.0.0.1:5000 from ISO (/run/appliance/iso/appliance/payload.tar)", []string{"http://127.0.0.1:5000", "http://10.0.0.10:5000"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := newRoot(t, fixture{config: clusterConfig(), nics: map[string]string{"eth0": c.mac}})
			withK3s(t, root)
			tp := withPayload(t, root, c.where)
			var out bytes.Buffer
			env := newTestEnv(root, &out, testClock)
			printed := runBoot(t, env)
			summary := "firstboot: image-payload: images: payload " + imagepayload.Short(tp.Descriptor.Index) + " (2 images, 13.5 KiB) " + c.want
			if !strings.Contains(printed, summary) || !strings.Contains(printed, "firstboot: image-payload: appliance-registry.service queued\n") {
				t.Errorf("output lacks %q:\n%s", summary, printed)
			}
			calls := strings.Join(env.Runner.(*keygenRunnerDouble).calls, "\n")
			registry := strings.Index(calls, "systemctl start --no-block appliance-registry.service")
			k3s := strings.Index(calls, "systemctl start --no-block k3s")
			if registry < 0 || k3s < registry {
				t.Errorf("want the registry queued before K3s:\n%s", calls)
			}
			if got, want := readRegistries(t, root), registriesYAML(bothSources, c.endpoints...); got != want {
				t.Errorf("registries.yaml:\n%s\nwant:\n%s", got, want)
			}
			st, err := ReadImagePayloadStatus(root)
			if err != nil || st == nil || st.Location == nil || st.Index != tp.Descriptor.Index || st.Listen == "" {
				t.Fatalf("status %+v, %v", st, err)
			}
		})
	}
}

func TestImagePayloadNetbootedAgent(t *testing.T) {
	for _, c := range []struct {
		name, server, endpoint string
	}{
		{"IPv4", "https://10.0.0.10:6443", "http://10.0.0.10:5000"},
		{"IPv6", "https://[fd00::10]:6443", "http://[fd00::10]:5000"},
		{"name", "https://ml-lab.internal:6443", "http://ml-lab.internal:5000"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := clusterConfig()
			cfg.Cluster.Server = c.server
			root := newRoot(t, fixture{config: cfg, nics: map[string]string{"eth0": "52:54:00:12:34:56"}})
			withK3s(t, root)
			withPayload(t, root, "")
			var out bytes.Buffer
			env := newTestEnv(root, &out, testClock)
			printed := runBoot(t, env)
			want := "firstboot: image-payload: images: from the servers (" + c.endpoint + ") and the embedded mirror: this node has no payload: " +
				"none found (looked at STATE (/var/lib/appliance/payload/"
			if !strings.Contains(printed, want) || strings.Contains(printed, "image-payload: warning") {
				t.Errorf("output lacks %q or warns:\n%s", want, printed)
			}
			if calls := strings.Join(env.Runner.(*keygenRunnerDouble).calls, "\n"); strings.Contains(calls, payload.RegistryUnitName) {
				t.Errorf("a node without a payload queued its registry:\n%s", calls)
			}
			if got, want := readRegistries(t, root), registriesYAML(bothSources, c.endpoint); got != want {
				t.Errorf("registries.yaml:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestImagePayloadRefused: a payload that is not the one the OS image
// names is refused with a warning, and the node pulls from the servers and
// still finishes its boot (K3s is queued).
func TestImagePayloadRefused(t *testing.T) {
	for _, c := range []struct {
		name, mac, warning string
		endpoints          []string
	}{
		{"agent", "52:54:00:12:34:56", "", []string{"http://10.0.0.10:5000"}},
		{"initial server", "52:54:00:00:00:01", "firstboot: image-payload: warning: this server serves no images: ISO", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := newRoot(t, fixture{config: clusterConfig(), nics: map[string]string{"eth0": c.mac}})
			withK3s(t, root)
			withPayload(t, root, imagepayload.KindISO)
			other := testpayload.Write(t, t.TempDir(), "docker.io/library/busybox:1.37", "ghcr.io/example/model-server:v3")
			testpayload.WriteDescriptor(t, root, other.Descriptor)
			var out bytes.Buffer
			env := newTestEnv(root, &out, testClock)
			printed := runBoot(t, env)
			refused := "firstboot: image-payload: warning: ISO (/run/appliance/iso/appliance/payload.tar) refused: " +
				"/run/appliance/iso/appliance/payload.tar: image payload: index.json is "
			if !strings.Contains(printed, refused) || !strings.Contains(printed, c.warning) {
				t.Errorf("output lacks %q and %q:\n%s", refused, c.warning, printed)
			}
			calls := strings.Join(env.Runner.(*keygenRunnerDouble).calls, "\n")
			if strings.Contains(calls, payload.RegistryUnitName) || !strings.Contains(calls, "systemctl start --no-block k3s") {
				t.Errorf("want K3s and no registry queued:\n%s", calls)
			}
			st, err := ReadImagePayloadStatus(root)
			if err != nil || st == nil || st.Location != nil || !strings.Contains(st.Problem, "index.json is ") {
				t.Errorf("status %+v, %v", st, err)
			}
			if got, want := readRegistries(t, root), registriesYAML(bothSources, c.endpoints...); got != want {
				t.Errorf("registries.yaml:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestImagePayloadQueueFails: when the registry cannot be queued, the
// record says the node serves nothing and registries.yaml does not point
// at it.
func TestImagePayloadQueueFails(t *testing.T) {
	root := newRoot(t, fixture{config: clusterConfig(), nics: map[string]string{"eth0": "52:54:00:00:00:02"}})
	withK3s(t, root)
	withPayload(t, root, imagepayload.KindState)
	var out bytes.Buffer
	env := newTestEnv(root, &out, testClock)
	env.Runner.(*keygenRunnerDouble).failing = map[string]bool{"systemctl start --no-block " + payload.RegistryUnitName: true}
	printed := runBoot(t, env)
	if want := "this node has no payload: queue appliance-registry.service: "; !strings.Contains(printed, want) {
		t.Errorf("output lacks %q:\n%s", want, printed)
	}
	if got, want := readRegistries(t, root), registriesYAML(bothSources, "http://10.0.0.10:5000"); got != want {
		t.Errorf("registries.yaml:\n%s\nwant:\n%s", got, want)
	}
}

func TestImagePayloadNone(t *testing.T) {
	root := newRoot(t, fixture{config: clusterConfig(), nics: map[string]string{"eth0": "52:54:00:12:34:56"}})
	withK3s(t, root)
	var out bytes.Buffer
	printed := runBoot(t, newTestEnv(root, &out, testClock))
	if want := "firstboot: image-payload: no /usr/lib/appliance/images/payload.json in this image: no payload to serve\n"; !strings.Contains(printed, want) {
		t.Errorf("output lacks %q:\n%s", want, printed)
	}
	// The template as it is: the embedded mirror for docker.io.
	if got := readRegistries(t, root); got != "mirrors:\n  docker.io:\n" {
		t.Errorf("registries.yaml = %q", got)
	}
	st, err := ReadImagePayloadStatus(root)
	if err != nil || st == nil || st.Summary() != "images: this OS image names no payload (no platform images)" {
		t.Errorf("status %+v, %v", st, err)
	}
}

// TestImagePayloadOperatorRegistries: a registries.yaml the operator
// changed is kept, at this boot and the next.
func TestImagePayloadOperatorRegistries(t *testing.T) {
	root := newRoot(t, fixture{config: clusterConfig(), nics: map[string]string{"eth0": "52:54:00:12:34:56"}})
	withK3s(t, root)
	withPayload(t, root, "")
	var out bytes.Buffer
	runBoot(t, newTestEnv(root, &out, testClock))
	operators := "mirrors:\n  docker.io:\n    endpoint: [https://mirror.site.internal]\n"
	writeTestFile(t, root, payload.K3sRegistriesPath, operators)
	for boot := 2; boot <= 3; boot++ {
		out.Reset()
		printed := runBoot(t, newTestEnv(root, &out, testClock))
		if want := "firstboot: k3s-platform: kept /etc/rancher/k3s/registries.yaml (changed by the operator; " + bothSources + " not installed)\n"; !strings.Contains(printed, want) {
			t.Errorf("boot %d: output lacks %q:\n%s", boot, want, printed)
		}
		if got := readRegistries(t, root); got != operators {
			t.Errorf("boot %d: registries.yaml = %q", boot, got)
		}
	}
}

// TestK3sImagesPlatformArchiveMoved: an upgrade from an image that had the
// platform's archive among K3s's archives (before the payload was its own
// artifact) to one with K3s's airgap archive alone: the platform's link is
// removed, so K3s no longer imports the platform at every start (it is
// pulled from the payload's registry), and the airgap archive's is kept.
func TestK3sImagesPlatformArchiveMoved(t *testing.T) {
	root := t.TempDir()
	old := putArchives(t, root, map[string]string{airgapName: "airgap", "appliance-platform.tar": "platform"})
	if _, err := runK3sImages(t, root); err != nil {
		t.Fatal(err)
	}
	platformLink := "appliance-platform-" + old["appliance-platform.tar"][:12] + ".tar"
	airgapLink := "k3s-airgap-images-amd64-" + old[airgapName][:12] + ".tar.zst"
	putArchives(t, root, map[string]string{airgapName: "airgap"})
	out, err := runK3sImages(t, root)
	if err != nil {
		t.Fatal(err)
	}
	want := "firstboot: k3s-images: kept /var/lib/rancher/k3s/agent/images/" + airgapLink + " -> /usr/lib/appliance/k3s/images/" + airgapName + "\n" +
		"firstboot: k3s-images: removed stale /var/lib/rancher/k3s/agent/images/" + platformLink + " -> /usr/lib/appliance/k3s/images/appliance-platform.tar\n"
	if out != want {
		t.Errorf("upgrade boot printed:\n%s\nwant:\n%s", out, want)
	}
	if got, want := imagesDirState(t, root), map[string]string{airgapLink: "-> /usr/lib/appliance/k3s/images/" + airgapName}; !reflect.DeepEqual(got, want) {
		t.Errorf("images dir %q, want %q", got, want)
	}
}

// TestImagePayloadBadDescriptor: a descriptor of another format is a
// warning; registries.yaml then lists the template's registries with the
// server's endpoint.
func TestImagePayloadBadDescriptor(t *testing.T) {
	root := newRoot(t, fixture{config: clusterConfig(), nics: map[string]string{"eth0": "52:54:00:00:00:02"}})
	withK3s(t, root)
	tp := withPayload(t, root, imagepayload.KindState)
	tp.Descriptor.Format = 2
	testpayload.WriteDescriptor(t, root, tp.Descriptor)
	var out bytes.Buffer
	printed := runBoot(t, newTestEnv(root, &out, testClock))
	want := "firstboot: image-payload: warning: this server serves no images: payload descriptor /usr/lib/appliance/images/payload.json: format 2, this firstboot reads format 1\n"
	if !strings.Contains(printed, want) {
		t.Errorf("output lacks %q:\n%s", want, printed)
	}
	wantYAML := "# Written by firstboot at every boot from " + bothSources + ".\n" +
		"# containerd tries K3s's embedded registry mirror, then these endpoints in\n" +
		"# order, then the registry itself. Edit it and firstboot leaves it alone.\n" +
		"mirrors:\n  docker.io:\n    endpoint:\n      - http://10.0.0.10:5000\n"
	if got := readRegistries(t, root); got != wantYAML {
		t.Errorf("registries.yaml:\n%s\nwant:\n%s", got, wantYAML)
	}
}
