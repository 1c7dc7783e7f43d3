package platform

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/builder/lock"
	"github.com/ml-appliance/appliance/builder/rootfs"
	"github.com/ml-appliance/appliance/builder/site"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/internal/testrepo"
)

// tinyModelServer and smokeTest are the example chart and manifest kept in
// configs/.
var (
	tinyModelServer = filepath.Join("..", "..", "configs", "charts", "tiny-model-server")
	smokeTest       = filepath.Join("..", "..", "configs", "manifests", "model-smoke-test.yaml")
)

// TestSiteChartsFromRepositoryOCIAndDirectory resolves three charts of the
// site's own (one from a chart repository, one from an OCI registry, one a
// directory beside the config) with a catalog component, and checks they
// are resolved, rendered and their images listed like the catalog's, each
// image naming the site's entry that needs it.
func TestSiteChartsFromRepositoryOCIAndDirectory(t *testing.T) {
	repo := testrepo.ChartRepo(t, testrepo.AppChart(), testrepo.WebChart())
	reg := testrepo.Registry(t)
	testrepo.PushChart(t, testrepo.WebChart(), reg.Host+"/charts/web:1.0.0")
	s := testSite(site.Platform{"web": {Images: []string{"ghcr.io/example/notebook:1.0"}}})
	s.Charts = site.Charts{
		{Name: "ops-app", Namespace: "ops", Repo: repo.URL, Chart: "app", Version: "2.1.0",
			Readiness: site.Readiness{Timeout: site.Duration(3 * time.Minute)}},
		{Name: "edge", Namespace: "edge", Repo: "oci://" + reg.Host + "/charts", Chart: "web", Version: "1.0.0",
			Values: site.Values{"tag": "1.29.1", "agent": map[string]any{"enabled": false}}},
		{Name: "tiny", Namespace: "models", Path: tinyModelServer, Images: []string{"docker.io/seldonio/mlserver:1.3.5-xgboost"},
			Endpoints: []site.Endpoint{{Name: "inference", Service: "tiny", Port: 8080, Path: "/v2/"}}},
	}
	s.Images = []string{"registry.example/team/step:2.1"}
	s.Manifests = site.Manifests{smokeTest}
	plan, err := Resolve(ctx, s, Options{Catalog: testCatalog(t, repo.URL), Charts: newCache(t),
		LocalCharts: t.TempDir(), ModTime: time.Unix(1700000000, 0)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range plan.Components {
		got = append(got, c.Origin+" "+c.Catalog.Name+" ns="+c.Catalog.Namespace+" chart="+c.Chart.Name+"-"+c.Chart.Version+
			" workloads="+strings.Join(c.Workloads, ","))
	}
	want := []string{
		"site edge ns=edge chart=web-1.0.0 workloads=Deployment/edge",
		"site ops-app ns=ops chart=app-2.1.0 workloads=Deployment/app-operator,Deployment/cache",
		"site tiny ns=models chart=tiny-model-server-0.1.0 workloads=Deployment/tiny",
		"catalog web ns=web chart=web-1.0.0 workloads=DaemonSet/web-agent,Deployment/web",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("components:\n got %q\nwant %q", got, want)
	}
	from := map[string][]string{}
	for _, n := range plan.Images {
		from[n.Ref] = n.From
	}
	for ref, want := range map[string][]string{
		"docker.io/library/nginx:1.29.1":            {"site chart edge, chart web: Deployment edge container nginx"},
		"docker.io/library/nginx:1.27.0":            {"chart web: Deployment web container nginx"},
		"docker.io/library/redis:7.2":               {"site chart ops-app, chart cache: Deployment cache container redis"},
		"ghcr.io/example/widget:3.1":                {"site chart ops-app, chart app: Widget w field spec.runtime.image"},
		"docker.io/seldonio/mlserver:1.3.5-sklearn": {"site chart tiny, chart tiny-model-server: Deployment tiny container mlserver"},
		"docker.io/seldonio/mlserver:1.3.5-xgboost": {"site chart tiny: images"},
		"ghcr.io/example/notebook:1.0":              {"site platform.web.images"},
		"registry.example/team/step:2.1":            {"site images"},
	} {
		if !reflect.DeepEqual(from[ref], want) {
			t.Errorf("%s needed by %q, want %q", ref, from[ref], want)
		}
	}

	tree := rootfs.New(rootfs.Options{TempDir: t.TempDir()})
	defer tree.Close()
	if err := Place(tree, plan); err != nil {
		t.Fatal(err)
	}
	hc := string(treeFile(t, tree, payload.PlatformManifestsDir+"/tiny.yaml"))
	for _, want := range []string{"name: tiny\n", "targetNamespace: models\n", "chart: https://%{KUBERNETES_API}%/static/charts/tiny-model-server-0.1.0.tgz\n"} {
		if !strings.Contains(hc, want) {
			t.Errorf("HelmChart of the site's chart lacks %q:\n%s", want, hc)
		}
	}
	written, err := os.ReadFile(smokeTest)
	if err != nil {
		t.Fatal(err)
	}
	if got := treeFile(t, tree, payload.PlatformManifestsDir+"/model-smoke-test.yaml"); !bytes.Equal(got, written) {
		t.Errorf("the site's manifest placed as\n%s\nwant it as written:\n%s", got, written)
	}
	var manifest payload.Platform
	if err := json.Unmarshal(treeFile(t, tree, payload.PlatformManifest), &manifest); err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, c := range manifest.Components {
		listed = append(listed, c.Name+"/"+c.Origin+"/"+c.Timeout)
	}
	if w := []string{"edge/site/10m0s", "ops-app/site/3m0s", "tiny/site/10m0s", "web//10m0s"}; !reflect.DeepEqual(listed, w) {
		t.Errorf("platform.json components = %q, want %q", listed, w)
	}
	// web 1.0.0 is both the catalog's and edge's chart: served once.
	if data := treeFile(t, tree, payload.PlatformChartsDir+"/web-1.0.0.tgz"); len(data) == 0 {
		t.Error("web-1.0.0.tgz not placed")
	}
}

func TestSiteChartFailuresNameTheEntry(t *testing.T) {
	repo := testrepo.ChartRepo(t, testrepo.AppChart())
	s := testSite(nil)
	s.Charts = site.Charts{{Name: "ops-app", Namespace: "ops", Repo: repo.URL, Chart: "app", Version: "2.2.0"},
		{Name: "tiny", Namespace: "models", Path: tinyModelServer, Readiness: site.Readiness{Workloads: []string{"Deployment/tiny-model-server"}}}}
	_, err := Resolve(ctx, s, Options{Catalog: testCatalog(t, repo.URL), Charts: newCache(t), LocalCharts: t.TempDir()})
	for _, want := range []string{
		"site chart ops-app: chart app version 2.2.0 not found in " + repo.URL + "/index.yaml (it has 2.1.0)",
		"site chart tiny: charts[1]: readiness workload Deployment/tiny-model-server is not in the rendered chart tiny-model-server (it has Deployment/tiny)",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}

// treeFile reads name (an absolute path in the image) from tree.
func treeFile(t *testing.T, tree *rootfs.Tree, name string) []byte {
	t.Helper()
	data, err := fs.ReadFile(tree, strings.TrimPrefix(name, "/"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestSiteChartMirrorAndLockPins: a site chart from a repository follows
// mirrors.charts and the lock like a catalog component's.
func TestSiteChartMirrorAndLockPins(t *testing.T) {
	upstream, mirror := testrepo.ChartRepo(t, testrepo.AppChart()), testrepo.ChartRepo(t, testrepo.AppChart())
	s := testSite(nil)
	s.Charts = site.Charts{{Name: "ops-app", Namespace: "ops", Repo: upstream.URL, Chart: "app", Version: "2.1.0"}}
	s.Mirrors.Charts = map[string]string{"ops-app": mirror.URL}
	c := newCache(t)
	opts := Options{Catalog: testCatalog(t, upstream.URL), Charts: c, LocalCharts: t.TempDir()}
	plan, err := Resolve(ctx, s, opts)
	if err != nil {
		t.Fatal(err)
	}
	if upstream.Requests() != 0 || mirror.Requests() == 0 || plan.Components[0].Repo != mirror.URL {
		t.Errorf("requests: upstream %d, mirror %d, repo %s; want only the mirror", upstream.Requests(), mirror.Requests(), plan.Components[0].Repo)
	}
	mirror.ResetRequests()
	opts.Lock = lock.New()
	opts.Lock.Charts = []lock.Chart{{Component: "ops-app", Repo: upstream.URL, Name: "app", Version: "2.1.0", Digest: plan.Components[0].Chart.SHA256}}
	if _, err := Resolve(ctx, s, opts); err != nil {
		t.Fatal(err)
	}
	if n := mirror.Requests() + upstream.Requests(); n != 0 {
		t.Errorf("a pinned, cached site chart made %d requests", n)
	}
	opts.Lock.Charts[0].Digest = "sha256:" + strings.Repeat("0", 64)
	opts.Charts = newCache(t)
	if _, err := Resolve(ctx, s, opts); err == nil || !strings.Contains(err.Error(), opts.Lock.Charts[0].Digest) {
		t.Errorf("wrong pin: error %v, want one naming %s", err, opts.Lock.Charts[0].Digest)
	}
}
