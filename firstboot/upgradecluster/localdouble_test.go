package upgradecluster

import (
	"context"
	"slices"
	"sync"
)

// localDouble is a test double of Local: a node whose release, medium and
// record of its last attempt are fields, whose Apply only records the
// call, and whose Reboot only sets a flag the nodeDouble acts on. It
// follows the contract of the real Local (firstboot/upgrade): LastResult
// is the node's own record, StateApplied from a successful Apply until the
// boot check after the reboot blesses the slot or rolls it back; a
// netbooted node keeps no record.
type localDouble struct {
	mu       sync.Mutex
	release  string
	medium   string
	result   Result
	applies  []string
	reboots  int
	rebootOK bool
	// applyErr fails Apply.
	applyErr error
	onApply  func()
	// serving is the release the bundle (or the OS image served) brings,
	// pending the one the next boot runs.
	serving func() string
	pending string
	// previous is the release before the pending one, while it is checked.
	previous string
}

func (l *localDouble) Release() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.release
}

func (l *localDouble) Medium() string { return l.medium }

func (l *localDouble) LastResult() Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.result
}

func (l *localDouble) Apply(_ context.Context, url string) error {
	if l.onApply != nil {
		l.onApply()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.applies = append(l.applies, url)
	if l.applyErr != nil {
		return l.applyErr
	}
	l.pending = l.serving()
	l.result = Result{Release: l.pending, State: StateApplied}
	return nil
}

func (l *localDouble) Reboot() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reboots++
	l.rebootOK = true
	if l.medium == MediumNetboot {
		l.pending = l.serving()
	}
	return nil
}

// rebooted says whether Reboot was called since the last boot.
func (l *localDouble) rebooted() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rebootOK
}

// comeBack plays the next boot: the node runs the pending release and its
// boot check blessed it, or what back says (StateApplied on the pending
// release: the check is still running).
func (l *localDouble) comeBack(back Result) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rebootOK = false
	switch {
	case back.Release == l.pending && back.State == StateApplied:
		l.previous, l.release = l.release, l.pending
	case back.Release != "":
		l.release = back.Release
		if l.medium == MediumDisk {
			l.result = Result{Release: l.pending, State: back.State, Reason: back.Reason}
		}
	case l.medium == MediumDisk:
		l.release = l.pending
		l.result = Result{Release: l.pending, State: StateBlessed}
	default:
		l.release = l.pending
	}
}

// checking says whether the node runs a release whose boot check has not
// decided yet.
func (l *localDouble) checking() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.result.State == StateApplied && l.result.Release == l.release
}

// checkFailed plays the boot check failing: the next boot is the previous
// release's slot, and the record says why.
func (l *localDouble) checkFailed(reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.release = l.previous
	l.result = Result{Release: l.pending, State: StateRolledBack, Reason: reason}
}

// rolledBack says whether the record is a rollback.
func (l *localDouble) rolledBack() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.result.State == StateRolledBack
}

func (l *localDouble) calls() (applies []string, reboots int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.applies), l.reboots
}
