package agent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// bakedPlatform is what an OS image holds of the platform.
type bakedPlatform struct {
	charts, manifests map[string]string
	// registries is the template's content; "" leaves none.
	registries string
}

// putPlatform replaces the image's platform with p, as a new OS image would.
func putPlatform(t *testing.T, root string, p bakedPlatform) {
	t.Helper()
	for _, dir := range []string{payload.PlatformChartsDir, payload.PlatformManifestsDir, payload.RegistriesTemplate} {
		if err := os.RemoveAll(filepath.Join(root, dir)); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range p.charts {
		writeTestFile(t, root, payload.PlatformChartsDir+"/"+name, content)
	}
	for name, content := range p.manifests {
		writeTestFile(t, root, payload.PlatformManifestsDir+"/"+name, content)
	}
	if p.registries != "" {
		writeTestFile(t, root, payload.RegistriesTemplate, p.registries)
	}
}

func runK3sPlatform(t *testing.T, root, role string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	env := newTestEnv(root, &out, testClock)
	env.Role = role
	err := k3sPlatform(context.Background(), env)
	return out.String(), err
}

// platformState is the snapshot of what the step may write: /var and /etc.
func platformState(t *testing.T, root string) map[string]string {
	t.Helper()
	state := map[string]string{}
	for p, entry := range snapshot(t, root) {
		if strings.HasPrefix(p, "var/") || strings.HasPrefix(p, "etc/") {
			state[p] = entry
		}
	}
	return state
}

// fileStamps maps every file under /var and /etc to its FileInfo, to tell
// whether a run rewrote any.
func fileStamps(t *testing.T, root string) map[string]os.FileInfo {
	t.Helper()
	stamps := map[string]os.FileInfo{}
	for p := range platformState(t, root) {
		info, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		if !info.IsDir() {
			stamps[p] = info
		}
	}
	return stamps
}

// checkUntouched fails for each file of before that is gone, was replaced
// or was written to.
func checkUntouched(t *testing.T, root string, before map[string]os.FileInfo) {
	t.Helper()
	for p, was := range before {
		now, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if !os.SameFile(was, now) || !was.ModTime().Equal(now.ModTime()) {
			t.Errorf("%s was rewritten (mtime %v, was %v)", p, now.ModTime(), was.ModTime())
		}
	}
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

const (
	charts    = "/var/lib/rancher/k3s/server/static/charts/"
	manifests = "/var/lib/rancher/k3s/server/manifests/"
	registry  = "/etc/rancher/k3s/registries.yaml"
)

var platformV1 = bakedPlatform{
	charts:     map[string]string{"jupyterhub-3.3.7.tgz": "hub chart v1", "mlflow-0.7.19.tgz": "mlflow chart"},
	manifests:  map[string]string{"jupyterhub.yaml": "hub v1", "mlflow.yaml": "mlflow"},
	registries: "mirrors v1",
}

// putK3sAndOperatorFiles puts what K3s and an operator write into the
// directories the step shares with them.
func putK3sAndOperatorFiles(t *testing.T, root string) {
	t.Helper()
	writeTestFile(t, root, manifests+"traefik.yaml", "K3s's traefik")
	writeTestFile(t, root, charts+"traefik-27.0.201+up27.0.2.tgz", "K3s's chart")
	writeTestFile(t, root, manifests+"site-quota.yaml", "operator's")
}

func TestK3sPlatformServerBootsAndUpgrade(t *testing.T) {
	root := t.TempDir()
	putPlatform(t, root, platformV1)
	putK3sAndOperatorFiles(t, root)
	notOurs := fileStamps(t, root)

	// First boot: everything is copied.
	out, err := runK3sPlatform(t, root, nodeconfig.RoleServer)
	if err != nil {
		t.Fatal(err)
	}
	want := "firstboot: k3s-platform: copied " + charts + "jupyterhub-3.3.7.tgz from /usr/lib/appliance/k3s/charts/jupyterhub-3.3.7.tgz\n" +
		"firstboot: k3s-platform: copied " + charts + "mlflow-0.7.19.tgz from /usr/lib/appliance/k3s/charts/mlflow-0.7.19.tgz\n" +
		"firstboot: k3s-platform: copied " + manifests + "jupyterhub.yaml from /usr/lib/appliance/k3s/manifests/jupyterhub.yaml\n" +
		"firstboot: k3s-platform: copied " + manifests + "mlflow.yaml from /usr/lib/appliance/k3s/manifests/mlflow.yaml\n" +
		"firstboot: k3s-platform: copied " + registry + " from /usr/lib/appliance/k3s/registries.yaml\n"
	if out != want {
		t.Errorf("first boot printed:\n%s\nwant:\n%s", out, want)
	}
	k3sAndOperator := map[string]string{
		"var/lib/rancher/k3s/server/manifests/traefik.yaml":                      "-rw-r--r-- K3s's traefik",
		"var/lib/rancher/k3s/server/static/charts/traefik-27.0.201+up27.0.2.tgz": "-rw-r--r-- K3s's chart",
		"var/lib/rancher/k3s/server/manifests/site-quota.yaml":                   "-rw-r--r-- operator's",
	}
	dirs := map[string]string{
		"var/lib":                                  "drwxr-xr-x",
		"var/lib/rancher":                          "drwxr-xr-x",
		"var/lib/rancher/k3s":                      "drwxr-xr-x",
		"var/lib/rancher/k3s/server":               "drwxr-xr-x",
		"var/lib/rancher/k3s/server/manifests":     "drwxr-xr-x",
		"var/lib/rancher/k3s/server/static":        "drwxr-xr-x",
		"var/lib/rancher/k3s/server/static/charts": "drwxr-xr-x",
		"var/lib/appliance":                        "drwxr-xr-x",
		"var/lib/appliance/firstboot":              "drwxr-xr-x",
		"etc/rancher":                              "drwxr-xr-x",
		"etc/rancher/k3s":                          "drwxr-xr-x",
	}
	wantState := func(files map[string]string) map[string]string {
		state := map[string]string{}
		for _, m := range []map[string]string{dirs, k3sAndOperator, files} {
			for k, v := range m {
				state[k] = v
			}
		}
		return state
	}
	want1 := wantState(map[string]string{
		"var/lib/rancher/k3s/server/static/charts/jupyterhub-3.3.7.tgz": "-rw------- hub chart v1",
		"var/lib/rancher/k3s/server/static/charts/mlflow-0.7.19.tgz":    "-rw------- mlflow chart",
		"var/lib/rancher/k3s/server/manifests/jupyterhub.yaml":          "-rw------- hub v1",
		"var/lib/rancher/k3s/server/manifests/mlflow.yaml":              "-rw------- mlflow",
		"etc/rancher/k3s/registries.yaml":                               "-rw-r--r-- mirrors v1",
		"var/lib/appliance/firstboot/k3s-platform.json": `-rw-r--r-- {
  "charts": [
    "jupyterhub-3.3.7.tgz",
    "mlflow-0.7.19.tgz"
  ],
  "manifests": [
    "jupyterhub.yaml",
    "mlflow.yaml"
  ],
  "registriesSHA256": "` + sha256Hex("mirrors v1") + `"
}
`,
	})
	if d := diffSnapshots(platformState(t, root), want1); d != "" {
		t.Errorf("after first boot:\n%s", d)
	}
	checkUntouched(t, root, notOurs)

	// Second boot: nothing is written.
	before := fileStamps(t, root)
	out, err = runK3sPlatform(t, root, nodeconfig.RoleServer)
	if err != nil {
		t.Fatal(err)
	}
	want = "firstboot: k3s-platform: kept " + charts + "jupyterhub-3.3.7.tgz (same as /usr/lib/appliance/k3s/charts/jupyterhub-3.3.7.tgz)\n" +
		"firstboot: k3s-platform: kept " + charts + "mlflow-0.7.19.tgz (same as /usr/lib/appliance/k3s/charts/mlflow-0.7.19.tgz)\n" +
		"firstboot: k3s-platform: kept " + manifests + "jupyterhub.yaml (same as /usr/lib/appliance/k3s/manifests/jupyterhub.yaml)\n" +
		"firstboot: k3s-platform: kept " + manifests + "mlflow.yaml (same as /usr/lib/appliance/k3s/manifests/mlflow.yaml)\n" +
		"firstboot: k3s-platform: kept " + registry + " (same as /usr/lib/appliance/k3s/registries.yaml)\n"
	if out != want {
		t.Errorf("second boot printed:\n%s\nwant:\n%s", out, want)
	}
	if d := diffSnapshots(platformState(t, root), want1); d != "" {
		t.Errorf("after second boot:\n%s", d)
	}
	checkUntouched(t, root, before)

	// An upgraded image: jupyterhub changed, mlflow removed, ray added.
	putPlatform(t, root, bakedPlatform{
		charts:     map[string]string{"jupyterhub-3.4.0.tgz": "hub chart v2", "ray-1.1.0.tgz": "ray chart"},
		manifests:  map[string]string{"jupyterhub.yaml": "hub v2", "ray.yaml": "ray"},
		registries: "mirrors v2",
	})
	out, err = runK3sPlatform(t, root, nodeconfig.RoleServer)
	if err != nil {
		t.Fatal(err)
	}
	want = "firstboot: k3s-platform: copied " + charts + "jupyterhub-3.4.0.tgz from /usr/lib/appliance/k3s/charts/jupyterhub-3.4.0.tgz\n" +
		"firstboot: k3s-platform: copied " + charts + "ray-1.1.0.tgz from /usr/lib/appliance/k3s/charts/ray-1.1.0.tgz\n" +
		"firstboot: k3s-platform: removed stale " + charts + "jupyterhub-3.3.7.tgz (not in this image)\n" +
		"firstboot: k3s-platform: removed stale " + charts + "mlflow-0.7.19.tgz (not in this image)\n" +
		"firstboot: k3s-platform: updated " + manifests + "jupyterhub.yaml from /usr/lib/appliance/k3s/manifests/jupyterhub.yaml\n" +
		"firstboot: k3s-platform: copied " + manifests + "ray.yaml from /usr/lib/appliance/k3s/manifests/ray.yaml\n" +
		"firstboot: k3s-platform: removed stale " + manifests + "mlflow.yaml (not in this image)\n" +
		"firstboot: k3s-platform: updated " + registry + " from /usr/lib/appliance/k3s/registries.yaml\n"
	if out != want {
		t.Errorf("upgrade boot printed:\n%s\nwant:\n%s", out, want)
	}
	want2 := wantState(map[string]string{
		"var/lib/rancher/k3s/server/static/charts/jupyterhub-3.4.0.tgz": "-rw------- hub chart v2",
		"var/lib/rancher/k3s/server/static/charts/ray-1.1.0.tgz":        "-rw------- ray chart",
		"var/lib/rancher/k3s/server/manifests/jupyterhub.yaml":          "-rw------- hub v2",
		"var/lib/rancher/k3s/server/manifests/ray.yaml":                 "-rw------- ray",
		"etc/rancher/k3s/registries.yaml":                               "-rw-r--r-- mirrors v2",
		"var/lib/appliance/firstboot/k3s-platform.json": `-rw-r--r-- {
  "charts": [
    "jupyterhub-3.4.0.tgz",
    "ray-1.1.0.tgz"
  ],
  "manifests": [
    "jupyterhub.yaml",
    "ray.yaml"
  ],
  "registriesSHA256": "` + sha256Hex("mirrors v2") + `"
}
`,
	})
	if d := diffSnapshots(platformState(t, root), want2); d != "" {
		t.Errorf("after upgrade:\n%s", d)
	}
	checkUntouched(t, root, notOurs)

	// An image without the platform: all of ours goes, nothing else.
	putPlatform(t, root, bakedPlatform{})
	out, err = runK3sPlatform(t, root, nodeconfig.RoleServer)
	if err != nil {
		t.Fatal(err)
	}
	want = "firstboot: k3s-platform: no /usr/lib/appliance/k3s/manifests, charts or registries.yaml in this image (no platform)\n" +
		"firstboot: k3s-platform: removed stale " + charts + "jupyterhub-3.4.0.tgz (not in this image)\n" +
		"firstboot: k3s-platform: removed stale " + charts + "ray-1.1.0.tgz (not in this image)\n" +
		"firstboot: k3s-platform: removed stale " + manifests + "jupyterhub.yaml (not in this image)\n" +
		"firstboot: k3s-platform: removed stale " + manifests + "ray.yaml (not in this image)\n" +
		"firstboot: k3s-platform: removed stale " + registry + " (not in this image)\n"
	if out != want {
		t.Errorf("boot without platform printed:\n%s\nwant:\n%s", out, want)
	}
	if d := diffSnapshots(platformState(t, root), wantState(map[string]string{
		"var/lib/appliance/firstboot/k3s-platform.json": "-rw-r--r-- {}\n",
	})); d != "" {
		t.Errorf("after boot without platform:\n%s", d)
	}
	checkUntouched(t, root, notOurs)
}

func TestK3sPlatformServerCreatesK3sDirs(t *testing.T) {
	root := t.TempDir()
	putPlatform(t, root, platformV1)
	if _, err := runK3sPlatform(t, root, nodeconfig.RoleServer); err != nil {
		t.Fatal(err)
	}
	state := platformState(t, root)
	// K3s makes its data directories 0700; so does the step.
	for _, dir := range []string{"var/lib/rancher/k3s/server", "var/lib/rancher/k3s/server/manifests", "var/lib/rancher/k3s/server/static/charts"} {
		if state[dir] != "drwx------" {
			t.Errorf("%s is %q, want drwx------", dir, state[dir])
		}
	}
	if got := state["var/lib/rancher/k3s/server/manifests/mlflow.yaml"]; got != "-rw------- mlflow" {
		t.Errorf("mlflow.yaml is %q", got)
	}
}

func TestK3sPlatformAgent(t *testing.T) {
	root := t.TempDir()
	putPlatform(t, root, platformV1)
	out, err := runK3sPlatform(t, root, nodeconfig.RoleAgent)
	if err != nil {
		t.Fatal(err)
	}
	want := "firstboot: k3s-platform: agent node: no charts or manifests placed (they belong on servers)\n" +
		"firstboot: k3s-platform: copied " + registry + " from /usr/lib/appliance/k3s/registries.yaml\n"
	if out != want {
		t.Errorf("printed:\n%s\nwant:\n%s", out, want)
	}
	if _, err := os.Lstat(filepath.Join(root, "var/lib/rancher")); !os.IsNotExist(err) {
		t.Errorf("agent created /var/lib/rancher (lstat err %v)", err)
	}
	if got, want := platformState(t, root)["etc/rancher/k3s/registries.yaml"], "-rw-r--r-- mirrors v1"; got != want {
		t.Errorf("registries.yaml is %q, want %q", got, want)
	}

	before := fileStamps(t, root)
	out, err = runK3sPlatform(t, root, nodeconfig.RoleAgent)
	if err != nil {
		t.Fatal(err)
	}
	want = "firstboot: k3s-platform: agent node: no charts or manifests placed (they belong on servers)\n" +
		"firstboot: k3s-platform: kept " + registry + " (same as /usr/lib/appliance/k3s/registries.yaml)\n"
	if out != want {
		t.Errorf("second boot printed:\n%s\nwant:\n%s", out, want)
	}
	checkUntouched(t, root, before)
}

func TestK3sPlatformNoPlatform(t *testing.T) {
	for _, role := range []string{nodeconfig.RoleServer, nodeconfig.RoleAgent} {
		t.Run(role, func(t *testing.T) {
			root := t.TempDir()
			out, err := runK3sPlatform(t, root, role)
			if err != nil {
				t.Fatal(err)
			}
			if want := "firstboot: k3s-platform: no /usr/lib/appliance/k3s/manifests, charts or registries.yaml in this image (no platform)\n"; out != want {
				t.Errorf("printed %q, want %q", out, want)
			}
			if state := platformState(t, root); len(state) != 0 {
				t.Errorf("wrote %q", state)
			}
		})
	}
}

func TestK3sPlatformOperatorRegistries(t *testing.T) {
	t.Run("changed after install", func(t *testing.T) {
		root := t.TempDir()
		putPlatform(t, root, platformV1)
		if _, err := runK3sPlatform(t, root, nodeconfig.RoleAgent); err != nil {
			t.Fatal(err)
		}
		writeTestFile(t, root, registry, "operator's mirrors")
		for _, image := range []string{"mirrors v1", "mirrors v2"} {
			putPlatform(t, root, bakedPlatform{registries: image})
			out, err := runK3sPlatform(t, root, nodeconfig.RoleAgent)
			if err != nil {
				t.Fatal(err)
			}
			want := "firstboot: k3s-platform: agent node: no charts or manifests placed (they belong on servers)\n" +
				"firstboot: k3s-platform: kept " + registry + " (changed by the operator; /usr/lib/appliance/k3s/registries.yaml not installed)\n"
			if out != want {
				t.Errorf("image with %q printed:\n%s\nwant:\n%s", image, out, want)
			}
			if got := platformState(t, root)["etc/rancher/k3s/registries.yaml"]; got != "-rw-r--r-- operator's mirrors" {
				t.Errorf("image with %q: registries.yaml is %q", image, got)
			}
		}
		// An image without a template leaves the operator's file too.
		putPlatform(t, root, bakedPlatform{})
		out, err := runK3sPlatform(t, root, nodeconfig.RoleAgent)
		if err != nil {
			t.Fatal(err)
		}
		want := "firstboot: k3s-platform: no /usr/lib/appliance/k3s/manifests, charts or registries.yaml in this image (no platform)\n" +
			"firstboot: k3s-platform: kept " + registry + " (changed by the operator)\n"
		if out != want {
			t.Errorf("image without platform printed:\n%s\nwant:\n%s", out, want)
		}
		if got := platformState(t, root)["etc/rancher/k3s/registries.yaml"]; got != "-rw-r--r-- operator's mirrors" {
			t.Errorf("image without platform: registries.yaml is %q", got)
		}
	})
	t.Run("there before the first boot", func(t *testing.T) {
		root := t.TempDir()
		putPlatform(t, root, platformV1)
		writeTestFile(t, root, registry, "operator's mirrors")
		out, err := runK3sPlatform(t, root, nodeconfig.RoleAgent)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(out, "kept "+registry+" (changed by the operator; /usr/lib/appliance/k3s/registries.yaml not installed)\n") {
			t.Errorf("printed:\n%s", out)
		}
		if got := platformState(t, root)["etc/rancher/k3s/registries.yaml"]; got != "-rw-r--r-- operator's mirrors" {
			t.Errorf("registries.yaml is %q", got)
		}
	})
	t.Run("a symlink", func(t *testing.T) {
		root := t.TempDir()
		putPlatform(t, root, platformV1)
		writeTestFile(t, root, "/srv/registries.yaml", "operator's mirrors")
		if err := os.MkdirAll(filepath.Join(root, "etc/rancher/k3s"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("/srv/registries.yaml", filepath.Join(root, registry)); err != nil {
			t.Fatal(err)
		}
		out, err := runK3sPlatform(t, root, nodeconfig.RoleAgent)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(out, "kept "+registry+" (changed by the operator; /usr/lib/appliance/k3s/registries.yaml not installed)\n") {
			t.Errorf("printed:\n%s", out)
		}
		if target, err := os.Readlink(filepath.Join(root, registry)); err != nil || target != "/srv/registries.yaml" {
			t.Errorf("registries.yaml link is %q (err %v)", target, err)
		}
	})
}

// TestK3sPlatformInterruptedCopy boots a node on which a power cut left
// temporary files of copies, and a copy in place but not yet recorded: the
// end state is the one an uninterrupted boot leaves.
func TestK3sPlatformInterruptedCopy(t *testing.T) {
	clean := t.TempDir()
	putPlatform(t, clean, platformV1)
	if _, err := runK3sPlatform(t, clean, nodeconfig.RoleServer); err != nil {
		t.Fatal(err)
	}

	root := t.TempDir()
	putPlatform(t, root, platformV1)
	writeTestFile(t, root, charts+"jupyterhub-3.3.7.tgz", "hub chart v1")
	if err := os.Chmod(filepath.Join(root, charts+"jupyterhub-3.3.7.tgz"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, root, charts+".firstboot-mlflow-0.7.19.tgz.tmp-1234567", "mlfl")
	writeTestFile(t, root, "/etc/rancher/k3s/.firstboot-registries.yaml.tmp-7654321", "mirr")
	for _, p := range []string{"var", "var/lib", "var/lib/rancher", "var/lib/rancher/k3s", "var/lib/rancher/k3s/server",
		"var/lib/rancher/k3s/server/static", "var/lib/rancher/k3s/server/static/charts"} {
		if err := os.Chmod(filepath.Join(root, p), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	out, err := runK3sPlatform(t, root, nodeconfig.RoleServer)
	if err != nil {
		t.Fatal(err)
	}
	want := "firstboot: k3s-platform: removed leftover " + charts + ".firstboot-mlflow-0.7.19.tgz.tmp-1234567 (interrupted write)\n" +
		"firstboot: k3s-platform: kept " + charts + "jupyterhub-3.3.7.tgz (same as /usr/lib/appliance/k3s/charts/jupyterhub-3.3.7.tgz)\n" +
		"firstboot: k3s-platform: copied " + charts + "mlflow-0.7.19.tgz from /usr/lib/appliance/k3s/charts/mlflow-0.7.19.tgz\n" +
		"firstboot: k3s-platform: copied " + manifests + "jupyterhub.yaml from /usr/lib/appliance/k3s/manifests/jupyterhub.yaml\n" +
		"firstboot: k3s-platform: copied " + manifests + "mlflow.yaml from /usr/lib/appliance/k3s/manifests/mlflow.yaml\n" +
		"firstboot: k3s-platform: removed leftover /etc/rancher/k3s/.firstboot-registries.yaml.tmp-7654321 (interrupted write)\n" +
		"firstboot: k3s-platform: copied " + registry + " from /usr/lib/appliance/k3s/registries.yaml\n"
	if out != want {
		t.Errorf("printed:\n%s\nwant:\n%s", out, want)
	}
	if d := diffSnapshots(platformState(t, root), platformState(t, clean)); d != "" {
		t.Errorf("end state differs from an uninterrupted boot's:\n%s", d)
	}
}

func TestK3sPlatformErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		role  string
		setup func(t *testing.T, root string)
		want  string // ROOT stands for the root
		// untouched is a file that must keep its content, "" for none.
		untouched, content string
	}{
		{name: "no role", role: "",
			want: `role "": want "server" or "agent"`},
		{name: "operator file at a manifest name", role: nodeconfig.RoleServer,
			setup:     func(t *testing.T, root string) { writeTestFile(t, root, manifests+"mlflow.yaml", "operator's mlflow") },
			want:      manifests + "mlflow.yaml exists, differs from /usr/lib/appliance/k3s/manifests/mlflow.yaml and was not placed by firstboot: not replacing it",
			untouched: manifests + "mlflow.yaml", content: "operator's mlflow"},
		{name: "directory at a chart name", role: nodeconfig.RoleServer,
			setup: func(t *testing.T, root string) {
				if err := os.MkdirAll(filepath.Join(root, charts+"mlflow-0.7.19.tgz"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			want: charts + "mlflow-0.7.19.tgz exists, differs from /usr/lib/appliance/k3s/charts/mlflow-0.7.19.tgz and was not placed by firstboot: not replacing it"},
		{name: "stray file in the image", role: nodeconfig.RoleServer,
			setup: func(t *testing.T, root string) {
				writeTestFile(t, root, payload.PlatformManifestsDir+"/README.md", "notes")
			},
			want: "/usr/lib/appliance/k3s/manifests: README.md is not named <name>.yaml"},
		{name: "directory in the image", role: nodeconfig.RoleServer,
			setup: func(t *testing.T, root string) {
				if err := os.MkdirAll(filepath.Join(root, payload.PlatformChartsDir, "sub.tgz"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			want: "/usr/lib/appliance/k3s/charts: sub.tgz is not a regular file"},
		{name: "template is a directory", role: nodeconfig.RoleAgent,
			setup: func(t *testing.T, root string) {
				if err := os.Remove(filepath.Join(root, payload.RegistriesTemplate)); err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(filepath.Join(root, payload.RegistriesTemplate), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			want: "/usr/lib/appliance/k3s/registries.yaml is not a regular file (d---------)"},
		{name: "corrupt record", role: nodeconfig.RoleServer,
			setup: func(t *testing.T, root string) { writeTestFile(t, root, K3sPlatformRecord, "{") },
			want:  "parse /var/lib/appliance/firstboot/k3s-platform.json: unexpected end of JSON input"},
		{name: "path in record", role: nodeconfig.RoleServer,
			setup: func(t *testing.T, root string) {
				writeTestFile(t, root, K3sPlatformRecord, `{"manifests": ["../../../../etc/passwd"]}`)
				writeTestFile(t, root, "/etc/passwd", "root:x:0:0")
			},
			want:      `/var/lib/appliance/firstboot/k3s-platform.json: "../../../../etc/passwd" is not a file name`,
			untouched: "/etc/passwd", content: "root:x:0:0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			putPlatform(t, root, platformV1)
			if tc.setup != nil {
				tc.setup(t, root)
			}
			_, err := runK3sPlatform(t, root, tc.role)
			want := strings.ReplaceAll(tc.want, "ROOT", root)
			if err == nil || err.Error() != want {
				t.Errorf("err = %v\nwant %s", err, want)
			}
			if tc.untouched != "" {
				if data, err := os.ReadFile(filepath.Join(root, tc.untouched)); err != nil || string(data) != tc.content {
					t.Errorf("%s is %q (err %v), want %q", tc.untouched, data, err, tc.content)
				}
			}
		})
	}
}

// TestK3sPlatformAdoptsIdenticalFile: a file at one of the step's names
// with the image's content (a copy made before a power cut cut off the
// record) is kept and recorded, so the next image replaces it.
func TestK3sPlatformAdoptsIdenticalFile(t *testing.T) {
	root := t.TempDir()
	putPlatform(t, root, bakedPlatform{manifests: map[string]string{"mlflow.yaml": "mlflow"}})
	writeTestFile(t, root, manifests+"mlflow.yaml", "mlflow")
	out, err := runK3sPlatform(t, root, nodeconfig.RoleServer)
	if err != nil {
		t.Fatal(err)
	}
	if want := "firstboot: k3s-platform: kept " + manifests + "mlflow.yaml (same as /usr/lib/appliance/k3s/manifests/mlflow.yaml)\n"; out != want {
		t.Errorf("printed %q, want %q", out, want)
	}
	putPlatform(t, root, bakedPlatform{manifests: map[string]string{"mlflow.yaml": "mlflow v2"}})
	out, err = runK3sPlatform(t, root, nodeconfig.RoleServer)
	if err != nil {
		t.Fatal(err)
	}
	if want := "firstboot: k3s-platform: updated " + manifests + "mlflow.yaml from /usr/lib/appliance/k3s/manifests/mlflow.yaml\n"; out != want {
		t.Errorf("upgrade printed %q, want %q", out, want)
	}
}
