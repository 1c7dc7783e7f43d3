package payload

import _ "embed"

// SSHDKeysOnlyPath is the sshd_config.d drop-in that allows public-key
// authentication only. Its name sorts before anything a package or an
// operator is likely to put there (cloud-init writes 50-cloud-init.conf),
// because of sshd's first-value-wins rule.
const SSHDKeysOnlyPath = "/etc/ssh/sshd_config.d/00-appliance-keys-only.conf"

// sshdKeysOnly is the drop-in's content.
//
//go:embed sshd-keys-only.conf
var sshdKeysOnly string
