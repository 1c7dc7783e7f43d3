package charts

// PodSpec returns the pod spec of a rendered workload object (a Pod,
// Deployment, StatefulSet, DaemonSet, ReplicaSet, Job or CronJob, decoded
// from YAML) and true, or false for any other kind. Its containers,
// initContainers and ephemeralContainers are those Images reads.
func PodSpec(obj map[string]any) (map[string]any, bool) {
	kind, _ := obj["kind"].(string)
	p, ok := podSpecPath[kind]
	if !ok {
		return nil, false
	}
	return dig(obj, p), true
}
