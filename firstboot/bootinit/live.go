package bootinit

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"golang.org/x/sys/unix"
)

// Live boot: the OS image is a squashfs file on an ISO 9660 filesystem (a
// CD, or a hybrid ISO written to a USB stick). The init mounts the ISO
// read-only under /run, which moves into the booted system, attaches the
// file to a loop device and mounts that as the OS image.
//
// The ISO stays mounted at bootparam.ISOMount for as long as the system
// runs: u-root's mount.SwitchRoot moves /run with everything mounted
// under it into the new root (MS_MOVE, pkg/mount/switch_root_linux.go),
// nothing unmounts it afterwards, and the loop device holds the ISO's
// os.squashfs, the root filesystem's lower layer, open until shutdown.
// The booted system reads the ISO's other files there: the secrets volume
// (bootparam.ISOSecretsPath, firstboot's cluster-secrets) and the image
// payload (bootparam.ISOPayloadPath, which the node serves to containerd).
// /run/appliance is root's alone (mountISOImage), and so are they.

// isoMount is where the ISO 9660 filesystem of a live boot stays mounted.
const isoMount = bootparam.ISOMount

// loopAttempts bounds retries when another process takes the free loop
// device between LOOP_CTL_GET_FREE and attaching it.
const loopAttempts = 10

// mountISOImage mounts the ISO 9660 filesystem on dev read-only at
// isoMount and attaches its file (an absolute path on the ISO) to a loop
// device, returning the loop device's node.
//
// The ISO's files are world-readable (Rock Ridge as xorriso -r writes it),
// the secrets volume (bootparam.ISOSecretsPath) included: the mount point
// sits in a root-only directory so that only root reaches them.
func mountISOImage(dev, file string) (string, error) {
	if err := os.MkdirAll(isoMount, 0o700); err != nil {
		return "", err
	}
	if err := os.Chmod(filepath.Dir(isoMount), 0o700); err != nil {
		return "", err
	}
	if err := unix.Mount(dev, isoMount, "iso9660", unix.MS_RDONLY, ""); err != nil {
		return "", fmt.Errorf("mount ISO %s (iso9660) on %s: %w", dev, isoMount, err)
	}
	return AttachLoop(filepath.Join(isoMount, file), "/dev")
}

// AttachLoop attaches the file at path, read-only, to a free loop device
// and returns the device's node under devRoot (normally "/dev"). The loop
// device stays attached until DetachLoop: it is the root filesystem's.
func AttachLoop(path, devRoot string) (string, error) {
	img, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("loop device for %s: %w", path, err)
	}
	// The kernel takes its own reference to the file; ours can go.
	defer img.Close()
	ctl, err := os.OpenFile(filepath.Join(devRoot, "loop-control"), os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("loop device for %s: %w (is the loop module loaded?)", path, err)
	}
	defer ctl.Close()
	var lastErr error
	for range loopAttempts {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return "", fmt.Errorf("loop device for %s: find a free one: %w", path, err)
		}
		dev := filepath.Join(devRoot, fmt.Sprintf("loop%d", n))
		err = configureLoop(dev, img, path)
		if err == nil {
			return dev, nil
		}
		if !errors.Is(err, unix.EBUSY) {
			return "", fmt.Errorf("loop device %s for %s: %w", dev, path, err)
		}
		lastErr = err // taken by someone else meanwhile: ask again
	}
	return "", fmt.Errorf("loop device for %s: every free one was taken before it could be attached: %w", path, lastErr)
}

// configureLoop attaches img to the loop device dev, read-only, with
// LOOP_CONFIGURE (Linux 5.8), or LOOP_SET_FD and LOOP_SET_STATUS64 on
// older kernels.
func configureLoop(dev string, img *os.File, name string) error {
	loop, err := os.OpenFile(dev, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer loop.Close()
	info := unix.LoopInfo64{Flags: unix.LO_FLAGS_READ_ONLY}
	copy(info.File_name[:len(info.File_name)-1], name)
	cfg := unix.LoopConfig{Fd: uint32(img.Fd()), Info: info}
	err = unix.IoctlLoopConfigure(int(loop.Fd()), &cfg)
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOTTY) {
		return err
	}
	if err := unix.IoctlSetInt(int(loop.Fd()), unix.LOOP_SET_FD, int(img.Fd())); err != nil {
		return err
	}
	if err := unix.IoctlLoopSetStatus64(int(loop.Fd()), &info); err != nil {
		return errors.Join(err, unix.IoctlSetInt(int(loop.Fd()), unix.LOOP_CLR_FD, 0))
	}
	return nil
}

// DetachLoop detaches the file from the loop device dev.
func DetachLoop(dev string) error {
	loop, err := os.OpenFile(dev, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer loop.Close()
	if err := unix.IoctlSetInt(int(loop.Fd()), unix.LOOP_CLR_FD, 0); err != nil {
		return fmt.Errorf("detach loop device %s: %w", dev, err)
	}
	return nil
}
