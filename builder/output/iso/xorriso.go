package iso

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

const xorrisoCommand = "xorriso"

// xorrisoArgs is the `xorriso -as mkisofs` command line that writes the
// ISO to out: ISO level 3 (files of 4 GiB and more as multi-extent files),
// Rock Ridge with owners and modes made uniform (-r), El Torito for BIOS
// (isolinux) and UEFI (the FAT image), the isohybrid MBR and a GPT that
// marks the FAT image, and fixed timestamps and disk GUID.
func xorrisoArgs(out string, l Layout, sl Syslinux, grafts []graft, mod time.Time) []string {
	stamp := mod.UTC().Format("20060102150405") + "00"
	args := []string{
		"-as", "mkisofs",
		"-o", out,
		"-iso-level", "3",
		"-r",
		"-V", l.VolumeID,
		"--modification-date=" + stamp,
		"--set_all_file_dates", stamp,
		"--gpt_disk_guid", l.GPTDiskGUID,
		"-isohybrid-mbr", sl.HybridMBR,
		"-b", isolinuxBin, "-c", bootCatalog,
		"-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
		"-eltorito-alt-boot",
		"-e", efiImagePath, "-no-emul-boot", "-isohybrid-gpt-basdat",
		"-graft-points",
	}
	for _, g := range grafts {
		args = append(args, escapeGraft(g.isoPath)+"="+escapeGraft(g.source))
	}
	return args
}

// escapeGraft escapes the characters a graft point gives meaning to.
func escapeGraft(p string) string {
	return strings.NewReplacer(`\`, `\\`, `=`, `\=`).Replace(p)
}

// runXorriso writes the ISO to out. SOURCE_DATE_EPOCH covers what the
// options do not name (the "now" of directories xorriso makes itself).
func runXorriso(ctx context.Context, out string, l Layout, sl Syslinux, grafts []graft, mod time.Time) error {
	cmd := exec.CommandContext(ctx, xorrisoCommand, xorrisoArgs(out, l, sl, grafts, mod)...)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH="+strconv.FormatInt(mod.Unix(), 10))
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w\n%s", xorrisoCommand, strings.Join(cmd.Args[1:], " "), err, tail(log.String(), 30))
	}
	return nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
