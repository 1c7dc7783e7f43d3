package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/agent"
	"github.com/ml-appliance/appliance/firstboot/hostcheck"
)

// noHostCheck is what `firstboot status` says before any host check.
const noHostCheck = "host check: none yet (an image without K3s has none; else firstboot has not got that far)\n"

// TestStatusShowsHostCheck: `firstboot status` prints the last host
// check's summary and each requirement missing or warned about, and its
// JSON carries the whole report.
func TestStatusShowsHostCheck(t *testing.T) {
	root := t.TempDir()
	rep := hostcheck.Report{
		Checked: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC), Kernel: "6.1.0-57-cloud-amd64",
		Results: []hostcheck.Result{
			{Name: "CONFIG_VXLAN", Kernel: true, Hard: true, Detail: "module vxlan is not loaded: flannel"},
			{Name: "AppArmor", Hard: true, OK: true, Detail: "enabled in the kernel"},
			{Name: "swap", Detail: "on (1 device)"},
		},
	}
	data, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, agent.HostCheckPath), string(data))

	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"status", "--root", root}, &stdout, &stderr); code != 0 {
		t.Fatalf("status: code %d, %s", code, stderr.String())
	}
	want := "node: no role decided yet (firstboot has not got that far)\n" +
		"host check (2026-12-06T10:00:00Z, kernel 6.1.0-57-cloud-amd64): failed: 1 hard requirement missing (CONFIG_VXLAN); 1 warning\n" +
		"  missing CONFIG_VXLAN: module vxlan is not loaded: flannel\n" +
		"  warning swap: on (1 device)\n"
	if got := stdout.String(); !strings.HasPrefix(got, want) {
		t.Errorf("status printed:\n%s\nwant it to start with:\n%s", got, want)
	}

	stdout.Reset()
	if code := run(context.Background(), []string{"status", "--root", root, "-o", "json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("status -o json: code %d, %s", code, stderr.String())
	}
	var got statusReport
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, stdout.String())
	}
	if got.HostCheck == nil || got.HostCheck.Passed() || len(got.HostCheck.Results) != 3 || got.HostCheck.Results[1].Name != "AppArmor" {
		t.Errorf("status JSON = %s", stdout.String())
	}
	if !strings.Contains(stdout.String(), `"hostCheck": {`) {
		t.Errorf("status JSON has no hostCheck object:\n%s", stdout.String())
	}
}
