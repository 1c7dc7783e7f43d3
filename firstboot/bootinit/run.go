package bootinit

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/u-root/u-root/pkg/mount"
	"golang.org/x/sys/unix"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
)

// Where the init assembles the system. All of it lives under /run, which
// moves into the new root, so the booted system still sees the mounts.
const (
	newRoot      = "/newroot"
	osMount      = bootparam.OSMount
	overlayMount = "/run/appliance/overlay"
	// ramStateMount holds the persistent paths when state is in RAM.
	ramStateMount = "/run/appliance/ram-state"
	realInit      = "/sbin/init"
	deviceWait    = 30 * time.Second
	devicePoll    = 250 * time.Millisecond
	failInterval  = 60 * time.Second
)

// Run is the init's main: it boots the system or, failing that, explains
// why and waits. It never returns.
func Run() {
	console, err := os.OpenFile("/dev/console", os.O_WRONLY, 0)
	if err != nil {
		console = os.Stderr
	}
	lg := log.New(console, "appliance-init: ", 0)
	// u-root's SwitchRoot reports through the standard logger.
	log.SetOutput(console)
	log.SetFlags(0)
	log.SetPrefix("appliance-init: ")
	cfg, err := boot(lg)
	// boot only returns on failure.
	fail(lg, cfg, err)
}

// boot runs the boot sequence; it returns only on failure.
func boot(lg *log.Logger) (Config, error) {
	if err := mountEarly(); err != nil {
		return Config{}, err
	}
	lg.Printf("started")
	cmdline, err := os.ReadFile("/proc/cmdline")
	if err != nil {
		return Config{}, fmt.Errorf("read kernel command line: %w", err)
	}
	cfg, err := ParseConfig(string(cmdline))
	if err != nil {
		return cfg, err
	}
	loaded, failed, err := LoadModules(bootparam.InitramfsModuleOrder, FinitModule, lg)
	if err != nil {
		lg.Printf("%v", err)
	}
	lg.Printf("loaded %d modules (%d failed)", loaded, failed)

	scan := func() ([]BlockDevice, error) { return ScanBlockDevices("/sys", "/dev") }
	ctx, cancel := context.WithTimeout(context.Background(), deviceWait)
	defer cancel()
	var osDev BlockDevice
	if cfg.Netboot == nil {
		lg.Printf("waiting for OS image %s", cfg.OS)
		if osDev, err = WaitFor(ctx, cfg.OS, scan, devicePoll); err != nil {
			return cfg, fmt.Errorf("OS image: %w", err)
		}
		lg.Printf("OS image on %s", osDev)
	}

	osImage := "/dev/" + osDev.Name
	if cfg.Netboot != nil {
		// Not under ctx: the download may take longer than deviceWait.
		if osImage, err = netbootOSImage(context.Background(), lg, *cfg.Netboot); err != nil {
			return cfg, err
		}
		lg.Printf("OS image %s attached to %s", cfg.Netboot.URL, osImage)
	} else if cfg.OSFile != "" {
		if osImage, err = mountISOImage(osImage, cfg.OSFile); err != nil {
			return cfg, fmt.Errorf("OS image %s on %s: %w", cfg.OSFile, osDev.Name, err)
		}
		lg.Printf("OS image %s on %s attached to %s", cfg.OSFile, osDev.Name, osImage)
		if cfg.Install != nil {
			// Reboots when it installed; otherwise the ISO boots live.
			installFromISO(lg, *cfg.Install, osDev)
		}
	}
	if err := mountRoot(osImage); err != nil {
		return cfg, err
	}
	// After the root: a new state disk is formatted with its mkfs.ext4.
	stateDir, err := mountState(ctx, lg, cfg, scan, osDev)
	if err != nil {
		return cfg, err
	}
	err = SetupPersistent(PersistOptions{
		StateDir: stateDir, ImageRoot: osMount, NewRoot: newRoot,
		Paths: bootparam.PersistentPaths, Mounter: SyscallMounter{}, Rand: rand.Reader, Log: lg,
	})
	if err != nil {
		return cfg, err
	}
	if _, err := resolveInRoot(newRoot, realInit); err != nil {
		return cfg, fmt.Errorf("OS image has no %s: %w", realInit, err)
	}
	lg.Printf("switching root to %s", realInit)
	// SwitchRoot moves /dev, /proc, /sys and /run into the new root, frees
	// the initramfs and execs init; it returns only on failure.
	return cfg, mount.SwitchRoot(newRoot, realInit)
}

// mountState mounts the node's state and returns where: STATE, a state
// disk (live and netbooted nodes) or, by choice or when a state disk
// cannot be had, a tmpfs. bootMedium is the device the OS image came from.
func mountState(ctx context.Context, lg *log.Logger, cfg Config, scan func() ([]BlockDevice, error), bootMedium BlockDevice) (string, error) {
	if cfg.StateDisk != nil {
		dev, err := stateDiskDevice(lg, *cfg.StateDisk, bootMedium)
		if err == nil {
			return bootparam.StateMount, mountStateFS(lg, dev)
		}
		lg.Printf("state: no state disk (%s): %v", cfg.StateDisk, err)
		lg.Printf("state: falling back to RAM")
		cfg.StateTmpfs = true
	}
	if cfg.StateTmpfs {
		// Not at StateMount: firstboot takes what is mounted there for
		// STATE's ext4. Not /run itself either: it is nosuid, and binds
		// inherit that (/var holds container filesystems).
		if err := os.MkdirAll(ramStateMount, 0o755); err != nil {
			return "", err
		}
		lg.Printf("state in RAM (tmpfs): nothing persists across reboots")
		if err := unix.Mount("tmpfs", ramStateMount, "tmpfs", 0, "mode=0755"); err != nil {
			return "", fmt.Errorf("mount state tmpfs on %s: %w", ramStateMount, err)
		}
		return ramStateMount, nil
	}
	stateDev, err := WaitFor(ctx, cfg.State, scan, devicePoll)
	if err != nil {
		return "", fmt.Errorf("STATE: %w", err)
	}
	if cfg.State.Key == "PARTLABEL" && stateDev.Disk != "" {
		growState(lg, stateDev, cfg.State.Value)
	}
	return bootparam.StateMount, mountStateFS(lg, "/dev/"+stateDev.Name)
}

// stateDiskDevice finds or makes the STATE partition for a state disk.
// A named disk may take a moment to appear; a disk for auto is one that
// is there by the time the OS image is.
func stateDiskDevice(lg *log.Logger, target bootparam.InstallTarget, bootMedium BlockDevice) (string, error) {
	bootDisk := bootMedium.Name
	if bootMedium.Disk != "" {
		bootDisk = bootMedium.Disk
	}
	ctx, cancel := context.WithTimeout(context.Background(), installWait)
	defer cancel()
	for {
		devs, err := ScanBlockDevices("/sys", "/dev")
		if err != nil {
			return "", err
		}
		plan, err := PlanStateDisk(target, devs, "/sys", "/dev", bootDisk)
		if err == nil {
			return prepareStateDisk(lg, plan, newRoot)
		}
		var missing diskMissingError
		if !errors.As(err, &missing) {
			return "", err
		}
		select {
		case <-ctx.Done():
			return "", err
		case <-time.After(devicePoll):
		}
	}
}

func mountStateFS(lg *log.Logger, dev string) error {
	if err := os.MkdirAll(bootparam.StateMount, 0o755); err != nil {
		return err
	}
	if err := unix.Mount(dev, bootparam.StateMount, "ext4", unix.MS_NOATIME, ""); err != nil {
		return fmt.Errorf("mount STATE %s on %s: %w", dev, bootparam.StateMount, err)
	}
	lg.Printf("STATE %s mounted on %s", dev, bootparam.StateMount)
	return nil
}

func mountEarly() error {
	mounts := []struct{ src, dir, fstype, data string }{
		{"proc", "/proc", "proc", ""},
		{"sysfs", "/sys", "sysfs", ""},
		{"devtmpfs", "/dev", "devtmpfs", "mode=0755"},
		{"tmpfs", "/run", "tmpfs", "mode=0755"},
	}
	for _, m := range mounts {
		if err := os.MkdirAll(m.dir, 0o755); err != nil {
			return err
		}
		err := unix.Mount(m.src, m.dir, m.fstype, unix.MS_NOSUID, m.data)
		if err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("mount %s on %s: %w", m.fstype, m.dir, err)
		}
	}
	return nil
}

// mountRoot mounts the OS image read-only and the overlay root on it.
func mountRoot(osDev string) error {
	for _, d := range []string{osMount, overlayMount, newRoot} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := unix.Mount(osDev, osMount, "squashfs", unix.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("mount OS image %s (squashfs) on %s: %w", osDev, osMount, err)
	}
	if err := unix.Mount("tmpfs", overlayMount, "tmpfs", 0, "mode=0755"); err != nil {
		return fmt.Errorf("mount overlay tmpfs: %w", err)
	}
	upper, work := overlayMount+"/upper", overlayMount+"/work"
	for _, d := range []string{upper, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", osMount, upper, work)
	if err := unix.Mount("overlay", newRoot, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mount overlay root (%s): %w", opts, err)
	}
	return nil
}

// growState grows the STATE partition to the end of its disk and tells the
// kernel. Failing to grow is logged, not fatal: STATE still works.
func growState(lg *log.Logger, state BlockDevice, label string) {
	disk, err := os.OpenFile("/dev/"+state.Disk, os.O_RDWR, 0)
	if err != nil {
		lg.Printf("grow STATE: %v", err)
		return
	}
	defer disk.Close()
	size, err := unix.IoctlGetInt(int(disk.Fd()), unix.BLKGETSIZE64)
	if err != nil {
		lg.Printf("grow STATE: size of /dev/%s: %v", state.Disk, err)
		return
	}
	ss, err := unix.IoctlGetInt(int(disk.Fd()), unix.BLKSSZGET)
	if err != nil {
		lg.Printf("grow STATE: sector size of /dev/%s: %v", state.Disk, err)
		return
	}
	res, err := GrowPartition(disk, int64(size), int64(ss), label)
	if err != nil {
		lg.Printf("grow STATE: %v", err)
		return
	}
	if !res.Grown {
		return
	}
	lg.Printf("grew STATE (partition %d of /dev/%s) from LBA %d to %d", res.Number, state.Disk, res.OldEnd, res.NewEnd)
	if err := resizePartition(disk, res); err != nil {
		lg.Printf("grow STATE: tell the kernel: %v; it sees the new size after a reboot", err)
	}
}
