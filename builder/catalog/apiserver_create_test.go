package catalog_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/ml-appliance/appliance/builder/charts"
)

// apiClient is a client of one test API server.
type apiClient struct {
	warnings *warnings
	dynamic  dynamic.Interface
	typed    kubernetes.Interface
	disco    discovery.DiscoveryInterface
	mapper   *restmapper.DeferredDiscoveryRESTMapper
}

func newAPIClient(t *testing.T, cfg *rest.Config) *apiClient {
	t.Helper()
	w := &warnings{}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = w
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	typed, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &apiClient{
		warnings: w, dynamic: dyn, typed: typed, disco: typed.Discovery(),
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(typed.Discovery())),
	}
}

// warnings records the warnings the API server answers with (deprecated
// APIs, ignored fields).
type warnings struct {
	mu   sync.Mutex
	seen []string
}

// HandleWarningHeader implements rest.WarningHandler.
func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !slices.Contains(w.seen, text) {
		w.seen = append(w.seen, text)
	}
}

// take returns the warnings recorded since the last take.
func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.seen
	w.seen = nil
	return out
}

// checkMinor fails t unless the server runs kubeVersion's minor: the
// binary out/testassets holds may be stale.
func (k *apiClient) checkMinor(t *testing.T, kubeVersion string) {
	t.Helper()
	v, err := k.disco.ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if minor(v.GitVersion) != minor(kubeVersion) {
		t.Fatalf("the test kube-apiserver is %s, the charts were rendered for %s: rebuild it (make kube-testassets)", v.GitVersion, kubeVersion)
	}
	t.Logf("kube-apiserver %s; charts rendered for %s", v.GitVersion, kubeVersion)
}

// object is one rendered object and where it came from.
type object struct {
	*unstructured.Unstructured
	template string
}

func (o object) String() string {
	name := o.GetName()
	if ns := o.GetNamespace(); ns != "" {
		name = ns + "/" + name
	}
	return fmt.Sprintf("%s %s (%s)", o.GetKind(), name, o.template)
}

// createRendered creates every object of r on the server as it is, with
// strict field validation (Helm 4's default for the objects it sends,
// helm.sh/helm/v4 pkg/kube/client.go Create): the CRDs first, waiting
// until each is Established; then the release namespace (as
// --create-namespace makes it) and the chart's Namespaces; then the
// rest in render order, namespaced objects without a namespace going to
// the release namespace. It returns how many objects were created and
// one error per object the server rejected.
func (k *apiClient) createRendered(namespace string, r *charts.Rendered) (int, []error) {
	ctx := context.Background()
	objs, errs := decodeRendered(r)
	var crds, namespaces, rest []object
	for _, o := range objs {
		switch o.GroupVersionKind().GroupKind().String() {
		case "CustomResourceDefinition.apiextensions.k8s.io":
			crds = append(crds, o)
		case "Namespace":
			namespaces = append(namespaces, o)
		default:
			rest = append(rest, o)
		}
	}
	var created []object
	create := func(o object) {
		if err := k.create(ctx, namespace, o); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o, err))
			return
		}
		created = append(created, o)
	}
	for _, o := range crds {
		create(o)
	}
	if err := k.waitEstablished(ctx, created); err != nil {
		errs = append(errs, err)
	}
	k.mapper.Reset()
	if err := k.ensureNamespace(ctx, namespace); err != nil {
		errs = append(errs, err)
	}
	for _, o := range namespaces {
		create(o)
	}
	for _, o := range rest {
		create(o)
	}
	return len(created), errs
}

// decodeRendered parses every manifest of r; documents holding only
// comments are skipped, as Helm skips them.
func decodeRendered(r *charts.Rendered) ([]object, []error) {
	var objs []object
	var errs []error
	for _, m := range r.Manifests {
		j, err := yaml.YAMLToJSON([]byte(m.Content))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.Template, err))
			continue
		}
		if string(j) == "null" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m.Template, err))
			continue
		}
		objs = append(objs, object{Unstructured: u, template: m.Template})
	}
	return objs, errs
}

func (k *apiClient) create(ctx context.Context, namespace string, o object) error {
	gvk := o.GroupVersionKind()
	mapping, err := k.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return fmt.Errorf("the server does not serve it: %w", err)
	}
	var ri dynamic.ResourceInterface = k.dynamic.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		if o.GetNamespace() == "" {
			o.SetNamespace(namespace)
		}
		ri = k.dynamic.Resource(mapping.Resource).Namespace(o.GetNamespace())
	}
	_, err = ri.Create(ctx, o.Unstructured, metav1.CreateOptions{FieldValidation: metav1.FieldValidationStrict})
	return err
}

// ensureNamespace creates the release namespace unless it exists (several
// components may share one, kube-system exists already).
func (k *apiClient) ensureNamespace(ctx context.Context, name string) error {
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName(name)
	_, err := k.dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(ctx, ns, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("namespace %s: %w", name, err)
	}
	return nil
}

func crdResource() schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
}

// waitEstablished waits until every CRD in crds reports Established, as
// Helm waits before creating the chart's resources.
func (k *apiClient) waitEstablished(ctx context.Context, crds []object) error {
	var errs []error
	for _, o := range crds {
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			u, err := k.dynamic.Resource(crdResource()).Get(ctx, o.GetName(), metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return false, errors.New("not created")
			}
			if err != nil {
				return false, nil
			}
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			for _, c := range conds {
				m, _ := c.(map[string]any)
				if m["type"] == "Established" && strings.EqualFold(fmt.Sprint(m["status"]), "True") {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: not Established: %w", o, err))
		}
	}
	return errors.Join(errs...)
}
