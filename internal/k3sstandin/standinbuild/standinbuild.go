// Package standinbuild builds the K3s test double (internal/k3sstandin, a
// TEST DOUBLE, not K3s) for the VM tests, with the values it takes at
// build time: the version it reports and, for a build whose upgrade must
// fail its boot check, the reason every start of it fails.
//
//	bin, err := standinbuild.Build(ctx, dir, standinbuild.Options{Version: "v1.36.3+k3s1"})
//	bad, err := standinbuild.Build(ctx, dir, standinbuild.Options{FailStart: "broken on purpose (v3)"})
package standinbuild

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"

	"github.com/ml-appliance/appliance/internal/testassets"
)

// Options are the double's build-time values.
type Options struct {
	// Version is main.version: what `k3s --version`, the console line and
	// the Node it serves report; "" keeps the double's default.
	Version string
	// FailStart is main.failStart: when set, every `k3s server|agent`
	// prints it and exits 1.
	FailStart string
	// Name is the binary's file name in the directory; "" is
	// "k3s-standin", or "k3s-standin-failing" with FailStart.
	Name string
}

// Grammars of the values, so each stays one -X argument of -ldflags
// (which the go command splits at spaces, honouring single quotes).
var (
	versionRule   = regexp.MustCompile(`^[A-Za-z0-9._+~-]{1,64}$`)
	failStartRule = regexp.MustCompile(`^[A-Za-z0-9 ._+~:,()/=-]{1,200}$`)
	nameRule      = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
)

// Build builds the double into dir and returns the binary's path.
func Build(ctx context.Context, dir string, opts Options) (string, error) {
	name := opts.Name
	if name == "" {
		name = "k3s-standin"
		if opts.FailStart != "" {
			name += "-failing"
		}
	}
	if !nameRule.MatchString(name) {
		return "", fmt.Errorf("k3s stand-in: name %q: want letters, digits and . _ -", name)
	}
	flags, err := ldflags(opts)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, name)
	c := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", flags, "-o", bin, "./internal/k3sstandin")
	c.Dir = testassets.RepoRoot()
	c.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := c.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build k3s stand-in: %w\n%s", err, out)
	}
	return bin, nil
}

// ldflags is the -ldflags value setting opts's values.
func ldflags(opts Options) (string, error) {
	flags := "-s -w"
	if opts.Version != "" {
		if !versionRule.MatchString(opts.Version) {
			return "", fmt.Errorf("k3s stand-in: version %q: want letters, digits and . _ + ~ -", opts.Version)
		}
		flags += " -X main.version=" + opts.Version
	}
	if opts.FailStart != "" {
		if !failStartRule.MatchString(opts.FailStart) {
			return "", fmt.Errorf("k3s stand-in: failStart %q: want letters, digits, spaces and . _ + ~ : , ( ) / = -", opts.FailStart)
		}
		flags += " '-X=main.failStart=" + opts.FailStart + "'"
	}
	return flags, nil
}
