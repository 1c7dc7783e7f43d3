package payload

import _ "embed"

// The cluster upgrade's node side (firstboot/upgradecluster): every node
// runs UpgradeWatchUnitName, which runs `firstboot upgrade watch`, after
// firstboot and K3s. It publishes the node's release on its Node and acts
// on what `firstboot upgrade cluster` asks of the node there.
const (
	UpgradeWatchUnitName = "appliance-upgrade-watch.service"
	UpgradeWatchUnitPath = "/usr/lib/systemd/system/" + UpgradeWatchUnitName
	// UpgradeWatchWantsPath enables it, as UnitWantsPath enables firstboot.
	UpgradeWatchWantsPath = "/etc/systemd/system/multi-user.target.wants/" + UpgradeWatchUnitName
)

//go:embed appliance-upgrade-watch.service
var upgradeWatchUnit string

// UpgradeWatchUnit is the unit's text (Files installs it and its link).
func UpgradeWatchUnit() string { return upgradeWatchUnit }

// The cluster upgrade's resumption on the initial server:
// UpgradeClusterUnitName runs `firstboot upgrade cluster --if-unfinished`
// at every boot where a cluster upgrade left its progress on STATE, and
// takes up an upgrade this server's own reboot cut short.
const (
	UpgradeClusterUnitName  = "appliance-upgrade-cluster.service"
	UpgradeClusterUnitPath  = "/usr/lib/systemd/system/" + UpgradeClusterUnitName
	UpgradeClusterWantsPath = "/etc/systemd/system/multi-user.target.wants/" + UpgradeClusterUnitName
)

//go:embed appliance-upgrade-cluster.service
var upgradeClusterUnit string

// UpgradeClusterUnit is the unit's text (Files installs it and its link).
func UpgradeClusterUnit() string { return upgradeClusterUnit }
