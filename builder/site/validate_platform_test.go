package site

import (
	"strings"

	"slices"
	"testing"

	"github.com/ml-appliance/appliance/builder/catalog"
)

// withPlatform is valid plus a K3s release and the given extra lines
// (platform and mirrors sections); the first extra line is line 13.
func withPlatform(extra string) string {
	return withK3s("version: v1.33.5+k3s1") + extra
}

func TestValidatePlatform(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{{
		name: "components listed are enabled",
		data: withPlatform("platform:\n  minio: {}\n  mlflow: {values: {replicaCount: 1}}\n"),
	}, {
		name: "unknown component with suggestion",
		data: withPlatform("platform:\n  mino: {}\n"),
		want: `site.yaml:14: platform.mino: no such component in the catalog (did you mean "minio"?); it has ` + catalogNames(t),
	}, {
		name: "requirement missing",
		data: withPlatform("platform:\n  mlflow: {}\n"),
		want: `site.yaml:14: platform.mlflow: needs minio enabled too`,
	}, {
		name: "requirement disabled",
		data: withPlatform("platform:\n  mlflow: {}\n  minio: {enabled: false}\n"),
		want: `site.yaml:14: platform.mlflow: needs minio enabled too`,
	}, {
		name: "values must be a mapping",
		data: withPlatform("platform:\n  minio: {values: [1, 2]}\n"),
		want: `site.yaml:14: platform.minio.values: expected a mapping of chart values, got a list`,
	}, {
		name: "component given twice",
		data: withPlatform("platform:\n  minio: {}\n  minio: {}\n"),
		want: `site.yaml:15: platform.minio: given twice (first at line 14)`,
	}, {
		name: "platform without k3s",
		data: valid + "platform:\n  minio: {}\n",
		want: `site.yaml:11: platform: the platform runs on K3s: add a k3s section`,
	}, {
		name: "all disabled needs no k3s",
		data: valid + "platform:\n  minio: {enabled: false}\n",
	}, {
		name: "registry and chart mirrors",
		data: withPlatform("mirrors:\n  registries: {docker.io: \"registry.internal:5000/hub\", quay.io: mirror.internal}\n  charts: {minio: \"https://charts.internal/minio\", mlflow: \"oci://registry.internal/charts\"}\n"),
	}, {
		name: "registry mirror with a scheme",
		data: withPlatform("mirrors:\n  registries: {docker.io: \"https://registry.internal\"}\n"),
		want: `site.yaml:14: mirrors.registries.docker.io: give the mirror as host[:port][/path], without a scheme`,
	}, {
		name: "Docker Hub under two names",
		data: withPlatform("mirrors:\n  registries:\n    docker.io: mirror.internal\n    index.docker.io: mirror.internal\n"),
		want: `site.yaml:16: mirrors.registries.index.docker.io: the same registry as mirrors.registries.docker.io`,
	}, {
		name: "registry key not a host",
		data: withPlatform("mirrors:\n  registries: {\"docker.io/library\": registry.internal}\n"),
		want: `site.yaml:14: mirrors.registries.docker.io/library: "docker.io/library" is not a registry host (like docker.io or registry.example:5000)`,
	}, {
		name: "chart mirror for an unknown component",
		data: withPlatform("mirrors:\n  charts: {minios: \"https://charts.internal\"}\n"),
		want: `site.yaml:14: mirrors.charts.minios: no such component in the catalog, nor a chart of the site's`,
	}, {
		name: "chart mirror for a site chart from a repository",
		data: withPlatform("charts:\n  - {name: team-op, repo: \"https://charts.example\", chart: team-op, version: 1.0.0}\nmirrors:\n  charts: {team-op: \"oci://registry.internal/charts\"}\n"),
	}, {
		name: "chart mirror for a local site chart",
		data: withPlatform("charts:\n  - {name: team-op, path: charts/team-op}\nmirrors:\n  charts: {team-op: \"oci://registry.internal/charts\"}\n"),
		want: `site.yaml:16: mirrors.charts.team-op: the site's chart team-op is a local chart (path): it has no repository to mirror`,
	}, {
		name: "chart mirror not a URL",
		data: withPlatform("mirrors:\n  charts: {minio: charts.internal}\n"),
		want: `site.yaml:14: mirrors.charts.minio: "charts.internal": want an http(s):// chart repository URL or oci://registry/path`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			checkLoad(t, tc.data, tc.want, nil)
		})
	}
}

func TestPlatformEnabled(t *testing.T) {
	s := checkLoad(t, withPlatform("platform:\n  mlflow: {}\n  minio: {enabled: true}\n  jupyterhub: {enabled: false}\n"), "", nil)
	if got, want := s.Platform.Enabled(), []string{"minio", "mlflow"}; !slices.Equal(got, want) {
		t.Errorf("Enabled() = %v, want %v", got, want)
	}
	if got := s.Platform["mlflow"].Values; got != nil {
		t.Errorf("mlflow values = %v, want none", got)
	}
}

// catalogNames lists the catalog's components as the error message does.
func catalogNames(t *testing.T) string {
	t.Helper()
	cat, err := catalog.Default()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(cat.Names(), ", ")
}
