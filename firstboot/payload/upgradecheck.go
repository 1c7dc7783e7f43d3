package payload

import _ "embed"

// The A/B upgrade's boot check: UpgradeCheckUnitName runs `firstboot
// upgrade check` at every boot of a node booted from a disk slot, after
// firstboot. It is enabled (UpgradeCheckWantsPath): nothing else starts it.
const (
	UpgradeCheckUnitName  = "appliance-upgrade-check.service"
	UpgradeCheckUnitPath  = "/usr/lib/systemd/system/" + UpgradeCheckUnitName
	UpgradeCheckWantsPath = "/etc/systemd/system/multi-user.target.wants/" + UpgradeCheckUnitName
)

//go:embed appliance-upgrade-check.service
var upgradeCheckUnit string
