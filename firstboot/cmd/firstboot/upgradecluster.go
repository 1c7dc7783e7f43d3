package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ml-appliance/appliance/firstboot/agent"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/firstboot/upgrade"
	"github.com/ml-appliance/appliance/firstboot/upgradecluster"
	"github.com/ml-appliance/appliance/internal/smallfile"
)

// stageBundle puts a verified copy of the bundle at src (a bundle
// directory, its manifest.json, or an http(s) URL of either) in dir, on
// the initial server's STATE, and says what it carries: the cluster
// upgrade serves that copy. It is firstboot/upgrade's to fetch and verify
// (the lead wires it).
type stageBundle func(ctx context.Context, src, dir string) (upgradecluster.Bundle, error)

// newUpgradeClusterCmd is `firstboot upgrade cluster [FILE|URL]`.
func newUpgradeClusterCmd(stage stageBundle) *cobra.Command {
	var console, kubeconfig, node, stateDir, listen string
	var ifUnfinished bool
	plan := upgradecluster.Plan{}
	cmd := &cobra.Command{
		Use:   "cluster [FILE|URL]",
		Short: "Upgrade the cluster's nodes to a bundle, one at a time, from the initial server",
		Long: `Verify the upgrade bundle and keep a copy on STATE, serve it over HTTP on port ` + strconv.Itoa(upgradecluster.BundlePort) + `,
and upgrade the nodes one at a time: this server first, the other servers, then
the agents. Each node is cordoned and drained (PodDisruptionBudgets hold), asked
for the release through its Node's annotations (a disk node applies the bundle
and reboots, a netbooted node reboots into the OS image this server serves),
waited for until it runs the release, blessed and Ready, and uncordoned. The
upgrade stops at the first node that rolls back or fails, which is uncordoned.
Progress is kept on STATE: without FILE|URL, the upgrade recorded there goes on
(after this server rebooted into the new release, or after a timeout).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return onConsole(cmd, console, "firstboot: upgrade: error: ", func(out io.Writer) error {
				plan.Logf = func(format string, a ...any) { fmt.Fprintf(out, format+"\n", a...) }
				plan.ProgressPath = filepath.Join(stateDir, upgradecluster.ProgressFile)
				if ifUnfinished {
					if len(args) > 0 {
						return errors.New("cluster upgrade: --if-unfinished takes up the recorded upgrade: name no bundle")
					}
					if unfinished, err := unfinishedUpgrade(plan.ProgressPath); err != nil || !unfinished {
						if err == nil {
							fmt.Fprintln(out, "firstboot: upgrade: no unfinished cluster upgrade to take up")
						}
						return err
					}
				}
				return upgradeCluster(cmd.Context(), stage, args, kubeconfig, node, listen, plan, cmd.OutOrStdout())
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&console, "console", "", "also write each line to this terminal")
	f.StringVar(&kubeconfig, "kubeconfig", payload.K3sKubeconfigPath, "the admin kubeconfig K3s writes on a server")
	f.StringVar(&node, "node", "", "this node's name (default: the hostname firstboot decided)")
	f.StringVar(&stateDir, "state-dir", upgradecluster.StateDir, "where the bundle's copy and the progress are kept")
	f.BoolVar(&ifUnfinished, "if-unfinished", false, "take up the recorded upgrade only if it was cut short at a node, else do nothing (run at boot by "+payload.UpgradeClusterUnitName+")")
	f.StringVar(&listen, "listen", ":"+strconv.Itoa(upgradecluster.BundlePort), "the bundle server's TCP address")
	f.DurationVar(&plan.NodeTimeout, "timeout", upgradecluster.DefaultNodeTimeout, "how long one node may take, from the request to Ready on the release")
	f.DurationVar(&plan.DrainTimeout, "drain-timeout", upgradecluster.DefaultDrainTimeout, "how long one node's drain may take")
	f.DurationVar(&plan.Poll, "poll", upgradecluster.DefaultPoll, "how often a node and its evicted pods are checked")
	return cmd
}

// upgradeCluster stages (or takes up) the bundle, serves it, and runs the
// upgrade. Request lines of the bundle server go to requests.
func upgradeCluster(ctx context.Context, stage stageBundle, args []string, kubeconfig, node, listen string, plan upgradecluster.Plan, requests io.Writer) error {
	stateDir := filepath.Dir(plan.ProgressPath)
	var b upgradecluster.Bundle
	var err error
	if len(args) == 1 {
		if b, err = stage(ctx, args[0], stateDir); err != nil {
			return err
		}
	} else if b, err = recordedBundle(plan.ProgressPath); err != nil {
		return err
	}
	if st, err := os.Lstat(b.Dir); err != nil || !st.IsDir() {
		return fmt.Errorf("cluster upgrade: bundle directory %s: not a directory (%v)", b.Dir, err)
	}
	client, err := kubeClient(kubeconfig)
	if err != nil {
		return err
	}
	plan.Self, plan.Release, plan.BundleDir = nodeName(node), b.Release, b.Dir
	if plan.BundleURL, err = upgradecluster.BundleURL(ctx, client, plan.Self, b.Site); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("cluster upgrade: serve the bundle: %w", err)
	}
	serveCtx, stopServing := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- upgradecluster.ServeBundle(serveCtx, ln, b.Dir, func(format string, a ...any) {
			fmt.Fprintf(requests, format+"\n", a...)
		})
	}()
	runErr := upgradecluster.Run(ctx, client, plan)
	stopServing()
	return errors.Join(runErr, <-served)
}

// unfinishedUpgrade says whether the progress file records an upgrade cut
// short at a node: not one that finished, nor one that stopped at a
// rollback, which waits for the operator.
func unfinishedUpgrade(progressPath string) (bool, error) {
	prog, ok, err := upgradecluster.ReadProgress(progressPath)
	if err != nil {
		return false, err
	}
	return ok && prog.Current != nil && prog.Stopped == "", nil
}

// recordedBundle is the bundle of the upgrade the progress file records.
func recordedBundle(progressPath string) (upgradecluster.Bundle, error) {
	prog, ok, err := upgradecluster.ReadProgress(progressPath)
	switch {
	case err != nil:
		return upgradecluster.Bundle{}, err
	case !ok || prog.BundleDir == "":
		return upgradecluster.Bundle{}, fmt.Errorf("cluster upgrade: none recorded in %s to go on with: name a bundle", progressPath)
	}
	site, ok := strings.CutSuffix(filepath.Base(prog.BundleDir), "-upgrade")
	if !ok {
		return upgradecluster.Bundle{}, fmt.Errorf("cluster upgrade: recorded bundle directory %s is not named <site>-upgrade", prog.BundleDir)
	}
	return upgradecluster.Bundle{Dir: prog.BundleDir, Site: site, Release: prog.Release}, nil
}

// newUpgradeWatchCmd is `firstboot upgrade watch`, which
// appliance-upgrade-watch.service runs on every node.
func newUpgradeWatchCmd(local func() (upgradecluster.Local, error)) *cobra.Command {
	var console, kubeconfig, node string
	var poll time.Duration
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Publish this node's release on its Node and apply what `firstboot upgrade cluster` asks (run by " + payload.UpgradeWatchUnitName + ")",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return onConsole(cmd, console, "firstboot: upgrade-watch: error: ", func(out io.Writer) error {
				l, err := local()
				if err != nil {
					return err
				}
				boot, err := bootID()
				if err != nil {
					return err
				}
				if err := waitForFile(cmd.Context(), kubeconfig, poll, out); err != nil {
					if errors.Is(err, context.Canceled) {
						return nil // stopped
					}
					return err
				}
				client, err := kubeClient(kubeconfig)
				if err != nil {
					return err
				}
				err = upgradecluster.Watch(cmd.Context(), client, nodeName(node), l, upgradecluster.WatchOptions{
					BootID: boot, Poll: poll,
					Logf: func(format string, a ...any) { fmt.Fprintf(out, format+"\n", a...) },
				})
				if errors.Is(err, context.Canceled) {
					return nil // stopped
				}
				return err
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&console, "console", "", "also write each line to this terminal")
	// The kubelet's credentials on every node: K3s writes them on servers
	// too (a server runs an agent), and they can do what the watcher does
	// and no more (upgradecluster.Watch).
	f.StringVar(&kubeconfig, "kubeconfig", upgrade.KubeletKubeconfigPath, "the kubeconfig to reach the API server with")
	f.StringVar(&node, "node", "", "this node's name (default: the hostname firstboot decided)")
	f.DurationVar(&poll, "poll", upgradecluster.DefaultWatchPoll, "how often the node's own state is read again")
	return cmd
}

// waitForFile returns once path exists, checking every poll: K3s writes
// the kubelet's kubeconfig only once its agent has started, and until then
// the watcher has nothing to do. It says once that it waits.
func waitForFile(ctx context.Context, path string, poll time.Duration, out io.Writer) error {
	for said := false; ; said = true {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if !said {
			fmt.Fprintf(out, "firstboot: upgrade-watch: waiting for %s (K3s writes it when its agent starts)\n", path)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// kubeClient reaches the API server with a kubeconfig file.
func kubeClient(kubeconfig string) (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	return client, nil
}

// nodeName is the flag's name, else the hostname firstboot decided and
// wrote as K3s's node-name (firstboot/agent/k3sconfig.go), else the
// kernel's hostname; lowercased, as K3s registers it (k3s-io/k3s
// pkg/util/net.go, GetHostnameAndIPs).
func nodeName(flag string) string {
	name := flag
	if name == "" {
		if rec, err := agent.ReadRoleRecord("/"); err == nil {
			name = rec.Hostname
		}
	}
	if name == "" {
		name, _ = os.Hostname()
	}
	return strings.ToLower(name)
}

// bootIDPath is this boot's random ID, the one the kubelet reports as
// status.nodeInfo.bootID.
const bootIDPath = "/proc/sys/kernel/random/boot_id"

var bootIDGrammar = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func bootID() (string, error) {
	data, err := smallfile.Read(bootIDPath, 64)
	if err != nil {
		return "", fmt.Errorf("boot ID: %w", err)
	}
	id := strings.TrimSpace(string(data))
	if !bootIDGrammar.MatchString(id) {
		return "", fmt.Errorf("boot ID %s: %q is not a UUID", bootIDPath, id)
	}
	return id, nil
}
