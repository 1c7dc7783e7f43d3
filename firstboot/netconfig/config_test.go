package netconfig

import (
	"reflect"
	"testing"
)

func TestFromInventory(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		address, gateway, mac string
		dns                   []string
		want                  Config
	}{
		{
			name: "IPv4", address: "10.0.40.21/24", gateway: "10.0.40.1", mac: "52:54:00:40:00:21", dns: []string{"10.0.40.2"},
			want: Config{Ethernets: []Ethernet{{
				ID: "inventory", Match: &Match{MACAddress: "52:54:00:40:00:21"},
				Addressing: Addressing{Addresses: []string{"10.0.40.21/24"}, Gateway4: "10.0.40.1", Nameservers: Nameservers{Addresses: []string{"10.0.40.2"}}},
			}}},
		},
		{
			name: "IPv6 gateway", address: "2001:db8::21/64", gateway: "2001:db8::1", mac: "52:54:00:40:00:21",
			want: Config{Ethernets: []Ethernet{{
				ID: "inventory", Match: &Match{MACAddress: "52:54:00:40:00:21"},
				Addressing: Addressing{Addresses: []string{"2001:db8::21/64"}, Gateway6: "2001:db8::1"},
			}}},
		},
		{
			name: "no gateway", address: "10.0.40.21/24", mac: "52:54:00:40:00:21",
			want: Config{Ethernets: []Ethernet{{
				ID: "inventory", Match: &Match{MACAddress: "52:54:00:40:00:21"},
				Addressing: Addressing{Addresses: []string{"10.0.40.21/24"}},
			}}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := FromInventory(tc.address, tc.gateway, tc.dns, tc.mac)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			if _, err := Render(got); err != nil {
				t.Errorf("Render: %v", err)
			}
		})
	}
	dns := []string{"10.0.0.2"}
	cfg := FromInventory("10.0.0.5/24", "", dns, "52:54:00:00:00:01")
	dns[0] = "changed"
	if cfg.Ethernets[0].Nameservers.Addresses[0] != "10.0.0.2" {
		t.Error("FromInventory keeps the caller's dns slice")
	}
}

func TestHasDefaultRoute(t *testing.T) {
	static := func(a Addressing) Config { return Config{Ethernets: []Ethernet{{ID: "eth0", Addressing: a}}} }
	for _, tc := range []struct {
		name string
		cfg  Config
		want bool
	}{
		{"empty", Config{}, false},
		{"disabled", Config{Disabled: true}, false},
		{"address only", static(Addressing{Addresses: []string{"10.0.0.5/24"}}), false},
		{"route to a subnet", static(Addressing{Routes: []Route{{To: "10.1.0.0/16", Via: "10.0.0.1"}}}), false},
		{"gateway4", static(Addressing{Gateway4: "10.0.0.1"}), true},
		{"gateway6", static(Addressing{Gateway6: "fd00::1"}), true},
		{"route to default", static(Addressing{Routes: []Route{{To: "10.1.0.0/16"}, {To: "default", Via: "10.0.0.1"}}}), true},
		{"route to 0.0.0.0/0", static(Addressing{Routes: []Route{{To: "0.0.0.0/0", Via: "10.0.0.1"}}}), true},
		{"route to ::/0", static(Addressing{Routes: []Route{{To: "::/0", Via: "fd00::1"}}}), true},
		{"dhcp4", static(Addressing{DHCP4: true}), true},
		{"dhcp6", static(Addressing{DHCP6: true}), true},
		{"dhcp on a bond", Config{Bonds: []Bond{{ID: "bond0", Addressing: Addressing{DHCP4: true}}}}, true},
		{"gateway on a vlan", Config{VLANs: []VLAN{{ID: "v10", Addressing: Addressing{Gateway4: "10.0.0.1"}}}}, true},
		{"inventory", FromInventory("10.0.0.5/24", "10.0.0.1", nil, "52:54:00:00:00:01"), true},
		{"inventory without gateway", FromInventory("10.0.0.5/24", "", nil, "52:54:00:00:00:01"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cfg.HasDefaultRoute(); got != tc.want {
				t.Errorf("HasDefaultRoute() = %v, want %v", got, tc.want)
			}
		})
	}
}
