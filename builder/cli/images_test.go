package cli

import "testing"

func TestSameImage(t *testing.T) {
	for _, tc := range []struct {
		ref, asked string
		want       bool
	}{
		{"docker.io/library/nginx:1.27.0", "docker.io/library/nginx:1.27.0", true},
		{"docker.io/library/nginx:1.27.0", "nginx:1.27.0", true},
		{"docker.io/library/nginx:1.27.0", "nginx", true},
		{"docker.io/library/nginx:1.27.0", "docker.io/library/nginx", true},
		{"docker.io/library/nginx:1.27.0", "nginx:1.25", false},
		{"quay.io/minio/minio:RELEASE.2024-12-18T13-15-44Z", "quay.io/minio/minio", true},
		{"quay.io/minio/minio:RELEASE.2024-12-18T13-15-44Z", "minio/minio", false},
		{"ghcr.io/a/b@sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "ghcr.io/a/b", true},
	} {
		if got := sameImage(tc.ref, tc.asked); got != tc.want {
			t.Errorf("sameImage(%q, %q) = %v, want %v", tc.ref, tc.asked, got, tc.want)
		}
	}
}
