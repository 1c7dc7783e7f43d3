package upgradecluster

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/go-logr/logr"
	"github.com/ml-appliance/appliance/internal/kubetest"
	"github.com/ml-appliance/appliance/internal/testassets"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// TestWatchWithTheKubeletsCredentials runs the watcher as a kubelet, on
// an API server authorizing as K3s's does (--authorization-mode=Node,RBAC,
// --enable-admission-plugins=NodeRestriction; k3s-io/k3s
// pkg/daemons/control/server.go, apiServer): it publishes on its own Node
// and acts on a request there, while the same credentials cannot annotate
// another node (so the restriction is in force here).
func TestWatchWithTheKubeletsCredentials(t *testing.T) {
	dir := kubetest.AssetsDir()
	for _, b := range kubetest.Binaries {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			testassets.Missing(t, "%s missing in %s: run `make testassets` first", b, dir)
		}
	}
	ctrllog.SetLogger(logr.Discard())
	env := &envtest.Environment{BinaryAssetsDirectory: dir}
	api := env.ControlPlane.GetAPIServer().Configure()
	api.Set("authorization-mode", "Node,RBAC")
	api.Append("enable-admission-plugins", "NodeRestriction")
	admin, err := env.Start()
	if err != nil {
		t.Fatalf("start kube-apiserver: %v", err)
	}
	t.Cleanup(func() { env.Stop() })
	adminClient := kubernetes.NewForConfigOrDie(admin)
	for _, name := range []string{"n1", "n2"} {
		if _, err := adminClient.CoreV1().Nodes().Create(t.Context(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// The kubelet's identity (K3s's client-kubelet.crt: CN system:node:<node>,
	// O system:nodes).
	kubelet, err := env.AddUser(envtest.User{Name: "system:node:n1", Groups: []string{"system:nodes"}}, admin)
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(kubelet.Config())

	err = annotate(t.Context(), client, "n2", map[string]*string{AnnotationRelease: strp("9.9.9")})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("kubelet of n1 annotating n2: %v, want forbidden", err)
	}

	c := &cluster{t: t, ctx: t.Context(), client: adminClient}
	local := &localDouble{release: "1.0.0", medium: MediumDisk, serving: func() string { return "1.1.0" }}
	done := watchOne(t, client, "n1", local, "boot-1")
	c.waitNode("n1", func(v nodeView) bool { return v.Published == "boot-1" && v.Release == "1.0.0" })
	c.ask("n1", map[string]*string{AnnotationWantedRelease: strp("1.1.0"), AnnotationBundleURL: strp(testURL)})
	returned(t, done)
	if v := c.nodeView("n1"); v.Result != (Result{Release: "1.1.0", State: StateApplied}) {
		t.Errorf("n1's result %+v, want 1.1.0 applied", v.Result)
	}
}
