// Package datasource gathers the raw cloud-init style documents (meta-data,
// user-data, network-config) firstboot configures a node from. It finds and
// fetches them; parsing and merging are the caller's.
//
// Sources, lowest priority first (Gather returns them in this order; when
// the caller merges them, a later source overrides an earlier one):
//
//  1. The NoCloud seed volume: a vfat or iso9660 filesystem labelled CIDATA
//     or cidata (package nocloud) with meta-data, user-data and an optional
//     network-config.
//  2. NoCloud on the kernel command line, as cloud-init reads it:
//     ds=nocloud;s=URL (or ds=nocloud-net, or the long key seedfrom=). URL
//     is an http://, https:// or file:// URL or an absolute path naming a
//     directory; a missing trailing slash is added, as cloud-init does. The
//     directory holds meta-data and user-data (both required) and
//     network-config (optional); vendor-data is not read. h=NAME
//     (local-hostname=) and i=ID (instance-id=) set those meta-data keys,
//     over the fetched meta-data as in cloud-init; without s= they make the
//     whole meta-data. A bare ds=nocloud adds no source.
//  3. firstboot.config=URL|PATH (bootparam.ArgConfig): one #cloud-config
//     user-data document, checked against firstboot.config.sha256 when that
//     is given.
//
// Files and paths are taken under Options.Root. HTTP requests are retried
// with exponential backoff on connection errors, 5xx, 429 and a 404 of a
// required document; a 404 of network-config means it is absent. Every
// document is limited to MaxDocumentBytes.
//
// Usage:
//
//	sources, err := datasource.Gather(ctx, datasource.Options{Root: "/", Logf: log.Printf})
//	for _, s := range sources { ... s.Name, s.UserData ... }
package datasource

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"time"

	"github.com/ml-appliance/appliance/firstboot/internal/ctxsleep"
	"github.com/ml-appliance/appliance/firstboot/nocloud"
	"github.com/ml-appliance/appliance/internal/smallfile"
)

// Options configure Gather. Zero values take the defaults named.
type Options struct {
	// Root is the host root ("" is "/"); /proc, /sys, /dev, /run and
	// file paths are taken under it.
	Root string
	// Cmdline is the kernel command line; "" reads Root/proc/cmdline.
	Cmdline string
	// Mounter mounts the seed volume; nil uses nocloud.SysMounter.
	Mounter nocloud.Mounter
	// Client does HTTP requests; nil uses a client with a 30 s timeout.
	Client *http.Client
	// Attempts is how many times one document is requested (DefaultAttempts).
	Attempts int
	// Backoff is the wait before the first retry, doubled for each next
	// one up to MaxBackoff (DefaultBackoff).
	Backoff time.Duration
	// Sleep waits between attempts; nil uses a timer. It returns the
	// context's error when the context ends first.
	Sleep func(ctx context.Context, d time.Duration) error
	// Logf prints a line for every retry; nil prints nothing.
	Logf func(format string, args ...any)
}

// Defaults and limits.
const (
	DefaultAttempts = 6
	DefaultBackoff  = time.Second
	MaxBackoff      = 30 * time.Second
	// MaxDocumentBytes bounds every document read (1 MiB), over HTTP, from
	// a file or from the seed volume.
	MaxDocumentBytes = nocloud.MaxFileBytes
	requestTimeout   = 30 * time.Second
	// maxCmdlineBytes bounds /proc/cmdline, far above any kernel's
	// COMMAND_LINE_SIZE.
	maxCmdlineBytes = 64 << 10
)

// Source is one place configuration came from.
type Source struct {
	// Name is how messages name the source: "NoCloud seed /dev/vdb
	// (iso9660, label cidata)", "kernel command line
	// ds=nocloud;s=http://10.0.0.1/seed/".
	Name string
	// MetaData, UserData and NetworkConfig are the raw documents, nil
	// when the source has none.
	MetaData, UserData, NetworkConfig []byte
	// Warnings name what was missing or ignored.
	Warnings []string
}

// Gather returns the sources present, lowest priority first. No source at
// all is not an error: the slice is empty. The kernel command line is
// checked before anything is mounted or fetched.
func Gather(ctx context.Context, opts Options) ([]Source, error) {
	opts = withDefaults(opts)
	cmdline := opts.Cmdline
	if cmdline == "" {
		data, err := smallfile.Read(filepath.Join(opts.Root, "proc/cmdline"), maxCmdlineBytes)
		if err != nil {
			return nil, fmt.Errorf("read kernel command line: %w", err)
		}
		cmdline = string(data)
	}
	args, err := parseCmdline(cmdline)
	if err != nil {
		return nil, err
	}
	if args.otherDS != "" {
		opts.Logf("datasource: kernel command line %s=%s is not NoCloud, ignored", argDS, args.otherDS)
	}

	sources := []Source{}
	seed, err := nocloud.Load(nocloud.Options{Root: opts.Root, Mounter: opts.Mounter})
	switch {
	case errors.Is(err, nocloud.ErrNoSeed):
	case err != nil:
		return nil, fmt.Errorf("NoCloud seed: %w", err)
	default:
		sources = append(sources, Source{
			Name:          fmt.Sprintf("NoCloud seed %s (%s, label %s)", seed.Device.Path, seed.Device.FSType, seed.Device.Label),
			MetaData:      seed.MetaData,
			UserData:      seed.UserData,
			NetworkConfig: seed.NetworkConfig,
			Warnings:      seed.Warnings,
		})
	}

	f := newFetcher(opts)
	if args.noCloud != nil {
		src, err := f.noCloudSource(ctx, args.noCloud)
		if err != nil {
			return nil, err
		}
		sources = append(sources, src)
	}
	if args.config != nil {
		src, err := f.configSource(ctx, args.config)
		if err != nil {
			return nil, err
		}
		sources = append(sources, src)
	}
	return sources, nil
}

func withDefaults(opts Options) Options {
	if opts.Root == "" {
		opts.Root = "/"
	}
	if opts.Mounter == nil {
		opts.Mounter = nocloud.SysMounter{}
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: requestTimeout}
	}
	if opts.Attempts <= 0 {
		opts.Attempts = DefaultAttempts
	}
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultBackoff
	}
	if opts.Sleep == nil {
		opts.Sleep = ctxsleep.Sleep
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	return opts
}
