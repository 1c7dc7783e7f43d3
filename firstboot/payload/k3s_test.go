package payload

import "testing"

func TestK3sArchiveExtension(t *testing.T) {
	for name, want := range map[string]string{
		"k3s-airgap-images-amd64.tar.zst": ".tar.zst",
		"images.TAR.GZ":                   ".tar.gz",
		"images.tar":                      ".tar",
		"images.zst":                      "",
	} {
		if got := K3sArchiveExtension(name); got != want {
			t.Errorf("K3sArchiveExtension(%q) = %q, want %q", name, got, want)
		}
	}
}
