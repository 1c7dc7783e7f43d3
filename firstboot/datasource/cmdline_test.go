package datasource

import (
	"strings"
	"testing"
)

// parsed is cmdlineArgs flattened for comparison.
type parsed struct {
	noCloudArg, seedFrom, hostname, instanceID string
	configArg, config, sha256, otherDS         string
}

func flatten(a cmdlineArgs) parsed {
	var p parsed
	if nc := a.noCloud; nc != nil {
		p.noCloudArg, p.hostname, p.instanceID = nc.arg, nc.hostname, nc.instanceID
		if nc.seedFrom != nil {
			p.seedFrom = nc.seedFrom.String()
		}
	}
	if c := a.config; c != nil {
		p.configArg, p.config, p.sha256 = c.arg, c.location.String(), c.sha256
	}
	p.otherDS = a.otherDS
	return p
}

const digest = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

func TestParseCmdline(t *testing.T) {
	for _, tc := range []struct {
		cmdline string
		want    parsed
	}{
		{"", parsed{}},
		{"ro quiet ds=nocloud", parsed{}},
		{"ds=nocloud;s=http://10.0.0.1/seed/ ro",
			parsed{noCloudArg: "ds=nocloud;s=http://10.0.0.1/seed/", seedFrom: "http://10.0.0.1/seed/"}},
		{"ds=nocloud-net;s=http://10.0.0.1:8000",
			parsed{noCloudArg: "ds=nocloud-net;s=http://10.0.0.1:8000", seedFrom: "http://10.0.0.1:8000/"}},
		{"ds=nocloud;seedfrom=https://boot.lab/a/b",
			parsed{noCloudArg: "ds=nocloud;seedfrom=https://boot.lab/a/b", seedFrom: "https://boot.lab/a/b/"}},
		{"ds=nocloud;s=file:///var/seed", parsed{noCloudArg: "ds=nocloud;s=file:///var/seed", seedFrom: "file:///var/seed/"}},
		{"ds=nocloud;s=/var/seed/", parsed{noCloudArg: "ds=nocloud;s=/var/seed/", seedFrom: "file:///var/seed/"}},
		{"ds=nocloud;h=node-1;i=iid-9;", parsed{noCloudArg: "ds=nocloud;h=node-1;i=iid-9;", hostname: "node-1", instanceID: "iid-9"}},
		{"ds=nocloud;local-hostname=n2;instance-id=i2;seedfrom=/s",
			parsed{noCloudArg: "ds=nocloud;local-hostname=n2;instance-id=i2;seedfrom=/s", seedFrom: "file:///s/", hostname: "n2", instanceID: "i2"}},
		{`"ds=nocloud;h=quoted"`, parsed{noCloudArg: "ds=nocloud;h=quoted", hostname: "quoted"}},
		{"ds=openstack", parsed{otherDS: "openstack"}},
		{"ds=nocloudy;s=/x", parsed{otherDS: "nocloudy;s=/x"}},
		{"firstboot.config=/etc/x.yaml", parsed{configArg: "firstboot.config=/etc/x.yaml", config: "file:///etc/x.yaml"}},
		{"firstboot.config=https://boot.lab/c.yaml?node=7 firstboot.config.sha256=" + strings.ToUpper(digest),
			parsed{configArg: "firstboot.config=https://boot.lab/c.yaml?node=7", config: "https://boot.lab/c.yaml?node=7", sha256: digest}},
		{"appliance.os.base=http://10.0.0.10:8080/pxe/boot.ipxe firstboot.config=nodes/agent.yaml",
			parsed{configArg: "firstboot.config=nodes/agent.yaml (http://10.0.0.10:8080/pxe/nodes/agent.yaml)", config: "http://10.0.0.10:8080/pxe/nodes/agent.yaml"}},
		{"appliance.os.base=http://h/boot.ipxe firstboot.config=/etc/c.yaml",
			parsed{configArg: "firstboot.config=/etc/c.yaml", config: "file:///etc/c.yaml"}},
		{"ds=nocloud;s=http://h/ firstboot.config=file:///c.yaml",
			parsed{noCloudArg: "ds=nocloud;s=http://h/", seedFrom: "http://h/", configArg: "firstboot.config=file:///c.yaml", config: "file:///c.yaml"}},
	} {
		args, err := parseCmdline(tc.cmdline)
		if err != nil {
			t.Errorf("parseCmdline(%q): %v", tc.cmdline, err)
			continue
		}
		if got := flatten(args); got != tc.want {
			t.Errorf("parseCmdline(%q) =\n%+v\nwant\n%+v", tc.cmdline, got, tc.want)
		}
	}
}

func TestParseCmdlineErrors(t *testing.T) {
	for _, tc := range []struct{ cmdline, err string }{
		{"ds=nocloud;s", `kernel command line ds=nocloud;s: "s": want key=value`},
		{"ds=nocloud;x=1", `kernel command line ds=nocloud;x=1: unknown key "x" (known: h, i, s and their long forms local-hostname, instance-id, seedfrom)`},
		{"ds=nocloud;s=http://a/;seedfrom=http://b/", `kernel command line ds=nocloud;s=http://a/;seedfrom=http://b/: seedfrom given twice`},
		{"ds=nocloud;h=", `kernel command line ds=nocloud;h=: h: empty value`},
		{"ds=nocloud;s=ftp://h/", `kernel command line ds=nocloud;s=ftp://h/: s: "ftp://h/": unsupported scheme "ftp" (want http, https, file or an absolute path)`},
		{"ds=nocloud;s=seed/", `kernel command line ds=nocloud;s=seed/: s: "seed/": want an http://, https:// or file:// URL or an absolute path`},
		{"ds=nocloud;s=http:///x", `kernel command line ds=nocloud;s=http:///x: s: "http:///x" has no host`},
		{"ds=nocloud;s=http://h/x?a=1", `kernel command line ds=nocloud;s=http://h/x?a=1: s: "http://h/x?a=1": a seed directory URL takes no query or fragment`},
		{"ds=nocloud;s=file://h/x", `kernel command line ds=nocloud;s=file://h/x: s: "file://h/x": want file:///absolute/path (a file on this node)`},
		{"firstboot.config", `kernel command line firstboot.config=: empty value`},
		{"firstboot.config.sha256=" + digest, `kernel command line has firstboot.config.sha256= but no firstboot.config=`},
		{"firstboot.config=/x firstboot.config.sha256=abc", `kernel command line firstboot.config.sha256=abc: want 64 hex digits`},
		{"firstboot.config=/x firstboot.config.sha256=" + digest[:63] + "g", `kernel command line firstboot.config.sha256=` + digest[:63] + `g: want 64 hex digits`},
		{"firstboot.config=http://h/%zz", `kernel command line firstboot.config=http://h/%zz: "http://h/%zz": invalid URL escape "%zz"`},
		{"firstboot.config=nodes/agent.yaml", `kernel command line firstboot.config=nodes/agent.yaml: "nodes/agent.yaml": want an http://, https:// or file:// URL or an absolute path`},
		{"appliance.os.base=tftp://h/boot.ipxe firstboot.config=nodes/agent.yaml", `kernel command line firstboot.config=nodes/agent.yaml: "nodes/agent.yaml" is relative, and appliance.os.base=tftp://h/boot.ipxe is not an http(s) URL to resolve it against`},
		{"firstboot.config=file:///c?x", `kernel command line firstboot.config=file:///c?x: "file:///c?x": a file URL takes no query or fragment`},
	} {
		_, err := parseCmdline(tc.cmdline)
		if err == nil || err.Error() != tc.err {
			t.Errorf("parseCmdline(%q) err =\n%v\nwant\n%s", tc.cmdline, err, tc.err)
		}
	}
}
