package datasource

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Local documents are read with a bound and never block: a FIFO named by
// the kernel command line, or in place of /proc/cmdline, is an error.
func TestGatherRefusesHostileFiles(t *testing.T) {
	for _, tc := range []struct {
		name, cmdline string
		setup         func(t *testing.T, root string)
		err           string // the error's end
	}{
		{
			name:    "FIFO as firstboot.config",
			cmdline: "firstboot.config=/etc/fifo",
			setup:   func(t *testing.T, root string) { mkfifo(t, filepath.Join(root, "etc/fifo")) },
			err:     "/etc/fifo: not a regular file (p---------)",
		},
		{
			name:    "FIFO in a ds=nocloud seed directory",
			cmdline: "ds=nocloud;s=file:///seed/",
			setup: func(t *testing.T, root string) {
				writeFile(t, root, "/seed/meta-data", "instance-id: i\n")
				mkfifo(t, filepath.Join(root, "seed/user-data"))
			},
			err: "/seed/user-data: not a regular file (p---------)",
		},
		{
			name:    "document too large",
			cmdline: "firstboot.config=/etc/big.yaml",
			setup: func(t *testing.T, root string) {
				writeFile(t, root, "/etc/big.yaml", "#cloud-config\n"+strings.Repeat("#", MaxDocumentBytes))
			},
			err: "/etc/big.yaml: larger than 1048576 bytes",
		},
		{
			name:  "FIFO as /proc/cmdline",
			setup: func(t *testing.T, root string) { mkfifo(t, filepath.Join(root, "proc/cmdline")) },
			err:   "/proc/cmdline: not a regular file (p---------)",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec recorder
			opts := rec.options(t, tc.cmdline)
			tc.setup(t, opts.Root)
			var err error
			done := make(chan struct{})
			go func() { _, err = Gather(context.Background(), opts); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Gather blocks")
			}
			if err == nil || !strings.HasSuffix(err.Error(), tc.err) {
				t.Fatalf("err = %v, want one ending %q", err, tc.err)
			}
		})
	}
}

// h= and i= rewrite the meta-data: a second document must not vanish in
// the rewrite.
func TestWithCmdlineMetaOneDocument(t *testing.T) {
	_, err := withCmdlineMeta([]byte("instance-id: a\n---\nlocal-hostname: b\n"), "n1", "")
	if want := "meta-data line 2: a second YAML document starts here; want one document"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}

func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Fatal(err)
	}
}
