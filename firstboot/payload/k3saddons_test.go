package payload

import (
	"path"
	"slices"
	"strings"
	"testing"
)

// TestK3sAddonNamesAreThoseOfBothLists: K3sAddonNames is what the deploy
// controller names the files of K3sOwnManifests (base name up to the first
// dot) and the K3sDisableItems, sorted, each once.
func TestK3sAddonNamesAreThoseOfBothLists(t *testing.T) {
	var want []string
	for _, f := range K3sOwnManifests {
		name, _, _ := strings.Cut(path.Base(f), ".")
		want = append(want, name)
	}
	want = append(want, K3sDisableItems...)
	slices.Sort(want)
	want = slices.Compact(want)
	if !slices.Equal(K3sAddonNames, want) {
		t.Errorf("K3sAddonNames = %q, want %q", K3sAddonNames, want)
	}
}
