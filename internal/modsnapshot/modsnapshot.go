// Package modsnapshot gets snapshots of upstream Git repositories for tests
// through the Go module proxy, which serves any public repository at a
// commit or tag as a module, go.mod or not. Tests check what the builder
// assumes about upstream projects (chart values, the API groups K3s's
// bundled charts serve) against those snapshots instead of against
// copies kept in this repository.
package modsnapshot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Dirs maps "module@version" to its directory in the module cache.
type Dirs map[string]string

// Download runs one `go mod download -json` for modules ("path@version"),
// from a temporary directory with a throwaway go.mod so the repository's
// go.mod is untouched. The module cache is reused, so a warm run makes no
// network request. Any module that cannot be downloaded fails t.
func Download(t testing.TB, modules ...string) Dirs {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to download upstream snapshots: %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module upstreamsnapshots\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"mod", "download", "-json"}, modules...)
	cmd := exec.Command(goTool, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	dirs, err := Parse(&stdout)
	if err != nil || runErr != nil {
		t.Fatalf("go %s (in %s): %v\n%s", strings.Join(args, " "), dir, errors.Join(runErr, err), stderr.String())
	}
	return dirs
}

// Parse reads the JSON stream `go mod download -json` prints, failing on
// any module it could not download.
func Parse(r io.Reader) (Dirs, error) {
	dirs := Dirs{}
	dec := json.NewDecoder(r)
	var errs []error
	for dec.More() {
		var m struct{ Path, Version, Dir, Error string }
		if err := dec.Decode(&m); err != nil {
			return nil, fmt.Errorf("read go mod download output: %w", err)
		}
		if m.Error != "" || m.Dir == "" {
			errs = append(errs, fmt.Errorf("module %s@%s: %s", m.Path, m.Version, m.Error))
			continue
		}
		dirs[m.Path+"@"+m.Version] = m.Dir
	}
	return dirs, errors.Join(errs...)
}
