package k3s

import (
	"strings"

	"github.com/ml-appliance/appliance/firstboot/payload"
)

// Service names: install.sh's setup_env names the unit k3s for the server
// and k3s-${CMD_K3S} (k3s-agent) otherwise.
const (
	ServerService = payload.K3sServerUnit
	AgentService  = payload.K3sAgentUnit
)

// unitTemplate is the unit k3s-io/k3s install.sh create_systemd_service_file
// writes (at commit 0136cf25), with BIN_DIR=/usr/local/bin, SYSTEMD_TYPE=notify
// and FILE_K3S_ENV=/etc/systemd/system/<unit>.env; @CMD@ is CMD_K3S_EXEC.
// With no extra arguments quote_indent yields " \", so ExecStart ends in a
// continuation onto the blank last line, exactly as the script's heredoc
// leaves it. The one change is marked: the ordering after firstboot.
const unitTemplate = `[Unit]
Description=Lightweight Kubernetes
Documentation=https://k3s.io
Wants=network-online.target
After=network-online.target
# Added by the appliance builder: firstboot configures the node (role,
# token, config.yaml) and enables this unit; K3s must never start on a node
# firstboot has not configured, or a server would found a cluster of its own.
After=firstboot.service
Requires=firstboot.service

[Install]
WantedBy=multi-user.target

[Service]
Type=notify
EnvironmentFile=-/etc/default/%N
EnvironmentFile=-/etc/sysconfig/%N
EnvironmentFile=-/etc/systemd/system/@UNIT@.env
KillMode=process
Delegate=yes
User=root
# Having non-zero Limit*s causes performance problems due to accounting overhead
# in the kernel. We recommend using cgroups to do container-local accounting.
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/local/bin/k3s \
    @CMD@ \

`

// unit is the systemd unit running `k3s <cmd>` under the given unit name.
func unit(name, cmd string) []byte {
	return []byte(strings.NewReplacer("@UNIT@", name, "@CMD@", cmd).Replace(unitTemplate))
}
