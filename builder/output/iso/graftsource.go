package iso

import (
	"fmt"
	"os"
	"path/filepath"
)

// resolveGrafts points each graft at the file its source names once its
// symbolic links are resolved. xorriso (`-as mkisofs` without -f) records
// a symbolic link given as a graft's source as a link, to a path of the
// build host that means nothing on the medium; an ISO must hold the bytes.
// Anything but a regular file is refused.
func resolveGrafts(grafts []graft) error {
	for i, g := range grafts {
		resolved, err := filepath.EvalSymlinks(g.source)
		if err != nil {
			return fmt.Errorf("/%s: %w", g.isoPath, err)
		}
		info, err := os.Lstat(resolved)
		if err != nil {
			return fmt.Errorf("/%s: %w", g.isoPath, err)
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("/%s: %s is not a regular file (%s)", g.isoPath, g.source, info.Mode().Type())
		}
		grafts[i].source = resolved
	}
	return nil
}
