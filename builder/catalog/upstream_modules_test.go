package catalog

import (
	"path/filepath"
	"testing"

	"github.com/ml-appliance/appliance/internal/modsnapshot"
)

// upstreamRepo is a chart repository whose charts this machine can get as a
// Go module snapshot of the Git repository that publishes them: the Go
// module proxy serves any public GitHub repository at a commit as a
// pseudo-version, go.mod or not.
type upstreamRepo struct {
	// Repo is the chart repository URL as the catalog and Chart.yaml
	// dependencies name it.
	Repo string
	// Module and Version pick the snapshot.
	Module, Version string
	// ChartsDir is the directory in the module holding one directory per
	// chart.
	ChartsDir string
	// StandIns are subcharts whose pinned version this machine cannot get
	// and whose snapshot version stands in for it, each with the reason.
	// The test logs every use; the real version is what a build pulls.
	StandIns map[string]string
}

// upstreamRepos are the chart repositories the upstream test can check
// against. A catalog component whose chart repository is not here is
// reported as a skipped subtest, never as checked.
var upstreamRepos = []upstreamRepo{
	{Repo: "https://argoproj.github.io/argo-helm", Module: "github.com/argoproj/argo-helm", Version: "v0.0.0-20260904222229-3bbb4305eea9", ChartsDir: "charts"},
	{Repo: "https://prometheus-community.github.io/helm-charts", Module: "github.com/prometheus-community/helm-charts", Version: "v0.0.0-20260828105119-ed5d7d9b5933", ChartsDir: "charts"},
	{Repo: "https://grafana-community.github.io/helm-charts", Module: "github.com/grafana-community/helm-charts", Version: "v0.0.0-20260829030558-dbf9f4fb5fa1", ChartsDir: "charts",
		StandIns: map[string]string{"grafana": "kube-prometheus-stack 88.6.1 pins grafana 12.11.2, which the module proxy here does not serve (403 for its tag and commit); the snapshot's 13.0.1 stands in, so the grafana values are checked against 13.0.1"}},
	{Repo: "https://charts.min.io", Module: "github.com/minio/minio", Version: "v0.0.0-20260212201848-7aac2a2c5b7c", ChartsDir: "helm"},
	{Repo: "https://bitnami-labs.github.io/sealed-secrets", Module: "github.com/bitnami-labs/sealed-secrets", Version: "v0.40.0", ChartsDir: "helm"},
}

// moduleDirs maps "module@version" to its directory in the module cache.
type moduleDirs = modsnapshot.Dirs

// chartDir is where chart name of repository u is.
func chartDir(d moduleDirs, u upstreamRepo, name string) string {
	return filepath.Join(d[u.Module+"@"+u.Version], u.ChartsDir, name)
}

// downloadUpstreamModules downloads every module in upstreamRepos
// (modsnapshot.Download).
func downloadUpstreamModules(t *testing.T) upstreamCharts {
	t.Helper()
	var modules []string
	for _, u := range upstreamRepos {
		modules = append(modules, u.Module+"@"+u.Version)
	}
	return upstreamCharts{repos: upstreamRepos, dirs: modsnapshot.Download(t, modules...)}
}
