package imagepayload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ml-appliance/appliance/firstboot/payload"
)

// ServeOptions say what to serve and where.
type ServeOptions struct {
	// Root is the host root (default "/").
	Root string
	// Location is the payload; Descriptor the OS image's, which it must
	// match.
	Location   Location
	Descriptor payload.ImagePayload
	// Listen is the TCP address (default ":" + payload.ImageRegistryPort).
	Listen string
	// Log gets the console lines: what is served, where; nil logs none.
	Log *log.Logger
	// RequestLog gets one line per request; nil logs none.
	RequestLog *slog.Logger
	// Ready is called once the socket listens (systemd's READY=1); nil
	// calls nothing.
	Ready func() error
}

// Listen is the address a node serves its payload on: every address on a
// server, where agents pull from it (registries.yaml names the server it
// joins), loopback on an agent, whose registry only its own containerd
// uses.
func Listen(server bool) string {
	port := fmt.Sprint(payload.ImageRegistryPort)
	if server {
		return ":" + port
	}
	return net.JoinHostPort("127.0.0.1", port)
}

// Serve opens and checks the payload, listens, and serves it read-only
// until ctx ends.
func Serve(ctx context.Context, opts ServeOptions) error {
	if opts.Root == "" {
		opts.Root = "/"
	}
	if opts.Listen == "" {
		opts.Listen = Listen(true)
	}
	if opts.Log == nil {
		opts.Log = log.New(io.Discard, "", 0)
	}
	p, err := Open(opts.Root, opts.Location, opts.Descriptor)
	if err != nil {
		return fmt.Errorf("payload %s: %w", Short(opts.Descriptor.Index), err)
	}
	defer p.Close()
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("serve payload: %w", err)
	}
	srv := &http.Server{
		Handler:           logRequests(p.Layout.Handler(), opts.RequestLog),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	opts.Log.Printf("serving payload %s (%d images) from %s on %s", Short(opts.Descriptor.Index), len(opts.Descriptor.Images), p.Location, ln.Addr())
	if opts.Ready != nil {
		if err := opts.Ready(); err != nil {
			srv.Close()
			return err
		}
	}
	select {
	case err := <-done:
		return fmt.Errorf("serve payload on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("stop serving payload: %w", err)
	}
	return nil
}

// logRequests logs each request's method, path, query and status.
func logRequests(h http.Handler, l *slog.Logger) http.Handler {
	if l == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		l.Info("request", "method", r.Method, "uri", r.URL.RequestURI(), "status", sw.status, "remote", r.RemoteAddr)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// ReadFrom keeps the server's own copy path (large buffers) for blobs.
func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) { return io.Copy(w.ResponseWriter, r) }

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
