package upgradecluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/ml-appliance/appliance/firstboot/atomicfile"
	"github.com/ml-appliance/appliance/internal/smallfile"
)

// Progress is a run's record on STATE, written (atomically) before each
// step, so that a run cut short (the initial server reboots into the new
// release while its own upgrade is waited for) resumes where it was.
type Progress struct {
	// Release, BundleURL and BundleDir are the run's Plan.
	Release   string `json:"release"`
	BundleURL string `json:"bundleURL"`
	BundleDir string `json:"bundleDir,omitempty"`
	// Done are the nodes on Release, in the order they were done.
	Done []string `json:"done,omitempty"`
	// Current is the node being upgraded, nil between nodes.
	Current *NodeStep `json:"current,omitempty"`
	// Stopped says why the last run stopped at a node ("" if it did not).
	Stopped string `json:"stopped,omitempty"`
}

// NodeStep is how far the upgrade of one node went.
type NodeStep struct {
	Node string `json:"node"`
	Step Step   `json:"step"`
	// BootID is the node's boot when it was asked to upgrade.
	BootID string `json:"bootID,omitempty"`
	// WasCordoned: someone had cordoned the node before the upgrade did,
	// so it stays cordoned after.
	WasCordoned bool `json:"wasCordoned,omitempty"`
}

// Step is a step of one node's upgrade.
type Step string

// The steps of a node, in order.
const (
	StepCordoned  Step = "cordoned"
	StepDrained   Step = "drained"
	StepRequested Step = "requested"
)

// maxProgressSize bounds the progress file: a few hundred nodes' names.
const maxProgressSize = 1 << 20

// ReadProgress reads the progress file at path; ok is false when there is
// none.
func ReadProgress(path string) (p Progress, ok bool, err error) {
	data, err := smallfile.Read(path, maxProgressSize)
	if errors.Is(err, fs.ErrNotExist) {
		return Progress{}, false, nil
	}
	if err != nil {
		return Progress{}, false, fmt.Errorf("read upgrade progress: %w", err)
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return Progress{}, false, fmt.Errorf("read upgrade progress %s: %w", path, err)
	}
	if err := checkRelease("upgrade progress "+path+": release", p.Release); err != nil {
		return Progress{}, false, err
	}
	return p, true, nil
}

// writeProgress replaces the progress file at path.
func writeProgress(path string, p Progress) error {
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return fmt.Errorf("write upgrade progress: %w", err)
	}
	if err := atomicfile.WriteFile(path, append(data, '\n'), 0o600, atomicfile.MkdirAll(0o700)); err != nil {
		return fmt.Errorf("write upgrade progress: %w", err)
	}
	return nil
}

func (p Progress) done(node string) bool { return slices.Contains(p.Done, node) }
