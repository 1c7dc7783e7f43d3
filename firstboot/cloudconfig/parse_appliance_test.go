package cloudconfig

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

const testToken = "K10abc123::server:s3cr3t-t0ken"

func TestParseAppliance(t *testing.T) {
	runParseCases(t, []parseCase{
		{
			name: "everything",
			doc: `appliance:
  role: server
  cluster_init: true
  server: https://10.0.0.1:6443
  token: ` + testToken + `
  node_labels: [gpu=true, example.com/zone=a, empty=]
  node_taints: ["gpu=true:NoSchedule", "dedicated:NoExecute"]
  node_ip: 2001:DB8::1
`,
			want: Config{Appliance: Appliance{
				Role: "server", ClusterInit: true, Server: "https://10.0.0.1:6443", Token: testToken,
				NodeLabels: []string{"gpu=true", "example.com/zone=a", "empty="},
				NodeTaints: []string{"gpu=true:NoSchedule", "dedicated:NoExecute"},
				NodeIP:     "2001:db8::1",
				Set:        keys("role", "cluster_init", "server", "token", "node_labels", "node_taints", "node_ip"),
			}, Set: keys("appliance")},
		},
		{name: "cluster_init without role", doc: "appliance: {cluster_init: true}\n", want: Config{Appliance: Appliance{ClusterInit: true, Set: keys("cluster_init")}, Set: keys("appliance")}},
		{name: "empty", doc: "appliance: {}\n", want: Config{Set: keys("appliance")}},
		{name: "bad role", doc: "appliance:\n  role: master\n", err: `seed /dev/vdb user-data line 3: appliance.role: want "server" or "agent", got "master"`},
		{name: "unknown key", doc: "appliance:\n  role: agent\n  rol: server\n", err: `seed /dev/vdb user-data line 4: appliance: unknown key "rol" (known: role, cluster_init, server, token, node_labels, node_taints, node_ip)`},
		{name: "not a mapping", doc: "appliance: agent\n", err: `seed /dev/vdb user-data line 2: appliance: want a mapping, got "agent"`},
		{name: "cluster_init on agent", doc: "appliance:\n  cluster_init: true\n  role: agent\n", err: `seed /dev/vdb user-data line 3: appliance.cluster_init: only valid with role "server", got role "agent"`},
		{name: "cluster_init maybe", doc: "appliance:\n  cluster_init: maybe\n", err: `seed /dev/vdb user-data line 3: appliance.cluster_init: want true or false, got "maybe"`},
		{name: "server http", doc: "appliance:\n  server: http://10.0.0.1:6443\n", err: `seed /dev/vdb user-data line 3: appliance.server: want an https URL such as "https://10.0.0.1:6443", got "http://10.0.0.1:6443"`},
		{name: "server no host", doc: "appliance:\n  server: 'https:///x'\n", err: `seed /dev/vdb user-data line 3: appliance.server: want an https URL such as "https://10.0.0.1:6443", got "https:///x"`},
		{name: "server with user info", doc: "appliance:\n  server: https://node:" + testToken + "@10.0.0.1:6443\n", err: "seed /dev/vdb user-data line 3: appliance.server: want an https URL without user info, got one with user info (not shown)"},
		{name: "token list", doc: "appliance:\n  token: [" + testToken + "]\n", err: "seed /dev/vdb user-data line 3: appliance.token: want a string, got a list"},
		{name: "token with blank", doc: "appliance:\n  token: '" + testToken + " x'\n", err: "seed /dev/vdb user-data line 3: appliance.token: want a non-empty token without blanks, got a value that is not one (not shown)"},
		{name: "node_ip bad", doc: "appliance:\n  node_ip: 10.0.0.256\n", err: `seed /dev/vdb user-data line 3: appliance.node_ip: want an IP address, got "10.0.0.256"`},
		{name: "node_ip zone", doc: "appliance:\n  node_ip: fe80::1%eth0\n", err: `seed /dev/vdb user-data line 3: appliance.node_ip: want an IP address, got "fe80::1%eth0"`},
	})
}

func TestApplianceValidate(t *testing.T) {
	for _, tc := range []struct {
		a   Appliance
		err string
	}{
		{Appliance{}, ""},
		{Appliance{Role: "server", ClusterInit: true}, ""},
		{Appliance{Role: "agent"}, ""},
		{Appliance{ClusterInit: true}, `appliance.cluster_init: only valid with role "server", got role ""`},
		{Appliance{Role: "agent", ClusterInit: true}, `appliance.cluster_init: only valid with role "server", got role "agent"`},
	} {
		err := tc.a.Validate()
		if (err == nil) != (tc.err == "") || err != nil && err.Error() != tc.err {
			t.Errorf("%+v: err = %v, want %q", tc.a, err, tc.err)
		}
	}
}

// The token never shows: not through any fmt verb on the Config, not in a
// warning or an error.
func TestTokenRedacted(t *testing.T) {
	doc := "#cloud-config\nappliance:\n  role: agent\n  token: " + testToken + "\n  server: https://10.0.0.1:6443\nusers:\n  - name: a\n    hashed_passwd: '" + testHash + "'\n"
	cfg, warnings, err := Parse(testSource, []byte(doc))
	if err != nil || warnings != nil {
		t.Fatalf("Parse: %v, warnings %q", err, warnings)
	}
	if cfg.Appliance.Token.Reveal() != testToken || cfg.Users[0].HashedPasswd.Reveal() != testHash {
		t.Fatalf("Reveal = %q, %q", cfg.Appliance.Token.Reveal(), cfg.Users[0].HashedPasswd.Reveal())
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		for _, v := range []any{cfg, &cfg, cfg.Appliance, cfg.Appliance.Token, cfg.Users} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, "s3cr3t") || strings.Contains(out, "h4sh") || strings.Contains(out, fmt.Sprintf("%x", testToken)) {
				t.Errorf("fmt %s of %T shows a secret: %s", verb, v, out)
			}
		}
	}
	if got := fmt.Sprintf("%+v", cfg.Appliance); !strings.Contains(got, "Token:(redacted)") {
		t.Errorf("%%+v = %s, want Token:(redacted)", got)
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(js), "s3cr3t") || strings.Contains(string(js), "h4sh") || !strings.Contains(string(js), `"Token":"(redacted)"`) {
		t.Errorf("JSON shows a secret or no redaction: %s", js)
	}
}

// TestApplianceNodeLabelsSameVerdictAsBuilder runs the table of
// firstboot/nodelabels/testdata/cases.json, which the builder's site check
// runs too: the same items get the same verdict and words. The parser
// stops at the first problem.
func TestApplianceNodeLabelsSameVerdictAsBuilder(t *testing.T) {
	data, err := os.ReadFile("../nodelabels/testdata/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name, Kind string
		Items      []string
		Want       []struct {
			Index   int
			Message string
		}
	}
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			key := map[string]string{"labels": "node_labels", "taints": "node_taints"}[tc.Kind]
			doc := "#cloud-config\nappliance:\n  " + key + ":\n"
			for _, it := range tc.Items {
				doc += "    - " + strconv.Quote(it) + "\n"
			}
			got, _, err := Parse(testSource, []byte(doc))
			if len(tc.Want) == 0 {
				list := got.Appliance.NodeLabels
				if tc.Kind == "taints" {
					list = got.Appliance.NodeTaints
				}
				if err != nil || strings.Join(list, "\n") != strings.Join(tc.Items, "\n") {
					t.Errorf("Parse: %q, %v; want %q", list, err, tc.Items)
				}
				return
			}
			w := tc.Want[0]
			path := func(i int) string { return fmt.Sprintf("appliance.%s[%d]", key, i) }
			msg := w.Message
			for i := range tc.Items {
				msg = strings.ReplaceAll(msg, "ITEM"+strconv.Itoa(i), path(i))
			}
			want := fmt.Sprintf("%s line %d: %s: %s", testSource, 4+w.Index, path(w.Index), msg)
			if err == nil || err.Error() != want {
				t.Errorf("err = %v\nwant %s", err, want)
			}
		})
	}
}
