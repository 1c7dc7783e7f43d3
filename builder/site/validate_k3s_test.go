package site

import (
	"path/filepath"
	"strings"
	"testing"
)

// withK3s is valid with a k3s section of the given lines (indented by 2);
// its first line is line 11.
func withK3s(lines ...string) string {
	return valid + "k3s:\n  " + strings.Join(lines, "\n  ") + "\n"
}

func TestValidateK3s(t *testing.T) {
	for _, tc := range []struct{ name, data, want string }{{
		name: "version",
		data: withK3s("version: v1.33.5+k3s1"),
	}, {
		name: "version and mirror",
		data: withK3s("version: v1.33.5+k3s1", "mirror: http://mirror.internal/k3s/"),
	}, {
		name: "local files",
		data: withK3s("binary: bin/k3s", "airgap: bin/k3s-airgap-images-amd64.tar.zst"),
	}, {
		name: "empty section",
		data: valid + "k3s: {}\n",
		want: "site.yaml:11: k3s: give version (download a release) or binary and airgap (local files)",
	}, {
		name: "bad versions",
		data: withK3s("version: 1.33.5+k3s1"),
		want: `site.yaml:12: k3s.version: invalid version "1.33.5+k3s1": want a K3s release tag like v1.33.5+k3s1`,
	}, {
		name: "version without the k3s build",
		data: withK3s("version: v1.33.5"),
		want: `site.yaml:12: k3s.version: invalid version "v1.33.5": want a K3s release tag like v1.33.5+k3s1`,
	}, {
		name: "binary without airgap",
		data: withK3s("binary: bin/k3s"),
		want: "site.yaml:11: k3s.airgap: required with binary (the release's k3s-airgap-images-amd64.tar.zst)",
	}, {
		name: "airgap without binary",
		data: withK3s("airgap: images.tar"),
		want: "site.yaml:11: k3s.binary: required with airgap (the release's k3s binary)",
	}, {
		name: "version plus local files",
		data: withK3s("version: v1.33.5+k3s1", "binary: bin/k3s", "airgap: images.tar.zst"),
		want: "site.yaml:12: k3s.version: give either version (download) or binary and airgap (local files), not both",
	}, {
		name: "mirror not http(s)",
		data: withK3s("version: v1.33.5+k3s1", "mirror: ftp://mirror.internal/k3s"),
		want: `site.yaml:13: k3s.mirror: want an http or https URL, got "ftp://mirror.internal/k3s"`,
	}, {
		name: "mirror without host",
		data: withK3s("version: v1.33.5+k3s1", "mirror: https:///k3s"),
		want: `site.yaml:13: k3s.mirror: invalid URL "https:///k3s": no host`,
	}, {
		name: "mirror with a query",
		data: withK3s("version: v1.33.5+k3s1", "mirror: https://m.internal/k3s?x=1"),
		want: `site.yaml:13: k3s.mirror: invalid URL "https://m.internal/k3s?x=1": a base URL has no query or fragment`,
	}, {
		name: "mirror with local files",
		data: withK3s("binary: k3s", "airgap: images.tar", "mirror: https://mirror.internal/k3s"),
		want: "site.yaml:14: k3s.mirror: only with version (binary and airgap are local files)",
	}, {
		name: "local files given as URLs",
		data: withK3s("binary: https://x/k3s", "airgap: https://x/images.tar"),
		want: "site.yaml:12: k3s.binary: want a local file, not a URL (to download, give version and mirror)\nsite.yaml:13: k3s.airgap: want a local file, not a URL (to download, give version and mirror)",
	}, {
		name: "airgap with a name K3s skips",
		data: withK3s("binary: k3s", "airgap: images.img"),
		want: "site.yaml:13: k3s.airgap: images.img is not a name K3s imports (want one ending in .tar, .tar.gz, .tgz, .tar.zst, .tzst, .tar.lz4, .tar.bz2, .tbz)",
	}, {
		name: "unknown key",
		data: withK3s("version: v1.33.5+k3s1", "channel: stable"),
		want: "site.yaml:13: k3s.channel: unknown field",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			checkLoad(t, tc.data, tc.want, nil)
		})
	}
}

func TestK3sDefaultsAndPaths(t *testing.T) {
	s := checkLoad(t, withK3s("version: v1.33.5+k3s1"), "", nil)
	if s.K3s.Mirror != DefaultK3sMirror {
		t.Errorf("mirror = %q, want %q", s.K3s.Mirror, DefaultK3sMirror)
	}
	s = checkLoad(t, withK3s("version: v1.33.5+k3s1", "mirror: https://m.internal/k3s//"), "", nil)
	if s.K3s.Mirror != "https://m.internal/k3s" {
		t.Errorf("mirror = %q, want the trailing slashes trimmed", s.K3s.Mirror)
	}
	s = checkLoad(t, withK3s("binary: bin/k3s", "airgap: /abs/images.tar"), "", nil)
	if want := filepath.Join(s.Dir, "bin/k3s"); s.K3s.Binary != want {
		t.Errorf("binary = %q, want %q", s.K3s.Binary, want)
	}
	if s.K3s.Airgap != "/abs/images.tar" || s.K3s.Mirror != "" {
		t.Errorf("airgap = %q, mirror = %q; want /abs/images.tar and no mirror", s.K3s.Airgap, s.K3s.Mirror)
	}
	s = checkLoad(t, valid, "", nil)
	if s.K3s.Enabled() {
		t.Errorf("a site without k3s has K3s enabled: %+v", s.K3s)
	}
}
