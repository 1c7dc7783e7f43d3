package catalog

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// fakeSnapshots writes two module snapshots: repository a.example holds
// chart parent (needing sub 1.2.x from a.example and, when other.enabled,
// other from b.example, which has no snapshot) and sub at subVersion.
func fakeSnapshots(t *testing.T, subVersion string) upstreamCharts {
	t.Helper()
	root := t.TempDir()
	write := func(path, data string) {
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a/charts/parent/Chart.yaml", `apiVersion: v2
name: parent
version: 3.0.0
dependencies:
  - name: sub
    version: "~1.2.0"
    repository: https://a.example/charts/
    condition: sub.enabled
  - name: other
    version: 2.0.0
    repository: https://b.example
    condition: other.enabled
`)
	write("a/charts/parent/values.yaml", "sub:\n  enabled: true\nother:\n  enabled: false\n")
	write("a/charts/sub/Chart.yaml", "apiVersion: v2\nname: sub\nversion: "+subVersion+"\n")
	return upstreamCharts{
		repos: []upstreamRepo{{Repo: "https://a.example/charts", Module: "example.com/a", Version: "v1.0.0", ChartsDir: "charts"}},
		dirs:  moduleDirs{"example.com/a@v1.0.0": filepath.Join(root, "a")},
	}
}

func TestUpstreamChartAssembly(t *testing.T) {
	tests := []struct {
		name       string
		subVersion string
		version    string
		values     map[string]any
		wantDeps   []string
		wantErr    string
	}{
		{name: "enabled subchart added, disabled one left out", subVersion: "1.2.7", version: "3.0.0", wantDeps: []string{"sub"}},
		{name: "subchart disabled by the values", subVersion: "1.2.7", version: "3.0.0", values: map[string]any{"sub": map[string]any{"enabled": false}}},
		{
			name: "subchart version outside the range", subVersion: "1.3.0", version: "3.0.0",
			wantErr: "chart parent 3.0.0: subchart sub ~1.2.0: the snapshot example.com/a@v1.0.0 does not have it: it has version 1.3.0, outside the range ~1.2.0",
		},
		{
			name: "enabled subchart from a repository without snapshot", subVersion: "1.2.7", version: "3.0.0",
			values:  map[string]any{"other": map[string]any{"enabled": true}},
			wantErr: "chart parent 3.0.0: subchart other 2.0.0 from https://b.example: no module snapshot of that repository in upstreamRepos",
		},
		{
			name: "snapshot holds another version than the catalog pins", subVersion: "1.2.7", version: "3.0.1",
			wantErr: "chart parent: the snapshot example.com/a@v1.0.0 has version 3.0.0, the catalog pins 3.0.1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := fakeSnapshots(t, tt.subVersion)
			ch, err := src.load("https://a.example/charts/", "parent", tt.version)
			if err == nil {
				err = src.addSubcharts(ch, tt.values)
			}
			switch {
			case tt.wantErr != "":
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v\nwant %s", err, tt.wantErr)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			var deps []string
			for _, d := range ch.Dependencies() {
				deps = append(deps, d.Name()+" "+d.Metadata.Version)
			}
			var want []string
			for _, d := range tt.wantDeps {
				want = append(want, d+" "+tt.subVersion)
			}
			if !slices.Equal(deps, want) {
				t.Errorf("subcharts %v, want %v", deps, want)
			}
		})
	}
}
