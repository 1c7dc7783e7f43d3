package manifests

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFileRefusals checks every refusal of a file or of its name, with its
// exact message. Each case makes its entries in a fresh DIR.
func TestFileRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		// make makes the files in dir and returns the entries to read.
		make func(t *testing.T, dir string) []string
		want []string
	}{{
		name: "symlink entry",
		make: func(t *testing.T, dir string) []string {
			writeFile(t, dir, "real/a.yaml", configMap)
			symlink(t, "real", dir+"/link")
			symlink(t, "real/a.yaml", dir+"/b.yaml")
			return []string{dir + "/link/", dir + "/b.yaml"}
		},
		want: []string{
			"DIR/link: a symbolic link: the build follows none; list the file or directory it points to",
			"DIR/b.yaml: a symbolic link: the build follows none; list the file or directory it points to",
		},
	}, {
		name: "symlinks in a directory",
		make: func(t *testing.T, dir string) []string {
			writeFile(t, dir, "real/a.yaml", configMap)
			symlink(t, "../real/a.yaml", dir+"/m/b.yaml")
			symlink(t, "../real", dir+"/m/sub")
			return []string{dir + "/m"}
		},
		want: []string{
			"DIR/m/b.yaml: a symbolic link: the build follows none; put the file itself there, or list what it points to under manifests",
			"DIR/m/sub: a symbolic link: the build follows none; put the file itself there, or list what it points to under manifests",
		},
	}, {
		name: "FIFO",
		make: func(t *testing.T, dir string) []string {
			fifo(t, dir+"/f.yaml")
			fifo(t, dir+"/m/g.yaml")
			return []string{dir + "/f.yaml", dir + "/m"}
		},
		want: []string{
			"DIR/f.yaml: a named pipe (FIFO), not a regular file or a directory",
			"DIR/m/g.yaml: not a regular file (p---------)",
		},
	}, {
		name: "device",
		make: func(t *testing.T, dir string) []string { return []string{"/dev/null"} },
		want: []string{"/dev/null: a character device, not a regular file or a directory"},
	}, {
		name: "missing, empty and not a manifest",
		make: func(t *testing.T, dir string) []string {
			writeFile(t, dir, "notes.txt", "")
			return []string{dir + "/missing.yaml", "", dir + "/notes.txt"}
		},
		want: []string{
			"DIR/missing.yaml: lstat: no such file or directory",
			": an empty path",
			"DIR/notes.txt: K3s applies only files named *.yaml, *.yml or *.json",
		},
	}, {
		name: "too large",
		make: func(t *testing.T, dir string) []string {
			writeFile(t, dir, "big.yaml", "a: "+strings.Repeat("x", MaxFileBytes)+"\n")
			writeFile(t, dir, "doc.yaml", configMap+"---\ndata:\n  a: "+strings.Repeat("x", MaxDocumentBytes)+"\n")
			return []string{dir + "/big.yaml", dir + "/doc.yaml"}
		},
		want: []string{
			fmt.Sprintf("DIR/big.yaml: larger than %d bytes (MaxFileBytes): split it into several files", MaxFileBytes),
			fmt.Sprintf("DIR/doc.yaml:6: a document of more than %d bytes (MaxDocumentBytes): the API server takes no request over 3 MiB; split it (a List into documents of its items)", MaxDocumentBytes),
		},
	}, {
		name: "K3s's own names",
		make: func(t *testing.T, dir string) []string {
			writeFile(t, dir, "coredns.yaml", configMap)
			writeFile(t, dir, "m/auth-reader.yml", configMap)
			writeFile(t, dir, "m/servicelb.custom.json", `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}`)
			return []string{dir + "/coredns.yaml", dir + "/m"}
		},
		want: []string{
			"DIR/coredns.yaml: its K3s Addon name \"coredns\" (the file name up to its first dot) is taken by K3s's own manifest coredns.yaml: rename the file",
			"DIR/m/auth-reader.yml: its K3s Addon name \"auth-reader\" (the file name up to its first dot) is taken by K3s's own manifest metrics-server/auth-reader.yaml: rename the file",
			"DIR/m/servicelb.custom.json: its K3s Addon name \"servicelb\" (the file name up to its first dot) is taken by a name `k3s server --disable` takes, which deletes a manifest of that name: rename the file",
		},
	}, {
		name: "duplicate Addon names",
		make: func(t *testing.T, dir string) []string {
			writeFile(t, dir, "web.yaml", configMap)
			writeFile(t, dir, "m/a/web.v2.yml", configMap)
			writeFile(t, dir, "m/b/web.json", `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}`)
			return []string{dir + "/web.yaml", dir + "/m", dir + "/web.yaml"}
		},
		want: []string{
			"DIR/m/a/web.v2.yml: DIR/web.yaml and DIR/m/a/web.v2.yml both take K3s's Addon name \"web\" (a file's name up to its first dot): K3s tracks them as one Addon, applying either prunes the other's objects, and the build would place both as web.yaml; rename one",
			"DIR/m/b/web.json: DIR/web.yaml and DIR/m/b/web.json both take K3s's Addon name \"web\" (a file's name up to its first dot): K3s tracks them as one Addon, applying either prunes the other's objects, and the build would place both as web.yaml; rename one",
			"DIR/web.yaml: listed twice under manifests",
		},
	}, {
		name: "Addon names K3s cannot create",
		make: func(t *testing.T, dir string) []string {
			writeFile(t, dir, "Web.yaml", configMap)
			writeFile(t, dir, "my_app.yaml", configMap)
			writeFile(t, dir, ".hidden.yaml", configMap)
			return []string{dir + "/Web.yaml", dir + "/my_app.yaml", dir + "/.hidden.yaml"}
		},
		want: []string{
			"DIR/Web.yaml: the file name gives K3s's Addon name \"Web\" (the name up to its first dot), which is not " + labelRule + ": rename the file",
			"DIR/my_app.yaml: the file name gives K3s's Addon name \"my_app\" (the name up to its first dot), which is not " + labelRule + ": rename the file",
			"DIR/.hidden.yaml: the file name gives K3s's Addon name \"\" (the name up to its first dot), which is not " + labelRule + ": rename the file",
		},
	}, {
		name: "too many files",
		make: func(t *testing.T, dir string) []string {
			for i := range MaxFiles + 2 {
				writeFile(t, dir, fmt.Sprintf("m/f%03d.yaml", i), "")
			}
			return []string{dir + "/m"}
		},
		want: []string{fmt.Sprintf("DIR/m/f%03d.yaml: more than %d manifest files (MaxFiles): K3s re-reads each every 15 seconds; join small ones", MaxFiles, MaxFiles)},
	}, {
		name: "too many directory entries",
		make: func(t *testing.T, dir string) []string {
			writeFile(t, dir, "m/notes0000.txt", "")
			for i := 1; i <= MaxDirEntries; i++ {
				if err := os.Link(dir+"/m/notes0000.txt", fmt.Sprintf("%s/m/notes%04d.txt", dir, i)); err != nil {
					t.Fatal(err)
				}
			}
			return []string{dir + "/m"}
		},
		want: []string{fmt.Sprintf("DIR/m: the manifest directories hold more than %d entries in all (MaxDirEntries): list directories of manifests, not a tree around them", MaxDirEntries)},
	}, {
		name: "too deep",
		make: func(t *testing.T, dir string) []string {
			writeFile(t, dir, "m"+strings.Repeat("/d", MaxDepth+1)+"/a.yaml", configMap)
			return []string{dir + "/m"}
		},
		want: []string{fmt.Sprintf("DIR/m%s: more than %d directories deep below the entry (MaxDepth)", strings.Repeat("/d", MaxDepth+1), MaxDepth)},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			entries := tc.make(t, dir)
			done := make(chan error, 1)
			go func() {
				set, err := Read(entries)
				if set != nil && err != nil {
					err = fmt.Errorf("a set as well as an error: %w", err)
				}
				done <- err
			}()
			select {
			case err := <-done:
				if got := errorLines(err, dir); !reflect.DeepEqual(got, tc.want) {
					t.Errorf("errors:\ngot  %q\nwant %q", got, tc.want)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Read blocked")
			}
		})
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, parentMade(t, link)); err != nil {
		t.Fatal(err)
	}
}

func fifo(t *testing.T, p string) {
	t.Helper()
	if err := syscall.Mkfifo(parentMade(t, p), 0o644); err != nil {
		t.Fatal(err)
	}
}
