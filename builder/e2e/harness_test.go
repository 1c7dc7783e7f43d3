package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ml-appliance/appliance/builder/cli"
	"github.com/ml-appliance/appliance/internal/testassets"
)

// sourceDateEpoch is fixed so builds in different tests compare equal.
const sourceDateEpoch = "1764000000"

var (
	agentOnce sync.Once
	agentDir  string
	agentErr  error
)

// agentBinaries builds firstboot and appliance-init once per test binary,
// the way `make build` does (static, -trimpath).
func agentBinaries(t *testing.T) string {
	t.Helper()
	agentOnce.Do(func() {
		agentDir, agentErr = os.MkdirTemp("", "e2e-agent-")
		if agentErr != nil {
			return
		}
		for _, cmd := range []string{"firstboot", "appliance-init"} {
			c := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -buildid=",
				"-o", filepath.Join(agentDir, cmd), "./firstboot/cmd/"+cmd)
			c.Dir = testassets.RepoRoot()
			c.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := c.CombinedOutput(); err != nil {
				agentErr = &buildError{cmd: cmd, out: string(out), err: err}
				return
			}
		}
	})
	if agentErr != nil {
		t.Fatal(agentErr)
	}
	return agentDir
}

type buildError struct {
	cmd, out string
	err      error
}

func (e *buildError) Error() string { return "go build " + e.cmd + ": " + e.err.Error() + "\n" + e.out }

// siteConfig writes a copy of configs/<name> into dir with its relative
// paths made absolute and edit applied to the decoded document.
func siteConfig(t *testing.T, dir, name string, edit func(doc map[string]any)) string {
	t.Helper()
	src := filepath.Join(testassets.RepoRoot(), "configs", name)
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	osSec := doc["os"].(map[string]any)
	base := osSec["base"].(map[string]any)
	base["rootfs"] = testassets.Path(t, testassets.BaseTar)
	var overlays []any
	for _, o := range osSec["overlays"].([]any) {
		overlays = append(overlays, filepath.Join(filepath.Dir(src), o.(string)))
	}
	osSec["overlays"] = overlays
	if edit != nil {
		edit(doc)
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// withCloudKernel boots Debian's cloud kernel: same base, faster under TCG.
func withCloudKernel(t *testing.T) func(map[string]any) {
	deb := testassets.Path(t, testassets.CloudKernelDeb)
	return func(doc map[string]any) {
		doc["os"].(map[string]any)["kernel"] = map[string]any{"deb": deb}
	}
}

// runBuilder runs the builder CLI in-process and returns stdout, stderr.
func runBuilder(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := cli.New()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return stdout.String(), stderr.String(), err
}

// build builds config into out, logs how long it took, and fails t on
// error.
func build(t *testing.T, config, out string) {
	t.Helper()
	start := time.Now()
	// The epoch is a flag, not $SOURCE_DATE_EPOCH: tests run in parallel
	// and share the process environment.
	stdout, stderr, err := runBuilder(t, "build", "--config", config, "--output", out,
		"--agent-dir", agentBinaries(t), "--cache", filepath.Join(out, "..", "cache"),
		"--source-date-epoch", sourceDateEpoch)
	if err != nil {
		t.Fatalf("builder build: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	t.Logf("build %s: %.1fs", filepath.Base(config), time.Since(start).Seconds())
}

// run runs a host tool and fails t with its output on error.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
