// Package upgrade writes a new release into the inactive A/B slot, checks
// it at its first boots and blesses it or falls back.
//
// The slot layout (which partition, which ESP files, which loader entry,
// how systemd-boot picks one) is package bootslot's. Here:
//
//   - Apply (apply*.go) verifies an upgrade bundle (package
//     upgradebundle, read through a Source: source*.go), writes the slot
//     the node did not boot (its OS partition: slotdev*.go; its kernel
//     and initramfs on the ESP), the image payload when it changed
//     (payload.go), and that slot's loader entry last, with boot
//     counting, so that a failure or a power cut before the entry leaves
//     the node booting what it ran.
//   - Check (check*.go), at each boot, blesses the running slot once the
//     node passed its checks, or marks it bad and reboots into the other.
//   - status*.go and record.go say which release runs and why the other
//     was rejected.
//   - ESP (esp*.go) is the mounted EFI system partition those steps read
//     and write; MountESP (mount.go) finds and mounts it.
package upgrade
