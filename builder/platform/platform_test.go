package platform

import (
	"reflect"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/builder/lock"
	"github.com/ml-appliance/appliance/builder/site"
	"github.com/ml-appliance/appliance/internal/testrepo"
)

func testSite(p site.Platform) *site.Site {
	return &site.Site{K3s: site.K3s{Version: "v1.33.5+k3s1"}, Platform: p}
}

func TestResolveListsEveryImageAndWhoNeedsIt(t *testing.T) {
	repo := repoWithCharts(t)
	s := testSite(site.Platform{"web": {}, "db": {}})
	plan, err := Resolve(ctx, s, Options{Catalog: testCatalog(t, repo.URL), Charts: newCache(t)})
	if err != nil {
		t.Fatal(err)
	}
	if plan.KubeVersion != "v1.33.5+k3s1" {
		t.Errorf("KubeVersion = %q", plan.KubeVersion)
	}
	want := []Need{
		{Ref: "docker.io/library/busybox:1.36", Components: []string{"db", "web"}, From: []string{
			"chart db: StatefulSet db initContainer init", "chart web: DaemonSet web-agent container agent"}},
		{Ref: "docker.io/library/nginx:1.27.0", Components: []string{"web"}, From: []string{"chart web: Deployment web container nginx"}},
		{Ref: "docker.io/library/postgres:16.4", Components: []string{"db"}, From: []string{"chart db: StatefulSet db container db"}},
		{Ref: "ghcr.io/example/setup:2.0", Components: []string{"web"}, From: []string{"chart web: hook Job setup container setup"}},
		{Ref: "quay.io/example/backup:3.1", Components: []string{"db"}, From: []string{"catalog db: backup jobs the operator starts"}},
	}
	if !reflect.DeepEqual(plan.Images, want) {
		t.Errorf("images:\n got %+v\nwant %+v", plan.Images, want)
	}
	var got []string
	for _, c := range plan.Components {
		got = append(got, c.Catalog.Name+"="+strings.Join(c.Workloads, ","))
	}
	if w := []string{"db=StatefulSet/db", "web=DaemonSet/web-agent,Deployment/web"}; !reflect.DeepEqual(got, w) {
		t.Errorf("workloads = %v, want %v", got, w)
	}
}

func TestSiteValuesOverrideTheCatalogs(t *testing.T) {
	repo := repoWithCharts(t)
	s := testSite(site.Platform{"web": {Values: site.Values{"tag": "1.29.1", "agent": map[string]any{"enabled": false}}}})
	plan, err := Resolve(ctx, s, Options{Catalog: testCatalog(t, repo.URL), Charts: newCache(t)})
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, n := range plan.Images {
		refs = append(refs, n.Ref)
	}
	if w := []string{"docker.io/library/nginx:1.29.1", "ghcr.io/example/setup:2.0"}; !reflect.DeepEqual(refs, w) {
		t.Errorf("images = %v, want %v", refs, w)
	}
	if w := []string{"Deployment/web"}; !reflect.DeepEqual(plan.Components[0].Workloads, w) {
		t.Errorf("workloads = %v, want %v", plan.Components[0].Workloads, w)
	}
}

func TestChartMirrorAndLockPins(t *testing.T) {
	upstream, mirror := repoWithCharts(t), repoWithCharts(t)
	s := testSite(site.Platform{"web": {}})
	s.Mirrors.Charts = map[string]string{"web": mirror.URL}
	c := newCache(t)
	cat := testCatalog(t, upstream.URL)
	plan, err := Resolve(ctx, s, Options{Catalog: cat, Charts: c})
	if err != nil {
		t.Fatal(err)
	}
	if upstream.Requests() != 0 || mirror.Requests() == 0 {
		t.Errorf("requests: upstream %d, mirror %d; want only the mirror asked", upstream.Requests(), mirror.Requests())
	}
	if plan.Components[0].Repo != mirror.URL {
		t.Errorf("Repo = %s, want the mirror", plan.Components[0].Repo)
	}
	// With the chart pinned and in the cache, nothing is asked of anyone.
	mirror.ResetRequests()
	pins := lock.New()
	pins.Charts = []lock.Chart{{Component: "web", Repo: upstream.URL, Name: "web", Version: "1.0.0", Digest: plan.Components[0].Chart.SHA256}}
	if _, err := Resolve(ctx, s, Options{Catalog: cat, Charts: c, Lock: pins}); err != nil {
		t.Fatal(err)
	}
	if n := mirror.Requests() + upstream.Requests(); n != 0 {
		t.Errorf("a pinned, cached chart made %d requests", n)
	}
	// A pin the repository does not serve fails, naming both digests.
	pins.Charts[0].Digest = "sha256:" + strings.Repeat("0", 64)
	_, err = Resolve(ctx, s, Options{Catalog: cat, Charts: newCache(t), Lock: pins})
	if err == nil || !strings.Contains(err.Error(), pins.Charts[0].Digest) {
		t.Errorf("wrong pin: error %v, want one naming %s", err, pins.Charts[0].Digest)
	}
}

func TestMissingChartFailsNamingIt(t *testing.T) {
	repo := testrepo.ChartRepo(t, testrepo.DBChart()) // no web chart
	s := testSite(site.Platform{"web": {}, "db": {}})
	_, err := Resolve(ctx, s, Options{Catalog: testCatalog(t, repo.URL), Charts: newCache(t)})
	if err == nil || !strings.Contains(err.Error(), "platform web: chart web not found in "+repo.URL+"/index.yaml") {
		t.Errorf("error = %v", err)
	}
}

func TestReadinessWorkloadMissingFromChart(t *testing.T) {
	repo := repoWithCharts(t)
	cat := testCatalog(t, repo.URL)
	db, _ := cat.Component("db")
	db.Readiness.Workloads = []string{"Deployment/db"}
	_, err := Resolve(ctx, testSite(site.Platform{"db": {}, "web": {}}), Options{Catalog: cat, Charts: newCache(t)})
	want := "platform db: c/db.yaml: readiness workload Deployment/db is not in the rendered chart db (it has StatefulSet/db)"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n got %v\nwant %s", err, want)
	}
}

func TestKubeMinor(t *testing.T) {
	for in, want := range map[string]string{"v1.36.2+k3s1": "1.36", "v1.33.5": "1.33", "1.40.0": "1.40", "v1": "", "": ""} {
		if got := kubeMinor(in); got != want {
			t.Errorf("kubeMinor(%q) = %q, want %q", in, got, want)
		}
	}
}
