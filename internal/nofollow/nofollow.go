// Package nofollow holds what code that walks a directory tree without
// following symbolic links (the builder's .deb extraction, the node's
// write_files) needs to say what it refused.
package nofollow

import "golang.org/x/sys/unix"

// LinkTarget returns the target of the symbolic link name in the directory
// dirfd, for an error message; "?" when it cannot be read.
func LinkTarget(dirfd int, name string) string {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil {
		return "?"
	}
	return string(buf[:n])
}
