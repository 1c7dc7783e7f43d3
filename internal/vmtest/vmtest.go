// Package vmtest boots artifacts in QEMU (software emulation, no KVM needed)
// for tests: it starts a VM with its serial console on a pipe, waits for
// console markers, and reports failures with the QEMU command line that
// reproduces the run and the tail of the console.
//
// Assert on console markers, not on QEMU's exit status: QEMU exits 0 both
// after a clean power-off and after a kernel panic.
package vmtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// OVMF firmware files from Debian's ovmf package.
const (
	OVMFCode = "/usr/share/OVMF/OVMF_CODE_4M.fd"
	OVMFVars = "/usr/share/OVMF/OVMF_VARS_4M.fd"
)

// Options describe one VM.
type Options struct {
	// UEFI boots with OVMF (a fresh copy of its variable store per run);
	// otherwise SeaBIOS.
	UEFI bool
	// Disks are raw image files attached as virtio disks, in order.
	Disks []string
	// Kernel, Initrd and Append select direct kernel boot.
	Kernel, Initrd, Append string
	// MemoryMiB defaults to 1024.
	MemoryMiB int
	// Extra are appended to the command line.
	Extra []string
	// Console, if set, also receives everything the VM prints.
	Console io.Writer
}

// VM is a running QEMU.
type VM struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	args    []string
	mu      sync.Mutex
	cond    *sync.Cond
	lines   []string
	partial string
	exited  bool
	waitErr error
}

// Start launches QEMU. The VM is killed when ctx ends or Kill is called.
func Start(ctx context.Context, workDir string, o Options) (*VM, error) {
	args, err := commandLine(workDir, o)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = cmd.Stdout
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	vm := &VM{cmd: cmd, args: args, stdin: stdin}
	vm.cond = sync.NewCond(&vm.mu)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start qemu: %w\n%s", err, vm.CommandLine())
	}
	go vm.read(out, o.Console)
	return vm, nil
}

func commandLine(workDir string, o Options) ([]string, error) {
	mem := o.MemoryMiB
	if mem == 0 {
		mem = 1024
	}
	args := []string{"qemu-system-x86_64", "-nodefaults", "-nographic", "-serial", "stdio",
		"-machine", "q35", "-cpu", "max", "-smp", "2", "-m", fmt.Sprint(mem),
		"-no-reboot", "-device", "virtio-rng-pci"}
	if o.UEFI {
		vars := filepath.Join(workDir, "OVMF_VARS.fd")
		b, err := os.ReadFile(OVMFVars)
		if err != nil {
			return nil, fmt.Errorf("read OVMF variable store: %w", err)
		}
		if err := os.WriteFile(vars, b, 0o644); err != nil {
			return nil, err
		}
		args = append(args,
			"-drive", "if=pflash,format=raw,readonly=on,file="+qemuOptValue(OVMFCode),
			"-drive", "if=pflash,format=raw,file="+qemuOptValue(vars))
	}
	for i, d := range o.Disks {
		args = append(args, "-drive", fmt.Sprintf("if=none,id=disk%d,format=raw,file=%s", i, qemuOptValue(d)),
			"-device", fmt.Sprintf("virtio-blk-pci,drive=disk%d,bootindex=%d", i, i+1))
	}
	if o.Kernel != "" {
		args = append(args, "-kernel", o.Kernel)
		if o.Initrd != "" {
			args = append(args, "-initrd", o.Initrd)
		}
		if o.Append != "" {
			args = append(args, "-append", o.Append)
		}
	}
	return append(args, o.Extra...), nil
}

func (vm *VM) read(r io.Reader, tee io.Writer) {
	br := bufio.NewReader(r)
	buf := make([]byte, 4096)
	for {
		n, err := br.Read(buf)
		if n > 0 {
			if tee != nil {
				tee.Write(buf[:n])
			}
			vm.mu.Lock()
			text := vm.partial + strings.ReplaceAll(string(buf[:n]), "\r", "")
			parts := strings.Split(text, "\n")
			vm.lines = append(vm.lines, parts[:len(parts)-1]...)
			vm.partial = parts[len(parts)-1]
			vm.cond.Broadcast()
			vm.mu.Unlock()
		}
		if err != nil {
			break
		}
	}
	werr := vm.cmd.Wait()
	vm.mu.Lock()
	if vm.partial != "" {
		vm.lines = append(vm.lines, vm.partial)
		vm.partial = ""
	}
	vm.exited, vm.waitErr = true, werr
	vm.cond.Broadcast()
	vm.mu.Unlock()
}

// Send types s on the serial console.
func (vm *VM) Send(s string) error {
	_, err := io.WriteString(vm.stdin, s)
	return err
}

// CommandLine is the shell command that reproduces this VM.
func (vm *VM) CommandLine() string {
	quoted := make([]string, len(vm.args))
	for i, a := range vm.args {
		if strings.ContainsAny(a, " ,=") && !strings.HasPrefix(a, "-") {
			quoted[i] = "'" + a + "'"
		} else {
			quoted[i] = a
		}
	}
	return strings.Join(quoted, " ")
}

// Expect waits until a console line matches re (searching from line index
// from) and returns the line and its index. It fails on timeout or when the
// VM exits first, with the command line and the console's last lines.
func (vm *VM) Expect(re *regexp.Regexp, from int, timeout time.Duration) (string, int, error) {
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		vm.mu.Lock()
		vm.cond.Broadcast()
		vm.mu.Unlock()
	})
	defer timer.Stop()
	vm.mu.Lock()
	defer vm.mu.Unlock()
	for i := from; ; {
		for ; i < len(vm.lines); i++ {
			if re.MatchString(vm.lines[i]) {
				return vm.lines[i], i, nil
			}
		}
		switch {
		case vm.exited:
			return "", 0, vm.failure(fmt.Sprintf("VM exited (%v) before printing %q", vm.waitErr, re))
		case time.Now().After(deadline):
			return "", 0, vm.failure(fmt.Sprintf("no console line matching %q within %s", re, timeout))
		}
		vm.cond.Wait()
	}
}

// Wait waits until the VM has exited (a guest power-off, with -no-reboot),
// failing with the command line and the console's last lines on timeout.
func (vm *VM) Wait(timeout time.Duration) error {
	timer := time.AfterFunc(timeout, func() {
		vm.mu.Lock()
		vm.cond.Broadcast()
		vm.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(timeout)
	vm.mu.Lock()
	defer vm.mu.Unlock()
	for !vm.exited {
		if time.Now().After(deadline) {
			return vm.failure(fmt.Sprintf("VM still running after %s", timeout))
		}
		vm.cond.Wait()
	}
	return nil
}

// Lines returns a copy of the console lines so far.
func (vm *VM) Lines() []string {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	return append([]string(nil), vm.lines...)
}

// failure must be called with vm.mu held.
func (vm *VM) failure(what string) error {
	tail := vm.lines
	if len(tail) > 40 {
		tail = tail[len(tail)-40:]
	}
	return fmt.Errorf("%s\nreproduce with:\n  %s\nlast console lines:\n  %s",
		what, vm.CommandLine(), strings.Join(tail, "\n  "))
}

// Kill stops the VM at once (a power cut) and waits for QEMU to exit.
func (vm *VM) Kill() {
	if vm.cmd.Process != nil {
		vm.cmd.Process.Kill()
	}
	vm.mu.Lock()
	for !vm.exited {
		vm.cond.Wait()
	}
	vm.mu.Unlock()
}

// qemuOptValue escapes a value for a QEMU -drive option list, where a
// comma separates options and ",," stands for a comma (t.TempDir names
// carry the test's name, commas included).
func qemuOptValue(s string) string { return strings.ReplaceAll(s, ",", ",,") }
