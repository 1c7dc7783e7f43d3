package k3sconfig

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ml-appliance/appliance/firstboot/nodeconfig"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// cluster is what every node of the example site shares.
var snapshots = &nodeconfig.EtcdSnapshots{Schedule: "0 */6 * * *", Retention: 10}

func clusterWide(in Input) Input {
	in.TLSSAN = []string{"ml-lab.internal", "10.0.0.5"}
	in.Disable = []string{"traefik", "servicelb"}
	in.SecretsEncryption = true
	in.EmbeddedRegistry = true
	in.EtcdSnapshots = snapshots
	return in
}

func TestRenderGolden(t *testing.T) {
	s3 := &nodeconfig.EtcdSnapshots{Schedule: "30 2 * * *", Retention: 7, S3: &nodeconfig.EtcdS3{
		Endpoint: "minio.internal:9000", Bucket: "etcd-snapshots", Folder: "ml-lab", Region: "eu-west-1",
		Insecure: true, AccessKey: "etcd-backup", SecretKey: true, EndpointCA: true,
	}}
	for _, tc := range []struct {
		golden string
		in     Input
	}{{
		golden: "init-server.yaml",
		in: clusterWide(Input{Role: nodeconfig.RoleServer, ClusterInit: true, TokenFile: nodeconfig.TokenPath,
			AgentTokenFile: nodeconfig.AgentTokenPath, NodeName: "ctrl-1", NodeIP: "10.0.0.10"}),
	}, {
		golden: "joining-server.yaml",
		in: clusterWide(Input{Role: nodeconfig.RoleServer, Server: "https://10.0.0.10:6443", TokenFile: nodeconfig.JoinTokenPath,
			AgentTokenFile: nodeconfig.AgentTokenPath, NodeName: "ctrl-2", NodeIP: "10.0.0.11"}),
	}, {
		// The cluster-wide server settings are given, as a caller that does
		// not look at the role would: none of them may appear, nor the
		// agent token file, which only servers take.
		golden: "agent.yaml",
		in: clusterWide(Input{Role: nodeconfig.RoleAgent, Server: "https://10.0.0.10:6443", TokenFile: nodeconfig.AgentJoinTokenPath,
			AgentTokenFile: nodeconfig.AgentTokenPath, NodeName: "gpu-1"}),
	}, {
		golden: "server-snapshots-s3.yaml",
		in: Input{Role: nodeconfig.RoleServer, ClusterInit: true, Token: "0123456789abcdef0123456789abcdef",
			EtcdSnapshots: s3, EtcdS3SecretKey: "s3-secret-value"},
	}, {
		golden: "agent-labels-taints.yaml",
		in: Input{Role: nodeconfig.RoleAgent, Server: "https://[fd00::10]:6443", TokenFile: nodeconfig.AgentJoinTokenPath,
			NodeName: "gpu-2", NodeIP: "fd00::21",
			NodeLabels: []string{"gpu=a100", "node.kubernetes.io/pool=gpu"},
			NodeTaints: []string{"nvidia.com/gpu=present:NoSchedule", "dedicated:PreferNoSchedule"}},
	}} {
		t.Run(tc.golden, func(t *testing.T) {
			got, err := Render(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.golden, got)
			again, err := Render(tc.in)
			if err != nil || string(again) != string(got) {
				t.Errorf("a second render differs: %v", err)
			}
		})
	}
}

// agentFlags are the flags `k3s agent` defines that Render may write
// (pkg/cli/cmds/agent.go: token, token-file, server, node-name, node-ip,
// node-label, node-taint). An unknown key in config.yaml makes `k3s agent`
// fail: K3s's config parser strips unknown keys only for `server` and
// `etcd-snapshot` (pkg/configfilearg/defaultparser.go, ValidFlags).
var agentFlags = map[string]bool{
	"server": true, "token": true, "token-file": true, "node-name": true,
	"node-ip": true, "node-label": true, "node-taint": true,
}

func TestAgentGetsOnlyAgentFlags(t *testing.T) {
	in := clusterWide(Input{Role: nodeconfig.RoleAgent, Server: "https://ctrl.internal:6443", Token: "0123456789abcdef",
		NodeName: "a", NodeIP: "10.0.0.30", NodeLabels: []string{"a=b"}, NodeTaints: []string{"k:NoExecute"}})
	in.EtcdSnapshots = &nodeconfig.EtcdSnapshots{Schedule: "0 * * * *", Retention: 3,
		S3: &nodeconfig.EtcdS3{Endpoint: "s3.internal", Bucket: "b", SecretKey: true}}
	data, err := Render(in)
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]any
	if err := yaml.Unmarshal(data, &keys); err != nil {
		t.Fatal(err)
	}
	// Every agent flag but token-file (the token is given by value).
	if len(keys) != len(agentFlags)-1 {
		t.Errorf("agent config has %d keys, want %d: %v", len(keys), len(agentFlags)-1, keys)
	}
	for k := range keys {
		if !agentFlags[k] {
			t.Errorf("agent config has %q, which `k3s agent` does not know", k)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Input
		want []string
	}{{
		name: "agent without server",
		in:   Input{Role: nodeconfig.RoleAgent, TokenFile: nodeconfig.AgentJoinTokenPath},
		want: []string{"server: an agent needs the URL of a server to join, like https://10.0.0.10:6443"},
	}, {
		name: "agent initialising",
		in:   Input{Role: nodeconfig.RoleAgent, ClusterInit: true, Server: "https://s:6443", TokenFile: "t"},
		want: []string{"cluster init: only a server initialises the cluster, this node is an agent"},
	}, {
		name: "joining server without server",
		in:   Input{Role: nodeconfig.RoleServer, TokenFile: "t"},
		want: []string{"server: a joining server needs the URL of a server to join"},
	}, {
		name: "initial server with server",
		in:   Input{Role: nodeconfig.RoleServer, ClusterInit: true, Server: "https://s:6443", TokenFile: "t"},
		want: []string{"server: the initial server (cluster init) starts the cluster and joins none, but server is https://s:6443"},
	}, {
		name: "no token, bad role",
		in:   Input{Role: "worker"},
		want: []string{`role "worker": want "server" or "agent"`, "token: required (Token or TokenFile)"},
	}, {
		name: "both tokens",
		in:   Input{Role: nodeconfig.RoleServer, ClusterInit: true, Token: "x", TokenFile: "t"},
		want: []string{"token: give Token or TokenFile, not both"},
	}, {
		name: "http server, bad node IP",
		in:   Input{Role: nodeconfig.RoleAgent, Server: "http://s:6443", TokenFile: "t", NodeIP: "10.0.0.1/24"},
		want: []string{`server "http://s:6443": want an https URL`, `node IP "10.0.0.1/24": want an IP address without prefix length`},
	}, {
		name: "S3 without bucket and secret key",
		in: Input{Role: nodeconfig.RoleServer, ClusterInit: true, TokenFile: "t",
			EtcdSnapshots: &nodeconfig.EtcdSnapshots{S3: &nodeconfig.EtcdS3{Endpoint: "s3", SecretKey: true}}},
		want: []string{"etcd snapshots S3 bucket: required", "etcd snapshots S3 secret key: the node config says the image holds it"},
	}, {
		name: "secret key without S3",
		in:   Input{Role: nodeconfig.RoleServer, ClusterInit: true, TokenFile: "t", EtcdS3SecretKey: "x"},
		want: []string{"etcd S3 secret key given, but etcd snapshots go to no S3 bucket"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := Render(tc.in)
			if err == nil {
				t.Fatalf("no error; rendered:\n%s", data)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Errorf("got %d errors, want %d:\n%v", len(lines), len(tc.want), err)
			}
			for i, w := range tc.want {
				if i < len(lines) && !strings.HasPrefix(lines[i], w) {
					t.Errorf("error %d:\n got %s\nwant %s...", i, lines[i], w)
				}
			}
		})
	}
}

func TestTokenByValueIsQuotedYAML(t *testing.T) {
	// A token that YAML would read as another type must stay a string.
	data, err := Render(Input{Role: nodeconfig.RoleServer, ClusterInit: true, Token: "12345678901234567890"})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Token any `yaml:"token"`
	}
	if err := yaml.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if s, ok := got.Token.(string); !ok || s != "12345678901234567890" {
		t.Errorf("token read back as %T %v", got.Token, got.Token)
	}
}
