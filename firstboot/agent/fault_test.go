package agent

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/firstboot/imagepayload"
)

// faultFixture is the host the fault tests boot: the inventory's initial
// server of a K3s image with a NoCloud seed, so every step has work to do.
func faultFixture(t *testing.T) string {
	root := newRoot(t, fixture{
		config:     clusterConfig(),
		nics:       map[string]string{"eth0": "52:54:00:00:00:01"},
		stateImage: makeExt4(t, 4096, 6144),
	})
	withK3s(t, root)
	withAccounts(t, root)
	withPayload(t, root, imagepayload.KindState)
	addSeed(t, root, map[string]string{"meta-data": "instance-id: iid-7\n", "user-data": strings.Replace(seedUserData, "appliance: {role: agent, node_labels: [gpu=true]}\n", "", 1)})
	return root
}

// faultEnv is a boot of the fault fixture.
func faultEnv(root string, out *bytes.Buffer, now time.Time, tag string) *Env {
	env := newTestEnv(root, out, now)
	env.Runner = &keygenRunnerDouble{tag: tag, outputs: hostOutputs}
	env.Mounter = mtoolsMounterDouble{}
	return env
}

const secondBootID = "0b7e2d4c-1111-4222-8333-944455556666\n"

// asFirstBoot rewrites what differs between two boots by nature (boot id,
// clock, generated keys) to the first boot's values.
func asFirstBoot(snap map[string]string) map[string]string {
	r := strings.NewReplacer(
		strings.TrimSpace(secondBootID), strings.TrimSpace(testBootID),
		testClock.Add(time.Hour).Format(time.RFC3339), testClock.Format(time.RFC3339),
		"PRIVATE boot2", "PRIVATE boot1")
	out := map[string]string{}
	for p, c := range snap {
		out[p] = r.Replace(c)
	}
	return out
}

// TestResumeAfterCrash simulates a power cut at every point between steps
// and between a step's work and its record, then boots again, and checks the
// end state is the one an uninterrupted boot leaves (up to what differs
// between boots by nature) and that nothing already on STATE was rewritten.
func TestResumeAfterCrash(t *testing.T) {
	ctx := context.Background()
	baseRoot := faultFixture(t)
	var baseOut bytes.Buffer
	if err := Run(ctx, faultEnv(baseRoot, &baseOut, testClock, "boot1")); err != nil {
		t.Fatalf("uninterrupted boot: %v\n%s", err, baseOut.String())
	}
	want := snapshot(t, baseRoot)
	for _, p := range []string{"var/lib/rancher/k3s/server/tls/server-ca.crt", "etc/rancher/k3s/config.yaml",
		"etc/systemd/network/10-cloud-config-inventory.network", "home/ops/.ssh/authorized_keys", "etc/motd.d/site",
		"run/appliance/image-payload.json"} {
		if _, ok := want[p]; !ok {
			t.Fatalf("the uninterrupted boot did not make %s; the fault test would not cover its step\n%s", p, baseOut.String())
		}
	}
	wantSize, err := Ext4Size(baseRoot + "/dev/vda4")
	if err != nil {
		t.Fatal(err)
	}

	steps := Steps()
	for n := 0; n <= len(steps); n++ {
		for _, unrecorded := range []bool{false, true} {
			if unrecorded && n == len(steps) {
				continue
			}
			name := fmt.Sprintf("after %d steps", n)
			if unrecorded {
				name = fmt.Sprintf("during %s", steps[n].Name)
			}
			t.Run(name, func(t *testing.T) {
				root := faultFixture(t)
				var out bytes.Buffer
				env := faultEnv(root, &out, testClock, "boot1")
				if err := RunSteps(ctx, env, steps[:n]); err != nil {
					t.Fatalf("boot cut after %d steps: %v\n%s", n, err, out.String())
				}
				if unrecorded {
					// The step did its work, the power went before its record.
					if err := steps[n].Run(ctx, env); err != nil {
						t.Fatalf("step %s: %v", steps[n].Name, err)
					}
				}
				before := snapshot(t, root)
				// The next boot: another boot id, a later clock, other keys.
				writeTestFile(t, root, "/proc/sys/kernel/random/boot_id", secondBootID)
				out.Reset()
				env = faultEnv(root, &out, testClock.Add(time.Hour), "boot2")
				if err := Run(ctx, env); err != nil {
					t.Fatalf("resumed boot: %v\n%s", err, out.String())
				}
				if !strings.HasSuffix(out.String(), "firstboot: done role=server hostname=gpu-7\n") {
					t.Errorf("resumed boot did not finish as expected:\n%s", out.String())
				}
				after := snapshot(t, root)
				if d := diffSnapshots(asFirstBoot(after), want); d != "" {
					t.Errorf("end state differs from an uninterrupted boot:\n%s", d)
				}
				for p, content := range before {
					if strings.HasPrefix(p, "var/") && after[p] != content {
						t.Errorf("resumed boot rewrote persistent %s:\n got  %q\n want %q", p, after[p], content)
					}
				}
				if size, err := Ext4Size(root + "/dev/vda4"); err != nil || size != wantSize {
					t.Errorf("STATE size = %d, %v; want %d", size, err, wantSize)
				}
			})
		}
	}
}
