package netconfig

import (
	"reflect"
	"testing"
	"time"
)

func u32(n uint32) *uint32 { return &n }

func TestParseAccepts(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want Config
	}{
		{
			name: "network wrapper",
			in:   "network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n",
			want: Config{Ethernets: []Ethernet{{ID: "eth0", Addressing: Addressing{DHCP4: true}}}},
		},
		{
			name: "bare version 2",
			in:   "version: 2\nethernets:\n  ens3: {dhcp6: yes, dhcp4: on}\n",
			want: Config{Ethernets: []Ethernet{{ID: "ens3", Addressing: Addressing{DHCP4: true, DHCP6: true}}}},
		},
		{name: "disabled wrapped", in: "network:\n  config: disabled\n", want: Config{Disabled: true}},
		{name: "disabled bare", in: "config: disabled\n", want: Config{Disabled: true}},
		{name: "renderer networkd", in: "version: 2\nrenderer: networkd\n", want: Config{}},
		{
			name: "static ethernet",
			in: `version: 2
ethernets:
  id0:
    match:
      macaddress: "52:54:00:12:34:56"
      name: "en*"
      driver: virtio_net
    set-name: lan0
    addresses: [192.0.2.10/24, "2001:db8::10/64"]
    gateway4: 192.0.2.1
    gateway6: "2001:db8::1"
    routes:
      - to: 198.51.100.0/24
        via: 192.0.2.254
        metric: 100
        on-link: true
      - to: default
        via: "2001:db8::fffe"
    nameservers:
      addresses: [192.0.2.53, "2001:db8::53"]
      search: [lab.internal, internal]
    mtu: 9000
    optional: false
`,
			want: Config{Ethernets: []Ethernet{{
				ID:      "id0",
				Match:   &Match{Name: "en*", MACAddress: "52:54:00:12:34:56", Driver: "virtio_net"},
				SetName: "lan0",
				Addressing: Addressing{
					Addresses: []string{"192.0.2.10/24", "2001:db8::10/64"},
					Gateway4:  "192.0.2.1", Gateway6: "2001:db8::1",
					Routes: []Route{
						{To: "198.51.100.0/24", Via: "192.0.2.254", Metric: u32(100), OnLink: true},
						{To: "default", Via: "2001:db8::fffe"},
					},
					Nameservers: Nameservers{Addresses: []string{"192.0.2.53", "2001:db8::53"}, Search: []string{"lab.internal", "internal"}},
					MTU:         9000,
				},
			}}},
		},
		{
			name: "bond and vlan",
			in: `network:
  version: 2
  ethernets:
    eno1: {}
    eno2:
  bonds:
    bond0:
      interfaces: [eno1, eno2]
      parameters:
        mode: active-backup
        primary: eno2
        mii-monitor-interval: 1s
      dhcp4: true
  vlans:
    vlan30:
      id: 30
      link: bond0
      addresses: [10.30.0.5/24]
      optional: true
`,
			want: Config{
				Ethernets: []Ethernet{{ID: "eno1"}, {ID: "eno2"}},
				Bonds: []Bond{{
					ID: "bond0", Interfaces: []string{"eno1", "eno2"},
					Parameters: BondParameters{Mode: "active-backup", Primary: "eno2", MIIMonitorInterval: time.Second},
					Addressing: Addressing{DHCP4: true},
				}},
				VLANs: []VLAN{{ID: "vlan30", VLANID: 30, Link: "bond0", Addressing: Addressing{Addresses: []string{"10.30.0.5/24"}, Optional: true}}},
			},
		},
		{
			name: "aliases",
			in:   "version: 2\nethernets:\n  eth0: &common {dhcp4: true}\n  eth1: *common\n",
			want: Config{Ethernets: []Ethernet{{ID: "eth0", Addressing: Addressing{DHCP4: true}}, {ID: "eth1", Addressing: Addressing{DHCP4: true}}}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, warnings, err := Parse("network-config", []byte(tc.in))
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if len(warnings) != 0 {
				t.Errorf("warnings = %q, want none", warnings)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseWarns(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       string
		want     Config
		warnings []string
	}{
		{name: "empty", in: "\n", warnings: []string{"network-config: empty, no network configuration"}},
		{name: "null document", in: "---\n", warnings: []string{"network-config: empty, no network configuration"}},
		{
			name:     "key beside network",
			in:       "network:\n  version: 2\ninstance-id: x\n",
			warnings: []string{`network-config line 3: instance-id: not supported beside network, ignored`},
		},
		{
			name:     "other renderer",
			in:       "version: 2\nrenderer: NetworkManager\n",
			warnings: []string{`network-config line 2: renderer: "NetworkManager" ignored, firstboot renders for systemd-networkd`},
		},
		{
			name: "unknown keys at every level",
			in: `network:
  version: 2
  bridges:
    br0: {interfaces: [eth0]}
  ethernets:
    eth0:
      match: {name: eth0, path: "pci-0000:00:03.0"}
      wakeonlan: true
      dhcp4: true
      routes:
        - {to: 10.0.0.0/8, via: 192.0.2.1, table: 100}
      nameservers: {addresses: [192.0.2.53], options: [edns0]}
    eth1: {}
  bonds:
    bond0:
      interfaces: [eth1]
      macaddress: "52:54:00:00:00:01"
      parameters: {mode: 802.3ad, up-delay: 200}
`,
			want: Config{
				Ethernets: []Ethernet{
					{ID: "eth0", Match: &Match{Name: "eth0"}, Addressing: Addressing{
						DHCP4:       true,
						Routes:      []Route{{To: "10.0.0.0/8", Via: "192.0.2.1"}},
						Nameservers: Nameservers{Addresses: []string{"192.0.2.53"}},
					}},
					{ID: "eth1"},
				},
				Bonds: []Bond{{ID: "bond0", Interfaces: []string{"eth1"}, Parameters: BondParameters{Mode: "802.3ad"}}},
			},
			warnings: []string{
				`network-config line 3: network.bridges: not supported, ignored`,
				`network-config line 7: network.ethernets.eth0.match.path: not supported, ignored`,
				`network-config line 8: network.ethernets.eth0.wakeonlan: not supported, ignored`,
				`network-config line 11: network.ethernets.eth0.routes[0].table: not supported, ignored`,
				`network-config line 12: network.ethernets.eth0.nameservers.options: not supported, ignored`,
				`network-config line 17: network.bonds.bond0.macaddress: not supported, ignored`,
				`network-config line 18: network.bonds.bond0.parameters.up-delay: not supported, ignored`,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, warnings, err := Parse("network-config", []byte(tc.in))
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			if !reflect.DeepEqual(warnings, tc.warnings) {
				t.Errorf("warnings:\n got %q\nwant %q", warnings, tc.warnings)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	const eth = "version: 2\nethernets:\n  eth0:\n"
	for _, tc := range []struct {
		name string
		in   string
		err  string
	}{
		{name: "version 1", in: "network:\n  version: 1\n  config:\n    - type: physical\n      name: eth0\n", err: `network-config line 2: network config version 1 is not supported; use version 2`},
		{name: "version 1 bare", in: "config:\n  - type: physical\nversion: 1\n", err: `network-config line 3: network config version 1 is not supported; use version 2`},
		{name: "config list in version 2", in: "version: 2\nconfig: [a]\n", err: `network-config line 2: config: want "disabled", got a list`},
		{name: "version 3", in: "version: 3\n", err: `network-config line 1: version: want 2, got "3"`},
		{name: "no version", in: "network:\n  ethernets: {}\n", err: `network-config line 2: network.version: want 2, got none`},
		{name: "config enabled", in: "config: enabled\n", err: `network-config line 1: config: want "disabled", got "enabled"`},
		{name: "not a mapping", in: "- version\n", err: `network-config line 1: want a mapping, got a list`},
		{name: "network not a mapping", in: "network: 2\n", err: `network-config line 1: network: want a mapping, got a scalar`},
		{name: "bad yaml", in: "version: [\n", err: "network-config: yaml: line 1: did not find expected node content"},
		{name: "section not a mapping", in: "version: 2\nethernets: [eth0]\n", err: `network-config line 2: ethernets: want a mapping of IDs to devices, got a list`},
		{name: "device not a mapping", in: "version: 2\nethernets:\n  eth0: dhcp\n", err: `network-config line 3: ethernets.eth0: want a mapping, got a scalar`},
		{name: "duplicate key", in: eth + "    dhcp4: true\n    dhcp4: false\n", err: `network-config line 5: ethernets.eth0.dhcp4: want each key once, got it again (first on line 4)`},
		{name: "bad bool", in: eth + "    dhcp4: maybe\n", err: `network-config line 4: ethernets.eth0.dhcp4: want true or false, got "maybe"`},
		{name: "addresses not a list", in: eth + "    addresses: 10.0.0.1/24\n", err: `network-config line 4: ethernets.eth0.addresses: want a list of strings, got a scalar`},
		{name: "invalid CIDR", in: eth + "    addresses: [10.0.0.1/24, 10.0.0.300/24]\n", err: `network-config line 4: ethernets.eth0.addresses[1]: want an address with prefix length like 192.0.2.10/24, got "10.0.0.300/24"`},
		{name: "address without prefix", in: eth + "    addresses:\n      - 10.0.0.1\n", err: `network-config line 5: ethernets.eth0.addresses[0]: want an address with prefix length like 192.0.2.10/24, got "10.0.0.1"`},
		{name: "gateway4 not IPv4", in: eth + "    gateway4: 2001:db8::1\n", err: `network-config line 4: ethernets.eth0.gateway4: want an IPv4 address, got "2001:db8::1"`},
		{name: "gateway6 not IPv6", in: eth + "    gateway6: 192.0.2.1\n", err: `network-config line 4: ethernets.eth0.gateway6: want an IPv6 address, got "192.0.2.1"`},
		{name: "route host bits", in: eth + "    routes:\n      - to: 10.1.2.3/8\n        via: 192.0.2.1\n", err: `network-config line 5: ethernets.eth0.routes[0].to: want a prefix with no host bits like 10.0.0.0/8, got "10.1.2.3/8"`},
		{name: "route family", in: eth + "    routes:\n      - to: 10.0.0.0/8\n        via: 2001:db8::1\n", err: `network-config line 6: ethernets.eth0.routes[0].via: want an address of the same family as to 10.0.0.0/8, got "2001:db8::1"`},
		{name: "route default without via", in: eth + "    routes:\n      - to: default\n", err: `network-config line 5: ethernets.eth0.routes[0]: want via with to: default, got none`},
		{name: "route without to", in: eth + "    routes:\n      - via: 192.0.2.1\n", err: `network-config line 5: ethernets.eth0.routes[0]: want to, got none`},
		{name: "route bad via", in: eth + "    routes: [{to: default, via: gateway}]\n", err: `network-config line 4: ethernets.eth0.routes[0].via: want an IP address, got "gateway"`},
		{name: "route bad metric", in: eth + "    routes: [{to: default, via: 192.0.2.1, metric: -1}]\n", err: `network-config line 4: ethernets.eth0.routes[0].metric: want an integer in 0..4294967295, got "-1"`},
		{name: "routes not a list", in: eth + "    routes: {to: default}\n", err: `network-config line 4: ethernets.eth0.routes: want a list of routes, got a mapping`},
		{name: "bad nameserver", in: eth + "    nameservers: {addresses: [dns.lab]}\n", err: `network-config line 4: ethernets.eth0.nameservers.addresses[0]: want an IP address, got "dns.lab"`},
		{name: "bad search domain", in: eth + "    nameservers: {search: [\"lab internal\"]}\n", err: `network-config line 4: ethernets.eth0.nameservers.search[0]: want a domain name, got "lab internal"`},
		{name: "mtu zero", in: eth + "    mtu: 0\n", err: `network-config line 4: ethernets.eth0.mtu: want an MTU in 68..65535, got 0`},
		{name: "mtu too big", in: eth + "    mtu: 70000\n", err: `network-config line 4: ethernets.eth0.mtu: want an MTU in 68..65535, got 70000`},
		{name: "mtu not a number", in: eth + "    mtu: jumbo\n", err: `network-config line 4: ethernets.eth0.mtu: want an integer, got "jumbo"`},
		{name: "no match and not an interface name", in: "version: 2\nethernets:\n  uplink port:\n    dhcp4: true\n", err: `network-config line 3: ethernets.uplink port: without match, the ID is the interface name: want at most 15 letters, digits, ".", "_" or "-", got "uplink port"`},
		{name: "no match and name too long", in: "version: 2\nethernets:\n  enp0s31f6-uplink0: {}\n", err: `network-config line 3: ethernets.enp0s31f6-uplink0: without match, the ID is the interface name: want at most 15 letters, digits, ".", "_" or "-", got "enp0s31f6-uplink0"`},
		{name: "no match and all digits", in: "version: 2\nethernets:\n  \"0\": {}\n", err: `network-config line 3: ethernets.0: without match, the ID is the interface name: want at most 15 letters, digits, ".", "_" or "-", got "0"`},
		{name: "opaque ID unusable in a file name", in: "version: 2\nethernets:\n  a/b:\n    match: {name: eth0}\n", err: `network-config line 3: ethernets.a/b: want an ID of letters, digits, ".", "_" or "-", got "a/b"`},
		{name: "empty match", in: "version: 2\nethernets:\n  lan:\n    match: {}\n", err: `network-config line 4: ethernets.lan.match: want name, macaddress or driver, got none`},
		{name: "bad MAC", in: "version: 2\nethernets:\n  lan:\n    match:\n      macaddress: 52:54:00:12:34\n", err: `network-config line 5: ethernets.lan.match.macaddress: want a MAC address like 52:54:00:12:34:56, got "52:54:00:12:34"`},
		{name: "match not a mapping", in: "version: 2\nethernets:\n  lan:\n    match: eth0\n", err: `network-config line 4: ethernets.lan.match: want a mapping, got a scalar`},
		{name: "set-name without match", in: eth + "    set-name: lan0\n", err: `network-config line 4: ethernets.eth0.set-name: want match beside set-name (without match the ID is the name), got no match`},
		{name: "bad set-name", in: "version: 2\nethernets:\n  a:\n    match: {name: eth0}\n    set-name: lan/0\n", err: `network-config line 5: ethernets.a.set-name: want at most 15 letters, digits, ".", "_" or "-", got "lan/0"`},
		{
			name: "same set-name twice",
			in:   "version: 2\nethernets:\n  a:\n    match: {macaddress: \"52:54:00:00:00:01\"}\n    set-name: lan0\n  b:\n    match: {macaddress: \"52:54:00:00:00:02\"}\n    set-name: lan0\n",
			err:  `network-config line 8: ethernets.b.set-name: want a name no other ethernet sets, got "lan0" (also set by ethernets.a)`,
		},
		{name: "ID in two sections", in: "version: 2\nethernets:\n  bond0: {}\nbonds:\n  bond0: {interfaces: [bond0]}\n", err: `network-config line 5: bonds.bond0: want an ID not used elsewhere in the file, got "bond0" (also under ethernets)`},
		{name: "unknown bond mode", in: "version: 2\nethernets: {eth0: {}}\nbonds:\n  bond0:\n    interfaces: [eth0]\n    parameters:\n      mode: lacp\n", err: `network-config line 7: bonds.bond0.parameters.mode: want one of balance-rr, active-backup, balance-xor, broadcast, 802.3ad, balance-tlb, balance-alb, got "lacp"`},
		{name: "unknown lacp rate", in: "version: 2\nethernets: {eth0: {}}\nbonds:\n  bond0:\n    interfaces: [eth0]\n    parameters: {mode: 802.3ad, lacp-rate: medium}\n", err: `network-config line 6: bonds.bond0.parameters.lacp-rate: want one of slow, fast, got "medium"`},
		{name: "unknown hash policy", in: "version: 2\nethernets: {eth0: {}}\nbonds:\n  bond0:\n    interfaces: [eth0]\n    parameters: {transmit-hash-policy: layer4}\n", err: `network-config line 6: bonds.bond0.parameters.transmit-hash-policy: want one of layer2, layer3+4, layer2+3, encap2+3, encap3+4, got "layer4"`},
		{name: "bad mii interval", in: "version: 2\nethernets: {eth0: {}}\nbonds:\n  bond0:\n    interfaces: [eth0]\n    parameters: {mii-monitor-interval: fast}\n", err: `network-config line 6: bonds.bond0.parameters.mii-monitor-interval: want milliseconds (100) or a duration (100ms, 1s), got "fast"`},
		{name: "bond member not defined", in: "version: 2\nethernets: {eth0: {}}\nbonds:\n  bond0:\n    interfaces:\n      - eth0\n      - eth1\n", err: `network-config line 7: bonds.bond0.interfaces[1]: want the ID of an ethernet defined in this file, got "eth1"`},
		{name: "bond without members", in: "version: 2\nbonds:\n  bond0:\n    dhcp4: true\n", err: `network-config line 3: bonds.bond0.interfaces: want at least one ethernet ID, got none`},
		{name: "member in two bonds", in: "version: 2\nethernets: {eth0: {}}\nbonds:\n  bond0: {interfaces: [eth0]}\n  bond1: {interfaces: [eth0]}\n", err: `network-config line 5: bonds.bond1.interfaces[0]: want an ethernet not already in bonds.bond0, got "eth0"`},
		{name: "member with addresses", in: "version: 2\nethernets:\n  eth0: {dhcp4: true, addresses: [10.0.0.2/24], mtu: 9000}\nbonds:\n  bond0: {interfaces: [eth0]}\n", err: `network-config line 3: ethernets.eth0: want no addressing on a member of bonds.bond0, got dhcp4, addresses`},
		{name: "primary not a member", in: "version: 2\nethernets: {eth0: {}, eth1: {}}\nbonds:\n  bond0:\n    interfaces: [eth0, eth1]\n    parameters: {mode: active-backup, primary: eth2}\n", err: `network-config line 6: bonds.bond0.parameters.primary: want one of the bond's interfaces (eth0, eth1), got "eth2"`},
		{name: "primary in wrong mode", in: "version: 2\nethernets: {eth0: {}}\nbonds:\n  bond0:\n    interfaces: [eth0]\n    parameters: {primary: eth0}\n", err: `network-config line 6: bonds.bond0.parameters.primary: want mode active-backup, balance-tlb, balance-alb with primary, got mode none`},
		{name: "bond name too long", in: "version: 2\nethernets: {eth0: {}}\nbonds:\n  bond-uplink-primary: {interfaces: [eth0]}\n", err: `network-config line 4: bonds.bond-uplink-primary: the ID is the bond's interface name: want at most 15 letters, digits, ".", "_" or "-", got "bond-uplink-primary"`},
		{name: "vlan id zero", in: "version: 2\nethernets: {eth0: {}}\nvlans:\n  v0: {id: 0, link: eth0}\n", err: `network-config line 4: vlans.v0.id: want a VLAN ID in 1..4094, got 0`},
		{name: "vlan id too big", in: "version: 2\nethernets: {eth0: {}}\nvlans:\n  v1:\n    id: 4095\n    link: eth0\n", err: `network-config line 5: vlans.v1.id: want a VLAN ID in 1..4094, got 4095`},
		{name: "vlan id missing", in: "version: 2\nethernets: {eth0: {}}\nvlans:\n  v1:\n    link: eth0\n", err: `network-config line 4: vlans.v1.id: want a VLAN ID in 1..4094, got none`},
		{name: "vlan id not a number", in: "version: 2\nethernets: {eth0: {}}\nvlans:\n  v1: {id: ten, link: eth0}\n", err: `network-config line 4: vlans.v1.id: want an integer, got "ten"`},
		{name: "vlan link not defined", in: "version: 2\nethernets: {eth0: {}}\nvlans:\n  v1:\n    id: 10\n    link: eth1\n", err: `network-config line 6: vlans.v1.link: want the ID of an ethernet or bond defined in this file, got "eth1"`},
		{name: "vlan link missing", in: "version: 2\nethernets: {eth0: {}}\nvlans:\n  v1:\n    id: 10\n", err: `network-config line 4: vlans.v1.link: want the ID of an ethernet or bond defined in this file, got none`},
		{name: "vlan on a vlan", in: "version: 2\nethernets: {eth0: {}}\nvlans:\n  v1: {id: 10, link: eth0}\n  v2: {id: 20, link: v1}\n", err: `network-config line 5: vlans.v2.link: want the ID of an ethernet or bond defined in this file, got "v1"`},
		{name: "vlan id twice on a link", in: "version: 2\nethernets: {eth0: {}}\nvlans:\n  v1: {id: 10, link: eth0}\n  v2: {id: 10, link: eth0}\n", err: `network-config line 5: vlans.v2.id: want an ID not already used on link eth0 (by vlans.v1), got 10`},
		{name: "second document", in: eth + "    dhcp4: true\n---\nversion: 1\n", err: "network-config line 5: a second YAML document starts here; want one document"},
		{name: "billion laughs", in: nameserverLaughs(9), err: "network-config line 6: alias *l3: aliases add more than 10000 nodes or 1048576 bytes to the document"},
		{name: "alias cycle", in: eth + "    routes: &r [*r]\n", err: "network-config line 4: alias *r refers to a node that contains it"},
		{name: "NUL in a match name", in: "version: 2\nethernets:\n  lan:\n    match: {name: \"en\\0*\"}\n", err: `network-config line 4: ethernets.lan.match.name: want a name or glob without spaces or control characters, got "en\x00*"`},
		{name: "line break in a driver", in: "version: 2\nethernets:\n  lan:\n    match: {driver: \"e1000\\n[Network]\"}\n", err: `network-config line 4: ethernets.lan.match.driver: want a driver name or glob without spaces or control characters, got "e1000\n[Network]"`},
		{name: "escape in a search domain", in: eth + "    nameservers: {search: [\"lab\\e[2J\"]}\n", err: `network-config line 4: ethernets.eth0.nameservers.search[0]: want a domain name, got "lab\x1b[2J"`},
		{
			name: "every type problem first, values once types are right",
			in:   "network:\n  version: 2\n  vlans:\n    v1: {id: x, link: eth9}\n  ethernets:\n    eth0:\n      gateway4: fe80::1\n      dhcp4: sometimes\n",
			err: "network-config line 4: network.vlans.v1.id: want an integer, got \"x\"\n" +
				"network-config line 8: network.ethernets.eth0.dhcp4: want true or false, got \"sometimes\"",
		},
		{
			name: "every validation problem, in line order",
			in:   "network:\n  version: 2\n  vlans:\n    v1: {id: 5000, link: eth9}\n  ethernets:\n    eth0:\n      gateway4: fe80::1\n      addresses: [bad]\n",
			err: "network-config line 4: network.vlans.v1.id: want a VLAN ID in 1..4094, got 5000\n" +
				"network-config line 4: network.vlans.v1.link: want the ID of an ethernet or bond defined in this file, got \"eth9\"\n" +
				"network-config line 7: network.ethernets.eth0.gateway4: want an IPv4 address, got \"fe80::1\"\n" +
				"network-config line 8: network.ethernets.eth0.addresses[0]: want an address with prefix length like 192.0.2.10/24, got \"bad\"",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, warnings, err := Parse("network-config", []byte(tc.in))
			if err == nil || err.Error() != tc.err {
				t.Fatalf("err:\n got %v\nwant %s", err, tc.err)
			}
			if !reflect.DeepEqual(got, Config{}) || warnings != nil {
				t.Errorf("on error got %+v, warnings %q; want an empty Config and no warnings", got, warnings)
			}
		})
	}
}
