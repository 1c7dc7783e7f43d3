package payload

import _ "embed"

// The image payload's registry (see images.go): firstboot's image-payload
// step queues RegistryUnitName at every boot on a node that has the
// payload; the unit runs `firstboot registry serve`, which serves the
// payload the step found (its record names it) on ImageRegistryPort. It is
// not enabled, and is ordered before K3s, which pulls from it.
const (
	RegistryUnitName = "appliance-registry.service"
	RegistryUnitPath = "/usr/lib/systemd/system/" + RegistryUnitName
)

//go:embed appliance-registry.service
var registryUnit string
