package upgrade

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"testing"

	"github.com/ml-appliance/appliance/firstboot/bootslot"
)

// applySteps are Apply's steps, in order.
var applySteps = []string{"bundle", "slot", "remove-entry", "os-image", "boot-files", "payload", "entry", "record"}

// TestApplyPowerCut cuts Apply short after each step, with nothing
// undone, as a power cut would: until slot b's entry is written,
// systemd-boot (bootslot.Choose, the model of its choice) boots slot a;
// from then on slot b, whose files are all written. Applying again after
// the cut (the node rebooted into slot a) completes the upgrade.
func TestApplyPowerCut(t *testing.T) {
	for i, step := range applySteps {
		t.Run(step, func(t *testing.T) {
			n := newTestNode(t)
			n.withOldSlotB()
			b := n.newBundle("2.0.0", nil)
			opts := n.options(b.dir)
			var ran []string
			opts.afterStep = func(s string) error {
				ran = append(ran, s)
				if s == step {
					return errPowerCut
				}
				return nil
			}
			if _, err := Apply(context.Background(), opts); !errors.Is(err, errPowerCut) {
				t.Fatalf("err = %v, want the power cut", err)
			}
			if fmt.Sprint(ran) != fmt.Sprint(applySteps[:i+1]) {
				t.Errorf("ran %v, want %v", ran, applySteps[:i+1])
			}
			want := "a"
			if i >= 6 { // "entry" and after
				want = "b"
			}
			if got := n.boots(); got != want {
				t.Errorf("after a power cut past %s, systemd-boot would boot slot %s, want %s", step, got, want)
			}
			started, err := ReadStarted(n.root)
			if cut := i >= 2 && i < len(applySteps)-1; cut != (err == nil) || (cut && (started.Slot != "b" || started.Release != "2.0.0")) {
				t.Errorf("after a power cut past %s: apply-started record %+v, %v; want one naming slot b and 2.0.0: %v", step, started, err, cut)
			}
			if want == "a" {
				if _, err := Apply(context.Background(), n.options(b.dir)); err != nil {
					t.Fatalf("apply again: %v", err)
				}
				if got := n.boots(); got != "b" {
					t.Errorf("applied again: systemd-boot would boot slot %s, want b", got)
				}
				if _, err := ReadStarted(n.root); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("applied again: apply-started record left: %v", err)
				}
			}
		})
	}
}

// cutDisk is a test double of a partition that loses power part-way
// through the image: writes past after fail, those before it landed.
type cutDisk struct {
	*os.File
	after int64
}

func (c cutDisk) WriteAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > c.after {
		return 0, errPowerCut
	}
	return c.File.WriteAt(p, off)
}

// TestApplyCutMidImage: a write that stops part-way through the OS image
// leaves slot a booting and slot b without an entry.
func TestApplyCutMidImage(t *testing.T) {
	n := newTestNode(t)
	n.withOldSlotB()
	b := n.newBundle("2.0.0", nil)
	opts := n.options(b.dir)
	opts.OpenPartition = func(running, target bootslot.Slot) (*SlotPartition, error) {
		p, err := n.openPartition(running, target)
		if err != nil {
			return nil, err
		}
		p.File = cutDisk{File: p.File.(*os.File), after: 2 << 20}
		return p, nil
	}
	if _, err := Apply(context.Background(), opts); !errors.Is(err, errPowerCut) {
		t.Fatalf("err = %v, want the power cut", err)
	}
	if got := n.boots(); got != "a" {
		t.Errorf("systemd-boot would boot slot %s, want a", got)
	}
	installed, _ := n.esp.Installed()
	for _, e := range installed {
		if e.Name.Slot == bootslot.B {
			t.Errorf("slot b has entry %s while half written", e.File)
		}
	}
}
