package payload

// The names K3s itself gives the manifests of its server manifests
// directory (K3sServerManifestsDir), where the builder places a HelmChart
// manifest per release and the site's own manifests: K3s's deploy
// controller tracks a file's objects as the Addon named after the file
// (its name up to the first dot, pkg/deploy/controller.go basename), so
// nothing placed there may take one of these names.
var (
	// K3sOwnManifests are the files K3s stages into the directory
	// (k3s-io/k3s manifests/, staged by pkg/deploy/stage.go with their
	// subdirectories, so each file of metrics-server/ is an Addon of its
	// own). gateway-api-crd.yaml is new in v1.37, listed so that an
	// upgrade of K3s does not meet a file of that name.
	K3sOwnManifests = []string{
		"ccm.yaml", "coredns.yaml", "gateway-api-crd.yaml", "local-storage.yaml", "rolebindings.yaml", "runtimes.yaml", "traefik.yaml",
		"metrics-server/aggregated-metrics-reader.yaml", "metrics-server/auth-delegator.yaml", "metrics-server/auth-reader.yaml",
		"metrics-server/metrics-apiservice.yaml", "metrics-server/metrics-server-deployment.yaml",
		"metrics-server/metrics-server-service.yaml", "metrics-server/resource-reader.yaml",
	}
	// K3sDisableItems are the packaged components `k3s server --disable`
	// knows (DisableItems, pkg/cli/cmds/stage.go; the list changed between
	// releases, runtimes then snapshot-controller, so this is their
	// union). The deploy controller deletes a manifest of such a name,
	// objects and file, when the item is disabled (shouldDisableFile).
	K3sDisableItems = []string{"coredns", "servicelb", "traefik", "local-storage", "metrics-server", "runtimes", "snapshot-controller"}
	// K3sAddonNames are the Addon names of both lists, sorted: those of
	// K3sOwnManifests and K3sDisableItems.
	K3sAddonNames = []string{
		"aggregated-metrics-reader", "auth-delegator", "auth-reader", "ccm", "coredns", "gateway-api-crd", "local-storage",
		"metrics-apiservice", "metrics-server", "metrics-server-deployment", "metrics-server-service", "resource-reader",
		"rolebindings", "runtimes", "servicelb", "snapshot-controller", "traefik",
	}
)
