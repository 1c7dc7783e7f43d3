package diskimage

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

const mkfsExt4 = "mkfs.ext4"

// mke2fsConf replaces the host's /etc/mke2fs.conf for STATE.
//
//go:embed mke2fs.conf
var mke2fsConf []byte

// makeState runs mkfs.ext4 on the STATE partition of the disk image at
// path, in place (-E offset=), reproducibly: UUID and hash seed from the
// seed, all times from E2FSPROGS_FAKE_TIME, features from mke2fs.conf.
// assume_storage_prezeroed skips zeroing the journal and inode tables (the
// fresh image file is sparse zeros), so the image stays sparse.
func makeState(ctx context.Context, path string, state Partition, opts Options) error {
	if _, err := exec.LookPath(mkfsExt4); err != nil {
		return fmt.Errorf("%s not found (install e2fsprogs): %w", mkfsExt4, err)
	}
	conf, err := os.CreateTemp("", "diskimage-mke2fs-*.conf")
	if err != nil {
		return fmt.Errorf("write mke2fs.conf: %w", err)
	}
	defer os.Remove(conf.Name())
	if _, err := conf.Write(mke2fsConf); err != nil {
		conf.Close()
		return fmt.Errorf("write mke2fs.conf: %w", err)
	}
	if err := conf.Close(); err != nil {
		return fmt.Errorf("write mke2fs.conf: %w", err)
	}

	// E2FSPROGS_FAKE_TIME=0 means "not set" to e2fsprogs: 1970 becomes 1 s later.
	fakeTime := max(opts.ModTime.Unix(), 1)
	extended := []string{
		"offset=" + strconv.FormatInt(state.Start, 10),
		"hash_seed=" + derivedUUID(opts.Seed, idExt4Hash).String(),
		"root_owner=0:0",
		"nodiscard",
		"assume_storage_prezeroed=1",
	}
	cmd := exec.CommandContext(ctx, mkfsExt4, "-q", "-F",
		"-t", "ext4", "-T", "default",
		"-L", state.Label,
		"-U", state.FilesystemID,
		"-E", strings.Join(extended, ","),
		path, strconv.FormatInt(state.Size/1024, 10)+"k")
	cmd.Env = append(mke2fsEnviron(os.Environ()),
		"MKE2FS_CONFIG="+conf.Name(),
		"E2FSPROGS_FAKE_TIME="+strconv.FormatInt(fakeTime, 10))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, bytes.TrimSpace(out.Bytes()))
	}
	if msg := bytes.TrimSpace(out.Bytes()); len(msg) > 0 {
		// -q leaves only warnings; one would mean a host-dependent result.
		return errors.New(mkfsExt4 + " warned: " + string(msg))
	}
	return nil
}

// mke2fsEnviron is env without the variables that change what mke2fs
// writes (MKE2FS_*, E2FSPROGS_*, SOURCE_DATE_EPOCH).
func mke2fsEnviron(env []string) []string {
	var kept []string
	for _, kv := range env {
		if strings.HasPrefix(kv, "MKE2FS_") || strings.HasPrefix(kv, "E2FSPROGS_") ||
			strings.HasPrefix(kv, "SOURCE_DATE_EPOCH=") {
			continue
		}
		kept = append(kept, kv)
	}
	return kept
}
