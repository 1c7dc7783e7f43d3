package helmcontroller

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// cluster is the test's client of the API server.
type cluster struct {
	t      *testing.T
	ctx    context.Context
	core   kubernetes.Interface
	dyn    dynamic.Interface
	mapper meta.ResettableRESTMapper
}

func newCluster(t *testing.T, cfg *rest.Config) *cluster {
	t.Helper()
	cfg = rest.CopyConfig(cfg)
	cfg.QPS = -1 // no client-side throttling: the test makes many small requests
	core, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(core.Discovery()))
	return &cluster{t: t, ctx: t.Context(), core: core, dyn: dyn, mapper: mapper}
}

func (c *cluster) check(what string, err error) {
	c.t.Helper()
	if err != nil {
		c.t.Fatalf("%s: %v", what, err)
	}
}

// deployManifest creates the objects of a manifest file as K3s's deploy
// controller does with a file in the server's manifests directory
// (k3s-io/k3s pkg/deploy/controller.go, watcher.deploy: objectSet(content)
// reads every YAML document that is not only comments into an unstructured
// object, and the apply creates it). The content is used as it is: K3s
// replaces its %{...}% template variables only in its own embedded
// manifests (pkg/deploy/stage.go Stage, called by pkg/server/server.go
// stageFiles), never in files placed in the directory.
func (c *cluster) deployManifest(content []byte) {
	c.t.Helper()
	c.create("", content)
}

// create creates every object of a YAML stream; one without a namespace
// goes into namespace (as Helm puts a release's objects).
func (c *cluster) create(namespace string, content []byte) []*unstructured.Unstructured {
	c.t.Helper()
	objs, err := yamlObjects(content)
	c.check("parse manifest", err)
	for i, u := range objs {
		mapping, err := c.mapper.RESTMapping(u.GroupVersionKind().GroupKind(), u.GroupVersionKind().Version)
		c.check("map "+u.GetKind(), err)
		ri := c.dyn.Resource(mapping.Resource)
		if mapping.Scope.Name() == meta.RESTScopeNameRoot {
			objs[i], err = ri.Create(c.ctx, u, metav1.CreateOptions{})
		} else {
			if u.GetNamespace() == "" {
				u.SetNamespace(namespace)
			}
			objs[i], err = ri.Namespace(u.GetNamespace()).Create(c.ctx, u, metav1.CreateOptions{})
		}
		c.check("create "+u.GetKind()+" "+u.GetName(), err)
	}
	return objs
}

// yamlObjects reads a YAML stream the way K3s's deploy controller does
// (pkg/deploy/controller.go yamlToObjects, isEmptyYaml, toObjects).
func yamlObjects(content []byte) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	r := yaml.NewYAMLReader(bufio.NewReaderSize(bytes.NewReader(content), 4096))
	for {
		raw, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if onlyComments(raw) {
			continue
		}
		js, err := yaml.ToJSON(raw)
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(js); err != nil {
			return nil, err
		}
		out = append(out, u)
	}
}

// onlyComments is K3s's isEmptyYaml: nothing but blank lines, comments and
// document separators.
func onlyComments(doc []byte) bool {
	for line := range bytes.SplitSeq(doc, []byte("\n")) {
		s := bytes.TrimSpace(line)
		if len(s) > 0 && string(s) != "---" && !bytes.HasPrefix(s, []byte("#")) {
			return false
		}
	}
	return true
}
