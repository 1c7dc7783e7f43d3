package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
type moduleDirs map[string]string

// chartDir is where chart name of repository u is.
func (d moduleDirs) chartDir(u upstreamRepo, name string) string {
	return filepath.Join(d[u.Module+"@"+u.Version], u.ChartsDir, name)
}

// downloadUpstreamModules runs one `go mod download -json` for every module
// in upstreamRepos, from a temporary directory with a throwaway go.mod so
// the repository's go.mod is untouched. The module cache is reused, so a
// warm run makes no network request.
func downloadUpstreamModules(t *testing.T) upstreamCharts {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to download the upstream chart snapshots: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module upstreamcharts\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"mod", "download", "-json"}
	for _, u := range upstreamRepos {
		args = append(args, u.Module+"@"+u.Version)
	}
	cmd := exec.Command(goTool, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	dirs, err := parseModDownload(&stdout)
	if err != nil || runErr != nil {
		t.Fatalf("go %s (in %s): %v\n%s", strings.Join(args, " "), dir, errors.Join(runErr, err), stderr.String())
	}
	return upstreamCharts{repos: upstreamRepos, dirs: dirs}
}

// parseModDownload reads the JSON stream `go mod download -json` prints,
// failing on any module it could not download.
func parseModDownload(r io.Reader) (moduleDirs, error) {
	dirs := moduleDirs{}
	dec := json.NewDecoder(r)
	var errs []error
	for dec.More() {
		var m struct{ Path, Version, Dir, Error string }
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("read go mod download output: %w", err)
		}
		if m.Error != "" || m.Dir == "" {
			errs = append(errs, fmt.Errorf("module %s@%s: %s", m.Path, m.Version, m.Error))
			continue
		}
		dirs[m.Path+"@"+m.Version] = m.Dir
	}
	return dirs, errors.Join(errs...)
}
