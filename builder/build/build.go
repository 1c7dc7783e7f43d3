// Package build is the builder's pipeline: site config in, bootable
// artifacts and a build report out.
//
//	site ─► plan (inputs pinned) ─► rootfs tree ─► OS image (squashfs)
//	                              ├► image payload (kept in the cache by digest)
//	                              └► kernel + initramfs ─► outputs (raw, ...)
//
// Every artifact is written into a staging area and moved to its final name
// only when the whole build succeeded (package outdir).
package build

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/ml-appliance/appliance/builder/cache"
	"github.com/ml-appliance/appliance/builder/catalog"
	"github.com/ml-appliance/appliance/builder/diskimage"
	"github.com/ml-appliance/appliance/builder/doctor"
	"github.com/ml-appliance/appliance/builder/lock"
	"github.com/ml-appliance/appliance/builder/osimage"
	"github.com/ml-appliance/appliance/builder/outdir"
	"github.com/ml-appliance/appliance/builder/output"
	"github.com/ml-appliance/appliance/builder/progress"
	"github.com/ml-appliance/appliance/builder/report"
	"github.com/ml-appliance/appliance/builder/rootfs"
	"github.com/ml-appliance/appliance/builder/site"
	"github.com/ml-appliance/appliance/firstboot/clustersecrets"
)

// Options control one build.
type Options struct {
	// ConfigPath is the site config the build was loaded from (for the report).
	ConfigPath string
	// OutputDir receives the artifacts and build-report.json.
	OutputDir string
	// CacheDir is the content-addressed download cache.
	CacheDir string
	// Offline fails on a cache miss instead of downloading.
	Offline bool
	// Lock pins downloads (read from LockPath); nil pins nothing.
	Lock *lock.Lock
	// LockPath is where Lock was read from, for messages.
	LockPath string
	// Locked fails the build when what the config needs differs from Lock.
	Locked bool
	// Catalog lists the platform's components; nil is the builder's own.
	Catalog *catalog.Catalog
	// AgentDir holds the node-side binaries: firstboot and appliance-init.
	AgentDir string
	// SourceDateEpoch is the timestamp of every file in the artifacts.
	SourceDateEpoch int64
	// Warnings from loading the config, recorded in the report.
	Warnings []string
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
	// Progress shows long work (image pulls); nil shows nothing.
	Progress *progress.Display
	// Version is the builder's version, recorded in the report.
	Version string
}

// Run builds every output s enables and returns the report it wrote.
func Run(ctx context.Context, s *site.Site, opts Options) (*report.Report, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if _, err := doctor.Check(hostTools(s), nil); err != nil {
		return nil, err
	}
	dir, err := outdir.Begin(opts.OutputDir)
	if err != nil {
		return nil, err
	}
	scratch, err := dir.Scratch()
	if err != nil {
		return nil, errors.Join(err, dir.Abort())
	}
	b := &pipeline{
		site: s, opts: opts, dir: dir, scratch: scratch, log: opts.Logger,
		modTime: time.Unix(opts.SourceDateEpoch, 0).UTC(),
		report: &report.Report{
			Site: s.Metadata.Name, Config: opts.ConfigPath, SourceDateEpoch: opts.SourceDateEpoch,
			Builder: opts.Version, Warnings: opts.Warnings,
		},
	}
	rep, err := b.run(ctx)
	if err != nil {
		// The cache first: by default it is inside the output directory.
		return nil, errors.Join(err, b.removeUnusedCache(), dir.Abort())
	}
	return rep, nil
}

// removeUnusedCache removes a cache this build created and stored nothing
// in, so a failed build leaves no new empty directory behind.
func (b *pipeline) removeUnusedCache() error {
	if b.cache == nil {
		return nil
	}
	return b.cache.RemoveIfUnused()
}

// pipeline holds one build's state.
type pipeline struct {
	site    *site.Site
	opts    Options
	dir     *outdir.Dir
	scratch string
	log     *slog.Logger
	modTime time.Time
	report  *report.Report
	cache   *cache.Cache
	// planned is every input resolved (plan), before anything is built.
	planned *Plan
	// kernelDebDir is where a kernel .deb was unpacked ("" for the base's kernel).
	kernelDebDir string
	// secrets is the cluster's secrets volume (clusterConfig); nil without K3s.
	secrets clustersecrets.Volume
	// agentJoinToken is what agents join with; the PXE bundle's agent node
	// configs carry it.
	agentJoinToken string
	// payload is the staged image payload (addPayload); nil without images.
	payload *stagedPayload
	// upgrade is the build's release and bundle signing key (addRelease).
	upgrade *upgradeRelease
}

func (b *pipeline) run(ctx context.Context) (*report.Report, error) {
	start := time.Now()
	tree := rootfs.New(rootfs.Options{TempDir: b.scratch})
	defer tree.Close()

	// Every input resolved and pinned before anything is built.
	planned, err := b.plan(ctx)
	if err != nil {
		return nil, err
	}
	b.planned = planned
	if err := b.addBase(ctx, tree); err != nil {
		return nil, err
	}
	k, err := b.kernel(ctx, tree)
	if err != nil {
		return nil, err
	}
	if err := b.completeRootfs(tree, k); err != nil {
		return nil, err
	}
	if err := b.addRelease(tree, k); err != nil {
		return nil, err
	}
	in := output.Inputs{
		Name: b.site.Metadata.Name, Seed: b.site.Seed, ModTime: b.modTime,
		KernelVersion: k.Version, Cmdline: b.site.OS.Cmdline, AgentJoinToken: b.agentJoinToken,
		Release: b.site.Metadata.Version,
	}
	if p := b.payload; p != nil {
		in.Payload, in.PayloadSHA256, in.PayloadSize = p.path, p.sha256, p.size
	}
	if in.Secrets, err = b.writeSecretsVolume(); err != nil {
		return nil, err
	}
	if in.Bootloader, err = b.bootloader(tree); err != nil {
		return nil, err
	}
	if in.Kernel, err = b.writeKernel(k); err != nil {
		return nil, err
	}
	if in.Initramfs, err = b.writeInitramfs(k, tree); err != nil {
		return nil, err
	}
	if b.site.OS.Initramfs.RescueShell {
		in.Cmdline = append(append([]string{}, in.Cmdline...), rescueCmdline)
	}
	if servesPXE(b.site) {
		if err := b.addServableBundle(ctx, tree, in); err != nil {
			return nil, err
		}
	}
	if in.OSImage, err = b.writeOSImage(ctx, tree); err != nil {
		return nil, err
	}
	fs, err := formats(b.site)
	if err != nil {
		return nil, err
	}
	for _, f := range fs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b.log.Info("writing output", "format", f.Name())
		arts, err := f.Build(ctx, in, b.dir)
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", f.Name(), err)
		}
		b.report.Artifacts = append(b.report.Artifacts, arts...)
	}
	if err := b.markServedImage(); err != nil {
		return nil, err
	}
	if err := b.writeUpgradeBundle(in); err != nil {
		return nil, err
	}
	b.logSecrets()
	data, err := report.Marshal(b.report)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(b.dir.Path(report.FileName), data, 0o644); err != nil {
		return nil, fmt.Errorf("write build report: %w", err)
	}
	if err := b.dir.Commit(report.FileName); err != nil {
		return nil, err
	}
	b.log.Info("build done", "artifacts", len(b.report.Artifacts), "seconds", time.Since(start).Round(time.Second).Seconds())
	return b.report, nil
}

// describe adds the staged file name to the report as an artifact of kind.
func (b *pipeline) describe(kind, name string) error {
	a, err := report.Describe(kind, b.dir.Path(name), name)
	if err != nil {
		return err
	}
	b.report.Artifacts = append(b.report.Artifacts, a)
	return nil
}

// HostTools are the host programs (and files) any build may use: those
// of every output format.
func HostTools() []doctor.Tool { return hostTools(nil) }

// hostTools are what a build of s uses; nil s means any build.
func hostTools(s *site.Site) []doctor.Tool {
	tools := append(osimage.HostTools(), formatTools(s)...)
	for _, cmd := range diskimage.HostTools {
		tools = append(tools, doctor.Tool{Command: cmd, Package: "e2fsprogs", Purpose: "make the STATE filesystem"})
	}
	return append(tools, doctor.Tool{Command: "depmod", Package: "kmod", Purpose: "index the modules of a kernel .deb"})
}
