package site

import (
	"regexp"
	"slices"
	"strings"
)

// labelName is a Kubernetes qualified name's name part and a label value:
// at most 63 alphanumerics, '-', '_' or '.', starting and ending with an
// alphanumeric.
var labelName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$`)

// labelPrefix is a qualified name's prefix: a lowercase DNS subdomain.
var labelPrefix = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$`)

// taintEffects are the effects a taint can have.
var taintEffects = []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}

// kubeletLabels are the labels in the kubernetes.io and k8s.io namespaces a
// kubelet may set on its own node; with any other in those namespaces it
// refuses to start (k8s.io/kubelet/pkg/apis, IsKubeletLabel).
var kubeletLabels = []string{
	"kubernetes.io/hostname", "kubernetes.io/arch", "kubernetes.io/os",
	"beta.kubernetes.io/arch", "beta.kubernetes.io/os", "beta.kubernetes.io/instance-type",
	"topology.kubernetes.io/region", "topology.kubernetes.io/zone",
	"failure-domain.beta.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone",
	"node.kubernetes.io/instance-type",
}

// placeholderSerials are DMI serial numbers firmware leaves in place of a
// real one; many machines share them, so none identifies a node.
var placeholderSerials = []string{
	"0", "0123456789", "00000000", "none", "n/a", "na", "default string",
	"to be filled by o.e.m.", "system serial number", "not specified", "not applicable",
}

// qualifiedNameProblem says what is wrong with a label or taint key, or "".
func qualifiedNameProblem(key string) string {
	prefix, name, hasPrefix := strings.Cut(key, "/")
	if !hasPrefix {
		prefix, name = "", key
	}
	switch {
	case hasPrefix && (len(prefix) > 253 || !labelPrefix.MatchString(prefix)):
		return "the prefix before '/' is not a lowercase DNS subdomain"
	case !labelName.MatchString(name):
		return "want at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit (after an optional DNS prefix and '/')"
	}
	return ""
}

// kubeletRefuses reports whether the kubelet refuses to register with the
// label key: one in a kubernetes.io or k8s.io namespace other than
// node.kubernetes.io, kubelet.kubernetes.io and the kubeletLabels.
func kubeletRefuses(key string) bool {
	ns, _, ok := strings.Cut(key, "/")
	if !ok {
		return false
	}
	inK8s := func(domain string) bool { return ns == domain || strings.HasSuffix(ns, "."+domain) }
	if !inK8s("kubernetes.io") && !inK8s("k8s.io") {
		return false
	}
	for _, allowed := range []string{"node.kubernetes.io", "kubelet.kubernetes.io"} {
		if inK8s(allowed) {
			return false
		}
	}
	return !slices.Contains(kubeletLabels, key)
}

func checkLabels(v *validator, path string, labels []string) {
	seen := map[string]string{}
	for i, l := range labels {
		p := index(path, i)
		key, value, ok := strings.Cut(l, "=")
		if !ok {
			v.errorf(p, "%q: want key=value", l)
			continue
		}
		if problem := qualifiedNameProblem(key); problem != "" {
			v.errorf(p, "invalid label key %q: %s", key, problem)
			continue
		}
		if value != "" && !labelName.MatchString(value) {
			v.errorf(p, "invalid label value %q: want at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", value)
			continue
		}
		if kubeletRefuses(key) {
			v.errorf(p, "the kubelet refuses to set %q on its own node: only node.kubernetes.io/, kubelet.kubernetes.io/ and a few well-known keys are allowed in the kubernetes.io and k8s.io namespaces (node-role.kubernetes.io is set through the API)", key)
			continue
		}
		if other, dup := seen[key]; dup {
			v.errorf(p, "label %q given twice (also %s)", key, other)
			continue
		}
		seen[key] = p
	}
}

func checkTaints(v *validator, path string, taints []string) {
	seen := map[string]string{}
	for i, t := range taints {
		p := index(path, i)
		kv, effect, ok := strings.Cut(t, ":")
		if !ok {
			v.errorf(p, "%q: want key[=value]:Effect, like gpu=true:NoSchedule", t)
			continue
		}
		key, value, _ := strings.Cut(kv, "=")
		switch {
		case qualifiedNameProblem(key) != "":
			v.errorf(p, "invalid taint key %q: %s", key, qualifiedNameProblem(key))
		case value != "" && !labelName.MatchString(value):
			v.errorf(p, "invalid taint value %q: want at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", value)
		case !slices.Contains(taintEffects, effect):
			v.errorf(p, "unknown effect %q (want %s)", effect, strings.Join(taintEffects, ", "))
		case seen[key+":"+effect] != "":
			v.errorf(p, "taint %s:%s given twice (also %s)", key, effect, seen[key+":"+effect])
		default:
			seen[key+":"+effect] = p
		}
	}
}

// checkSerial wants a DMI serial that can tell machines apart, unique in
// the inventory.
func checkSerial(v *validator, path, serial string, seen map[string]string) {
	norm := strings.ToLower(strings.TrimSpace(serial))
	switch {
	case norm == "":
		v.errorf(path, "empty serial")
	case serial != strings.TrimSpace(serial):
		v.errorf(path, "%q has surrounding spaces; firstboot compares the serial without them", serial)
	case slices.Contains(placeholderSerials, norm) || strings.Trim(norm, "0") == "" || strings.Trim(norm, "f") == "":
		v.errorf(path, "%q is a placeholder firmware puts where no serial was set: it does not tell machines apart (match by mac instead)", serial)
	case seen[norm] != "":
		v.errorf(path, "duplicate serial %q (also %s)", serial, seen[norm])
	default:
		seen[norm] = path
	}
}
