package catalog_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/builder/catalog"
	"github.com/ml-appliance/appliance/builder/platform"
	"github.com/ml-appliance/appliance/builder/site"
)

// kubetoolsGoMod is the module that builds the kube-apiserver the API
// server tests run (firstboot/kubetools/build.sh).
const kubetoolsGoMod = "../../firstboot/kubetools/go.mod"

// TestPinsAgree fails when the Kubernetes minor of the kube-apiserver the
// tests run (k8s.io/kubernetes in firstboot/kubetools/go.mod), the K3s
// release an example config pins and the version the upstream render
// checks target disagree: the manifests would be checked against an API
// server the appliance does not run.
func TestPinsAgree(t *testing.T) {
	tools, err := moduleVersion(kubetoolsGoMod, "k8s.io/kubernetes")
	if err != nil {
		t.Fatal(err)
	}
	want := minor(tools)
	if got := minor(catalog.TargetKubeVersion); got != want {
		t.Errorf("the upstream render checks target Kubernetes %s (minor %s), %s builds kube-apiserver %s (minor %s)",
			catalog.TargetKubeVersion, got, kubetoolsGoMod, tools, want)
	}
	pins := pinnedK3s(t)
	if len(pins) == 0 {
		t.Fatal("no example config in configs/ pins a K3s release")
	}
	for file, k := range pins {
		kv := platform.KubeVersion(k)
		if got := minor(kv); got != want {
			t.Errorf("%s pins K3s %s (Kubernetes %s, minor %s), %s builds kube-apiserver %s (minor %s)",
				file, k.Version, kv, got, kubetoolsGoMod, tools, want)
		}
		if kv != catalog.TargetKubeVersion {
			t.Errorf("%s pins K3s %s (Kubernetes %s), the upstream render checks target %s",
				file, k.Version, kv, catalog.TargetKubeVersion)
		}
	}
}

// pinnedK3s maps each example config that names a K3s release to its k3s
// section.
func pinnedK3s(t *testing.T) map[string]site.K3s {
	t.Helper()
	files, err := filepath.Glob("../../configs/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configs (%v)", err)
	}
	pins := map[string]site.K3s{}
	for _, f := range files {
		s, _, err := site.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		if s.K3s.Version != "" {
			pins[filepath.Base(f)] = s.K3s
		}
	}
	return pins
}

// moduleVersion reads the version a go.mod requires of module.
func moduleVersion(goMod, module string) (string, error) {
	f, err := os.Open(goMod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(fields) >= 2 && fields[0] == module {
			return fields[1], nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read %s: %w", goMod, err)
	}
	return "", fmt.Errorf("%s does not require %s", goMod, module)
}

// minor is "1.36" for "v1.36.2" (and "v1.36.2+k3s1").
func minor(version string) string {
	parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
	if len(parts) < 2 {
		return version
	}
	return parts[0] + "." + parts[1]
}
