package catalog_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/action"
	"k8s.io/client-go/discovery"

	"github.com/ml-appliance/appliance/builder/charts"
)

// checkServedAPIVersions fails t unless the API versions the build renders
// charts for (charts.KubernetesAPIVersions and charts.K3sAPIVersions) are
// those k's server serves, but for the groups of K3sAPIVersions the test
// server does not serve (apiserver_test.go). Call it before any chart
// adds CRDs.
func (k *apiClient) checkServedAPIVersions(t *testing.T) {
	t.Helper()
	build := slices.Concat(charts.KubernetesAPIVersions, charts.K3sAPIVersions)
	problems, served, err := servedAPIVersionProblems(k.disco, build, []string{"k3s.cattle.io", "metrics.k8s.io"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
	t.Logf("the server serves %d API versions and kinds; the build renders charts for %d", served, len(build))
}

// servedAPIVersionProblems compares build, the API versions a chart is
// told are served when the build renders it, with those the server of dc
// serves as Helm 4 lists them for a chart (helm.sh/helm/v4 v4.1.4
// pkg/action/action.go GetVersionSet, the list the node's helm job gives
// .Capabilities.APIVersions). Entries of build in the groups notServed
// are not expected from the server. It returns one problem per
// difference and how many entries the server listed.
func servedAPIVersionProblems(dc discovery.ServerResourcesInterface, build, notServed []string) ([]string, int, error) {
	served, err := action.GetVersionSet(dc)
	if err != nil {
		return nil, 0, fmt.Errorf("API versions the server serves: %w", err)
	}
	var problems []string
	for _, v := range served {
		if !slices.Contains(build, v) {
			problems = append(problems, fmt.Sprintf("the server serves %s; the build renders charts as if it did not", v))
		}
	}
	for _, v := range build {
		group, _, _ := strings.Cut(v, "/")
		if !slices.Contains(served, v) && !slices.Contains(notServed, group) {
			problems = append(problems, fmt.Sprintf("the build renders charts as if the server served %s; it does not", v))
		}
	}
	return problems, len(served), nil
}
