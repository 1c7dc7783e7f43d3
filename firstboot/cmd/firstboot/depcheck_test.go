package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the node binaries small: they must not import the
// builder, Helm or go-containerregistry (like go-containerregistry's
// cmd/crane/depcheck_test.go, with `go list -deps`).
func TestDependencies(t *testing.T) {
	forbidden := []string{
		"github.com/ml-appliance/appliance/builder",
		"helm.sh/",
		"github.com/google/go-containerregistry",
	}
	for _, pkg := range []string{
		"github.com/ml-appliance/appliance/firstboot/cmd/firstboot",
		"github.com/ml-appliance/appliance/firstboot/cmd/appliance-init",
	} {
		t.Run(pkg[strings.LastIndex(pkg, "/")+1:], func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", pkg).Output()
			if err != nil {
				stderr := ""
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = string(ee.Stderr)
				}
				t.Fatalf("go list -deps %s: %v\n%s", pkg, err, stderr)
			}
			deps := strings.Fields(string(out))
			if len(deps) < 10 || deps[len(deps)-1] != pkg {
				t.Fatalf("go list -deps %s listed %d packages ending in %q; want the package's dependencies, then itself", pkg, len(deps), deps[len(deps)-1])
			}
			for _, dep := range deps {
				for _, bad := range forbidden {
					if dep == bad || strings.HasPrefix(dep, strings.TrimSuffix(bad, "/")+"/") {
						t.Errorf("%s depends on %s", pkg, dep)
					}
				}
			}
		})
	}
}
