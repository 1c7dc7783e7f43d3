// Package nocloud reads a cloud-init NoCloud seed: a small vfat or iso9660
// filesystem labelled CIDATA (or cidata) holding meta-data, user-data and,
// optionally, network-config.
//
// It owns finding the seed device (labels are read from superblocks, with no
// help from blkid or udev) and mounting it read-only to read those files.
// Load returns them raw: package datasource puts them with the other sources
// firstboot reads, and the caller parses them. ParseMetaData parses the
// subset of meta-data firstboot understands (instance-id, local-hostname);
// other keys are reported as warnings, so an operator sees what was ignored.
// Every path is taken under a root directory, so tests run against a fake
// /sys and /dev in a temp dir.
//
// Usage:
//
//	seed, err := nocloud.Load(nocloud.Options{Root: "/", Mounter: nocloud.SysMounter{}})
//	if errors.Is(err, nocloud.ErrNoSeed) { ... }
package nocloud

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ml-appliance/appliance/internal/smallfile"
	"golang.org/x/sys/unix"
)

// Mounter mounts a filesystem read-only and unmounts it again.
type Mounter interface {
	MountReadOnly(device, dir, fstype string) error
	Unmount(dir string) error
}

// SysMounter mounts with mount(2), read-only, nosuid, nodev, noexec.
type SysMounter struct{}

// MountReadOnly implements Mounter.
func (SysMounter) MountReadOnly(device, dir, fstype string) error {
	return unix.Mount(device, dir, fstype, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
}

// Unmount implements Mounter.
func (SysMounter) Unmount(dir string) error {
	return unix.Unmount(dir, 0)
}

// Options configure Load.
type Options struct {
	// Root is the host root; /sys, /dev and /run are taken under it.
	Root    string
	Mounter Mounter
}

// Seed is what Load found.
type Seed struct {
	Device Device
	// MetaData, UserData and NetworkConfig are the files as read, nil when
	// the seed has no such file.
	MetaData, UserData, NetworkConfig []byte
	// Warnings name what was missing (meta-data or user-data).
	Warnings []string
}

// Seed files: meta-data and user-data are expected, network-config is
// optional. vendor-data is not read.
const (
	FileMetaData      = "meta-data"
	FileUserData      = "user-data"
	FileNetworkConfig = "network-config"
)

// MaxFileBytes bounds each seed file read (1 MiB).
const MaxFileBytes = 1 << 20

// Load finds the seed device, mounts it read-only in a temp dir under
// Root/run, reads meta-data, user-data and network-config, and unmounts it.
// A missing meta-data or user-data is a warning, not an error. Each file
// must be a regular file of at most MaxFileBytes: a symbolic link on the
// seed (iso9660 with Rock Ridge has them) would read a file of the node
// itself, a FIFO would block. It returns an error wrapping ErrNoSeed when
// no device carries a seed label.
func Load(opts Options) (Seed, error) {
	dev, err := FindDevice(opts.Root)
	if err != nil {
		return Seed{}, err
	}
	files, err := readSeedFiles(opts, dev)
	if err != nil {
		return Seed{}, err
	}
	seed := Seed{
		Device:        dev,
		MetaData:      files[FileMetaData],
		UserData:      files[FileUserData],
		NetworkConfig: files[FileNetworkConfig],
	}
	for _, name := range []string{FileMetaData, FileUserData} {
		if _, ok := files[name]; !ok {
			seed.Warnings = append(seed.Warnings, fmt.Sprintf("%s: missing on %s, treated as empty", name, dev.Path))
		}
	}
	return seed, nil
}

// readSeedFiles mounts dev and returns the seed files it has, each non-nil.
func readSeedFiles(opts Options, dev Device) (files map[string][]byte, err error) {
	runDir := filepath.Join(opts.Root, "run")
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", runDir, err)
	}
	dir, err := os.MkdirTemp(runDir, "firstboot-cidata-")
	if err != nil {
		return nil, fmt.Errorf("create seed mount point: %w", err)
	}
	defer func() {
		if rmErr := os.Remove(dir); rmErr != nil && err == nil {
			err = fmt.Errorf("remove seed mount point %s: %w", dir, rmErr)
		}
	}()
	source := filepath.Join(opts.Root, dev.Path)
	if err := opts.Mounter.MountReadOnly(source, dir, dev.FSType); err != nil {
		return nil, fmt.Errorf("mount seed %s (%s) on %s: %w", source, dev.FSType, dir, err)
	}
	defer func() {
		if umErr := opts.Mounter.Unmount(dir); umErr != nil && err == nil {
			err = fmt.Errorf("unmount seed %s: %w", dir, umErr)
		}
	}()
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open seed %s: %w", dir, err)
	}
	defer d.Close()
	files = map[string][]byte{}
	for _, name := range []string{FileMetaData, FileUserData, FileNetworkConfig} {
		data, err := smallfile.ReadIn(d, name, MaxFileBytes)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("seed %s: %w", dev.Path, err)
		}
		if data == nil {
			data = []byte{}
		}
		files[name] = data
	}
	return files, nil
}
