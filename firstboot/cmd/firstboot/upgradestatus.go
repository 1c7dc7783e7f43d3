package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/ml-appliance/appliance/firstboot/upgrade"
)

// readUpgradeStatus is what `firstboot status` says of the release and
// the A/B slots (upgrade.ReadStatus); what cannot be read is said in the
// line, not fatal to the other lines. A root with no /proc/cmdline (a
// directory standing in for a node, in tests of the other lines) has
// none: nil, and no line.
func readUpgradeStatus(root string) (*upgrade.BootStatus, error) {
	s, err := upgrade.ReadStatus(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return &upgrade.BootStatus{Error: err.Error()}, nil
	}
	return &s, nil
}

// printUpgradeStatus writes the release line, e.g.
// "release: 2.0.0 (slot a); slot b: 3.0.0 rejected: k3s.service is failed".
func printUpgradeStatus(w io.Writer, s *upgrade.BootStatus) {
	if s != nil {
		fmt.Fprintln(w, s.Line())
	}
}
