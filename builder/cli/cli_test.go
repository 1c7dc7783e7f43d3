package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func execute(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := New()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return stdout.String(), stderr.String(), err
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "site.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const badConfig = `apiVersion: appliance/v1alpha1
kind: Site
metadata:
  name: lab
os:
  base:
    rootfs: base.tar
  kernal: {}
outputs:
  raw: {size: 12 parsecs}
`

func TestValidateReportsEveryProblemWithFileAndLineAndExits2(t *testing.T) {
	config := writeConfig(t, badConfig)
	_, _, err := execute(t, "validate", "--config", config)
	if err == nil {
		t.Fatal("validate accepted a bad config")
	}
	if code := ExitCode(err); code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
	msg := err.Error()
	for _, want := range []string{
		config + `:8: os.kernal: unknown field (did you mean "kernel"?)`,
		config + ":10: outputs.raw.size: ",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Index(msg, ":8:") > strings.Index(msg, ":10:") {
		t.Errorf("problems not in file order:\n%s", msg)
	}
}

func TestBuildWithBadConfigWritesNothing(t *testing.T) {
	config := writeConfig(t, badConfig)
	out := filepath.Join(t.TempDir(), "out")
	_, _, err := execute(t, "build", "--config", config, "--output", out)
	if ExitCode(err) != 2 {
		t.Fatalf("want a config error (exit 2), got %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a build of a bad config created %s", out)
	}
}

func TestBuildFailureLeavesNoArtifact(t *testing.T) {
	dir := t.TempDir()
	// A valid config whose base tarball is not a tarball: the build fails
	// after it has started writing.
	if err := os.WriteFile(filepath.Join(dir, "base.tar"), []byte("not a tar"), 0o644); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "site.yaml")
	text := strings.Replace(badConfig, "  kernal: {}\n", "", 1)
	text = strings.Replace(text, "12 parsecs", "4GiB", 1)
	if err := os.WriteFile(config, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	cache := filepath.Join(dir, "new", "cache")
	_, _, err := execute(t, "build", "--config", config, "--output", out, "--cache", cache, "--agent-dir", dir)
	if err == nil {
		t.Fatal("build of a broken base succeeded")
	}
	if code := ExitCode(err); code != 1 {
		t.Errorf("exit code %d, want 1 for a build failure", code)
	}
	if !strings.Contains(err.Error(), "base OS") {
		t.Errorf("build failed for another reason than the broken base: %v", err)
	}
	// The build created the output and cache directories (and new/), and
	// stored nothing in the cache: it leaves none of them behind.
	for _, p := range []string{out, filepath.Dir(cache)} {
		if _, serr := os.Stat(p); !os.IsNotExist(serr) {
			t.Errorf("failed build left %s (error was: %v)", p, err)
		}
	}
}

func TestBuildRejectsBadSourceDateEpoch(t *testing.T) {
	config := writeConfig(t, badConfig)
	_, _, err := execute(t, "build", "--config", config, "--source-date-epoch", "yesterday")
	if err == nil || ExitCode(err) != 2 || !strings.Contains(err.Error(), `"yesterday" is not a non-negative Unix time`) {
		t.Fatalf("got %v", err)
	}
}

func TestMissingConfigFlagIsUsageError(t *testing.T) {
	for _, verb := range []string{"validate", "build"} {
		_, _, err := execute(t, verb)
		if err == nil || ExitCode(err) != 2 || !strings.Contains(err.Error(), "--config is required") {
			t.Errorf("%s without --config: %v", verb, err)
		}
	}
}

func TestValidateAcceptsExampleConfig(t *testing.T) {
	stdout, _, err := execute(t, "validate", "--config", filepath.Join("..", "..", "configs", "single-node.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, `site "single-node" is valid`) {
		t.Errorf("stdout: %q", stdout)
	}
}
