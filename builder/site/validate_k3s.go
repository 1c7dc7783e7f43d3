package site

import (
	"net/url"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ml-appliance/appliance/firstboot/payload"
)

// k3sVersion is a K3s release tag: the Kubernetes version plus the K3s
// build, e.g. v1.33.5+k3s1.
var k3sVersion = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+\+k3s[0-9]+$`)

func (k *K3s) validate(v *validator) {
	if !k.Enabled() {
		if v.src.has("k3s") {
			v.errorf("k3s", "give version (download a release) or binary and airgap (local files)")
		}
		return
	}
	switch {
	case k.Version != "" && k.Local():
		v.errorf("k3s.version", "give either version (download) or binary and airgap (local files), not both")
	case k.Version != "" && !k3sVersion.MatchString(k.Version):
		v.errorf("k3s.version", "invalid version %q: want a K3s release tag like v1.33.5+k3s1", k.Version)
	}
	if k.Mirror != "" {
		if k.Local() {
			v.errorf("k3s.mirror", "only with version (binary and airgap are local files)")
		} else if err := checkMirror(k.Mirror); err != "" {
			v.errorf("k3s.mirror", "%s", err)
		}
	}
	switch {
	case k.Binary != "" && k.Airgap == "":
		v.errorf("k3s.airgap", "required with binary (the release's k3s-airgap-images-amd64.tar.zst)")
	case k.Airgap != "" && k.Binary == "":
		v.errorf("k3s.binary", "required with airgap (the release's k3s binary)")
	}
	for _, f := range []struct{ path, value string }{{"k3s.binary", k.Binary}, {"k3s.airgap", k.Airgap}} {
		if IsURL(f.value) {
			v.errorf(f.path, "want a local file, not a URL (to download, give version and mirror)")
		}
	}
	if k.Airgap != "" && !IsURL(k.Airgap) && payload.K3sArchiveExtension(k.Airgap) == "" {
		v.errorf("k3s.airgap", "%s is not a name K3s imports (want one ending in %s)", filepath.Base(k.Airgap), strings.Join(payload.K3sArchiveExtensions, ", "))
	}
}

func checkMirror(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "invalid URL " + quote(s)
	case u.Scheme != "http" && u.Scheme != "https":
		return "want an http or https URL, got " + quote(s)
	case u.Host == "":
		return "invalid URL " + quote(s) + ": no host"
	case u.RawQuery != "" || u.Fragment != "":
		return "invalid URL " + quote(s) + ": a base URL has no query or fragment"
	}
	return ""
}

func quote(s string) string { return `"` + s + `"` }

// has reports whether the file has the field at path.
func (s *source) has(path string) bool {
	if s == nil {
		return false
	}
	_, ok := s.lines[path]
	return ok
}
