package manifests

import (
	"bytes"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/payload"
)

// hasK3sExtension reports whether K3s's deploy controller applies a file
// of this name: one ending in .yaml, .yml or .json, in any case
// (pkg/deploy/controller.go shouldSkipFile, util.HasSuffixI).
func hasK3sExtension(name string) bool {
	lower := strings.ToLower(name)
	return strings.HasSuffix(lower, ".yaml") || strings.HasSuffix(lower, ".yml") || strings.HasSuffix(lower, ".json")
}

// addonName is the name of the Addon K3s tracks a manifest file as: its
// file name up to the first dot (pkg/deploy/controller.go basename).
func addonName(fileName string) string {
	name, _, _ := strings.Cut(fileName, ".")
	return name
}

// isEmptyYaml reports whether a part of a manifest holds nothing but
// blank lines, comments and "---", which K3s skips (the same test as
// pkg/deploy/controller.go isEmptyYaml).
func isEmptyYaml(part []byte) bool {
	for l := range bytes.SplitSeq(part, []byte("\n")) {
		s := bytes.TrimSpace(l)
		if string(s) != "---" && !bytes.HasPrefix(s, []byte("#")) && len(s) != 0 {
			return false
		}
	}
	return true
}

// k3sOwn maps each Addon name a site manifest must not take to what K3s
// has at that name (payload.K3sOwnManifests, payload.K3sDisableItems).
func k3sOwn() map[string]string {
	own := map[string]string{}
	for _, f := range payload.K3sOwnManifests {
		base := f[strings.LastIndex(f, "/")+1:]
		own[addonName(base)] = "K3s's own manifest " + f
	}
	for _, item := range payload.K3sDisableItems {
		if _, ok := own[item]; !ok {
			own[item] = "a name `k3s server --disable` takes, which deletes a manifest of that name"
		}
	}
	return own
}
