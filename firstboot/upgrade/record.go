package upgrade

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/ml-appliance/appliance/firstboot/atomicfile"
	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
	"github.com/ml-appliance/appliance/internal/smallfile"
)

// AppliedPath is where Apply records the upgrade it applied, on STATE.
const AppliedPath = "/var/lib/appliance/upgrade/applied.json"

// maxApplied bounds the record read back.
const maxApplied = 64 << 10

// Applied is what Apply wrote: the slot and release that boot next on
// trial, and the ones the node ran when it was applied (where it falls
// back to).
type Applied struct {
	Slot    string                `json:"slot"`
	Release upgradebundle.Release `json:"release"`
	// Generation is the loader entry's version (bootslot.Entry).
	Generation int `json:"generation"`
	// Entry is the trial entry's file name in loader/entries.
	Entry           string                `json:"entry"`
	PreviousSlot    string                `json:"previousSlot"`
	PreviousRelease upgradebundle.Release `json:"previousRelease"`
	// Source is where the bundle came from (a URL without credentials).
	Source string    `json:"source"`
	Time   time.Time `json:"time"`
}

// StartedPath is where Apply records, before it touches the slot it
// writes, which release it is writing there; the final record
// (AppliedPath) replaces it. One left behind means an apply was cut short
// (a power cut, a kill): the boot check names it.
const StartedPath = "/var/lib/appliance/upgrade/applying.json"

// Started is the record at StartedPath.
type Started struct {
	Slot    string    `json:"slot"`
	Release string    `json:"release"`
	Source  string    `json:"source"`
	Time    time.Time `json:"time"`
}

// ReadStarted reads the record of an apply that has not finished; with
// none, the error satisfies errors.Is(err, fs.ErrNotExist).
func ReadStarted(root string) (Started, error) {
	var st Started
	err := readRecord(root, StartedPath, maxApplied, "apply-started record", &st)
	return st, err
}

// Interrupted is how the status names slot's emptiness when st, an apply
// that never finished, was writing it.
func (st Started) Interrupted() string {
	return fmt.Sprintf("an apply of %s was cut short (started %s): run firstboot upgrade apply again", st.Release, st.Time.Format(time.RFC3339))
}

// writeApplied records a under root, atomically.
func writeApplied(root string, a Applied) error {
	return writeRecord(root, AppliedPath, "upgrade record", a)
}

// ReadApplied reads the record of the last upgrade applied on the node at
// root; with none, the error satisfies errors.Is(err, fs.ErrNotExist).
func ReadApplied(root string) (Applied, error) {
	var a Applied
	err := readRecord(root, AppliedPath, maxApplied, "upgrade record", &a)
	return a, err
}

// writeRecord writes v as indented JSON to path under root, atomically;
// what names the record in errors.
func writeRecord(root, path, what string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return atomicfile.WriteFile(filepath.Join(root, path), append(data, '\n'), 0o644, atomicfile.MkdirAll(0o755))
}

// readRecord reads the JSON at path under root, at most max bytes, into
// v, refusing unknown fields; a missing file's error satisfies
// errors.Is(err, fs.ErrNotExist).
func readRecord(root, path string, max int64, what string, v any) error {
	data, err := smallfile.Read(filepath.Join(root, path), max)
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, path, smallfile.Cause(err))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s %s: %w", what, path, err)
	}
	return nil
}
