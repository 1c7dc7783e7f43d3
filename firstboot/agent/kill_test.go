package agent

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Environment of a child boot in TestKilledAndResumed: the fixture root
// and which boot (1 or 2) it is.
const (
	childRootEnv = "FIRSTBOOT_TEST_CHILD_ROOT"
	childBootEnv = "FIRSTBOOT_TEST_CHILD_BOOT"
)

func TestMain(m *testing.M) {
	if root := os.Getenv(childRootEnv); root != "" {
		os.Exit(childBoot(root, os.Getenv(childBootEnv)))
	}
	os.Exit(m.Run())
}

// childBoot runs the agent as the fault fixture's boot in this process,
// printing to stdout, with every host tool taking a few milliseconds, as
// real ones do, so a kill can land inside a step.
func childBoot(root, boot string) int {
	now, tag := testClock, "boot1"
	if boot == "2" {
		now, tag = testClock.Add(time.Hour), "boot2"
	}
	env := &Env{
		Root: root, Out: os.Stdout, Now: func() time.Time { return now },
		Runner:  slowRunner{&keygenRunnerDouble{tag: tag, outputs: hostOutputs}},
		Mounter: mtoolsMounterDouble{},
	}
	if err := Run(context.Background(), env); err != nil {
		fmt.Fprintf(os.Stdout, "child: %v\n", err)
		return 1
	}
	return 0
}

type slowRunner struct{ r Runner }

func (s slowRunner) Run(ctx context.Context, name string, args ...string) ([]byte, error) {
	time.Sleep(3 * time.Millisecond)
	return s.r.Run(ctx, name, args...)
}

// startChild starts a boot of root in a child process.
func startChild(t *testing.T, root, boot string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childRootEnv+"="+root, childBootEnv+"="+boot)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, bufio.NewScanner(stdout)
}

// TestKilledAndResumed kills a real agent process (SIGKILL) once it has
// printed the first line of each step in turn, wherever it then is, boots
// again in a new process, and checks the end state equals an uninterrupted
// boot's (up to what differs between boots by nature).
func TestKilledAndResumed(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the agent in child processes")
	}
	baseRoot := faultFixture(t)
	base, lines := startChild(t, baseRoot, "1")
	var baseOut []string
	for lines.Scan() {
		baseOut = append(baseOut, lines.Text())
	}
	if err := base.Wait(); err != nil {
		t.Fatalf("uninterrupted boot: %v\n%s", err, strings.Join(baseOut, "\n"))
	}
	want := snapshot(t, baseRoot)

	for _, step := range Steps() {
		prefix := "firstboot: " + step.Name
		t.Run(step.Name, func(t *testing.T) {
			root := faultFixture(t)
			cmd, lines := startChild(t, root, "1")
			killed := false
			for lines.Scan() {
				if strings.HasPrefix(lines.Text(), prefix) || (step.Name == "decide-role" && strings.HasPrefix(lines.Text(), "firstboot: role=")) {
					if err := cmd.Process.Kill(); err != nil {
						t.Fatal(err)
					}
					killed = true
					break
				}
			}
			cmd.Wait()
			if !killed {
				t.Skipf("step %s printed nothing in this fixture to kill at", step.Name)
			}
			writeTestFile(t, root, "/proc/sys/kernel/random/boot_id", secondBootID)
			rebootClearsRun(t, root)
			resumed, lines := startChild(t, root, "2")
			var out []string
			for lines.Scan() {
				out = append(out, lines.Text())
			}
			if err := resumed.Wait(); err != nil {
				t.Fatalf("resumed boot: %v\n%s", err, strings.Join(out, "\n"))
			}
			if d := diffSnapshots(asFirstBoot(snapshot(t, root)), want); d != "" {
				t.Errorf("end state after a kill at %s differs from an uninterrupted boot:\n%s", step.Name, d)
			}
		})
	}
}

// rebootClearsRun removes what a reboot clears of what the agent made in
// /run, a tmpfs: the NoCloud seed's mount point, which a kill while the seed
// is mounted leaves behind (nocloud readSeedFiles removes it on return).
func rebootClearsRun(t *testing.T, root string) {
	t.Helper()
	left, err := filepath.Glob(filepath.Join(root, "run", "firstboot-cidata-*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range left {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
}
