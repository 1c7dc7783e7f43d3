package site

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// withCluster is valid with lines added to its cluster section, from line 11.
func withCluster(lines ...string) string {
	return valid + "  " + strings.Join(lines, "\n  ") + "\n"
}

func TestClusterDefaults(t *testing.T) {
	s := checkLoad(t, valid, "", nil)
	if s == nil {
		t.Fatal("no Site")
	}
	c := s.Cluster
	got := []any{c.Token, c.CA, c.Server, c.TLSSAN, c.EtcdSnapshots, c.Network.IsZero()}
	want := []any{Token(TokenGenerate), CAGenerate, "", []string(nil),
		EtcdSnapshots{Schedule: "0 */6 * * *", Retention: 5}, true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("single node defaults:\n got %v\nwant %v", got, want)
	}

	for _, tc := range []struct{ init, server, host string }{
		{"10.0.0.10/24", "https://10.0.0.10:6443", "10.0.0.10"},
		{"fd00::10/64", "https://[fd00::10]:6443", "fd00::10"},
	} {
		s = checkLoad(t, withNodes("{hostname: a, role: server, init: true, address: "+tc.init+"}", "{hostname: b}"), "", nil)
		if s == nil {
			t.Fatal("no Site")
		}
		// withNodes gives a server for two nodes: take it out again.
		s.Cluster.Server, s.Cluster.TLSSAN = "", nil
		s.SetDefaults()
		if s.Cluster.Server != tc.server || !reflect.DeepEqual(s.Cluster.TLSSAN, []string{tc.host}) {
			t.Errorf("init at %s: server %q tlsSAN %q, want %q [%s]", tc.init, s.Cluster.Server, s.Cluster.TLSSAN, tc.server, tc.host)
		}
	}

	// An explicit server's host joins the SANs once, after the operator's.
	s = checkLoad(t, withCluster("server: https://ctrl.lab.internal:6443", "tlsSAN: [10.0.0.5]"), "", nil)
	if s == nil || !reflect.DeepEqual(s.Cluster.TLSSAN, []string{"10.0.0.5", "ctrl.lab.internal"}) {
		t.Errorf("tlsSAN = %q", s.Cluster.TLSSAN)
	}
	s = checkLoad(t, withCluster("server: https://ctrl.lab.internal:6443", "tlsSAN: [ctrl.lab.internal]"), "", nil)
	if s == nil || !reflect.DeepEqual(s.Cluster.TLSSAN, []string{"ctrl.lab.internal"}) {
		t.Errorf("tlsSAN = %q", s.Cluster.TLSSAN)
	}
}

func TestClusterValidate(t *testing.T) {
	dir := t.TempDir()
	secret := writeFile(t, dir, "s3-secret", "abc\n")
	twoLines := writeFile(t, dir, "two-lines", "abc\ndef\n")
	notPEM := writeFile(t, dir, "ca.txt", "not a certificate")
	for _, tc := range []struct {
		name, data, want string
		warnings         []string
	}{{
		name: "all new fields, valid",
		data: strings.Replace(withCluster(
			"token: 0123456789abcdef-literal",
			"ca: none",
			"server: https://ctrl.internal:6443",
			"tlsSAN: [ctrl.internal, '*.apps.internal', 10.0.0.5, 'fd00::5']",
			"disable: [traefik, servicelb]",
			"secretsEncryption: true",
			"network: {gateway: 10.0.0.1, dns: [10.0.0.1, 'fd00::1'], ntp: [ntp.internal, 10.0.0.1]}",
			"etcdSnapshots:",
			"  schedule: '@every 4h'",
			"  retention: 12",
			"  s3: {endpoint: 'minio.internal:9000', bucket: etcd-snap, folder: lab/etcd, region: eu-1, insecure: true, accessKey: backup, secretKeyFile: "+secret+"}",
		), "init: true}", "init: true, address: 10.0.0.10/24}", 1),
	}, {
		name: "token too short, unknown ca",
		data: withCluster("token: short-secret", "ca: custom"),
		want: "site.yaml:11: cluster.token: the token has 12 characters; want at least 16 (or use generate, or file:PATH)\n" +
			`site.yaml:12: cluster.ca: unsupported "custom" (want generate or none)`,
	}, {
		name: "token forms K3s would misread",
		data: withCluster("token: K10abcdef0123456789::server:x"),
		want: "site.yaml:11: cluster.token: the token starts with K10, which K3s reads as a full join token; give the secret alone (or use generate, or file:PATH)",
	}, {
		name: "token with a space",
		data: withCluster("token: 'two words of secret text'"),
		want: "site.yaml:11: cluster.token: the token holds white space or control characters; want one word (or use generate, or file:PATH)",
	}, {
		name: "token file missing, empty file: prefix",
		data: withCluster("token: file:missing-token"),
		want: "site.yaml:11: cluster.token: token file " + filepath.Join(mustAbs(t, "."), "missing-token") + ": no such file or directory",
	}, {
		name: "server problems",
		data: withCluster("server: http://10.0.0.10:6443"),
		want: `site.yaml:11: cluster.server: want an https URL like https://10.0.0.10:6443, got "http://10.0.0.10:6443" (K3s joins over https only)`,
	}, {
		name: "server with a path",
		data: withCluster("server: https://10.0.0.10:6443/k3s"),
		want: `site.yaml:11: cluster.server: want https://HOST[:PORT] alone, got "https://10.0.0.10:6443/k3s"`,
	}, {
		name:     "server required without init node",
		data:     strings.Replace(withNodes("{hostname: a, role: server}", "{hostname: b, role: server}"), "  server: https://10.0.0.10:6443\n", "", 1),
		want:     "site.yaml:8: cluster.server: required with more than one node: the https URL joining nodes dial, like https://10.0.0.10:6443 (no node has init: true to take it from)",
		warnings: []string{noInit, "site.yaml:9: cluster.nodes: 2 servers: etcd needs a majority, so an even count tolerates no more failures than one server fewer; use an odd number"},
	}, {
		name: "tlsSAN and disable",
		data: withCluster("tlsSAN: [a.internal, 'bad name', A.internal, 10.0.0.1, 10.00.0.1]", "disable: [traefik, trafik, traefik]"),
		want: `site.yaml:11: cluster.tlsSAN[1]: invalid name "bad name": want a DNS name (letters, digits, '-' and '.', optionally starting with *.) or an IP address` + "\n" +
			`site.yaml:11: cluster.tlsSAN[2]: duplicate "A.internal" (also cluster.tlsSAN[0])` + "\n" +
			`site.yaml:11: cluster.tlsSAN[4]: invalid name "10.00.0.1": want a DNS name (letters, digits, '-' and '.', optionally starting with *.) or an IP address` + "\n" +
			`site.yaml:12: cluster.disable[1]: unknown K3s component "trafik" (want one of coredns, servicelb, traefik, local-storage, metrics-server, runtimes, snapshot-controller)` + "\n" +
			`site.yaml:12: cluster.disable[2]: duplicate "traefik" (also cluster.disable[0])`,
	}, {
		name: "network",
		data: strings.Replace(withNodes("{hostname: a, role: server, init: true, address: 10.0.0.10/24}", "{hostname: b, address: 10.1.0.11/24}", "{hostname: c, address: 'fd00::12/64'}"), "cluster:\n",
			"cluster:\n  network: {gateway: 10.0.0.1, dns: [dns.internal], ntp: ['bad ntp']}\n", 1),
		want: `site.yaml:9: cluster.network.dns[0]: invalid address "dns.internal": want a name server's IP address` + "\n" +
			`site.yaml:9: cluster.network.ntp[0]: invalid server "bad ntp": want a host name or an IP address` + "\n" +
			"site.yaml:12: cluster.nodes[1].address: 10.1.0.11/24 does not contain the gateway 10.0.0.1 (cluster.network.gateway): the node could not reach it",
	}, {
		name:     "network without static addresses",
		data:     withCluster("network: {gateway: 10.0.0.1}"),
		warnings: []string{"site.yaml:11: cluster.network: no node has a static address: nodes on DHCP take gateway, DNS and NTP servers from it, so this section is unused"},
	}, {
		name: "serials, labels, taints",
		data: withNodes(
			`{hostname: a, role: server, init: true, serial: CZ12345, labels: [gpu=a100, "node.kubernetes.io/pool=gpu", "node-role.kubernetes.io/worker=true", novalue, "Bad_Key!=x", gpu=h100], taints: ["gpu=a100:NoSchedule", "k:Sometimes", "nocolon", "gpu=x:NoSchedule"]}`,
			`{hostname: b, serial: cz12345}`,
			`{hostname: c, serial: "To Be Filled By O.E.M."}`,
			`{hostname: d, serial: "000000000000"}`,
		),
		want: `site.yaml:10: cluster.nodes[0].labels[2]: the kubelet refuses to set "node-role.kubernetes.io/worker" on its own node: only node.kubernetes.io/, kubelet.kubernetes.io/ and a few well-known keys are allowed in the kubernetes.io and k8s.io namespaces (node-role.kubernetes.io is set through the API)` + "\n" +
			`site.yaml:10: cluster.nodes[0].labels[3]: "novalue": want key=value` + "\n" +
			`site.yaml:10: cluster.nodes[0].labels[4]: invalid label key "Bad_Key!": want at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit (after an optional DNS prefix and '/')` + "\n" +
			`site.yaml:10: cluster.nodes[0].labels[5]: label "gpu" given twice (also cluster.nodes[0].labels[0])` + "\n" +
			`site.yaml:10: cluster.nodes[0].taints[1]: unknown effect "Sometimes" (want NoSchedule, PreferNoSchedule, NoExecute)` + "\n" +
			`site.yaml:10: cluster.nodes[0].taints[2]: "nocolon": want key[=value]:Effect, like gpu=true:NoSchedule` + "\n" +
			`site.yaml:10: cluster.nodes[0].taints[3]: taint gpu:NoSchedule given twice (also cluster.nodes[0].taints[0])` + "\n" +
			`site.yaml:11: cluster.nodes[1].serial: duplicate serial "cz12345" (also cluster.nodes[0].serial)` + "\n" +
			`site.yaml:12: cluster.nodes[2].serial: "To Be Filled By O.E.M." is a placeholder firmware puts where no serial was set: it does not tell machines apart (match by mac instead)` + "\n" +
			`site.yaml:13: cluster.nodes[3].serial: "000000000000" is a placeholder firmware puts where no serial was set: it does not tell machines apart (match by mac instead)`,
	}, {
		name: "etcd snapshots",
		data: withCluster(
			"etcdSnapshots:",
			"  schedule: '0 */6 * *'",
			"  retention: 0",
			"  s3: {endpoint: 'https://minio:9000', bucket: Etcd_Snaps, folder: /lab/, region: EU, accessKey: backup}",
		),
		want: `site.yaml:12: cluster.etcdSnapshots.schedule: invalid cron spec "0 */6 * *": 4 fields; want 5: minute hour day-of-month month day-of-week` + "\n" +
			"site.yaml:13: cluster.etcdSnapshots.retention: 0: want a whole number of at least 1\n" +
			`site.yaml:14: cluster.etcdSnapshots.s3.endpoint: want HOST[:PORT] without scheme, got "https://minio:9000" (insecure: true selects http)` + "\n" +
			`site.yaml:14: cluster.etcdSnapshots.s3.bucket: invalid bucket name "Etcd_Snaps": want 3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit` + "\n" +
			`site.yaml:14: cluster.etcdSnapshots.s3.folder: "/lab/": want a prefix without leading or trailing '/'` + "\n" +
			`site.yaml:14: cluster.etcdSnapshots.s3.region: invalid region "EU": want lowercase letters, digits and '-'` + "\n" +
			"site.yaml:14: cluster.etcdSnapshots.s3.secretKeyFile: required with accessKey: a file holding the S3 secret key",
	}, {
		name: "etcd S3 files",
		data: withCluster("etcdSnapshots:", "  s3:", "    endpoint: minio:99999", "    accessKey: backup", "    secretKeyFile: "+twoLines, "    endpointCA: "+notPEM),
		want: "site.yaml:12: cluster.etcdSnapshots.s3.bucket: required\n" +
			`site.yaml:13: cluster.etcdSnapshots.s3.endpoint: invalid endpoint "minio:99999": want HOST[:PORT]` + "\n" +
			"site.yaml:15: cluster.etcdSnapshots.s3.secretKeyFile: " + twoLines + " holds more than one line; want the secret key alone\n" +
			"site.yaml:16: cluster.etcdSnapshots.s3.endpointCA: " + notPEM + " holds no PEM certificate",
	}, {
		name: "s3 without fields",
		data: withCluster("etcdSnapshots: {s3: }"),
		want: "site.yaml:11: cluster.etcdSnapshots.s3.endpoint: required: HOST[:PORT] of the S3 service\n" +
			"site.yaml:11: cluster.etcdSnapshots.s3.bucket: required",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			checkLoad(t, tc.data, tc.want, tc.warnings)
		})
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestCron(t *testing.T) {
	for spec, want := range map[string]string{
		"0 */6 * * *":                     "",
		"30 2 * * mon-fri":                "",
		"0 0 1,15 jan,jul ?":              "",
		"*/15 0-23/2 * * SUN":             "",
		"CRON_TZ=Europe/Berlin 0 3 * * *": "",
		"@daily":                          "",
		"@every 90m":                      "",
		"@every never":                    "@every wants a positive duration like 4h or 30m",
		"@fortnightly":                    "unknown descriptor (want @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly or @every DURATION)",
		"60 * * * *":                      `minute "60": 60 is outside 0-59`,
		"0 12-6 * * *":                    `hour "12-6": range ends before it starts`,
		"0 0 0 * *":                       `day of month "0": 0 is outside 1-31`,
		"0 0 * * 7":                       `day of week "7": 7 is outside 0-6`,
		"0 0 * foo *":                     `month "foo": not a number`,
		"*/0 * * * *":                     `minute "*/0": step wants a whole number of at least 1`,
		"0 0 * * * *":                     "6 fields; want 5: minute hour day-of-month month day-of-week",
	} {
		if got := checkCron(spec); got != want {
			t.Errorf("checkCron(%q) = %q, want %q", spec, got, want)
		}
	}
}

func TestTokenIsNeverPrinted(t *testing.T) {
	const literal = "abcdefgh-SECRET-0123"
	s := checkLoad(t, withCluster("token: "+literal), "", nil)
	if s == nil {
		t.Fatal("no Site")
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(format, s.Cluster); strings.Contains(out, "SECRET") {
			t.Errorf("%s of the cluster section prints the token: %s", format, out)
		}
	}
	if got, err := s.Cluster.Token.Secret(); err != nil || got != literal {
		t.Errorf("Secret() = %q, %v", got, err)
	}
	if src := s.Cluster.Token.Source(); src != "literal" {
		t.Errorf("Source() = %q", src)
	}

	// A token of the wrong type is reported without its value.
	for _, bad := range []string{"token: 1234567890123456789", "token: [SECRETSECRETSECRET]"} {
		_, _, err := load("site.yaml", []byte(withCluster(bad)))
		if err == nil || strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "1234567890") {
			t.Errorf("%s: error %v (want one that does not quote the value)", bad, err)
		}
	}
	_, _, err := load("site.yaml", []byte(withCluster("token: SECRET-short")))
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("short literal: error %v", err)
	}
}

func TestTokenFile(t *testing.T) {
	root := t.TempDir()
	writeFile(t, root, "secrets/token", "  0123456789abcdef0123456789abcdef\n")
	cfg := writeFile(t, root, "configs/site.yaml", withCluster("token: file:../secrets/token"))
	s, _, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Cluster.Token.File(); got != filepath.Join(root, "secrets/token") {
		t.Errorf("File() = %q", got)
	}
	if got, err := s.Cluster.Token.Secret(); err != nil || got != "0123456789abcdef0123456789abcdef" {
		t.Errorf("Secret() = %q, %v", got, err)
	}

	if err := os.WriteFile(filepath.Join(root, "secrets/token"), []byte("SECRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = Load(cfg)
	want := cfg + ":11: cluster.token: the token in " + filepath.Join(root, "secrets/token") + " has 6 characters; want at least 16"
	if err == nil || err.Error() != want {
		t.Errorf("Load error:\n got %v\nwant %s", err, want)
	}
}
