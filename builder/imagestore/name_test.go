package imagestore

import "testing"

func TestContainerdName(t *testing.T) {
	const d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct{ ref, want, err string }{
		{ref: "nginx", want: "docker.io/library/nginx:latest"},
		{ref: "nginx:1.25.4", want: "docker.io/library/nginx:1.25.4"},
		{ref: "docker.io/nginx:1.25.4", want: "docker.io/library/nginx:1.25.4"},
		{ref: "index.docker.io/nginx:1.25.4", want: "docker.io/library/nginx:1.25.4"},
		{ref: "index.docker.io/library/nginx:1.25.4", want: "docker.io/library/nginx:1.25.4"},
		{ref: "docker.io/library/nginx:1.25.4", want: "docker.io/library/nginx:1.25.4"},
		{ref: "bitnami/redis:7.2", want: "docker.io/bitnami/redis:7.2"},
		{ref: "docker.io/jupyterhub/k8s-hub:3.3.7", want: "docker.io/jupyterhub/k8s-hub:3.3.7"},
		{ref: "quay.io/x/y:t", want: "quay.io/x/y:t"},
		{ref: "quay.io/y", want: "quay.io/y:latest"},
		{ref: "ghcr.io/argoproj/argo-cd/argocd:v2.11.0", want: "ghcr.io/argoproj/argo-cd/argocd:v2.11.0"},
		{ref: "registry.k8s.io/pause:3.9", want: "registry.k8s.io/pause:3.9"},
		{ref: "localhost/app:1", want: "localhost/app:1"},
		{ref: "localhost:5000/app:1", want: "localhost:5000/app:1"},
		{ref: "127.0.0.1:43211/team/app", want: "127.0.0.1:43211/team/app:latest"},
		{ref: "mirror.local:5000/library/nginx:1", want: "mirror.local:5000/library/nginx:1"},
		{ref: "mirror.local:5000/nginx:1", want: "mirror.local:5000/nginx:1"},
		{ref: "nginx@" + d, want: "docker.io/library/nginx@" + d},
		{ref: "nginx:1.25.4@" + d, want: "docker.io/library/nginx@" + d},
		{ref: "quay.io/x/y:t@" + d, want: "quay.io/x/y@" + d},
		{ref: "127.0.0.1:5000/a/b@" + d, want: "127.0.0.1:5000/a/b@" + d},
		{ref: "Nginx:1", err: `image name "Nginx:1": could not parse reference: Nginx:1`},
		{ref: "nginx@sha256:abc", err: `image name "nginx@sha256:abc": could not parse reference: nginx@sha256:abc`},
	} {
		got, err := ContainerdName(tc.ref)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ContainerdName(%q) error = %v, want %s", tc.ref, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ContainerdName(%q) = %q, %v; want %q", tc.ref, got, err, tc.want)
		}
	}
}
