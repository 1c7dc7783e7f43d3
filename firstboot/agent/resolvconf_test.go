package agent

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestResolvConfFromInventory boots the initial server of a site whose
// inventory gives it a static address, on a base without
// systemd-resolved: /etc/resolv.conf gets cluster.network's name server.
func TestResolvConfFromInventory(t *testing.T) {
	root := newRoot(t, fixture{config: clusterConfig(), nics: map[string]string{"eth0": "52:54:00:00:00:01"}})
	withK3s(t, root)
	var out bytes.Buffer
	printed := runBoot(t, newTestEnv(root, &out, testClock))
	if want := "firstboot: resolv-conf: /etc/resolv.conf: name servers 10.0.0.1 from inventory entry ctrl-1 (no systemd-resolved in this base OS)\n"; !strings.Contains(printed, want) {
		t.Errorf("output lacks %q:\n%s", want, printed)
	}
	if got := snapshot(t, root)["etc/resolv.conf"]; got != "-rw-r--r-- "+resolvConfHeader+"nameserver 10.0.0.1\n" {
		t.Errorf("etc/resolv.conf = %q", got)
	}
}

func TestResolvConf(t *testing.T) {
	seedNet := "version: 2\nethernets:\n  eth0:\n    dhcp4: true\n    nameservers:\n      addresses: [192.0.2.53, 2001:db8::53, 192.0.2.54, 192.0.2.55]\n      search: [lab.internal]\n"
	tests := []struct {
		name string
		// setup prepares root and env; the env has no network-config
		// and no inventory entry unless setup gives them.
		setup    func(t *testing.T, root string, env *Env)
		want     string // the file, "" for none, "LINK" for the stub link
		wantLine string
	}{
		{"systemd-resolved", func(t *testing.T, root string, env *Env) {
			linkStub(t, root)
		}, "LINK", "resolv-conf: systemd-resolved (/etc/resolv.conf -> ../run/systemd/resolve/stub-resolv.conf) takes the name servers of DHCP and of the network config from systemd-networkd"},
		{"network-config name servers", func(t *testing.T, root string, env *Env) {
			doc, _, err := parseNetwork("NoCloud seed network-config", []byte(seedNet))
			if err != nil {
				t.Fatal(err)
			}
			env.network = doc
		}, resolvConfHeader + "nameserver 192.0.2.53\nnameserver 2001:db8::53\nnameserver 192.0.2.54\nsearch lab.internal\n",
			"resolv-conf: /etc/resolv.conf: name servers 192.0.2.53 2001:db8::53 192.0.2.54 from NoCloud seed network-config (no systemd-resolved in this base OS)"},
		{"DHCP only: none, and a stale one removed", func(t *testing.T, root string, env *Env) {
			writeTestFile(t, root, "/etc/resolv.conf", resolvConfHeader+"nameserver 192.0.2.99\n")
		}, "", "resolv-conf: warning: no systemd-resolved in this base OS and no name server in the network config: the node has no resolver (a DHCP lease's name servers are used only through systemd-resolved)"},
		{"the image's own file", func(t *testing.T, root string, env *Env) {
			writeTestFile(t, root, "/etc/resolv.conf", "nameserver 192.0.2.1\n")
		}, "nameserver 192.0.2.1\n", "resolv-conf: /etc/resolv.conf is the image's; left as it is"},
		{"a FIFO is not read", func(t *testing.T, root string, env *Env) {
			if err := syscall.Mkfifo(filepath.Join(root, "etc/resolv.conf"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "FIFO", "resolv-conf: /etc/resolv.conf is the image's; left as it is"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			env := newTestEnv(root, &out, testClock)
			tc.setup(t, root, env)
			if err := resolvConf(context.Background(), env); err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(out.String()); !strings.HasSuffix(got, "firstboot: "+tc.wantLine) {
				t.Errorf("printed %q, want a last line %q", got, tc.wantLine)
			}
			p := filepath.Join(root, "etc/resolv.conf")
			fi, err := os.Lstat(p)
			switch {
			case tc.want == "":
				if err == nil {
					t.Errorf("etc/resolv.conf is there, want none")
				}
			case tc.want == "LINK":
				if target, _ := os.Readlink(p); target != "../run/systemd/resolve/stub-resolv.conf" {
					t.Errorf("etc/resolv.conf -> %q", target)
				}
			case tc.want == "FIFO":
				if err != nil || fi.Mode().Type() != os.ModeNamedPipe {
					t.Errorf("etc/resolv.conf: %v %v, want the FIFO left", fi, err)
				}
			default:
				if data, _ := os.ReadFile(p); string(data) != tc.want {
					t.Errorf("etc/resolv.conf = %q, want %q", data, tc.want)
				}
			}
		})
	}
}

func linkStub(t *testing.T, root string) {
	t.Helper()
	if err := os.Symlink("../run/systemd/resolve/stub-resolv.conf", filepath.Join(root, "etc/resolv.conf")); err != nil {
		t.Fatal(err)
	}
}
