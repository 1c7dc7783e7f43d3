// Package pxeserve is `firstboot serve-pxe`: the initial server serves the
// PXE bundle baked into its image (payload.PXEDir) together with its own
// OS image, so workers netboot from the first server without any other
// infrastructure.
//
// The OS image cannot be in the image's bundle (it would contain itself),
// so it is read from the device the init mounted at bootparam.OSMount: a
// partition (raw disk), or a loop device over the ISO's or the download's
// file. Only the squashfs's own bytes are served (its superblock says how
// many); their digest, computed here at start, goes into the boot script
// the workers get, which is the template's with that digest filled in.
//
//	p, err := pxeserve.Prepare(pxeserve.Options{Log: console})
//	...
//	err = p.Serve(ctx, requestLog)
package pxeserve

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ml-appliance/appliance/firstboot/atomicfile"
	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/internal/bootserver"
)

// Options say where things are; the zero value means the running system.
type Options struct {
	// BundleDir is the image's bundle (default payload.PXEDir).
	BundleDir string
	// RuntimeDir is the directory served (default payload.PXERuntimeDir).
	RuntimeDir string
	// OSImage is the device or file holding the OS image; "" means the
	// source of the mount at bootparam.OSMount in Mountinfo.
	OSImage string
	// Mountinfo is read to find OSImage (default /proc/self/mountinfo).
	Mountinfo string
	// HTTPAddr and TFTPAddr override the boot server's listen addresses.
	HTTPAddr, TFTPAddr string
	// ServerIP is the address workers reach; unset means the address of
	// the serving interface.
	ServerIP netip.Addr
	// Log gets a few lines for the console.
	Log *log.Logger
}

// Prepared is a bundle ready to serve.
type Prepared struct {
	opts    Options
	config  payload.PXEServeConfig
	image   *os.File
	size    int64
	modTime time.Time
	// Digest is the OS image's sha256, in hex.
	Digest string
}

// Prepare reads the serve config, finds and hashes the OS image and writes
// the runtime directory: boot.ipxe with the digest, links to the rest.
func Prepare(opts Options) (*Prepared, error) {
	if opts.BundleDir == "" {
		opts.BundleDir = payload.PXEDir
	}
	if opts.RuntimeDir == "" {
		opts.RuntimeDir = payload.PXERuntimeDir
	}
	if opts.Mountinfo == "" {
		opts.Mountinfo = "/proc/self/mountinfo"
	}
	if opts.Log == nil {
		opts.Log = log.New(io.Discard, "", 0)
	}
	p := &Prepared{opts: opts}
	data, err := os.ReadFile(filepath.Join(opts.BundleDir, payload.PXEServeConfigFile))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &p.config); err != nil {
		return nil, fmt.Errorf("%s: %w", payload.PXEServeConfigFile, err)
	}
	if opts.OSImage == "" {
		if opts.OSImage, err = MountSource(opts.Mountinfo, bootparam.OSMount); err != nil {
			return nil, err
		}
	}
	if err := p.openImage(opts.OSImage); err != nil {
		return nil, err
	}
	if err := p.writeRuntimeDir(); err != nil {
		p.image.Close()
		return nil, err
	}
	return p, nil
}

// openImage opens the OS image, sizes it by its superblock and hashes it.
func (p *Prepared) openImage(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("OS image: %w", err)
	}
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		f.Close()
		return fmt.Errorf("OS image %s: %w", path, err)
	}
	size, err := SquashfsSize(f, end)
	if err != nil {
		f.Close()
		return fmt.Errorf("OS image %s: %w", path, err)
	}
	start := time.Now()
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, size)); err != nil {
		f.Close()
		return fmt.Errorf("OS image %s: hash: %w", path, err)
	}
	p.image, p.size, p.modTime = f, size, start.UTC().Truncate(time.Second)
	p.Digest = hex.EncodeToString(h.Sum(nil))
	p.opts.Log.Printf("OS image %s: %d bytes, sha256 %s (hashed in %s)", path, size, p.Digest, time.Since(start).Round(time.Millisecond))
	return nil
}

// writeRuntimeDir fills the served directory: the script with the digest,
// and a link to each other entry of the bundle.
func (p *Prepared) writeRuntimeDir() error {
	dir := p.opts.RuntimeDir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmpl, err := os.ReadFile(filepath.Join(p.opts.BundleDir, payload.PXEScriptTemplate))
	if err != nil {
		return err
	}
	if !strings.Contains(string(tmpl), payload.PXEOSDigest) {
		return fmt.Errorf("%s has no %s for the OS image's digest", payload.PXEScriptTemplate, payload.PXEOSDigest)
	}
	// The digest is this program's own hash, but it lands on the workers'
	// kernel command line: keep it to its grammar all the same.
	if err := bootparam.CheckSHA256(p.Digest); err != nil {
		return fmt.Errorf("OS image digest for %s: %w", bootparam.PXEBootScript, err)
	}
	script := strings.ReplaceAll(string(tmpl), payload.PXEOSDigest, p.Digest)
	if err := atomicfile.WriteFile(filepath.Join(dir, bootparam.PXEBootScript), []byte(script), 0o644); err != nil {
		return err
	}
	entries, err := os.ReadDir(p.opts.BundleDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		switch e.Name() {
		case payload.PXEScriptTemplate, payload.PXEServeConfigFile, payload.PXETFTPDir:
			continue
		}
		link := filepath.Join(dir, e.Name())
		if err := os.Remove(link); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.Symlink(filepath.Join(p.opts.BundleDir, e.Name()), link); err != nil {
			return err
		}
	}
	return nil
}

// Serve runs the boot server until ctx ends; requests go to requestLog.
func (p *Prepared) Serve(ctx context.Context, requestLog *slog.Logger) error {
	defer p.image.Close()
	opts := bootserver.Options{
		Dir:      p.opts.RuntimeDir,
		TFTPDir:  filepath.Join(p.opts.BundleDir, payload.PXETFTPDir),
		HTTPAddr: p.opts.HTTPAddr, TFTPAddr: p.opts.TFTPAddr, ServerIP: p.opts.ServerIP,
		Files:  map[string]bootserver.File{"/" + bootparam.PXEOSImage: {Content: io.NewSectionReader(p.image, 0, p.size), ModTime: p.modTime}},
		Logger: requestLog,
	}
	var err error
	if opts.DHCP, err = dhcpMode(p.config.DHCP); err != nil {
		return err
	}
	// The interface gives DHCP its socket and the script URL its address.
	if opts.Interface = p.config.Interface; opts.Interface == "" && (opts.DHCP != bootserver.NoDHCP || !opts.ServerIP.IsValid()) {
		if opts.Interface, err = DefaultInterface("/proc/net/route"); err != nil {
			return err
		}
	}
	if opts.DHCP == bootserver.FullDHCP {
		if opts.Range, err = bootserver.ParseRange(p.config.Range); err != nil {
			return err
		}
		if p.config.Router != "" {
			if opts.Router, err = netip.ParseAddr(p.config.Router); err != nil {
				return fmt.Errorf("router: %w", err)
			}
		}
		for _, d := range p.config.DNS {
			a, err := netip.ParseAddr(d)
			if err != nil {
				return fmt.Errorf("dns: %w", err)
			}
			opts.DNS = append(opts.DNS, a)
		}
	}
	srv, err := bootserver.Start(opts)
	if err != nil {
		return err
	}
	p.opts.Log.Printf("serving the PXE bundle at %s (DHCP %s%s)", srv.BootScriptURL(), opts.DHCP, onInterface(opts.Interface))
	return srv.Serve(ctx)
}

func onInterface(name string) string {
	if name == "" {
		return ""
	}
	return " on " + name
}

func dhcpMode(s string) (bootserver.DHCPMode, error) {
	switch m := bootserver.DHCPMode(s); m {
	case "":
		return bootserver.ProxyDHCP, nil
	case bootserver.ProxyDHCP, bootserver.FullDHCP, bootserver.NoDHCP:
		return m, nil
	}
	return "", fmt.Errorf("%s: dhcp %q: want proxy, full or off", payload.PXEServeConfigFile, s)
}

// squashfsMagic is "hsqs", a squashfs superblock's first bytes.
const squashfsMagic = 0x73717368

// SquashfsSize is how many bytes of r (end bytes long) the squashfs at its
// start takes: its superblock's bytes_used rounded up to 4 KiB, as
// mksquashfs pads, but no further than end.
func SquashfsSize(r io.ReaderAt, end int64) (int64, error) {
	var sb [48]byte
	if _, err := r.ReadAt(sb[:], 0); err != nil {
		return 0, fmt.Errorf("read squashfs superblock: %w", err)
	}
	if binary.LittleEndian.Uint32(sb[0:4]) != squashfsMagic {
		return 0, errors.New("no squashfs superblock at its start")
	}
	used := int64(binary.LittleEndian.Uint64(sb[40:48]))
	if used <= 0 || used > end {
		return 0, fmt.Errorf("squashfs says it uses %d bytes of %d", used, end)
	}
	return min((used+4095)/4096*4096, end), nil
}

// MountSource returns the source of the mount at mountPoint in a
// mountinfo file (proc(5)).
func MountSource(mountinfo, mountPoint string) (string, error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return "", err
	}
	defer f.Close()
	source := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID parent major:minor root mount-point options [optional...] - fstype source super-options
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if len(fields) < 5 || sep < 0 || sep+2 >= len(fields) || unescapeMountinfo(fields[4]) != mountPoint {
			continue
		}
		source = unescapeMountinfo(fields[sep+2]) // the last mount there wins
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	if source == "" {
		return "", fmt.Errorf("nothing is mounted at %s (%s)", mountPoint, mountinfo)
	}
	return source, nil
}

// unescapeMountinfo undoes the octal escapes (\040 for a space) of
// mountinfo fields.
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// DefaultInterface is the interface of the IPv4 default route in a
// /proc/net/route file, else the first up, non-loopback interface with an
// IPv4 address.
func DefaultInterface(routeFile string) (string, error) {
	if data, err := os.ReadFile(routeFile); err == nil {
		for _, line := range strings.Split(string(data), "\n")[1:] {
			fields := strings.Fields(line)
			if len(fields) >= 8 && fields[1] == "00000000" && fields[7] == "00000000" {
				return fields[0], nil
			}
		}
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return "", err
	}
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp == 0 || iface.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := iface.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
				return iface.Name, nil
			}
		}
	}
	return "", errors.New("no interface to serve DHCP on: no default route and no interface with an IPv4 address (set outputs.pxe.serve.interface)")
}
