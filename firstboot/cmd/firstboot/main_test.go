package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunErrorExit(t *testing.T) {
	var stdout, stderr bytes.Buffer
	root := t.TempDir()
	console := filepath.Join(t.TempDir(), "console")
	if err := os.WriteFile(console, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	code := run(context.Background(), []string{"run", "--root", root, "--console", console}, &stdout, &stderr)
	want := "firstboot: error: step load-config: read node config: open " + filepath.Join(root, "etc/appliance/node.yaml") + ": no such file or directory\n"
	if code != 1 || stderr.String() != want || stdout.Len() != 0 {
		t.Errorf("code %d, stdout %q, stderr %q; want 1, \"\", %q", code, stdout.String(), stderr.String(), want)
	}
	if got, _ := os.ReadFile(console); string(got) != want {
		t.Errorf("console got %q, want the error line %q", got, want)
	}
}

func TestBadArgs(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"run", "extra"}, &stdout, &stderr)
	want := "firstboot: error: unknown command \"extra\" for \"firstboot run\"\n"
	if code != 1 || stderr.String() != want {
		t.Errorf("code %d, stderr %q; want 1, %q", code, stderr.String(), want)
	}
}

func TestVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &stdout, &stderr); code != 0 {
		t.Fatalf("code %d, stderr %q", code, stderr.String())
	}
	if got := stdout.String(); !strings.HasPrefix(got, "firstboot ") || !strings.HasSuffix(got, "\n") || len(got) <= len("firstboot \n") {
		t.Errorf("version printed %q", got)
	}
}

// TestRunFirstBoot runs the binary's entry point against a minimal root:
// the done line is the contract boot tests look for.
func TestRunFirstBoot(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"etc/appliance/node.yaml":         "apiVersion: appliance/v1alpha1\nkind: NodeConfig\nsite: lab\ndefaultRole: server\n",
		"sys/class/net/eth0/address":      "52:54:00:12:34:56\n",
		"sys/class/net/eth0/device/.keep": "",
		"proc/self/mountinfo":             "22 1 0:21 / / ro - overlay overlay rw\n",
		"proc/sys/kernel/random/boot_id":  "b0\n",
		"proc/cmdline":                    "console=ttyS0\n",
	}
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	console := filepath.Join(t.TempDir(), "console")
	if err := os.WriteFile(console, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"run", "--root", root, "--console", console}, &stdout, &stderr); code != 0 {
		t.Fatalf("code %d, stderr %q, stdout:\n%s", code, stderr.String(), stdout.String())
	}
	if !strings.HasSuffix(stdout.String(), "\nfirstboot: done role=server hostname=lab-123456\n") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	// The console gets the same lines, unprefixed, as the journal's stdout.
	if got, _ := os.ReadFile(console); string(got) != stdout.String() {
		t.Errorf("console got:\n%s\nwant the stdout lines:\n%s", got, stdout.String())
	}
	if got, _ := os.ReadFile(filepath.Join(root, "etc/hostname")); string(got) != "lab-123456\n" {
		t.Errorf("/etc/hostname = %q", got)
	}
}
