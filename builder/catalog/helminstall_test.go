package catalog_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/loader"
	"helm.sh/helm/v4/pkg/cli/values"
	"helm.sh/helm/v4/pkg/getter"
	"helm.sh/helm/v4/pkg/kube"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/ml-appliance/appliance/builder/platform"
	"github.com/ml-appliance/appliance/internal/kubetest"
)

// maxInstallTimeout caps the HelmChart's timeout (the time Helm waits for
// hook Jobs) so a hook nothing completes fails the test in minutes.
const maxInstallTimeout = 2 * time.Minute

// helmChartSpec is what the job helm-controller starts reads of the
// HelmChart the builder writes.
type helmChartSpec struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Chart           string `json:"chart"`
		TargetNamespace string `json:"targetNamespace"`
		CreateNamespace bool   `json:"createNamespace"`
		Timeout         string `json:"timeout"`
		ValuesContent   string `json:"valuesContent"`
	} `json:"spec"`
}

// helmInstall installs c's chart archive with the HelmChart the builder
// writes for it (platform.HelmChart), as the helm-install job K3s starts
// for that HelmChart would, and fails t if Helm fails. It returns the
// release Helm made. With dryRun action.DryRunServer Helm renders on the
// server (lookups, served API versions) and creates nothing.
func helmInstall(t *testing.T, kubeconfig string, c *platform.Component, dryRun action.DryRunStrategy) *releasev1.Release {
	t.Helper()
	manifest, err := platform.HelmChart(c)
	if err != nil {
		t.Fatal(err)
	}
	var hc helmChartSpec
	if err := yaml.Unmarshal(manifest, &hc); err != nil {
		t.Fatalf("HelmChart for %s: %v", c.Catalog.Name, err)
	}
	began := time.Now()
	rel, err := installChart(t.TempDir(), kubeconfig, hc, c.Chart.Path, dryRun)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("helm install --dry-run=%s %s into %s: %s in %s", dryRun, hc.Metadata.Name, hc.Spec.TargetNamespace, rel.Info.Description, time.Since(began).Round(time.Millisecond))
	return rel
}

// installChart runs what the helm-install job runs for hc, with the chart
// archive at chartPath (the file hc.Spec.Chart names), on the cluster of
// kubeconfig, and returns the release Helm made; dryRun is Helm's
// --dry-run (action.DryRunNone installs). dir is scratch space.
//
// The job: helm-controller v0.17.1 (the version K3s v1.36.2 bundles)
// pkg/controllers/chart/chart.go args() passes `install --namespace
// <targetNamespace> [--create-namespace]` and mounts valuesContent as
// /config/values-0-000-HelmChart-ValuesContent.yaml (chart.go, line 1134;
// checked against the real controller in internal/helmcontroller);
// klipper-helm's entry script (v0.11.1-build20260615, K3s v1.36.2's helm
// job image) runs `helm install ... <name> <chart> --timeout <timeout>
// --values /config/<each file>`, with no --wait, using Helm v4.1.4
// (its Dockerfile). Helm 4's install command defaults are used as its
// flags set them (pkg/cmd/install.go): --server-side=true, --wait=hookOnly
// (Helm still waits for hook Jobs; startJobCompleter completes them).
// The timeout is capped at maxInstallTimeout. The test's chart archive
// packages only the subcharts the values enable, so the CLI's
// CheckDependencies (every Chart.yaml dependency vendored) is not run: a
// published archive carries them all.
func installChart(dir, kubeconfig string, hc helmChartSpec, chartPath string, dryRun action.DryRunStrategy) (*releasev1.Release, error) {
	timeout := maxInstallTimeout
	if d, err := time.ParseDuration(hc.Spec.Timeout); err == nil && d < timeout {
		timeout = d
	}
	valuesFile := filepath.Join(dir, "values-0-000-HelmChart-ValuesContent.yaml")
	if err := os.WriteFile(valuesFile, []byte(hc.Spec.ValuesContent), 0o644); err != nil {
		return nil, err
	}
	vals, err := (&values.Options{ValueFiles: []string{valuesFile}}).MergeValues(getter.Providers{})
	if err != nil {
		return nil, fmt.Errorf("values of HelmChart %s: %w", hc.Metadata.Name, err)
	}
	ch, err := loader.Load(chartPath)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", chartPath, err)
	}
	flags := genericclioptions.NewConfigFlags(false)
	cacheDir := filepath.Join(dir, "kube-cache")
	flags.KubeConfig, flags.Namespace, flags.CacheDir = &kubeconfig, &hc.Spec.TargetNamespace, &cacheDir
	cfg := action.NewConfiguration()
	cfg.SetLogger(slog.DiscardHandler)
	if err := cfg.Init(flags, hc.Spec.TargetNamespace, "secret"); err != nil {
		return nil, fmt.Errorf("helm for %s: %w", hc.Metadata.Name, err)
	}
	inst := action.NewInstall(cfg)
	inst.ReleaseName = hc.Metadata.Name
	inst.Namespace = hc.Spec.TargetNamespace
	inst.CreateNamespace = hc.Spec.CreateNamespace
	inst.ServerSideApply = true
	inst.WaitStrategy = kube.HookOnlyStrategy
	inst.Timeout = timeout
	inst.DryRunStrategy = dryRun
	r, err := inst.RunWithContext(context.Background(), ch, vals)
	if err != nil {
		return nil, fmt.Errorf("helm install %s %s --namespace %s: %w", hc.Metadata.Name, hc.Spec.Chart, hc.Spec.TargetNamespace, err)
	}
	rel, ok := r.(*releasev1.Release)
	if !ok {
		return nil, fmt.Errorf("helm install %s: release of type %T, want %T", hc.Metadata.Name, r, rel)
	}
	return rel, nil
}

// writeKubeconfig writes a kubeconfig for cfg, the form Helm's CLI reads
// its cluster from.
func writeKubeconfig(t *testing.T, cfg *rest.Config) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := kubetest.WriteKubeconfig(path, cfg); err != nil {
		t.Fatal(err)
	}
	return path
}
