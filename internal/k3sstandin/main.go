// Command k3sstandin is a TEST DOUBLE for the k3s binary, baked into the
// images VM tests boot, where real K3s cannot be downloaded. It is not K3s
// and runs no cluster. It does what the boot tests check firstboot against:
//
//   - it is started by the k3s or k3s-agent unit firstboot queued, as
//     `k3s server` or `k3s agent`, and tells systemd it is ready (the units
//     are Type=notify, as install.sh writes them);
//   - it reads /etc/rancher/k3s/config.yaml as K3s does (a flat YAML map of
//     flag names) and checks what real K3s would refuse: an agent without
//     server and token (or a readable token-file), a file that is not
//     root-only while it holds a token, an unreadable token-file or (on a
//     server) agent-token-file (K3s pkg/cli/server/server.go, run: both
//     are read with token.ReadFile before anything starts);
//   - it records the command line and the config it was started with under
//     /var/lib/k3s-standin and prints one line to the console:
//     "k3s-standin: test double (not K3s): <role> started ...";
//   - when the OS image names an image payload, it does what containerd
//     does first for an image of it: it reads registries.yaml as K3s does,
//     takes the first endpoint of the mirror of the payload's first
//     image's registry (real K3s puts its embedded mirror ahead of it,
//     which this double does not run), resolves the image's tag there with
//     HEAD .../manifests/<tag>?ns=<registry> and fetches the manifest by
//     the digest it got, with containerd's Accept headers (pull.go), and
//     records and prints "k3s-standin: test double (not K3s): image pull
//     resolved <image> through <endpoint>: <digest> (<media type>)" or
//     "image pull error: ...", retrying for up to three minutes;
//   - as K3s does, it writes the kubeconfig of its role (the admin
//     kubeconfig /etc/rancher/k3s/k3s.yaml on a server, the kubelet's
//     /var/lib/rancher/k3s/agent/kubelet.kubeconfig on an agent) and serves
//     what it names: a TEST DOUBLE of K3s's API server for this node only,
//     which answers GET /api/v1/nodes/<node> with a Ready Node and nothing
//     else (apidouble.go), so firstboot's upgrade check can run; it prints
//     "k3s-standin: test double (not K3s): <role> <version>: API double for
//     node <node> on <URL> (kubeconfig <path>)".
//
// Two values are set at build time (internal/k3sstandin/standinbuild
// builds it so): main.version, what `k3s --version` and the Node report,
// and main.failStart, which, when set, makes every start fail: the double
// prints "k3s-standin: test double (not K3s): error: <role> refusing to
// start: <failStart>" and exits 1, as a K3s that cannot start does, so a VM test
// sees an upgrade whose K3s fails rolled back.
//
// The console line never includes the token, only whether one was set.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ml-appliance/appliance/internal/sdnotify"
)

const (
	configPath = "/etc/rancher/k3s/config.yaml"
	recordDir  = "/var/lib/k3s-standin"
)

// Set at build time with -ldflags "-X main.version=... -X main.failStart=..."
// (standinbuild.Build).
var (
	version   = "v0.0.0-standin"
	failStart = ""
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		say("k3s-standin: test double (not K3s): error: %v", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 1 && args[0] == "--version" {
		// K3s prints "k3s version <version> (<commit>)" and the Go version.
		fmt.Printf("k3s version %s (test double, not K3s)\ngo version %s\n", version, runtime.Version())
		return nil
	}
	if len(args) == 0 || (args[0] != "server" && args[0] != "agent") {
		return fmt.Errorf("want `k3s server` or `k3s agent`, got %q", args)
	}
	role := args[0]
	if failStart != "" {
		return fmt.Errorf("%s refusing to start: %s", role, failStart)
	}
	data, err := os.ReadFile(configPath)
	if err != nil {
		return err
	}
	info, err := os.Stat(configPath)
	if err != nil {
		return err
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return fmt.Errorf("%s: %w", configPath, err)
	}
	if cfg["token"] != nil && info.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s holds the token but has mode %v", configPath, info.Mode().Perm())
	}
	if role == "agent" && (cfg["server"] == nil || (cfg["token"] == nil && cfg["token-file"] == nil)) {
		return fmt.Errorf("an agent needs server and token (or token-file) in %s", configPath)
	}
	keys := []string{"token-file"}
	if role == "server" {
		keys = append(keys, "agent-token-file")
	}
	for _, key := range keys {
		if f, ok := cfg[key].(string); ok {
			if _, err := os.ReadFile(f); err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
		}
	}
	if err := os.MkdirAll(recordDir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(recordDir, role+"-config.yaml"), data, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(recordDir, role+"-args"), []byte(strings.Join(args, " ")+"\n"), 0o600); err != nil {
		return err
	}
	say("k3s-standin: test double (not K3s): %s started with %s", role, describe(cfg))
	nodeName, err := k3sNodeName(cfg)
	if err != nil {
		return err
	}
	api, err := startAPIDouble(apiOptions{Root: "/", Role: role, NodeName: nodeName, Version: version, KubeconfigMode: kubeconfigMode(cfg)})
	if err != nil {
		return fmt.Errorf("API double: %w", err)
	}
	defer api.Close()
	say("k3s-standin: test double (not K3s): %s %s: API double for node %s on %s (kubeconfig %s)", role, version, nodeName, api.URL, api.Kubeconfig)
	if err := sdnotify.Ready(os.Getenv("NOTIFY_SOCKET")); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go pullFirstImage(ctx, role, 3*time.Minute)
	<-ctx.Done()
	return nil
}

// describe lists the config's keys with their values, the token as "(set)".
func describe(cfg map[string]any) string {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := fmt.Sprint(cfg[k])
		if k == "token" || strings.Contains(k, "secret") {
			v = "(set)"
		}
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, " ")
}

// say prints a line to the console (the boot tests read it) and stdout.
func say(format string, args ...any) {
	line := fmt.Sprintf(format, args...) + "\n"
	os.Stdout.WriteString(line)
	if c, err := os.OpenFile("/dev/console", os.O_WRONLY|syscall.O_NOCTTY, 0); err == nil {
		c.WriteString(line)
		c.Close()
	}
}

// k3sNodeName is the node name K3s registers: node-name from the config,
// else the hostname, lowercased (k3s-io/k3s pkg/util/net.go,
// GetHostnameAndIPs).
func k3sNodeName(cfg map[string]any) (string, error) {
	name, _ := cfg["node-name"].(string)
	if name == "" {
		h, err := os.Hostname()
		if err != nil {
			return "", err
		}
		name = h
	}
	return strings.ToLower(name), nil
}

// kubeconfigMode is write-kubeconfig-mode ("0600", octal), else 0600,
// K3s's default (pkg/server/server.go writeKubeConfig).
func kubeconfigMode(cfg map[string]any) os.FileMode {
	if s, ok := cfg["write-kubeconfig-mode"].(string); ok {
		if m, err := strconv.ParseUint(s, 8, 32); err == nil && m <= 0o777 {
			return os.FileMode(m)
		}
	}
	return 0o600
}
