package upgradecluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The bundle server: the initial server serves the verified bundle
// directory it keeps on STATE, read-only, for the disk nodes' watchers to
// fetch (http://<initial server>:BundlePort/<site>-upgrade/<file>).
//
// It serves the regular files directly in that one directory and nothing
// else: no listing, no subdirectory, no name starting with a dot (an
// interrupted atomic write's leftover), no symbolic link (each file is
// opened with O_NOFOLLOW relative to the directory opened once), no FIFO
// or device (opened non-blocking, then refused by type); GET and HEAD
// only, with ranges (http.ServeContent). Slow or silent clients are cut
// off by header, read and idle timeouts; the response itself has none,
// since a bundle's OS image is large and a link may be slow.

// bundleFileName is what a served file may be called.
var bundleFileName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ServeBundle serves the bundle directory dir on ln until ctx ends.
// Logf, if not nil, gets one line per request.
func ServeBundle(ctx context.Context, ln net.Listener, dir string, logf func(format string, args ...any)) error {
	h, err := newBundleHandler(dir, logf)
	if err != nil {
		return err
	}
	defer h.close()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    8 << 10,
	}
	stop := context.AfterFunc(ctx, func() { srv.Close() })
	defer stop()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve bundle %s: %w", dir, err)
	}
	return nil
}

// bundleHandler serves the files of one directory.
type bundleHandler struct {
	prefix string // "/<directory name>/"
	dirfd  int
	logf   func(format string, args ...any)
}

func newBundleHandler(dir string, logf func(format string, args ...any)) (*bundleHandler, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("serve bundle: open directory %s: %w", dir, err)
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &bundleHandler{prefix: "/" + filepath.Base(dir) + "/", dirfd: fd, logf: logf}, nil
}

func (h *bundleHandler) close() { unix.Close(h.dirfd) }

func (h *bundleHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status := h.serve(w, r)
	h.logf("upgrade: bundle: %s %s: %d to %s", r.Method, r.URL.Path, status, r.RemoteAddr)
}

// serve answers r and returns the status it answered with.
func (h *bundleHandler) serve(w http.ResponseWriter, r *http.Request) int {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "read-only", http.StatusMethodNotAllowed)
		return http.StatusMethodNotAllowed
	}
	name, ok := strings.CutPrefix(r.URL.Path, h.prefix)
	if !ok || !bundleFileName.MatchString(name) {
		http.NotFound(w, r)
		return http.StatusNotFound
	}
	f, err := h.open(name)
	if err != nil {
		http.NotFound(w, r)
		return http.StatusNotFound
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		http.Error(w, "cannot read "+name, http.StatusInternalServerError)
		return http.StatusInternalServerError
	}
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	http.ServeContent(rec, r, name, info.ModTime(), f)
	return rec.status
}

// open opens the regular file name of the directory, following no link
// and blocking on nothing.
func (h *bundleHandler) open(name string) (*os.File, error) {
	fd, err := unix.Openat(h.dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, errors.New("not a regular file")
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

// statusRecorder remembers the status written.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(status int) {
	s.status = status
	s.ResponseWriter.WriteHeader(status)
}
