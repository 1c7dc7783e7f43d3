package site

import (
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
)

// withVersion is valid with metadata.version given as the YAML value v
// (on line 5).
func withVersion(v string) string {
	return strings.Replace(valid, "  name: lab\n", "  name: lab\n  version: "+v+"\n", 1)
}

func TestMetadataVersion(t *testing.T) {
	if s := checkLoad(t, valid, "", nil); s.Metadata.Version != upgradebundle.DefaultVersion {
		t.Errorf("default version %q, want %q", s.Metadata.Version, upgradebundle.DefaultVersion)
	}
	for _, v := range []string{"1.4.0", "2.0.0-rc.1", `"3.1.4"`} {
		s := checkLoad(t, withVersion(v), "", nil)
		if want := strings.Trim(v, `"`); s != nil && s.Metadata.Version != want {
			t.Errorf("version %s decoded as %q", v, s.Metadata.Version)
		}
	}
	const rule = "want MAJOR.MINOR.PATCH with an optional -PRERELEASE (Semantic Versioning), e.g. 1.4.0 or 2.0.0-rc.1"
	for _, tc := range []struct{ v, want string }{
		{`"1.4"`, `site.yaml:5: metadata.version: version "1.4": ` + rule},
		{"1.4", `site.yaml:5: metadata.version: expected a string, got number 1.4`},
		{"v1.4.0", `site.yaml:5: metadata.version: version "v1.4.0": ` + rule},
		{`"1.4.0 ; reboot"`, `site.yaml:5: metadata.version: version "1.4.0 ; reboot": ` + rule},
		{"1.0.0+build.7", `site.yaml:5: metadata.version: version "1.0.0+build.7": ` + rule},
		{"1.0.0-rc.01", `site.yaml:5: metadata.version: version "1.0.0-rc.01": pre-release identifier "01" has a leading zero (Semantic Versioning)`},
		{"2", `site.yaml:5: metadata.version: expected a string, got integer 2`},
	} {
		t.Run(tc.v, func(t *testing.T) { checkLoad(t, withVersion(tc.v), tc.want, nil) })
	}
}
