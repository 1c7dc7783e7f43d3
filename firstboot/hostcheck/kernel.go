package hostcheck

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	"github.com/ml-appliance/appliance/internal/smallfile"
)

// kernel is what the node shows of its running kernel.
type kernel struct {
	// root is Options.Root, under which probes are looked for.
	root    string
	release string
	// configPath is the config file read, as a path on the node; config
	// maps option names (without CONFIG_) to their value. Both are empty
	// when the node has no config file.
	configPath string
	config     map[string]string
	// modDir is the modules directory, as a path on the node.
	modDir string
	// Modules by name ('-' written '_'): loaded (/proc/modules), built in
	// (modules.builtin) and loadable (modules.dep).
	loaded, builtin, loadable map[string]bool
}

// configFiles are where a kernel's config is looked for, in order, as
// check-config.sh looks (its possibleConfigs, less the source trees).
func configFiles(release string) []string {
	return []string{"/proc/config.gz", "/boot/config-" + release}
}

// loadKernel reads what the node shows of its kernel. A file it cannot
// read is not a reason to stop: it is one of the returned problems
// (warnings), and the check goes on without it.
func loadKernel(o Options, release string) (kernel, []Result) {
	k := kernel{root: o.Root, release: release}
	var problems []Result
	unreadable := func(what string, err error) {
		problems = append(problems, Result{Name: what, Detail: err.Error() + ": checked without it"})
	}
	for _, p := range configFiles(release) {
		cfg, err := readConfig(o.path(p))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			unreadable("kernel config", err)
			continue
		}
		k.configPath, k.config = p, cfg
		break
	}
	for _, dir := range []string{"/lib/modules/" + release, "/usr/lib/modules/" + release} {
		if exists(o.path(dir)) {
			k.modDir = dir
			break
		}
	}
	var err error
	if k.loaded, err = moduleNames(o.path("/proc/modules"), firstField); err != nil {
		unreadable("loaded modules", err)
	}
	if k.modDir == "" {
		return k, problems
	}
	if k.builtin, err = moduleNames(o.path(path.Join(k.modDir, "modules.builtin")), lineIsPath); err != nil {
		unreadable("built-in modules", err)
	}
	if k.loadable, err = moduleNames(o.path(path.Join(k.modDir, "modules.dep")), depTarget); err != nil {
		unreadable("module dependencies", err)
	}
	return k, problems
}

// readConfig parses a kernel config, gzip-compressed or plain.
func readConfig(file string) (map[string]string, error) {
	data, err := smallfile.Read(file, maxKernelFile)
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if data, err = io.ReadAll(io.LimitReader(zr, maxKernelFile+1)); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if len(data) > maxKernelFile {
			return nil, fmt.Errorf("%s: larger than %d bytes uncompressed", file, maxKernelFile)
		}
	}
	cfg := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), "=")
		if opt, isOpt := strings.CutPrefix(name, "CONFIG_"); ok && isOpt {
			cfg[opt] = value
		}
	}
	return cfg, sc.Err()
}

// moduleNames reads the module names of a module list, one a line, a
// missing file being an empty list.
func moduleNames(file string, name func(line string) string) (map[string]bool, error) {
	names := map[string]bool{}
	data, err := smallfile.Read(file, maxKernelFile)
	if errors.Is(err, fs.ErrNotExist) {
		return names, nil
	}
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if n := name(line); n != "" {
			names[moduleName(n)] = true
		}
	}
	return names, nil
}

// firstField is the module of a /proc/modules line ("vxlan 94208 0 ...").
func firstField(line string) string {
	f := strings.Fields(line)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// lineIsPath is the module of a modules.builtin line ("kernel/fs/ext4/ext4.ko").
func lineIsPath(line string) string { return koName(strings.TrimSpace(line)) }

// depTarget is the module of a modules.dep line
// ("kernel/net/bridge/br_netfilter.ko.xz: kernel/net/bridge/bridge.ko.xz").
func depTarget(line string) string {
	target, _, ok := strings.Cut(line, ":")
	if !ok {
		return ""
	}
	return koName(target)
}

// koName is the module name of a module file's path, "" when it is not one.
func koName(p string) string {
	base := path.Base(p)
	for _, ext := range []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"} {
		if name, ok := strings.CutSuffix(base, ext); ok {
			return name
		}
	}
	return ""
}

// moduleName writes a module name as the kernel does in /proc/modules.
func moduleName(n string) string { return strings.ReplaceAll(n, "-", "_") }

// moduleState says how the kernel has module m: "loaded", "built in",
// "loadable", or "" when it has it not at all.
func (k kernel) moduleState(m string) string {
	m = moduleName(m)
	switch {
	case k.loaded[m]:
		return "loaded"
	case k.builtin[m]:
		return "built in"
	case k.loadable[m]:
		return "loadable"
	}
	return ""
}

// check evaluates items: the results, the options that only a config file
// could show (none checked without one), and the modules of hard items the
// kernel has only as loadable modules (K3s loads them with modprobe).
func (k kernel) check(items []kernelItem) (results []Result, unchecked, loadable []string) {
	for _, it := range items {
		r, checked := k.checkItem(it)
		if !checked {
			unchecked = append(unchecked, "CONFIG_"+it.option)
			continue
		}
		results = append(results, r)
		if it.hard && it.module != "" && k.moduleState(it.module) == "loadable" {
			loadable = append(loadable, it.module)
		}
	}
	return results, unchecked, loadable
}

func (k kernel) checkItem(it kernelItem) (Result, bool) {
	r := Result{Name: "CONFIG_" + it.option, Kernel: true, Hard: it.hard}
	missing := func(format string, args ...any) (Result, bool) {
		r.Detail = fmt.Sprintf(format, args...) + ": " + it.why
		return r, true
	}
	found := func(format string, args ...any) (Result, bool) {
		r.OK, r.Detail = true, fmt.Sprintf(format, args...)
		return r, true
	}
	state := ""
	if it.module != "" {
		state = k.moduleState(it.module)
	}
	switch {
	case k.config != nil:
		switch v := k.config[it.option]; {
		case v == "y":
			return found("built in")
		case v == "m" && it.module == "":
			return found("module")
		case v == "m" && state != "":
			return found("module %s (%s)", it.module, state)
		case v == "m":
			return missing("=m in %s, but module %s is neither loaded nor in %s/modules.dep", k.configPath, it.module, k.modDir)
		default:
			return missing("not set in %s", k.configPath)
		}
	case it.module != "" && state != "":
		return found("module %s (%s)", it.module, state)
	case it.module != "":
		if k.modDir == "" {
			return missing("module %s is not loaded and there is no /lib/modules/%s", it.module, k.release)
		}
		return missing("module %s is not loaded, not in %s/modules.builtin and not in its modules.dep", it.module, k.modDir)
	case it.probe != "":
		if exists(filepath.Join(k.root, it.probe)) {
			return found("%s present", it.probe)
		}
		return missing("%s is missing", it.probe)
	}
	return r, false
}
