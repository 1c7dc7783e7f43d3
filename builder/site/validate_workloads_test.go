package site

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateSiteCharts(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{{
		name: "repository chart with readiness and endpoints",
		data: withPlatform("charts:\n  - name: team-op\n    repo: oci://registry.internal/charts\n    chart: team-op\n    version: 1.4.2\n" +
			"    readiness: {timeout: 5m, workloads: [Deployment/team-op]}\n    endpoints: [{name: API, service: team-op, port: 8080}]\n" +
			"    images: [registry.internal/team/worker:1.0]\n"),
	}, {
		name: "no source",
		data: withPlatform("charts:\n  - name: team-op\n"),
		want: `site.yaml:14: charts[0]: say where the chart comes from: path (a chart directory or .tgz) or repo, chart and version`,
	}, {
		name: "both sources",
		data: withPlatform("charts:\n  - name: team-op\n    path: charts/x\n    repo: https://charts.internal\n    chart: x\n    version: 1.0.0\n"),
		want: `site.yaml:14: charts[0]: give either path (a local chart) or repo, chart and version, not both`,
	}, {
		name: "version range",
		data: withPlatform("charts:\n  - name: team-op\n    repo: https://charts.internal\n    chart: team-op\n    version: ^1.4\n"),
		want: `site.yaml:17: charts[0].version: "^1.4": want an exact version (x.y.z), not a range: the build pins it`,
	}, {
		name: "repo without scheme",
		data: withPlatform("charts:\n  - name: team-op\n    repo: charts.internal\n    chart: team-op\n    version: 1.0.0\n"),
		want: `site.yaml:15: charts[0].repo: "charts.internal": want an http(s):// chart repository URL or oci://registry/path`,
	}, {
		name: "duplicate release name",
		data: withPlatform("charts:\n  - {name: team-op, path: a}\n  - {name: team-op, path: b}\n"),
		want: `site.yaml:15: charts[1].name: "team-op" is the name of charts[0] too: release names must be unique`,
	}, {
		name: "clash with a catalog component",
		data: withPlatform("charts:\n  - {name: minio, path: a}\n"),
		want: `site.yaml:14: charts[0].name: "minio" is the catalog component minio's name (its HelmChart is minio): name the site's chart otherwise`,
	}, {
		name: "clash with a K3s manifest",
		data: withPlatform("charts:\n  - {name: traefik, path: a}\n"),
		want: `site.yaml:14: charts[0].name: "traefik" is the name of one of K3s's own manifests or of a component ` + "`k3s server --disable`" + ` removes: name the site's chart otherwise`,
	}, {
		name: "clash with a file of K3s's metrics-server",
		data: withPlatform("charts:\n  - {name: auth-reader, path: a}\n"),
		want: `site.yaml:14: charts[0].name: "auth-reader" is the name of one of K3s's own manifests or of a component ` + "`k3s server --disable`" + ` removes: name the site's chart otherwise`,
	}, {
		name: "bad name and namespace",
		data: withPlatform("charts:\n  - {name: Team_Op, namespace: Models, path: a}\n"),
		want: `site.yaml:14: charts[0].name: invalid name "Team_Op": ` + dnsLabelRule + "\n" +
			`site.yaml:14: charts[0].namespace: invalid namespace "Models": ` + dnsLabelRule,
	}, {
		name: "unpinned image, bad workload, bad port",
		data: withPlatform("charts:\n  - name: team-op\n    path: a\n    images: [registry.internal/team/worker]\n    readiness: {workloads: [Job/x]}\n    endpoints: [{name: API, service: team-op, port: 70000}]\n"),
		want: `site.yaml:16: charts[0].images[0]: image "registry.internal/team/worker" has no tag or digest: pin one` + "\n" +
			`site.yaml:17: charts[0].readiness.workloads[0]: "Job/x": want Kind/name with Kind one of Deployment, StatefulSet, DaemonSet` + "\n" +
			`site.yaml:18: charts[0].endpoints[0].port: expected a port number 1-65535, got integer 70000`,
	}, {
		name: "bad timeout",
		data: withPlatform("charts:\n  - {name: team-op, path: a, readiness: {timeout: soon}}\n"),
		want: `site.yaml:14: charts[0].readiness.timeout: "soon" is not a positive duration like 10m or 90s`,
	}, {
		name: "charts without k3s",
		data: valid + "charts:\n  - {name: team-op, path: a}\n",
		want: `site.yaml:11: charts: the site's workloads run on K3s: add a k3s section`,
	}, {
		name: "images and platform images",
		data: withPlatform("platform:\n  jupyterhub: {images: [quay.io/jupyter/pytorch-notebook:2026-07-28]}\nimages: [registry.internal/team/step:2.1, \"registry.internal/team/base@sha256:" + strings.Repeat("a", 64) + "\"]\n"),
	}, {
		name: "image tagged latest",
		data: withPlatform("images: [registry.internal/team/step:latest]\n"),
		want: `site.yaml:13: images[0]: image "registry.internal/team/step:latest": the latest tag moves; pin a version`,
	}, {
		name: "platform image unpinned",
		data: withPlatform("platform:\n  jupyterhub: {images: [quay.io/jupyter/pytorch-notebook]}\n"),
		want: `site.yaml:14: platform.jupyterhub.images[0]: image "quay.io/jupyter/pytorch-notebook" has no tag or digest: pin one`,
	}, {
		name: "manifest URL",
		data: withPlatform("manifests: [\"https://example.internal/x.yaml\"]\n"),
		want: `site.yaml:13: manifests[0]: "https://example.internal/x.yaml": a manifest is a local file or directory beside the config`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			checkLoad(t, tc.data, tc.want, nil)
		})
	}
}

func TestSiteChartValuesFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yaml", "replicas: 2\nimage: {tag: \"1.0\"}\n")
	write("empty.yaml", "")
	write("list.yaml", "# a comment\n- 1\n")
	write("broken.yaml", "a: 1\nb: [\n")
	write("two.yaml", "a: 1\n---\nb: 2\n")
	cfg := withPlatform("charts:\n  - name: team-op\n    path: chart\n    valuesFiles: [a.yaml, empty.yaml]\n")
	write("site.yaml", cfg)
	s, _, err := Load(filepath.Join(dir, "site.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Charts[0].MergedValuesFiles(); len(got) != 2 || got[0]["replicas"] != 2 || len(got[1]) != 0 {
		t.Errorf("values files = %v", got)
	}
	for file, want := range map[string]string{
		"list.yaml":    "list.yaml:2: expected a mapping of chart values, got a list",
		"broken.yaml":  "broken.yaml:2: invalid YAML: did not find expected node content",
		"two.yaml":     "two.yaml:2: a second YAML document: a values file is one mapping",
		"missing.yaml": "missing.yaml: no such file or directory",
	} {
		write("site.yaml", strings.Replace(cfg, "a.yaml, empty.yaml", file, 1))
		_, _, err := Load(filepath.Join(dir, "site.yaml"))
		if err == nil || !strings.Contains(err.Error(), "site.yaml:16: charts[0].valuesFiles[0]: ") || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want ...site.yaml:16: charts[0].valuesFiles[0]: ...%s", file, err, want)
		}
	}
}

// TestCheckInputsSiteWorkloads: a local chart and the manifests are read
// as the build reads them, their problems at the config's line.
func TestCheckInputsSiteWorkloads(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("base.tar", "") // the base the config names
	write("nochart/values.yaml", "a: 1\n")
	write("m/monitor.yaml", "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: retrain, namespace: models}\nspec: {}\n")
	write("m/minio.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
	write("bad/notk8s.yaml", "just: a mapping\n")
	for _, tc := range []struct{ name, extra, want string }{{
		name:  "chart directory without Chart.yaml",
		extra: "charts:\n  - {name: team-op, path: nochart}\n",
		want:  `site.yaml:14: charts[0].path: local chart ` + filepath.Join(dir, "nochart") + `: not a chart directory: no Chart.yaml`,
	}, {
		name:  "manifest named like a catalog component's HelmChart",
		extra: "manifests: [m]\n",
		want:  `site.yaml:13: manifests[0]: ` + filepath.Join(dir, "m", "minio.yaml") + `: K3s names its objects "minio" after the file, as it names the HelmChart of catalog component minio: rename the file`,
	}, {
		name:  "manifest named like a site chart",
		extra: "charts:\n  - {name: monitor, repo: \"https://charts.internal\", chart: monitor, version: 1.0.0}\nmanifests: [m/monitor.yaml]\n",
		want:  `site.yaml:15: manifests[0]: ` + filepath.Join(dir, "m", "monitor.yaml") + `: K3s names its objects "monitor" after the file, as it names the HelmChart of the site's chart charts[0]: rename the file`,
	}, {
		name:  "not a Kubernetes object",
		extra: "manifests: [bad/notk8s.yaml]\n",
		want:  `site.yaml:13: manifests[0]: ` + filepath.Join(dir, "bad", "notk8s.yaml") + `:1: apiVersion: required`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			write("site.yaml", withPlatform(tc.extra))
			s, _, err := Load(filepath.Join(dir, "site.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			err = s.CheckInputs()
			if err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, tc.want)) {
				t.Errorf("CheckInputs: %v\nwant it to start with %s", err, filepath.Join(dir, tc.want))
			}
		})
	}
}
