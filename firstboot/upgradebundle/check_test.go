package upgradebundle

import (
	"strings"
	"testing"
)

func TestReleaseCheck(t *testing.T) {
	hex := strings.Repeat("0f", 32)
	for _, tc := range []struct {
		name   string
		change func(r *Release)
		want   string // "" for valid
	}{
		{"valid", func(r *Release) {}, ""},
		{"no cluster, K3s or payload", func(r *Release) { r.Cluster, r.K3sVersion, r.Payload = "", "", "" }, ""},
		{"a K3s tag", func(r *Release) { r.K3sVersion = "v1.33.5+k3s1" }, ""},
		{"a Debian kernel release", func(r *Release) { r.KernelVersion = "6.12.38+deb13-cloud-amd64" }, ""},
		{"no site", func(r *Release) { r.Site = "" }, `site "": want a DNS label`},
		{"site not a DNS label", func(r *Release) { r.Site = "Lab" }, `site "Lab": want a DNS label`},
		{"site too long", func(r *Release) { r.Site = strings.Repeat("a", 64) }, "want a DNS label"},
		{"site ID not hex", func(r *Release) { r.SiteID = "lab" }, `siteID "lab": want 64 hex digits`},
		{"site ID in upper case", func(r *Release) { r.SiteID = strings.ToUpper(hex) }, "siteID"},
		{"cluster short", func(r *Release) { r.Cluster = hex[:63] }, "cluster"},
		{"cluster as a K10 token", func(r *Release) { r.Cluster = "K10" + hex }, "cluster"},
		{"K3s version with a space", func(r *Release) { r.K3sVersion = "v1.33.5 k3s1" }, "k3sVersion"},
		{"K3s version with a slash", func(r *Release) { r.K3sVersion = "../v1" }, "k3sVersion"},
		{"no kernel version", func(r *Release) { r.KernelVersion = "" }, "kernelVersion"},
		{"kernel version with a newline", func(r *Release) { r.KernelVersion = "6.1.0\n" }, "kernelVersion"},
		{"kernel version too long", func(r *Release) { r.KernelVersion = strings.Repeat("6", 129) }, "kernelVersion"},
		{"payload without its algorithm", func(r *Release) { r.Payload = hex }, "payload"},
		{"payload of sha512", func(r *Release) { r.Payload = "sha512:" + hex }, "payload"},
		{"no version", func(r *Release) { r.Version = "" }, `release: version ""`},
		{"version not semver", func(r *Release) { r.Version = "2024-06" }, `release: version "2024-06"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testManifest().Release
			tc.change(&r)
			wantError(t, "Check", r.Check(), tc.want)
		})
	}
}

func TestManifestCheck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(m *Manifest)
		want   string
	}{
		{"valid", func(m *Manifest) {}, ""},
		{"no cmdline", func(m *Manifest) { m.Cmdline = nil }, ""},
		{"a payload digest without the file (the node has it)", func(m *Manifest) { m.Payload = nil }, ""},
		{"format 0", func(m *Manifest) { m.Format = 0 }, "format 0"},
		{"a bad release", func(m *Manifest) { m.Release.Site = "" }, "bundle manifest: release: site"},
		{"a cmdline argument with a quote", func(m *Manifest) { m.Cmdline = []string{`a="b c"`} }, "bundle manifest: cmdline: argument 1"},
		{"a cmdline argument with a newline", func(m *Manifest) { m.Cmdline = []string{"quiet\ninit=/bin/sh"} }, "bundle manifest: cmdline: argument 1"},
		{"the OS image under another name", func(m *Manifest) { m.OSImage.Name = "os.img" }, `file "os.img": want "os.squashfs"`},
		{"the kernel as a path", func(m *Manifest) { m.Kernel.Name = "/boot/vmlinuz" }, `file "/boot/vmlinuz": want "vmlinuz"`},
		{"the initrd as the kernel", func(m *Manifest) { m.Initrd.Name = KernelFile }, `file "vmlinuz": want "initrd.img"`},
		{"the payload under another name", func(m *Manifest) { m.Payload.Name = "images.tar" }, `want "payload.tar"`},
		{"an empty kernel", func(m *Manifest) { m.Kernel.Size = 0 }, "vmlinuz: size 0"},
		{"a negative size", func(m *Manifest) { m.OSImage.Size = -1 }, "os.squashfs: size -1"},
		{"a short sha256", func(m *Manifest) { m.Initrd.SHA256 = "abc" }, `initrd.img: sha256 "abc"`},
		{"a sha256 with its algorithm", func(m *Manifest) { m.Payload.SHA256 = "sha256:" + m.Payload.SHA256[7:] }, "payload.tar: sha256"},
		{"a payload file without the release's digest", func(m *Manifest) { m.Release.Payload = "" }, "a payload file but no release.payload digest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := testManifest()
			tc.change(&m)
			wantError(t, "Check", m.Check(), tc.want)
		})
	}
}

func TestAccept(t *testing.T) {
	running := testManifest().Release // lab 1.2.0
	for _, tc := range []struct {
		name      string
		change    func(r *Release)
		downgrade bool
		want      string
	}{
		{"a newer version", func(r *Release) { r.Version = "1.3.0" }, false, ""},
		{"the same version again", func(r *Release) {}, false, ""},
		{"a newer K3s, kernel and payload", func(r *Release) {
			r.Version, r.K3sVersion, r.KernelVersion, r.Payload = "2.0.0", "v1.37.0+k3s1", "6.12.0-1-amd64", "sha256:"+strings.Repeat("12", 32)
		}, false, ""},
		{"another site", func(r *Release) { r.Site, r.SiteID = "lab2", SiteID("lab2") }, false,
			"the bundle is for site lab2 (ID " + SiteID("lab2")[:12] + "…), this node runs site lab (ID " + SiteID("lab")[:12] + "…)"},
		{"another seed under the same name", func(r *Release) { r.SiteID = SiteID("other seed") }, false, "the bundle is for site lab (ID"},
		{"another site even with --allow-downgrade", func(r *Release) { r.SiteID = SiteID("x") }, true, "the bundle is for site"},
		{"another cluster", func(r *Release) { r.Cluster = strings.Repeat("d1", 32) }, false,
			"the bundle is for another cluster (CA hash d1d1d1d1d1d1…, this node's c0c0c0c0c0c0…)"},
		{"a cluster where the node has none", func(r *Release) { r.Cluster = "" }, false, "the bundle is for another cluster"},
		{"an older version", func(r *Release) { r.Version = "1.1.9" }, false,
			"the bundle's release 1.1.9 is older than the running 1.2.0: pass --allow-downgrade to go back"},
		{"a pre-release of the running version", func(r *Release) { r.Version = "1.2.0-rc.1" }, false, "older than the running 1.2.0"},
		{"an older version with --allow-downgrade", func(r *Release) { r.Version = "0.0.0" }, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := testManifest()
			tc.change(&m.Release)
			wantError(t, "Accept", m.Accept(running, tc.downgrade), tc.want)
		})
	}
}

// wantError fails t unless err is nil for want "", or else holds want.
func wantError(t *testing.T, what string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: %v", what, err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("%s: %v, want an error containing %q", what, err, want)
	}
}
