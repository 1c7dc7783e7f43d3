// Package nodelabels is the one rule set for the node labels ("key=value")
// and taints ("key[=value]:Effect") a node registers with through K3s's
// node-label and node-taint. The builder checks the site's inventory with it
// and firstboot's cloud-config parser checks appliance.node_labels and
// node_taints with it, so both refuse the same items with the same words.
//
// The rules are those of the components that take the items, read in their
// sources (Kubernetes v1.36, K3s v1.36):
//
//   - K3s passes node-label to the kubelet's --node-labels
//     (pkg/daemons/agent/agent_linux.go, kubeletArgs: argsMap["node-labels"])
//     and patches the same labels onto the Node (pkg/agent/run.go,
//     configureNode, updateMutableLabels). The kubelet refuses to start on a
//     key that is not a qualified name, a value that is not a label value, or
//     a key in the kubernetes.io or k8s.io namespaces that IsKubeletLabel does
//     not allow (k8s.io/kubernetes cmd/kubelet/app/options/options.go,
//     ValidateKubeletFlags; k8s.io/kubelet/pkg/apis/well_known_labels.go,
//     IsKubeletLabel); K3s then stops ("failed to start kubelet") and systemd
//     restarts it, in a loop.
//   - Qualified names and label values are k8s.io/apimachinery's
//     (pkg/api/validate/content/kube.go: IsLabelKey, IsLabelValue; dns.go:
//     IsDNS1123Subdomain for the prefix, whose dot-separated parts have no
//     length limit of their own, only the whole prefix: 253).
//   - K3s manages some labels itself and overwrites what a node-label set:
//     k3s.io/hostname, k3s.io/internal-ip and k3s.io/external-ip
//     (pkg/agent/run.go, updateLegacyAddressLabels; read back as node
//     addresses by pkg/cloudprovider/instances.go) and egress.k3s.io/cluster
//     (pkg/nodeconfig/nodeconfig.go, SetNodeConfigLabels). They are refused:
//     a value given there could not hold.
//   - K3s parses node-taint with k8s.io/kubernetes pkg/util/taints.ParseTaints
//     into the kubelet's registerWithTaints (pkg/daemons/agent/agent.go,
//     defaultKubeletConfig) and fails on an error there: key a qualified name,
//     value a label value, effect NoSchedule, PreferNoSchedule or NoExecute,
//     and no two taints with the same key and effect.
//
// Labels are stricter than the kubelet in two ways, both on purpose: a label
// needs its '=' (the kubelet takes "key" as "key="), and a key given twice is
// an error (the kubelet keeps the last silently).
package nodelabels

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// TaintEffects are the effects a taint can have (k8s.io/api core/v1
// TaintEffect; pkg/util/taints, validateTaintEffect).
var TaintEffects = []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}

// Limits of apimachinery's validation (pkg/api/validate/content).
const (
	nameMaxLen   = 63  // labelKeyMaxLength, LabelValueMaxLength
	prefixMaxLen = 253 // DNS1123SubdomainMaxLength
)

var (
	// labelName is a qualified name's name part and a non-empty label value
	// (content.labelKeyFmt), without the length limit.
	labelName = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	// dnsSubdomain is a qualified name's prefix (content.dns1123SubdomainFmt),
	// without the length limit.
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// kubeletLabels are the keys in the kubernetes.io and k8s.io namespaces a
// kubelet may set on its own Node besides the kubeletNamespaces
// (k8s.io/kubelet/pkg/apis/well_known_labels.go, kubeletLabels).
var kubeletLabels = []string{
	"kubernetes.io/hostname", "kubernetes.io/arch", "kubernetes.io/os",
	"beta.kubernetes.io/arch", "beta.kubernetes.io/os", "beta.kubernetes.io/instance-type",
	"topology.kubernetes.io/region", "topology.kubernetes.io/zone",
	"failure-domain.beta.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone",
	"node.kubernetes.io/instance-type",
}

// kubeletNamespaces are the namespaces (and their subdomains) a kubelet may
// set labels in (kubeletLabelNamespaces).
var kubeletNamespaces = []string{"kubelet.kubernetes.io", "node.kubernetes.io"}

// k3sLabels are the labels K3s sets on every node itself.
var k3sLabels = []string{"k3s.io/hostname", "k3s.io/internal-ip", "k3s.io/external-ip", "egress.k3s.io/cluster"}

// Problem is what is wrong with one item of a list of labels or taints.
type Problem struct {
	// Index is the item's index in the list.
	Index int
	msg   string
	// also is the index of the earlier item this one repeats, or -1.
	also int
}

// Message says what is wrong; an item that repeats an earlier one names
// that one by itemPath(its index), so each caller names items its way.
func (p Problem) Message(itemPath func(i int) string) string {
	if p.also < 0 {
		return p.msg
	}
	return fmt.Sprintf("%s (also %s)", p.msg, itemPath(p.also))
}

// CheckLabels checks labels ("key=value") as one node's list: each item,
// then keys given twice.
func CheckLabels(labels []string) []Problem {
	return checkList(labels, func(l string) (string, string) {
		key, value, ok := strings.Cut(l, "=")
		switch {
		case !ok:
			return fmt.Sprintf("%s: want key=value", quote(l)), ""
		case keyProblem(key) != "":
			return fmt.Sprintf("invalid label key %s: %s", quote(key), keyProblem(key)), ""
		case !validValue(value):
			return fmt.Sprintf("invalid label value %s: %s", quote(value), valueRule), ""
		case kubeletRefuses(key):
			return fmt.Sprintf("the kubelet refuses to set %s on its own node: only node.kubernetes.io/, kubelet.kubernetes.io/ and a few well-known keys are allowed in the kubernetes.io and k8s.io namespaces (node-role.kubernetes.io is set through the API)", quote(key)), ""
		case slices.Contains(k3sLabels, key):
			return fmt.Sprintf("K3s sets %s on every node itself and overwrites a value given here: choose another key", quote(key)), ""
		}
		return "", fmt.Sprintf("label %s", quote(key))
	})
}

// CheckTaints checks taints ("key[=value]:Effect") as one node's list:
// each item, then a key and effect given twice.
func CheckTaints(taints []string) []Problem {
	return checkList(taints, func(t string) (string, string) {
		kv, effect, ok := strings.Cut(t, ":")
		key, value, _ := strings.Cut(kv, "=")
		switch {
		case !ok:
			return fmt.Sprintf("%s: want key[=value]:Effect, like gpu=true:NoSchedule", quote(t)), ""
		case keyProblem(key) != "":
			return fmt.Sprintf("invalid taint key %s: %s", quote(key), keyProblem(key)), ""
		case !validValue(value):
			return fmt.Sprintf("invalid taint value %s: %s", quote(value), valueRule), ""
		case !slices.Contains(TaintEffects, effect):
			return fmt.Sprintf("unknown effect %s (want %s)", quote(effect), strings.Join(TaintEffects, ", ")), ""
		}
		return "", "taint " + key + ":" + effect
	})
}

// checkList checks each item with check, which returns what is wrong with
// it or, for a good item, what names it ("label \"gpu\""); a good item
// whose name an earlier one had is given twice.
func checkList(items []string, check func(string) (problem, name string)) []Problem {
	var probs []Problem
	seen := map[string]int{}
	for i, it := range items {
		msg, name := check(it)
		if msg != "" {
			probs = append(probs, Problem{Index: i, msg: msg, also: -1})
			continue
		}
		if first, dup := seen[name]; dup {
			probs = append(probs, Problem{Index: i, msg: name + " given twice", also: first})
			continue
		}
		seen[name] = i
	}
	return probs
}

const (
	nameRule  = "want at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit (after an optional DNS prefix and '/')"
	valueRule = "want at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
)

// keyProblem says what is wrong with a label or taint key as a qualified
// name (content.IsLabelKey), or "".
func keyProblem(key string) string {
	parts := strings.Split(key, "/")
	name := parts[len(parts)-1]
	switch {
	case len(parts) > 2:
		return "more than one '/': " + nameRule
	case len(parts) == 2 && (len(parts[0]) > prefixMaxLen || !dnsSubdomain.MatchString(parts[0])):
		return "the prefix before '/' is not a lowercase DNS subdomain of at most 253 characters"
	case len(name) > nameMaxLen || !labelName.MatchString(name):
		return nameRule
	}
	return ""
}

// validValue reports whether v is a label value (content.IsLabelValue).
func validValue(v string) bool {
	return v == "" || len(v) <= nameMaxLen && labelName.MatchString(v)
}

// kubeletRefuses reports whether the kubelet refuses the label key: one in
// the kubernetes.io or k8s.io namespaces (isKubernetesLabel) that is not a
// kubelet label (IsKubeletLabel).
func kubeletRefuses(key string) bool {
	ns, _, ok := strings.Cut(key, "/")
	if !ok {
		return false
	}
	in := func(domain string) bool { return ns == domain || strings.HasSuffix(ns, "."+domain) }
	if !in("kubernetes.io") && !in("k8s.io") {
		return false
	}
	return !slices.Contains(kubeletLabels, key) && !slices.ContainsFunc(kubeletNamespaces, in)
}

// quote is s in Go quotes, cut after 60 bytes so a message stays one
// readable console line.
func quote(s string) string {
	const max = 60
	if len(s) <= max {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q...", s[:max])
}
