package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ml-appliance/appliance/builder/report"
)

// addInput records an input in the report.
func (b *pipeline) addInput(name, source, digest string, size int64) {
	b.report.Inputs = append(b.report.Inputs, report.Input{Name: name, Source: source, Digest: digest, Size: size})
}

// agentPath is the path of a node-side binary in the agent directory.
func (b *pipeline) agentPath(name string) string { return filepath.Join(b.opts.AgentDir, name) }

// scratchDir returns a directory in the build's scratch space.
func (b *pipeline) scratchDir(name string) (string, error) {
	p := filepath.Join(b.scratch, name)
	if err := os.MkdirAll(p, 0o700); err != nil {
		return "", fmt.Errorf("scratch space: %w", err)
	}
	return p, nil
}

// dirDigest hashes a directory tree: every path (sorted), its type and
// permission bits, and each file's content or link target. Owners and times
// are not part of it: the rootfs takes neither from an overlay.
func dirDigest(dir string) (string, error) {
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%o\x00", filepath.ToSlash(rel), info.Mode())
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s\x00", target)
		case info.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash overlay %s: %w", dir, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// writeStaged copies r to path through a temporary name.
func writeStaged(path string, r io.Reader) error {
	tmp := path + ".partial"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// linkOrCopy makes dst the file src, which holds size bytes: a hard link
// (no byte is copied), or where that fails (src and dst on different
// filesystems, say) a copy through io.Copy between the two *os.File,
// which Linux does with copy_file_range, in the kernel. A failed copy
// leaves no dst.
func linkOrCopy(src, dst string, size int64) error {
	lerr := os.Link(src, dst)
	if lerr == nil {
		return nil
	}
	if err := copyFile(src, dst, size); err != nil {
		return fmt.Errorf("%w; copying instead: %w", lerr, err)
	}
	return nil
}

// copyFile copies src, which holds size bytes, to a new read-only dst.
func copyFile(src, dst string, size int64) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return err
	}
	n, err := io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != size {
		err = fmt.Errorf("copied %d bytes of %s, want %d", n, src, size)
	}
	if err != nil {
		os.Remove(dst)
		return err
	}
	return nil
}
