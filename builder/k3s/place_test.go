package k3s

import (
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/builder/rootfs"
	"github.com/ml-appliance/appliance/firstboot/payload"
)

// placed places a local stand-in release (test doubles for the binary and
// archive) in an empty tree.
func placed(t *testing.T) (*rootfs.Tree, Release) {
	t.Helper()
	dir := t.TempDir()
	bin, airgap := filepath.Join(dir, "k3s"), filepath.Join(dir, "airgap.tar.zst")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho 'k3s test double'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(airgap, airgapDouble(t), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := cache.New(cache.Options{Dir: filepath.Join(dir, "cache")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.File(bin)
	a, _ := c.File(airgap)
	rel := Release{Binary: b, Airgap: a, AirgapName: AirgapAsset}
	tree := rootfs.New(rootfs.Options{TempDir: dir})
	t.Cleanup(func() { tree.Close() })
	if err := Place(tree, rel); err != nil {
		t.Fatal(err)
	}
	return tree, rel
}

func TestPlaceEntries(t *testing.T) {
	tree, rel := placed(t)
	got := map[string]string{}
	err := fs.WalkDir(tree, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := tree.Lstat(p)
		if err != nil {
			return err
		}
		desc := fi.Mode().String()
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, err := tree.ReadLink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		} else {
			data, err := fs.ReadFile(tree, p)
			if err != nil {
				return err
			}
			desc += " sha256:" + hexSum(data)
		}
		got[p] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	empty := " sha256:" + hexSum(nil)
	want := map[string]string{
		"usr/local/bin/k3s":     "-rwxr-xr-x " + rel.Binary.Digest().String(),
		"usr/local/bin/kubectl": "Lrwxrwxrwx -> k3s",
		"usr/local/bin/crictl":  "Lrwxrwxrwx -> k3s",
		"usr/local/bin/ctr":     "Lrwxrwxrwx -> k3s",
		"usr/lib/appliance/k3s/images/k3s-airgap-images-amd64.tar.zst": "-rw-r--r-- " + rel.Airgap.Digest().String(),
		"usr/lib/appliance/k3s/images/images.sha256":                   "-rw-r--r-- sha256:" + hexSum([]byte(hexSum(airgapDouble(t))+"  k3s-airgap-images-amd64.tar.zst\n")),
		"etc/systemd/system/k3s.service":                               "-rw-r--r-- sha256:" + hexSum(unit(ServerService, "server")),
		"etc/systemd/system/k3s-agent.service":                         "-rw-r--r-- sha256:" + hexSum(unit(AgentService, "agent")),
		"etc/systemd/system/k3s.service.env":                           "-rw-------" + empty,
		"etc/systemd/system/k3s-agent.service.env":                     "-rw-------" + empty,
	}
	if !reflect.DeepEqual(got, want) {
		for p, w := range want {
			if got[p] != w {
				t.Errorf("%s: got %q, want %q", p, got[p], w)
			}
		}
		for p, g := range got {
			if _, ok := want[p]; !ok {
				t.Errorf("unexpected entry %s: %s", p, g)
			}
		}
	}
	// No unit is enabled: nothing links to them from a .wants directory.
	if _, err := tree.Lstat("etc/systemd/system/multi-user.target.wants"); err == nil {
		t.Errorf("Place enabled a unit (multi-user.target.wants exists)")
	}
}

// installScriptUnit is the unit K3s's install.sh (create_systemd_service_file,
// k3s-io/k3s commit 0136cf25) writes for a unit named name running
// `k3s cmd` with no extra arguments and SYSTEMD_TYPE=notify, as the shell
// expands it, one string per line. It is written out here, not read from a
// copy of the script, so a change on either side shows up as a diff.
func installScriptUnit(_ *testing.T, name, cmd string) []string {
	return []string{
		"[Unit]",
		"Description=Lightweight Kubernetes",
		"Documentation=https://k3s.io",
		"Wants=network-online.target",
		"After=network-online.target",
		"",
		"[Install]",
		"WantedBy=multi-user.target",
		"",
		"[Service]",
		"Type=notify",
		"EnvironmentFile=-/etc/default/%N",
		"EnvironmentFile=-/etc/sysconfig/%N",
		"EnvironmentFile=-/etc/systemd/system/" + name + ".env",
		"KillMode=process",
		"Delegate=yes",
		"User=root",
		"# Having non-zero Limit*s causes performance problems due to accounting overhead",
		"# in the kernel. We recommend using cgroups to do container-local accounting.",
		"LimitNOFILE=1048576",
		"LimitNPROC=infinity",
		"LimitCORE=infinity",
		"TasksMax=infinity",
		"TimeoutStartSec=0",
		"Restart=always",
		"RestartSec=5s",
		"ExecStartPre=-/sbin/modprobe br_netfilter",
		"ExecStartPre=-/sbin/modprobe overlay",
		`ExecStart=/usr/local/bin/k3s \`,
		"    " + cmd + ` \`,
		"", // the heredoc ends with an empty line
		"",
	}
}

// builderLines are the lines Place adds to install.sh's unit, after
// After=network-online.target.
var builderLines = []string{
	"# Added by the appliance builder: firstboot configures the node (role,",
	"# token, config.yaml) and enables this unit; K3s must never start on a node",
	"# firstboot has not configured, or a server would found a cluster of its own.",
	"After=firstboot.service",
	"Requires=firstboot.service",
}

func TestUnitsMatchInstallScript(t *testing.T) {
	tree, _ := placed(t)
	for _, tc := range []struct{ name, cmd string }{{ServerService, "server"}, {AgentService, "agent"}} {
		t.Run(tc.name, func(t *testing.T) {
			want := installScriptUnit(t, tc.name, tc.cmd)
			at := 5 // after "After=network-online.target"
			if want[at-1] != "After=network-online.target" {
				t.Fatalf("install.sh unit line %d is %q", at, want[at-1])
			}
			want = append(want[:at], append(append([]string(nil), builderLines...), want[at:]...)...)
			data, err := fs.ReadFile(tree, "etc/systemd/system/"+tc.name)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Split(string(data), "\n")
			for i := 0; i < max(len(got), len(want)); i++ {
				var g, w string
				if i < len(got) {
					g = got[i]
				}
				if i < len(want) {
					w = want[i]
				}
				if g != w || i >= len(got) || i >= len(want) {
					t.Errorf("line %d:\n got: %q\nwant: %q", i+1, g, w)
				}
			}
		})
	}
	// Spot-check the expansion itself, so a wrong expansion cannot make the
	// comparison above pass vacuously.
	data, _ := fs.ReadFile(tree, "etc/systemd/system/k3s-agent.service")
	for _, line := range []string{"Type=notify", "EnvironmentFile=-/etc/systemd/system/k3s-agent.service.env", "ExecStart=/usr/local/bin/k3s \\", "    agent \\", "KillMode=process", "Delegate=yes", "LimitNOFILE=1048576", "ExecStartPre=-/sbin/modprobe br_netfilter"} {
		if !strings.Contains(string(data), "\n"+line+"\n") {
			t.Errorf("k3s-agent.service has no line %q", line)
		}
	}
}

// TestPlacePaths ties the tree paths to the firstboot contract, which names
// them as absolute paths of the node.
func TestPlacePaths(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{"/" + ArchiveDir, payload.K3sImagesDir},
		{"/" + Manifest, payload.K3sImagesManifest},
		{"/" + ImagesDir, payload.K3sAgentImagesDir},
	} {
		if c.got != c.want {
			t.Errorf("tree path %s, contract path %s", c.got, c.want)
		}
	}
}

func TestPlaceNotImportable(t *testing.T) {
	_, rel := placed(t)
	rel.AirgapName = "k3s-airgap-images-amd64.zip"
	tree := rootfs.New(rootfs.Options{TempDir: t.TempDir()})
	defer tree.Close()
	err := Place(tree, rel)
	want := "place k3s: airgap archive name k3s-airgap-images-amd64.zip is not a name K3s imports (want one ending in .tar, .tar.gz, .tgz, .tar.zst, .tzst, .tar.lz4, .tar.bz2, .tbz)"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %s", err, want)
	}
	if tree.Len() != 0 {
		t.Errorf("a failed Place left %d entries", tree.Len())
	}
}

func TestPlaceIncompleteRelease(t *testing.T) {
	tree := rootfs.New(rootfs.Options{TempDir: t.TempDir()})
	defer tree.Close()
	err := Place(tree, Release{AirgapName: AirgapAsset})
	if want := "place k3s: incomplete release (binary, airgap archive and its name are required)"; err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %s", err, want)
	}
	if tree.Len() != 0 {
		t.Errorf("a failed Place left %d entries", tree.Len())
	}
}
