package nodeconfig

import (
	"reflect"
	"strings"
	"testing"
)

func fullConfig() Config {
	return Config{
		APIVersion: APIVersion, Kind: Kind, Site: "lab", DefaultRole: RoleAgent,
		Nodes: []Node{
			{Hostname: "ctrl-1", MAC: "52:54:00:00:00:01", Role: RoleServer, Init: true, Address: "10.0.0.10/24"},
			{Hostname: "gpu-1", Serial: "CZ1234ABC", Role: RoleAgent, Labels: []string{"gpu=a100"}, Taints: []string{"gpu=yes:NoSchedule"}},
		},
		SSHAuthorizedKeys: []string{"ssh-ed25519 AAAA ops@example"},
		Cluster: &Cluster{
			Server: "https://10.0.0.10:6443", Token: true, CA: true,
			TLSSAN: []string{"lab.internal"}, Disable: []string{"traefik"}, SecretsEncryption: true,
			Network: &Network{Gateway: "10.0.0.1", DNS: []string{"10.0.0.1"}, NTP: []string{"ntp.internal"}},
			EtcdSnapshots: &EtcdSnapshots{Schedule: "0 */6 * * *", Retention: 5, S3: &EtcdS3{
				Endpoint: "minio.internal:9000", Bucket: "etcd", Folder: "lab", Region: "r", Insecure: true,
				AccessKey: "backup", SecretKey: true, EndpointCA: true,
			}},
		},
	}
}

func TestRoundTrip(t *testing.T) {
	want := fullConfig()
	data, err := Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
	again, err := Marshal(got)
	if err != nil || string(again) != string(data) {
		t.Errorf("second Marshal differs (%v):\n%s\n---\n%s", err, again, data)
	}
}

func TestUnmarshalIsStrict(t *testing.T) {
	data, err := Marshal(fullConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, from, to, want string }{
		{"unknown key in cluster", "  secretsEncryption: true\n", "  secretsEncryption: true\n  tokn: x\n", "field tokn not found"},
		{"unknown key in s3", "      bucket: etcd\n", "      bucket: etcd\n      secret: x\n", "field secret not found"},
		{"unknown key in a node", "    serial: CZ1234ABC\n", "    serial: CZ1234ABC\n    uuid: x\n", "field uuid not found"},
		{"wrong kind", "kind: NodeConfig", "kind: Site", `want apiVersion "appliance/v1alpha1" kind "NodeConfig"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(string(data), tc.from, tc.to, 1)
			if bad == string(data) {
				t.Fatalf("%q not in the marshalled config:\n%s", tc.from, data)
			}
			if _, err := Unmarshal([]byte(bad)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Unmarshal = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestConfigWithoutClusterHasNoClusterKey(t *testing.T) {
	data, err := Marshal(Config{APIVersion: APIVersion, Kind: Kind, Site: "lab", DefaultRole: RoleAgent})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "cluster") {
		t.Errorf("a config without cluster settings mentions them:\n%s", data)
	}
}
