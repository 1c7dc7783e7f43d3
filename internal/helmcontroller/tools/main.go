// Command helm-controller runs the real k3s-io/helm-controller chart
// controller (the module version go.mod pins: the one the pinned K3s
// release bundles) against an API server, embedded the way a K3s server
// embeds it, for the tests in package internal/helmcontroller. It is test
// tooling, never part of an appliance.
//
// What it reproduces, from K3s's source (k3s-io/k3s; the versions of
// pkg/server readable here are older than v1.36 and pass chart.Register no
// Secret cache, which helm-controller v0.16.7 and later require: it is
// passed as helm-controller's own pkg/controllers/controllers.go passes it):
//
//   - pkg/server/context.go NewContext: wrangler factories for helm.cattle.io,
//     batch, rbac and core built from one rest.Config (user agent
//     "k3s-supervisor"), and the helm-controller CRDs
//     (github.com/k3s-io/helm-controller/pkg/crds List) created with
//     wrangler's crd.BatchCreateCRDs;
//   - pkg/server/server.go coreControllers: chart.DefaultJobImage set from
//     --helm-job-image when given (otherwise the value scripts/build links
//     in: -X .../pkg/controllers/chart.DefaultJobImage=rancher/klipper-helm:${VERSION_HELM_JOB}),
//     a clientset and an apply with user agent "helm-controller",
//     apply.New(...).WithDynamicLookup().WithSetOwnerReference(false, false),
//     the event recorder of pkg/util BuildControllerEventRecorder, and
//     chart.Register(ctx, metav1.NamespaceAll, "helm-controller",
//     "cluster-admin", <apiserver port>, ...) with the factories' clients and
//     caches;
//   - pkg/server/server.go runControllers with --disable-leader-elect: the
//     controllers run at once, without leader election (which changes nothing
//     the controller does), and the factories are started (start.All, 5
//     threads, as Context.Start).
//
// It runs until SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	helmchart "github.com/k3s-io/helm-controller/pkg/controllers/chart"
	helmcommon "github.com/k3s-io/helm-controller/pkg/controllers/common"
	helmcrds "github.com/k3s-io/helm-controller/pkg/crds"
	"github.com/k3s-io/helm-controller/pkg/generated/controllers/helm.cattle.io"
	"github.com/rancher/wrangler/v3/pkg/apply"
	"github.com/rancher/wrangler/v3/pkg/crd"
	"github.com/rancher/wrangler/v3/pkg/generated/controllers/batch"
	"github.com/rancher/wrangler/v3/pkg/generated/controllers/core"
	"github.com/rancher/wrangler/v3/pkg/generated/controllers/rbac"
	"github.com/rancher/wrangler/v3/pkg/schemes"
	"github.com/rancher/wrangler/v3/pkg/start"
	corev1 "k8s.io/api/core/v1"
	apiext "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
)

// options are the K3s server settings the embedded controller depends on.
type options struct {
	kubeconfig string
	// helmJobImage is K3s's --helm-job-image: the image of every
	// helm-install Job whose HelmChart names none.
	helmJobImage string
	// apiServerPort is K3s's APIServerPort (the Jobs of bootstrap charts
	// reach the API server on 127.0.0.1 at it).
	apiServerPort int
}

func main() {
	var o options
	flag.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of the API server (required)")
	flag.StringVar(&o.helmJobImage, "helm-job-image", "", "image of the helm-install Jobs (K3s's --helm-job-image); required")
	flag.IntVar(&o.apiServerPort, "apiserver-port", 6444, "K3s's APIServerPort")
	flag.Parse()
	if o.kubeconfig == "" || o.helmJobImage == "" {
		fmt.Fprintln(os.Stderr, "helm-controller: --kubeconfig and --helm-job-image are required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "helm-controller: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", o.kubeconfig, err)
	}
	sc, err := newContext(ctx, cfg)
	if err != nil {
		return err
	}
	if err := registerHelmController(ctx, sc, cfg, o); err != nil {
		return err
	}
	if err := start.All(ctx, 5, sc.helm, sc.batch, sc.auth, sc.core); err != nil {
		return fmt.Errorf("start controllers: %w", err)
	}
	fmt.Fprintf(os.Stderr, "helm-controller: running, job image %s\n", helmchart.DefaultJobImage)
	<-ctx.Done()
	return nil
}

// serverContext is the part of K3s's server.Context the helm controller
// uses.
type serverContext struct {
	helm  *helm.Factory
	batch *batch.Factory
	auth  *rbac.Factory
	core  *core.Factory
}

// newContext is K3s's NewContext (pkg/server/context.go): the factories,
// then the helm-controller CRDs, which K3s registers before any controller
// starts.
func newContext(ctx context.Context, cfg *rest.Config) (*serverContext, error) {
	restConfig := rest.CopyConfig(cfg)
	restConfig.UserAgent = "k3s-supervisor"
	ext, err := apiext.NewForConfig(restConfig)
	if err != nil {
		return nil, fmt.Errorf("apiextensions client: %w", err)
	}
	crds, err := helmcrds.List()
	if err != nil {
		return nil, fmt.Errorf("helm-controller CRDs: %w", err)
	}
	if err := crd.BatchCreateCRDs(ctx, ext.ApiextensionsV1().CustomResourceDefinitions(), nil, time.Minute, crds); err != nil {
		return nil, fmt.Errorf("create helm-controller CRDs: %w", err)
	}
	sc := &serverContext{}
	if sc.helm, err = helm.NewFactoryFromConfig(restConfig); err != nil {
		return nil, fmt.Errorf("helm.cattle.io factory: %w", err)
	}
	if sc.batch, err = batch.NewFactoryFromConfig(restConfig); err != nil {
		return nil, fmt.Errorf("batch factory: %w", err)
	}
	if sc.auth, err = rbac.NewFactoryFromConfig(restConfig); err != nil {
		return nil, fmt.Errorf("rbac factory: %w", err)
	}
	if sc.core, err = core.NewFactoryFromConfig(restConfig); err != nil {
		return nil, fmt.Errorf("core factory: %w", err)
	}
	return sc, nil
}

// registerHelmController is the helm part of K3s's coreControllers
// (pkg/server/server.go).
func registerHelmController(ctx context.Context, sc *serverContext, cfg *rest.Config, o options) error {
	helmchart.DefaultJobImage = o.helmJobImage
	restConfig := rest.CopyConfig(cfg)
	restConfig.UserAgent = helmcommon.Name
	k8s, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return fmt.Errorf("clientset: %w", err)
	}
	apply := apply.New(k8s, apply.NewClientFactory(restConfig)).WithDynamicLookup().WithSetOwnerReference(false, false)
	helm := sc.helm.WithAgent(restConfig.UserAgent)
	batch := sc.batch.WithAgent(restConfig.UserAgent)
	auth := sc.auth.WithAgent(restConfig.UserAgent)
	core := sc.core.WithAgent(restConfig.UserAgent)
	helmchart.Register(ctx,
		metav1.NamespaceAll,
		helmcommon.Name,
		"cluster-admin",
		strconv.Itoa(o.apiServerPort),
		k8s,
		apply,
		eventRecorder(k8s, helmcommon.Name, metav1.NamespaceAll),
		helm.V1().HelmChart(),
		helm.V1().HelmChart().Cache(),
		helm.V1().HelmChartConfig(),
		helm.V1().HelmChartConfig().Cache(),
		batch.V1().Job(),
		batch.V1().Job().Cache(),
		auth.V1().ClusterRoleBinding(),
		core.V1().ServiceAccount(),
		core.V1().ConfigMap(),
		core.V1().Secret(),
		core.V1().Secret().Cache())
	return nil
}

// eventRecorder is K3s's pkg/util BuildControllerEventRecorder.
func eventRecorder(k8s kubernetes.Interface, controllerName, namespace string) record.EventRecorder {
	b := record.NewBroadcaster()
	b.StartStructuredLogging(0)
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: k8s.CoreV1().Events(namespace)})
	return b.NewRecorder(schemes.All, corev1.EventSource{Component: controllerName, Host: os.Getenv("NODE_NAME")})
}
