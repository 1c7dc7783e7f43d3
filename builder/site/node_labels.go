package site

import (
	"slices"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/nodelabels"
)

// placeholderSerials are DMI serial numbers firmware leaves in place of a
// real one; many machines share them, so none identifies a node.
var placeholderSerials = []string{
	"0", "0123456789", "00000000", "none", "n/a", "na", "default string",
	"to be filled by o.e.m.", "system serial number", "not specified", "not applicable",
}

// checkLabels and checkTaints check a node's labels and taints with the
// rule set firstboot's cloud-config parser uses too (package nodelabels:
// what the kubelet and K3s accept), one error per item.
func checkLabels(v *validator, path string, labels []string) {
	reportItems(v, path, nodelabels.CheckLabels(labels))
}

func checkTaints(v *validator, path string, taints []string) {
	reportItems(v, path, nodelabels.CheckTaints(taints))
}

func reportItems(v *validator, path string, probs []nodelabels.Problem) {
	item := func(i int) string { return index(path, i) }
	for _, p := range probs {
		v.errorf(item(p.Index), "%s", p.Message(item))
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
