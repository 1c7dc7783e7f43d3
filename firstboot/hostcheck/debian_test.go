package hostcheck

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/internal/testassets"
)

// TestDebianKernels checks the kernels the appliance boots against every
// kernel option the check wants, from the kernels' own config files and
// module trees: Debian's cloud kernel (the VM tests boot it, without its
// config file in the image) and the base OS's linux-image-amd64 (bare
// metal boots it, with /boot/config-<release>). So the VM test's "no
// kernel config file" run is known to stand for a kernel that has the
// options it cannot see. Needs out/testassets (`make testassets`).
func TestDebianKernels(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the Debian kernel packages in out/testassets")
	}
	for _, kernel := range []struct {
		name    string
		extract func(t *testing.T, dir string)
	}{
		{"linux-image-cloud-amd64 (VM tests)", func(t *testing.T, dir string) {
			runTool(t, "dpkg-deb", "-x", testassets.Path(t, testassets.CloudKernelDeb), dir)
		}},
		{"linux-image-amd64 (base OS, bare metal)", func(t *testing.T, dir string) {
			runTool(t, "tar", "-xf", testassets.Path(t, testassets.BaseTar), "-C", dir, "--wildcards",
				"./boot/config-*", "./usr/lib/modules/*/modules.dep", "./usr/lib/modules/*/modules.builtin")
		}},
	} {
		t.Run(kernel.name, func(t *testing.T) {
			pkg := t.TempDir()
			kernel.extract(t, pkg)
			configs, _ := filepath.Glob(filepath.Join(pkg, "boot/config-*"))
			if len(configs) != 1 {
				t.Fatalf("kernel configs %v, want one", configs)
			}
			release := strings.TrimPrefix(filepath.Base(configs[0]), "config-")
			root := liveRoot(t)
			writeFile(t, root, "proc/sys/kernel/osrelease", release+"\n")
			writeFile(t, root, "proc/modules", "")
			writeFile(t, root, "boot/config-"+release, readTestFile(t, configs[0]))
			remove(t, root, "lib/modules")
			modDir := "lib/modules/" + release
			writeFile(t, root, modDir+"/modules.dep", modulesDepOf(t, pkg, release))
			writeFile(t, root, modDir+"/modules.builtin", readModuleFile(t, pkg, release, "modules.builtin"))

			var slept time.Duration
			rep := run(t, options(root, startSiteDNS(t), &slept))
			if len(rep.Unchecked) != 0 || rep.KernelConfig != "/boot/config-"+release {
				t.Errorf("config not read: %+v", rep)
			}
			n := 0
			for _, r := range rep.Results {
				if r.Kernel {
					n++
					if !r.OK {
						t.Errorf("%s %s", release, r.Line())
					}
				}
			}
			t.Logf("%s: %d kernel options checked against /boot/config-%s", kernel.name, n, release)
		})
	}
}

// modulesDepOf is the kernel's modules.dep, or one made from its module
// files when the package has none (Debian's .deb leaves it to depmod).
func modulesDepOf(t *testing.T, pkg, release string) string {
	if dep := readModuleFile(t, pkg, release, "modules.dep"); dep != "" {
		return dep
	}
	var b strings.Builder
	for _, dir := range []string{"lib/modules", "usr/lib/modules"} {
		base := filepath.Join(pkg, dir, release)
		filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
			if err == nil && koName(p) != "" {
				rel, _ := filepath.Rel(base, p)
				b.WriteString(rel + ":\n")
			}
			return nil
		})
	}
	if b.Len() == 0 {
		t.Fatalf("no modules for %s in the package", release)
	}
	return b.String()
}

// readModuleFile reads a file of the kernel's modules directory, "" when
// the package has none.
func readModuleFile(t *testing.T, pkg, release, name string) string {
	for _, dir := range []string{"lib/modules", "usr/lib/modules"} {
		if data, err := os.ReadFile(filepath.Join(pkg, dir, release, name)); err == nil {
			return string(data)
		}
	}
	return ""
}

func readTestFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func runTool(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}
