package site

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/ml-appliance/appliance/internal/smallfile"
)

// Bounds on the files a site config is, or names (docs/site-config.md,
// "Limits"). Every one is read with smallfile.Read: opened non-blocking, so
// a FIFO fails at once instead of hanging the builder; regular files only;
// and never more than its bound, so /dev/zero or a huge file is an error,
// not an out-of-memory crash.
const (
	// MaxConfigBytes bounds site.yaml, like the node's bound on a
	// document (firstboot/datasource.MaxDocumentBytes). A site of a
	// thousand nodes with inline chart values is some 200 KB. The worst
	// 1 MiB (a flow list of one-letter items, each a value to decode and
	// check) takes the builder about 250 MB and a few seconds to refuse;
	// 4 MiB took 1 GB and 17 s.
	MaxConfigBytes = 1 << 20
	// MaxSecretFileBytes bounds a file holding one secret: the file of
	// cluster.token: file:PATH and cluster.etcdSnapshots.s3.secretKeyFile.
	// The build (builder/build clusterfiles.go) and the node read these
	// with the same bound.
	MaxSecretFileBytes = 64 << 10
	// MaxCAFileBytes bounds cluster.etcdSnapshots.s3.endpointCA, a PEM
	// bundle, and the files of the builder's secrets directory
	// (builder/build clusterid.go).
	MaxCAFileBytes = 1 << 20
	// MaxUserDataBytes bounds an outputs.pxe.userData file. Its content is
	// merged into node configs a netbooting node reads with a 1 MiB bound
	// (firstboot/datasource.MaxDocumentBytes); half of that leaves room
	// for what the bundle adds.
	MaxUserDataBytes = 512 << 10
)

// ReadUserData reads an outputs.pxe.userData file (as validation did).
func ReadUserData(path string) ([]byte, error) {
	data, err := readFile(path, MaxUserDataBytes)
	if err != nil {
		return nil, fmt.Errorf("user-data %s: %w", path, err)
	}
	return data, nil
}

// readFile reads a file the config names, of at most max bytes. Its error
// says what is wrong without repeating the path, which the caller names:
// "no such file or directory", "a directory, not a regular file",
// "larger than 64KiB, the limit for this file".
func readFile(path string, max int64) ([]byte, error) {
	data, err := smallfile.Read(path, max)
	if err == nil {
		return data, nil
	}
	switch {
	case errors.Is(err, smallfile.ErrNotRegular):
		return nil, &fileError{fileKind(path) + ", not a regular file", err}
	case errors.Is(err, smallfile.ErrTooLarge):
		return nil, &fileError{fmt.Sprintf("larger than %s, the limit for this file", Size(max)), err}
	}
	return nil, &fileError{smallfile.Cause(err).Error(), err}
}

// fileError is readFile's error: its own words, and the cause for
// errors.Is (fs.ErrNotExist, smallfile.ErrTooLarge, ...).
type fileError struct {
	msg string
	err error
}

func (e *fileError) Error() string { return e.msg }
func (e *fileError) Unwrap() error { return e.err }

// fileKind names what a path that is not a regular file is. It only
// stats: a FIFO is not opened.
func fileKind(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "not readable"
	}
	return modeKind(fi.Mode())
}

// modeKind names a file type: "a directory", "a named pipe (FIFO)", ...
func modeKind(m fs.FileMode) string { return smallfile.Kind(m) }
