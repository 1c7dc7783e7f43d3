// Package upgradecluster upgrades a K3s appliance cluster node by node,
// from the initial server, and is the node's side of that upgrade.
//
// The two sides talk only through annotations on each Node object (the
// names below): the orchestrator (Run, `firstboot upgrade cluster` on the
// initial server) writes what it wants of a node, the node's watcher
// (Watch, `firstboot upgrade watch`, run by appliance-upgrade-watch.service
// on every node with the kubelet's credentials) publishes what it runs and
// how its last upgrade went, and acts on what is wanted:
//
//	orchestrator -> node   AnnotationWantedRelease, AnnotationBundleURL
//	                       (a node booted from disk: apply, then reboot)
//	                       AnnotationRebootRequest (a netbooted node: reboot
//	                       into the OS image the initial server now serves)
//	node -> orchestrator   AnnotationRelease, AnnotationMedium,
//	                       AnnotationBootID (the boot the others were
//	                       published in), AnnotationResultRelease,
//	                       AnnotationResult, AnnotationResultReason
//
// Run takes the nodes one at a time, servers (control-plane nodes) first
// with the initial server first of all, then agents: cordon, drain (the
// Eviction API, so PodDisruptionBudgets hold), ask, wait until the node
// reports the wanted release (blessed, on a disk node) in a boot it
// published, uncordon. It stops at the first node that reports its
// attempt rolled back or failed, and keeps its progress on STATE so that
// a run the initial server's own reboot cut short resumes.
//
// Why not rancher/system-upgrade-controller (v0.20, read at d357e23): a
// Plan's success is its Job's completion, which labels the node
// (pkg/upgrade/handle_batch.go, handleJobs), while ours is only known
// after the node rebooted into the new slot and its boot check blessed it
// or rolled it back: the reboot kills the Job's pod, and only a rerun of
// the upgrade container after the reboot could say how it went, within
// the Job's deadline (600 s by default, pkg/upgrade/job/job.go). A failed
// Job does not end the Plan: once the Job's TTL passes the node is tried
// again. A Plan orders its nodes by a hash of their UIDs
// (pkg/upgrade/plan/plan.go, SelectConcurrentNodes), not initial server
// first. And its Job runs a privileged image carrying our tool plus a
// kubectl image for the drain (job.go, New), all to be baked for an
// air-gapped site.
package upgradecluster

import (
	"context"

	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
)

// AnnotationPrefix starts every annotation of the protocol.
const AnnotationPrefix = "upgrade.appliance.io/"

// Annotations the orchestrator writes on a Node.
const (
	// AnnotationWantedRelease is the release a node booted from disk is to
	// apply (a bundle's release version).
	AnnotationWantedRelease = AnnotationPrefix + "wanted-release"
	// AnnotationBundleURL is the bundle's manifest.json URL, served by the
	// initial server on BundlePort.
	AnnotationBundleURL = AnnotationPrefix + "bundle-url"
	// AnnotationRebootRequest asks a netbooted node to reboot so that it
	// comes back on the release named here.
	AnnotationRebootRequest = AnnotationPrefix + "reboot-request"
)

// Annotations a node's watcher writes on its own Node.
const (
	// AnnotationRelease is the release the node runs.
	AnnotationRelease = AnnotationPrefix + "release"
	// AnnotationMedium is what the node booted from: MediumDisk,
	// MediumNetboot or MediumLive.
	AnnotationMedium = AnnotationPrefix + "medium"
	// AnnotationBootID is the boot (/proc/sys/kernel/random/boot_id, the
	// kubelet's status.nodeInfo.bootID) the node's annotations were
	// published in: annotations of an earlier boot are stale.
	AnnotationBootID = AnnotationPrefix + "boot-id"
	// AnnotationResultRelease, AnnotationResult and AnnotationResultReason
	// are the node's last upgrade attempt: the release, a State, and why
	// (for StateRolledBack and StateFailed). A node tries a release once:
	// one named here is not tried again.
	AnnotationResultRelease = AnnotationPrefix + "result-release"
	AnnotationResult        = AnnotationPrefix + "result"
	AnnotationResultReason  = AnnotationPrefix + "result-reason"
)

// What a node booted from (AnnotationMedium).
const (
	// MediumDisk: a local disk with A/B slots; it upgrades by applying the
	// bundle to its inactive slot and rebooting.
	MediumDisk = "disk"
	// MediumNetboot: the initial server's PXE bundle; it upgrades by
	// rebooting, since the server serves its own (upgraded) OS image.
	MediumNetboot = "netboot"
	// MediumLive: a CD or USB stick with state in RAM; it cannot be
	// upgraded in place (re-image it) and the orchestrator skips it.
	MediumLive = "live"
)

// State is the outcome of a node's upgrade attempt (AnnotationResult).
type State string

// The states of an attempt, in the order they happen.
const (
	StateApplying   State = "applying"    // Apply called
	StateApplied    State = "applied"     // written (or, netbooted, rebooting); boot pending
	StateBlessed    State = "blessed"     // booted and passed the boot check
	StateRolledBack State = "rolled-back" // booted the previous slot again
	StateFailed     State = "failed"      // not applied; the node runs its release
)

// Result is a node's last upgrade attempt.
type Result struct {
	Release string `json:"release"`
	State   State  `json:"state"`
	Reason  string `json:"reason,omitempty"`
}

// Local is the node itself, as the watcher needs it: the lead wires it to
// the node's upgrade code (firstboot/upgrade).
type Local interface {
	// Release is the release the node runs (its OS image's release.json).
	Release() string
	// Medium is MediumDisk, MediumNetboot or MediumLive.
	Medium() string
	// LastResult is the node's own record of its last attempt, zero when
	// it has none (a netbooted node keeps none). After a successful Apply
	// it is StateApplied, also in the new release's boot until the boot
	// check blesses it (StateBlessed) or rolls it back (StateRolledBack,
	// with the reason, in the old release's boot): the orchestrator waits
	// for the blessing.
	LastResult() Result
	// Apply fetches and verifies the bundle at url and writes it to the
	// inactive slot as the next boot.
	Apply(ctx context.Context, url string) error
	// Reboot asks the system to reboot and returns.
	Reboot() error
}

// Bundle is a verified bundle directory on the initial server's STATE,
// which the orchestrator serves.
type Bundle struct {
	// Dir is the directory, named upgradebundle.DirName(Site).
	Dir  string
	Site string
	// Release is the release it carries (its manifest's version).
	Release string
}

// BundlePort is the TCP port the initial server serves the bundle on
// during a cluster upgrade (plain HTTP, GET and HEAD: a bundle is signed
// and as public as the PXE bundle). It is next to the PXE server's 8080,
// so a site opens one small range on its servers, and clear of what K3s
// listens on (6443 supervisor and API, 6444 the agents' local load
// balancer, 2379-2380 etcd, 5001 the embedded registry's peers, 10250
// kubelet, 8472/udp flannel VXLAN, 51820-51821/udp WireGuard), of the
// image payload's registry (5000) and of the NodePort range
// (30000-32767).
const BundlePort = 8081

// Where the orchestrator keeps a run on the initial server's STATE.
const (
	// StateDir holds the verified bundle directory it serves
	// (upgradebundle.DirName(site)) and ProgressFile.
	StateDir = "/var/lib/appliance/upgrade/cluster"
	// ProgressFile (in StateDir) is the run's Progress, in JSON.
	ProgressFile = "progress.json"
)

// BundleURLPath is the path of a site's bundle manifest on the server.
func BundleURLPath(site string) string {
	return "/" + upgradebundle.DirName(site) + "/" + upgradebundle.ManifestFile
}
