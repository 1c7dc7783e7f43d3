package upgrade

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// UnitState is what systemd says of a unit this boot (systemctl show; the
// properties of org.freedesktop.systemd1.Unit and .Service, systemd
// v252).
type UnitState struct {
	// ActiveState: active, activating, deactivating, inactive, failed.
	ActiveState string
	// SubState: the unit type's state, e.g. running, exited, auto-restart.
	SubState string
	// Result: success, or why the service last failed (exit-code, signal,
	// timeout, ...).
	Result string
	// NRestarts counts automatic restarts since the unit was started.
	NRestarts int
	// Started says the main process was started this boot
	// (ExecMainStartTimestampMonotonic is not 0).
	Started bool
}

// String is "failed (result exit-code)" or "active (running)".
func (u UnitState) String() string {
	if u.Result != "" && u.Result != "success" {
		return fmt.Sprintf("%s (%s, result %s)", u.ActiveState, u.SubState, u.Result)
	}
	return fmt.Sprintf("%s (%s)", u.ActiveState, u.SubState)
}

// Units reads unit states.
type Units interface {
	State(ctx context.Context, unit string) (UnitState, error)
}

// Systemctl reads unit states with `systemctl show`.
type Systemctl struct{}

// unitName is the grammar of a unit name systemctl is asked about.
var unitName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9:_.@-]{0,250}\.service$`)

// maxShow bounds systemctl's answer.
const maxShow = 64 << 10

// State runs `systemctl show --property=... UNIT`.
func (Systemctl) State(ctx context.Context, unit string) (UnitState, error) {
	if !unitName.MatchString(unit) {
		return UnitState{}, fmt.Errorf("unit %q: not a service unit name", unit)
	}
	c := exec.CommandContext(ctx, "systemctl", "show",
		"--property=ActiveState,SubState,Result,NRestarts,ExecMainStartTimestampMonotonic", "--", unit)
	var stderr bytes.Buffer
	c.Stderr = &stderr
	out, err := c.StdoutPipe()
	if err != nil {
		return UnitState{}, fmt.Errorf("systemctl show %s: %w", unit, err)
	}
	if err := c.Start(); err != nil {
		return UnitState{}, fmt.Errorf("systemctl show %s: %w", unit, err)
	}
	data, readErr := io.ReadAll(io.LimitReader(out, maxShow))
	io.Copy(io.Discard, out) // so systemctl never blocks on a full pipe
	if err := c.Wait(); err != nil {
		return UnitState{}, fmt.Errorf("systemctl show %s: %w: %s", unit, err, strings.TrimSpace(stderr.String()))
	}
	if readErr != nil {
		return UnitState{}, fmt.Errorf("systemctl show %s: %w", unit, readErr)
	}
	return parseShow(string(data)), nil
}

// parseShow reads systemctl show's KEY=VALUE lines.
func parseShow(out string) UnitState {
	var u UnitState
	for _, line := range strings.Split(out, "\n") {
		key, value, _ := strings.Cut(line, "=")
		switch key {
		case "ActiveState":
			u.ActiveState = value
		case "SubState":
			u.SubState = value
		case "Result":
			u.Result = value
		case "NRestarts":
			u.NRestarts, _ = strconv.Atoi(value)
		case "ExecMainStartTimestampMonotonic":
			u.Started = value != "" && value != "0"
		}
	}
	return u
}
