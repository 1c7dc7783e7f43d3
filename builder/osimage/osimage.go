// Package osimage owns the OS image: the read-only squashfs root filesystem
// that nodes mount, made from the normalised rootfs tar stream by tar2sqfs
// (squashfs-tools-ng) with the stream on its stdin.
//
// The image is reproducible: file mtimes come from the stream, implicit
// directories and the superblock's modification time from Options.ModTime
// (tar2sqfs 1.2 takes the superblock time from `--defaults mtime=` unless
// SOURCE_DATE_EPOCH is set in its environment, so the tool runs with
// SOURCE_DATE_EPOCH set to ModTime). The compressor job count does not
// change the output (checked on the 680 MB Debian base with 1, 2 and 4
// jobs), so it defaults to the number of CPUs.
//
// squashfs has no xattr prefix for POSIX ACLs: tar2sqfs drops
// system.posix_acl_* attributes with a warning, passed to Options.Logger.
package osimage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/ml-appliance/appliance/builder/doctor"
	"github.com/ml-appliance/appliance/builder/rootfs"
)

// Compression is a squashfs block compressor.
type Compression string

// Supported compressors.
const (
	Zstd Compression = "zstd"
	XZ   Compression = "xz"
)

// Options configures Build.
type Options struct {
	// ModTime is the superblock time and the mtime of directories the
	// stream implies without listing. Required (from SOURCE_DATE_EPOCH).
	ModTime time.Time
	// Compression defaults to Zstd.
	Compression Compression
	// Jobs is the number of compressor threads; 0 means runtime.NumCPU().
	Jobs int
	// Logger receives the tool's warnings on success; nil discards them.
	Logger *slog.Logger
}

// HostTools lists the host programs this package runs, for `builder doctor`.
func HostTools() []doctor.Tool {
	return []doctor.Tool{{Command: "tar2sqfs", Package: "squashfs-tools-ng", Purpose: "make the squashfs OS image"}}
}

// args returns tar2sqfs's command line for the output file out.
func (o Options) args(out string) ([]string, error) {
	comp := o.Compression
	if comp == "" {
		comp = Zstd
	}
	if comp != Zstd && comp != XZ {
		return nil, fmt.Errorf("unsupported compression %q (want %s or %s)", comp, Zstd, XZ)
	}
	if o.ModTime.IsZero() {
		return nil, errors.New("Options.ModTime is required")
	}
	if o.ModTime.Unix() < 0 || o.ModTime.Unix() > 1<<32-1 {
		return nil, fmt.Errorf("ModTime %v does not fit a squashfs timestamp", o.ModTime)
	}
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	return []string{
		"--compressor", string(comp),
		"--num-jobs", strconv.Itoa(jobs),
		"--defaults", "uid=0,gid=0,mode=0755,mtime=" + strconv.FormatInt(o.ModTime.Unix(), 10),
		"--no-skip", // abort on a tar record it cannot read
		"--quiet",
		"--force", // the temp file exists already
		out,
	}, nil
}

// Build makes the squashfs image out from the tar stream. It writes a temp
// file beside out and renames it at the end; on failure nothing is left.
// The stream is checked as it passes: an unreadable or empty tar stream
// fails the build (tar2sqfs alone makes an empty image of garbage).
func Build(ctx context.Context, out string, stream io.Reader, opts Options) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return fmt.Errorf("build OS image %s: %w", out, err)
	}
	tmp.Close()
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	args, err := opts.args(tmp.Name())
	if err != nil {
		return fmt.Errorf("build OS image %s: %w", out, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, "tar2sqfs", args...)
	cmd.Env = append(withoutEpoch(os.Environ()), "SOURCE_DATE_EPOCH="+strconv.FormatInt(opts.ModTime.Unix(), 10))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("build OS image %s: %w", out, err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("build OS image %s: start tar2sqfs: %w", out, err)
	}
	feedErr := feed(stdin, stream)
	if feedErr != nil {
		cancel() // the tool must not finish an image of a broken stream
	}
	waitErr := cmd.Wait()
	switch {
	case feedErr != nil && !errors.Is(feedErr, errWrite):
		return fmt.Errorf("build OS image %s: %w", out, feedErr)
	case waitErr != nil:
		return fmt.Errorf("build OS image %s: tar2sqfs: %w: %s", out, waitErr, strings.TrimSpace(stderr.String()))
	case feedErr != nil:
		return fmt.Errorf("build OS image %s: %w", out, feedErr)
	}
	if opts.Logger != nil && stderr.Len() > 0 {
		opts.Logger.Warn("tar2sqfs warnings", "image", out, "stderr", strings.TrimSpace(stderr.String()))
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("build OS image %s: %w", out, err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("build OS image %s: %w", out, err)
	}
	return nil
}

// BuildFromTree writes tree's normalised tar stream (with opts.ModTime)
// straight into Build.
func BuildFromTree(ctx context.Context, out string, tree *rootfs.Tree, opts Options) error {
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(tree.WriteTar(pw, rootfs.WriteOptions{ModTime: opts.ModTime}))
	}()
	err := Build(ctx, out, pr, opts)
	pr.CloseWithError(errors.New("OS image build ended"))
	return err
}

func withoutEpoch(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "SOURCE_DATE_EPOCH=") {
			out = append(out, kv)
		}
	}
	return out
}
