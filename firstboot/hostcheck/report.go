package hostcheck

import (
	"fmt"
	"strings"
	"time"
)

// Report is the outcome of one check.
type Report struct {
	Checked time.Time `json:"checked"`
	// Kernel is the running kernel's release.
	Kernel string `json:"kernel"`
	// KernelConfig is the kernel config file read (a path on the node), ""
	// when the node has none.
	KernelConfig string `json:"kernelConfig,omitempty"`
	// Unchecked are kernel options that only a kernel config shows
	// (CONFIG_ names), not checked for want of one.
	Unchecked []string `json:"unchecked,omitempty"`
	Results   []Result `json:"results"`
}

// Result is one requirement and what the node has.
type Result struct {
	// Name is CONFIG_<OPTION> for a kernel option, else the thing checked
	// ("cgroup v2", "AppArmor", "iptables", "resolver", ...).
	Name string `json:"name"`
	// Kernel marks a kernel option.
	Kernel bool `json:"kernel,omitempty"`
	// Hard requirements stop K3s; soft ones warn.
	Hard bool `json:"hard"`
	OK   bool `json:"ok"`
	// Detail says what was found, or what is missing and what fails
	// without it.
	Detail string `json:"detail"`
}

// Status is "ok", "missing" (a hard requirement is not met) or "warning".
func (r Result) Status() string {
	switch {
	case r.OK:
		return "ok"
	case r.Hard:
		return "missing"
	}
	return "warning"
}

// Line is r in one line: "<status> <name>: <detail>".
func (r Result) Line() string {
	return r.Status() + " " + r.Name + ": " + r.Detail
}

// Missing are the hard requirements not met.
func (r Report) Missing() []Result { return r.filter(func(x Result) bool { return !x.OK && x.Hard }) }

// Warnings are the soft requirements not met.
func (r Report) Warnings() []Result { return r.filter(func(x Result) bool { return !x.OK && !x.Hard }) }

func (r Report) filter(keep func(Result) bool) []Result {
	var out []Result
	for _, x := range r.Results {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}

// Passed reports whether every hard requirement is met: K3s may start.
func (r Report) Passed() bool { return len(r.Missing()) == 0 }

// Summary is one line: "passed: 43 requirements checked, 1 warning", or
// "failed: 2 hard requirements missing (CONFIG_VXLAN, AppArmor); 1 warning".
func (r Report) Summary() string {
	warn := plural(len(r.Warnings()), "warning")
	missing := r.Missing()
	if len(missing) == 0 {
		return fmt.Sprintf("passed: %s checked, %s", plural(len(r.Results), "requirement"), warn)
	}
	names := make([]string, len(missing))
	for i, m := range missing {
		names[i] = m.Name
	}
	return fmt.Sprintf("failed: %s missing (%s); %s", plural(len(missing), "hard requirement"), strings.Join(names, ", "), warn)
}

// Lines are the report for a console, one requirement a line: the kernel
// in one line, every other check, each kernel option that is not met, and
// the summary last.
func (r Report) Lines() []string {
	lines := []string{r.kernelLine()}
	for _, x := range r.Results {
		if !x.Kernel {
			lines = append(lines, x.Line())
		}
	}
	for _, x := range r.Results {
		if x.Kernel && !x.OK {
			lines = append(lines, x.Line())
		}
	}
	return append(lines, r.Summary())
}

// kernelLine says how many kernel requirements were met and where the
// kernel's options were read from.
func (r Report) kernelLine() string {
	total, ok := 0, 0
	for _, x := range r.Results {
		if x.Kernel {
			total++
			if x.OK {
				ok++
			}
		}
	}
	status := "ok"
	if ok < total {
		status = "missing"
	}
	line := fmt.Sprintf("%s kernel %s: %d of %d options and modules present", status, r.Kernel, ok, total)
	if r.KernelConfig != "" {
		return line + " (config " + r.KernelConfig + ")"
	}
	line += " (no kernel config file: modules and /proc checked"
	if len(r.Unchecked) > 0 {
		line += "; not checked: " + strings.Join(r.Unchecked, " ")
	}
	return line + ")"
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
