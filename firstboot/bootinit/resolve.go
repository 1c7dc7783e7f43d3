package bootinit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxSymlinks bounds symlink resolution, as the kernel's ELOOP limit does.
const maxSymlinks = 40

// resolveInRoot returns the host path of name inside root (an absolute path
// as seen from that root), following symbolic links the way the kernel will
// after switching root: absolute targets start again at root, not at the
// initramfs's /. Debian's /sbin/init is sbin -> usr/sbin, then
// init -> /lib/systemd/systemd, then lib -> usr/lib.
func resolveInRoot(root, name string) (string, error) {
	rest := strings.Split(strings.Trim(path.Clean("/"+name), "/"), "/")
	var done []string // resolved components, inside root
	for hops := 0; len(rest) > 0; {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		host := filepath.Join(root, filepath.Join(append(done, c)...))
		fi, err := os.Lstat(host)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, c)
			continue
		}
		if hops++; hops > maxSymlinks {
			return "", fmt.Errorf("%s: %w", name, errors.New("too many levels of symbolic links"))
		}
		target, err := os.Readlink(host)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			done = nil
		}
		rest = append(strings.Split(strings.Trim(target, "/"), "/"), rest...)
	}
	return filepath.Join(root, filepath.Join(done...)), nil
}
