package agent

import (
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

// dumpe2fsSize reads a filesystem's size with dumpe2fs, a tool we did not write.
func dumpe2fsSize(t *testing.T, dev string) int64 {
	t.Helper()
	out, err := exec.Command("dumpe2fs", "-h", dev).CombinedOutput()
	if err != nil {
		t.Fatalf("dumpe2fs: %v\n%s", err, out)
	}
	count := regexp.MustCompile(`(?m)^Block count:\s+(\d+)$`).FindSubmatch(out)
	size := regexp.MustCompile(`(?m)^Block size:\s+(\d+)$`).FindSubmatch(out)
	if count == nil || size == nil {
		t.Fatalf("dumpe2fs output lacks block count or size:\n%s", out)
	}
	c, _ := strconv.ParseInt(string(count[1]), 10, 64)
	s, _ := strconv.ParseInt(string(size[1]), 10, 64)
	return c * s
}

// TestGrowStateReal grows a real ext4 image with the real resize2fs.
func TestGrowStateReal(t *testing.T) {
	root := newRoot(t, fixture{config: testConfig, stateImage: makeExt4(t, 8192, 20480)})
	dev := root + "/dev/vda4"
	if got := dumpe2fsSize(t, dev); got != 8<<20 {
		t.Fatalf("fixture size %d, want %d", got, 8<<20)
	}
	var out bytes.Buffer
	env := newTestEnv(root, &out, testClock)
	env.Runner = ExecRunner{}
	if err := growState(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if got := dumpe2fsSize(t, dev); got != 20<<20 {
		t.Errorf("after grow-state dumpe2fs says %d bytes, want %d", got, 20<<20)
	}
	if got, err := Ext4Size(dev); err != nil || got != 20<<20 {
		t.Errorf("Ext4Size = %d, %v; want %d", got, err, 20<<20)
	}
	if want := "firstboot: grow-state: /dev/vda4 is 20.0 MiB (was 8.0 MiB)\n"; out.String() != want {
		t.Errorf("printed %q, want %q", out.String(), want)
	}
}

func TestGrowStateCases(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mountinfo string
		wantOut   string
		wantErr   string
		wantCalls int
	}{
		{
			name:      "state in RAM",
			mountinfo: "22 1 0:21 / / ro - overlay overlay rw\n30 22 0:30 / /run rw - tmpfs tmpfs rw\n",
			wantOut:   "firstboot: grow-state: nothing mounted at /run/appliance/state (state in RAM), nothing to grow\n",
		},
		{
			name:      "not ext4",
			mountinfo: "30 22 254:4 / /run/appliance/state rw - xfs /dev/vda4 rw\n",
			wantErr:   "STATE /dev/vda4 at /run/appliance/state is xfs, want ext4",
		},
		{
			name:      "bad mountinfo",
			mountinfo: "garbage\n",
			wantErr:   "parse ROOT/proc/self/mountinfo: bad line \"garbage\"",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := newRoot(t, fixture{config: testConfig})
			writeTestFile(t, root, "/proc/self/mountinfo", tc.mountinfo)
			var out bytes.Buffer
			env := newTestEnv(root, &out, testClock)
			err := growState(context.Background(), env)
			if tc.wantErr != "" {
				want := regexp.MustCompile("ROOT").ReplaceAllLiteralString(tc.wantErr, root)
				if err == nil || err.Error() != want {
					t.Fatalf("err = %v, want %q", err, want)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.wantOut {
				t.Errorf("printed %q, want %q", out.String(), tc.wantOut)
			}
			if calls := env.Runner.(*keygenRunnerDouble).calls; len(calls) != tc.wantCalls {
				t.Errorf("ran %q", calls)
			}
		})
	}
}

func TestFindMount(t *testing.T) {
	root := t.TempDir()
	writeTestFile(t, root, "/proc/self/mountinfo", ""+
		"30 22 254:4 / /run/appliance/state rw shared:9 - ext4 /dev/vda4 rw\n"+
		"31 22 0:50 / /mnt/with\\040space rw - vfat /dev/my\\040disk rw\n"+
		"32 30 254:5 / /run/appliance/state rw master:1 propagate_from:2 - ext4 /dev/vdb1 rw\n")
	for _, tc := range []struct {
		mountPoint string
		want       Mount
		ok         bool
	}{
		{"/run/appliance/state", Mount{"/run/appliance/state", "ext4", "/dev/vdb1"}, true},
		{"/mnt/with space", Mount{"/mnt/with space", "vfat", "/dev/my disk"}, true},
		{"/nowhere", Mount{}, false},
	} {
		got, ok, err := FindMount(root, tc.mountPoint)
		if err != nil || ok != tc.ok || got != tc.want {
			t.Errorf("FindMount(%q) = %+v, %v, %v; want %+v, %v", tc.mountPoint, got, ok, err, tc.want, tc.ok)
		}
	}
}
