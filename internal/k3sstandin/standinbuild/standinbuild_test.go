package standinbuild

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// TestBuild builds the double with a version and with a failStart, and
// runs both: the version is what --version prints, and the failing build
// exits 1 at `k3s server` with its reason, before it reads any config.
func TestBuild(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	good, err := Build(ctx, dir, Options{Version: "v1.36.3+k3s1"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(good, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "k3s version v1.36.3+k3s1 (test double, not K3s)\n") {
		t.Errorf("%s --version: %v\n%s", good, err, out)
	}
	bad, err := Build(ctx, dir, Options{FailStart: "broken on purpose (v3)"})
	if err != nil {
		t.Fatal(err)
	}
	if bad == good {
		t.Fatalf("both builds wrote %s", bad)
	}
	out, err = exec.Command(bad, "server").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("%s server: %v, want exit status 1", bad, err)
	}
	if want := "k3s-standin: test double (not K3s): error: server refusing to start: broken on purpose (v3)\n"; string(out) != want {
		t.Errorf("%s server printed %q, want %q", bad, out, want)
	}
}

func TestOptionsGrammar(t *testing.T) {
	for _, opts := range []Options{
		{Version: "v1 -X main.failStart=x"},
		{Version: "v1'"},
		{FailStart: "it's broken"},
		{FailStart: "a\nb"},
		{Name: "../k3s"},
	} {
		if _, err := Build(context.Background(), t.TempDir(), opts); err == nil || !strings.Contains(err.Error(), "want") {
			t.Errorf("Build(%+v): %v, want a grammar error", opts, err)
		}
	}
}
