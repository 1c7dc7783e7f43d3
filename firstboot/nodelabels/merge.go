package nodelabels

import "strings"

// MergeLabels is the labels of base with those of over laid on top: an
// item of over replaces base's items with the same key. A node's labels
// come from its inventory entry (base) and its cloud-config (over); K3s
// would pass both items of a repeated key to the kubelet, which keeps the
// last silently.
func MergeLabels(base, over []string) []string {
	return merge(base, over, func(l string) string {
		key, _, _ := strings.Cut(l, "=")
		return key
	})
}

// MergeTaints is the taints of base with those of over laid on top: an
// item of over replaces base's items with the same key and effect. K3s
// fails on a key and effect given twice (pkg/util/taints.ParseTaints), and
// the kubelet, and so K3s, would not start.
func MergeTaints(base, over []string) []string {
	return merge(base, over, func(t string) string {
		kv, effect, _ := strings.Cut(t, ":")
		key, _, _ := strings.Cut(kv, "=")
		return key + ":" + effect
	})
}

func merge(base, over []string, identity func(string) string) []string {
	replaced := map[string]bool{}
	for _, it := range over {
		replaced[identity(it)] = true
	}
	out := make([]string, 0, len(base)+len(over))
	for _, it := range base {
		if !replaced[identity(it)] {
			out = append(out, it)
		}
	}
	return append(out, over...)
}
