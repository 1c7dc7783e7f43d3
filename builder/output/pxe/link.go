package pxe

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// linkOrCopy puts the bytes of the regular file src at dst: a hard link to
// it, or a copy when they are on different filesystems (or the filesystem
// has no hard links, or the kernel refuses to link a file this user does
// not own).
//
// Symbolic links in src are followed. A bundle must hold the bytes, never
// a link: os.Link (link(2)) links a symbolic link itself, and Debian 12's
// ipxe package ships /usr/lib/ipxe/ipxe.efi as a link to /boot/ipxe.efi,
// which means nothing inside the OS image or on the machine a bundle is
// copied to. Anything but a regular file (a FIFO, a device, a directory)
// is refused; src is opened non-blocking, so a FIFO cannot hang the build.
func linkOrCopy(src, dst string) error {
	in, err := os.OpenFile(src, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file (%s)", src, info.Mode().Type())
	}
	// linkat(2) with AT_SYMLINK_FOLLOW links what src names after its
	// symbolic links; the check after it makes sure that is still the
	// file opened above (src may have been replaced in between).
	if err := unix.Linkat(unix.AT_FDCWD, src, unix.AT_FDCWD, dst, unix.AT_SYMLINK_FOLLOW); err == nil {
		if linked, err := os.Lstat(dst); err == nil && os.SameFile(info, linked) {
			return nil
		}
		if err := os.Remove(dst); err != nil {
			return err
		}
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err = errors.Join(err, out.Close()); err != nil {
		return errors.Join(fmt.Errorf("copy %s: %w", src, err), os.Remove(dst))
	}
	return nil
}
