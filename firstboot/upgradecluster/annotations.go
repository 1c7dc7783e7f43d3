package upgradecluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// releaseGrammar is what a release may look like on a Node: a release
// version (upgradebundle.CheckVersion is stricter) in a form that is safe
// in a line of output and a URL.
var releaseGrammar = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+~-]{0,127}$`)

// checkRelease refuses a release that does not fit releaseGrammar.
func checkRelease(what, r string) error {
	if !releaseGrammar.MatchString(r) {
		return fmt.Errorf("%s %q: want up to 128 letters, digits and . _ + ~ -", what, r)
	}
	return nil
}

// checkBundleURL refuses a bundle URL that is not an absolute http(s) URL.
func checkBundleURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("bundle URL %q: %w", raw, err)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "", u.User != nil:
		return fmt.Errorf("bundle URL %q: want http://host[:port]/path", raw)
	}
	return nil
}

// maxReason bounds a reason published on a Node.
const maxReason = 512

// oneLine makes s fit one line of output: control characters become
// spaces, and it is cut at maxReason bytes (at a rune boundary).
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.TrimSpace(s))
	if len(s) <= maxReason {
		return s
	}
	cut := maxReason
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// nodeView is what the protocol reads off one Node.
type nodeView struct {
	Name    string
	Server  bool // K3s control-plane label
	Ready   bool
	BootID  string // the kubelet's status.nodeInfo.bootID
	Release string
	Medium  string
	// Published is the boot the node's annotations were written in.
	Published     string
	Result        Result
	Unschedulable bool
	// Wanted, BundleURL and RebootRequest are the orchestrator's.
	Wanted, BundleURL, RebootRequest string
}

// controlPlaneLabel is the label K3s sets to "true" on every server
// (k3s-io/k3s pkg/server/server.go, setNodeLabelsAndAnnotations:
// node.Labels[util.ControlPlaneRoleLabelKey] = "true", with
// ControlPlaneRoleLabelKey "node-role.kubernetes.io/control-plane"); agents
// do not have it.
const controlPlaneLabel = "node-role.kubernetes.io/control-plane"

func viewNode(n *corev1.Node) nodeView {
	a := n.Annotations
	v := nodeView{
		Name:          n.Name,
		Server:        n.Labels[controlPlaneLabel] == "true",
		BootID:        n.Status.NodeInfo.BootID,
		Release:       a[AnnotationRelease],
		Medium:        a[AnnotationMedium],
		Published:     a[AnnotationBootID],
		Result:        Result{Release: a[AnnotationResultRelease], State: State(a[AnnotationResult]), Reason: a[AnnotationResultReason]},
		Unschedulable: n.Spec.Unschedulable,
		Wanted:        a[AnnotationWantedRelease],
		BundleURL:     a[AnnotationBundleURL],
		RebootRequest: a[AnnotationRebootRequest],
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			v.Ready = c.Status == corev1.ConditionTrue
		}
	}
	return v
}

// fresh says whether the node's annotations were published in the boot
// the kubelet reports: the kubelet sets status.nodeInfo.bootID from
// /proc/sys/kernel/random/boot_id at every boot (k8s.io/kubernetes
// pkg/kubelet/nodestatus/setters.go, MachineInfo), the watcher publishes
// the same file's content when it starts.
func (v nodeView) fresh() bool { return v.Published != "" && v.Published == v.BootID }

// annotate sets or removes (a nil value) annotations on a Node
// with a JSON merge patch, which touches no other key.
func annotate(ctx context.Context, client kubernetes.Interface, node string, set map[string]*string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": set}})
	if err != nil {
		return fmt.Errorf("annotate node %s: %w", node, err)
	}
	if _, err := client.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("annotate node %s: %w", node, err)
	}
	return nil
}

// setSchedulable cordons (false) or uncordons (true) a node, as `kubectl
// cordon` does: spec.unschedulable (k8s.io/kubectl pkg/drain/cordon.go).
func setSchedulable(ctx context.Context, client kubernetes.Interface, node string, schedulable bool) error {
	patch := fmt.Sprintf(`{"spec":{"unschedulable":%t}}`, !schedulable)
	if _, err := client.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		verb := "cordon"
		if schedulable {
			verb = "uncordon"
		}
		return fmt.Errorf("%s node %s: %w", verb, node, err)
	}
	return nil
}

// strp is a pointer to s, for annotate.
func strp(s string) *string { return &s }
