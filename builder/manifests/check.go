package manifests

import (
	"fmt"
	"strings"

	"github.com/ml-appliance/appliance/builder/charts"
	"k8s.io/apimachinery/pkg/api/validate/content"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Object is one Kubernetes object of a site manifest.
type Object struct {
	APIVersion, Kind, Namespace, Name string
	// Line is the line its document starts on.
	Line int
}

// object checks one decoded object m, at path at of its part (nil, or
// items[i] of a List), and records it and its images when it is whole.
func (d *fileParser) object(m map[string]any, loc *locator, at []any) {
	field := func(names ...any) (string, int) {
		path := append(append([]any{}, at...), names...)
		var b strings.Builder
		for _, p := range path {
			switch s := p.(type) {
			case string:
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(s)
			case int:
				fmt.Fprintf(&b, "[%d]", s)
			}
		}
		return b.String(), loc.line(path...)
	}
	bad := func(names []any, format string, args ...any) {
		name, line := field(names...)
		d.probs.add(d.file, line, "%s: %s", name, fmt.Sprintf(format, args...))
	}
	before := len(d.probs.errs) + d.probs.more
	str := func(v any, present bool, names ...any) string {
		s, ok := v.(string)
		switch {
		case !present || v == nil:
			bad(names, "required")
		case !ok:
			bad(names, "%s, not a string: quote it", describe(v))
		case s == "":
			bad(names, "required")
		}
		return s
	}
	apiVersion, hasAPIVersion := m["apiVersion"]
	kind, hasKind := m["kind"]
	obj := Object{
		APIVersion: str(apiVersion, hasAPIVersion, "apiVersion"),
		Kind:       str(kind, hasKind, "kind"),
		Line:       loc.part.contentLine(),
	}
	meta, ok := m["metadata"].(map[string]any)
	if !ok {
		if v, present := m["metadata"]; present && v != nil {
			bad([]any{"metadata"}, "%s, not a mapping with a name", describe(v))
		} else {
			bad([]any{"metadata"}, "required, a mapping with a name")
		}
		return
	}
	name, hasName := meta["name"]
	obj.Name = str(name, hasName, "metadata", "name")
	if obj.Name != "" {
		if rule, msgs := nameRule(obj.APIVersion, obj.Kind, obj.Name); len(msgs) > 0 {
			bad([]any{"metadata", "name"}, "%q is not %s, as Kubernetes wants for a %s", obj.Name, rule, obj.Kind)
		}
	}
	switch ns := meta["namespace"].(type) {
	case nil: // cluster-scoped, or the default namespace
	case string:
		obj.Namespace = ns
		if ns != "" && len(validation.IsDNS1123Label(ns)) > 0 {
			bad([]any{"metadata", "namespace"}, "%q is not %s", ns, labelRule)
		}
	default:
		bad([]any{"metadata", "namespace"}, "%s, not a string: quote it", describe(ns))
	}
	group, _, hasGroup := strings.Cut(obj.APIVersion, "/")
	if !hasGroup {
		group = ""
	}
	switch {
	case group == "helm.cattle.io" && obj.Kind == "HelmChart":
		d.helmChart(obj, m, bad)
	case group == "kustomize.config.k8s.io":
		bad([]any{"kind"}, "a %s: K3s applies manifests as they are and runs no kustomize; render it (kubectl kustomize DIR) into a file and list that", obj.Kind)
	}
	if len(d.probs.errs)+d.probs.more > before {
		return
	}
	d.objects = append(d.objects, obj)
	if obj.APIVersion == "v1" && obj.Kind == "Secret" {
		// The OS image holds no secret of the cluster's (docs/security.md):
		// it is served to anyone on the PXE network.
		d.warnings = append(d.warnings, fmt.Sprintf("%s:%d: Secret %s is baked into the OS image, which the PXE bundle serves to anyone on the boot network: keep secret values out of manifests (seal them with the platform's sealed-secrets, or create them on the cluster)", d.file, obj.Line, qualify(obj.Namespace, obj.Name)))
	}
	charts.ObjectImages("site manifest "+d.where+": ", m, d.addImage)
}

// The rules of object names, as the API server checks them.
const (
	labelRule     = "a lowercase RFC 1123 label (a-z, 0-9 and '-', starting and ending with a letter or digit, at most 63 characters)"
	subdomainRule = "a lowercase RFC 1123 subdomain (a-z, 0-9, '-' and '.', starting and ending with a letter or digit, at most 253 characters)"
	segmentRule   = "a name without '/' or '%' and other than '.' and '..'"
)

// nameRule checks name as the API server of Kubernetes v1.36 checks the
// kind's names (k8s.io/kubernetes v1.36.2): a Namespace's is a DNS label
// (pkg/apis/core/validation ValidateNamespaceName), a Service's too
// (ValidateServiceCreate with RelaxedServiceNameValidation, beta and on by
// default since 1.36, pkg/features/kube_features.go), RBAC objects' a
// path segment (pkg/apis/rbac/validation ValidateRBACName: K3s's own
// ClusterRole system:metrics-server is one), and every other kind's, custom
// resources' included, a DNS subdomain (apiextensions-apiserver
// pkg/registry/customresource/validator.go: NameIsDNSSubdomain). It
// returns the rule and what breaks it.
func nameRule(apiVersion, kind, name string) (string, []string) {
	group, _, hasGroup := strings.Cut(apiVersion, "/")
	switch {
	case !hasGroup && (kind == "Namespace" || kind == "Service"):
		return labelRule, validation.IsDNS1123Label(name)
	case hasGroup && group == "rbac.authorization.k8s.io":
		return segmentRule, content.IsPathSegmentName(name)
	default:
		return subdomainRule, validation.IsDNS1123Subdomain(name)
	}
}

// helmChart refuses a HelmChart that makes K3s's helm-controller fetch a
// chart: without spec.chartContent, spec.chart is a chart name in spec.repo
// or a URL (http, https or oci), both fetched at run time
// (k3s-io/helm-controller pkg/apis/helm.cattle.io/v1/types.go: chartContent
// "overrides .spec.chart and .spec.version"; pkg/controllers/chart/chart.go
// chartSource). An inline chart stays, with a warning that its images are
// not found; spec.jobImage, the image of the Helm job, is an image to bake.
func (d *fileParser) helmChart(obj Object, m map[string]any, bad func([]any, string, ...any)) {
	spec, _ := m["spec"].(map[string]any)
	chart, _ := spec["chart"].(string)
	repo, _ := spec["repo"].(string)
	inline, _ := spec["chartContent"].(string)
	switch {
	case inline != "":
		d.warnings = append(d.warnings, fmt.Sprintf("%s:%d: HelmChart %s carries its chart inline (spec.chartContent): the build does not render it, so the images it starts are not found; list them under images: in site.yaml, or bake the chart with charts:", d.file, obj.Line, obj.Name))
	case repo != "":
		bad([]any{"spec", "repo"}, "HelmChart %s takes its chart from the repository %q: K3s's helm-controller would fetch it when the cluster starts, and the site has no network; list the chart under charts: in site.yaml instead, which bakes it into the image", obj.Name, repo)
	case chart != "":
		bad([]any{"spec", "chart"}, "HelmChart %s names its chart %q: K3s's helm-controller would fetch it when the cluster starts, and the site has no network; list the chart under charts: in site.yaml instead, which bakes it into the image", obj.Name, chart)
	}
	if img, _ := spec["jobImage"].(string); img != "" {
		d.addImage(img, "site manifest "+d.where+": HelmChart "+qualify(obj.Namespace, obj.Name)+" field spec.jobImage")
	}
}

func qualify(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}
