package bootserver

import (
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// bundleHandler serves the files of dir read-only (GET and HEAD), with Range
// support, no directory listings, and one log line per request.
type bundleHandler struct {
	dir   string
	files map[string]File
	log   *slog.Logger
}

// File is content served under a path of its own (Options.Files).
type File struct {
	Content *io.SectionReader
	ModTime time.Time
}

func (h *bundleHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &countingWriter{ResponseWriter: w, status: http.StatusOK}
	h.serve(rec, r)
	h.log.Info("http", "method", r.Method, "path", r.URL.Path, "status", rec.status,
		"bytes", rec.bytes, "client", r.RemoteAddr)
}

func (h *bundleHandler) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "read-only", http.StatusMethodNotAllowed)
		return
	}
	name := path.Clean("/" + r.URL.Path)
	if file, ok := h.files[name]; ok {
		http.ServeContent(w, r, path.Base(name), file.ModTime, io.NewSectionReader(file.Content, 0, file.Content.Size()))
		return
	}
	f, err := os.Open(filepath.Join(h.dir, filepath.FromSlash(name)))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			http.Error(w, "not found: "+name, http.StatusNotFound)
			return
		}
		http.Error(w, "cannot open "+name, http.StatusForbidden)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		http.Error(w, "not found: "+name, http.StatusNotFound)
		return
	}
	if strings.HasSuffix(name, ".ipxe") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	http.ServeContent(w, r, info.Name(), info.ModTime(), f)
}

// countingWriter remembers the status and counts the body bytes written.
type countingWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (c *countingWriter) WriteHeader(status int) {
	c.status = status
	c.ResponseWriter.WriteHeader(status)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.bytes += int64(n)
	return n, err
}
