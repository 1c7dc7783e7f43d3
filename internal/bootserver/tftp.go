package bootserver

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"

	"pack.ag/tftp"
)

// tftpHandler serves the files of dir read-only over TFTP (RFC 1350; the
// library negotiates blksize and tsize, RFC 2348/2349), one log line per
// request.
type tftpHandler struct {
	dir string
	log *slog.Logger
}

func (h *tftpHandler) ServeTFTP(r tftp.ReadRequest) {
	name := path.Clean("/" + strings.ReplaceAll(r.Name(), "\\", "/"))
	n, err := h.send(r, name)
	if err != nil {
		h.log.Warn("tftp", "file", name, "client", r.Addr().String(), "bytes", n, "error", err)
		return
	}
	h.log.Info("tftp", "file", name, "client", r.Addr().String(), "bytes", n)
}

func (h *tftpHandler) send(r tftp.ReadRequest, name string) (int64, error) {
	f, err := os.Open(filepath.Join(h.dir, filepath.FromSlash(name)))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			r.WriteError(tftp.ErrCodeFileNotFound, "file not found: "+name)
			return 0, fmt.Errorf("file not found in %s (sent TFTP error 1)", h.dir)
		}
		r.WriteError(tftp.ErrCodeAccessViolation, "cannot open "+name)
		return 0, fmt.Errorf("open: %w (sent TFTP error 2)", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		r.WriteError(tftp.ErrCodeFileNotFound, "not a file: "+name)
		return 0, fmt.Errorf("not a regular file in %s (sent TFTP error 1)", h.dir)
	}
	r.WriteSize(info.Size())
	n, err := io.Copy(r, f)
	if err != nil {
		return n, fmt.Errorf("send: %w", err)
	}
	return n, nil
}
