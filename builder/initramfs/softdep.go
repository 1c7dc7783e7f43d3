package initramfs

import (
	"errors"
	"io/fs"
	"sort"
	"strings"
)

// readSoftdeps fills idx.softPre from modules.softdep, resolving names
// through modules.alias as modprobe does. A soft dependency is a module
// that another asks for at run time by name or alias (ext4 and jbd2 ask for
// "crypto-crc32c" to check metadata checksums). The initramfs has no
// modprobe to answer such a request, so the "pre:" soft dependencies are
// packed and loaded first. Names that resolve to nothing in this kernel are
// ignored: a soft dependency is optional by definition.
func (idx *moduleIndex) readSoftdeps() error {
	aliases := map[string][]string{}
	err := idx.readLines("modules.alias", func(line string) {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "alias" || strings.ContainsAny(f[1], "*?[") {
			return // device aliases are patterns; soft dependencies name plain aliases
		}
		aliases[f[1]] = append(aliases[f[1]], canonical(f[2]))
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	idx.softPre = map[string][]string{}
	err = idx.readLines("modules.softdep", func(line string) {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "softdep" {
			return
		}
		mod, pre := canonical(f[1]), false
		for _, w := range f[2:] {
			switch w {
			case "pre:":
				pre = true
			case "post:":
				pre = false
			default:
				if pre {
					idx.softPre[mod] = append(idx.softPre[mod], idx.resolve(w, aliases)...)
				}
			}
		}
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// resolve maps a module name or plain alias to the module files that
// provide it in this kernel, sorted.
func (idx *moduleIndex) resolve(name string, aliases map[string][]string) []string {
	if c := canonical(name); idx.files[c] != "" {
		return []string{c}
	}
	var mods []string
	for _, m := range aliases[name] {
		if idx.files[m] != "" {
			mods = append(mods, m)
		}
	}
	sort.Strings(mods)
	return mods
}
