package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Record is the completion record of a Once step, kept as JSON at
// StateDir/steps/<step>.json.
type Record struct {
	Step      string            `json:"step"`
	Completed time.Time         `json:"completed"`
	Values    map[string]string `json:"values,omitempty"`
}

func recordPath(env *Env, step string) string {
	return env.Path(filepath.Join(StateDir, "steps", step+".json"))
}

func readRecord(env *Env, step string) (Record, bool, error) {
	path := recordPath(env, step)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("read record %s: %w", path, err)
	}
	var rec Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return Record{}, false, fmt.Errorf("parse record %s: %w", path, err)
	}
	return rec, true, nil
}

func writeRecord(env *Env, rec Record) error {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("encode record of %s: %w", rec.Step, err)
	}
	return writeFileAtomic(recordPath(env, rec.Step), append(data, '\n'), 0o644)
}

// writeFileAtomic writes data to path so that path holds either its old
// content or all of data, even across a power cut (see writeAtomic).
// Missing parent directories are created with mode 0755.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	return writeAtomic(path, perm, 0o755, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// leftoverPrefix starts the name of writeAtomic's temporary file: a dot
// file, which K3s's deploy controller skips, and a name that tells
// removeLeftovers it is ours.
const leftoverPrefix = ".firstboot-"

// writeAtomic has fill write path's new content into a temporary file in
// the same directory, fsyncs it, renames it over path and fsyncs the
// directory, so path holds either its old content or all of the new. A
// missing directory is created with dirPerm.
func writeAtomic(path string, perm, dirPerm os.FileMode, fill func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, leftoverPrefix+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := fill(tmp); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	return syncDir(dir)
}

// syncDir fsyncs a directory so a rename in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
