package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ml-appliance/appliance/firstboot/atomicfile"
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
// content or all of data, even across a power cut (see atomicfile.Write).
// Missing parent directories are created with mode 0755.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	return atomicfile.WriteFile(path, data, perm, atomicfile.MkdirAll(0o755))
}

// writeAtomic has fill write path's new content, as atomicfile.Write does;
// a missing directory is created with dirPerm.
func writeAtomic(path string, perm, dirPerm os.FileMode, fill func(io.Writer) error) error {
	return atomicfile.Write(path, perm, fill, atomicfile.MkdirAll(dirPerm))
}

// syncDir fsyncs a directory so a rename in it is durable.
func syncDir(dir string) error { return atomicfile.SyncDir(dir) }
