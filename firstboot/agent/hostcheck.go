package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"

	"github.com/ml-appliance/appliance/firstboot/hostcheck"
)

// HostCheckPath holds the report of the last host check, a
// hostcheck.Report as JSON; `firstboot status` prints it.
const HostCheckPath = StateDir + "/host-check.json"

// hostCheck checks, every boot and before K3s is queued, that the node has
// what K3s needs (package hostcheck): one console line per check, one per
// missing kernel option, and a summary. A missing hard requirement stops
// the agent here with an error, so K3s is not started: the node says what
// is missing once, instead of K3s failing in a loop. The report is kept at
// HostCheckPath either way. Images without K3s have nothing to check.
func hostCheck(ctx context.Context, env *Env) error {
	if !env.hasK3s() {
		return nil
	}
	rep, err := hostcheck.Run(ctx, hostcheck.Options{
		Root: env.Root, Runner: env.Runner, ServerName: joinServerName(env), Sleep: env.sleep, Now: env.Now,
	})
	if errors.Is(err, hostcheck.ErrNotBooted) {
		env.Printf("host-check: %v: nothing checked", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("host check: %w", err)
	}
	for _, line := range rep.Lines() {
		env.Printf("host-check: %s", line)
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode host check report: %w", err)
	}
	if err := writeFileAtomic(env.Path(HostCheckPath), append(data, '\n'), 0o644); err != nil {
		return err
	}
	if !rep.Passed() {
		return fmt.Errorf("%s; K3s is not started (`firstboot status` lists what is missing)", rep.Summary())
	}
	return nil
}

// joinServerName is the host name of the server this node joins, "" on
// the initial server or when the server is given by address.
func joinServerName(env *Env) string {
	u, err := url.Parse(joinServerURL(env))
	if err != nil || u.Hostname() == "" {
		return ""
	}
	if _, err := netip.ParseAddr(u.Hostname()); err == nil {
		return ""
	}
	return u.Hostname()
}

// ReadHostCheck reads the last host check's report under root; nil when
// no check has run there.
func ReadHostCheck(root string) (*hostcheck.Report, error) {
	data, err := os.ReadFile(filepath.Join(root, HostCheckPath))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read host check report: %w", err)
	}
	var rep hostcheck.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("read host check report %s: %w", filepath.Join(root, HostCheckPath), err)
	}
	return &rep, nil
}
