package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/ssh"

	"github.com/ml-appliance/appliance/firstboot/bootparam"
	"github.com/ml-appliance/appliance/firstboot/payload"
	"github.com/ml-appliance/appliance/internal/netns"
)

// netbootPayloadLayer is the size of the one layer of the netboot test's
// payload image: incompressible, and larger than any file of the OS image
// (the largest, the firstboot binary, is about 30 MB), so an OS image or
// PXE bundle that carried the payload, as a tar or as blobs, compressed or
// not, would have a file at least this large.
const netbootPayloadLayer = 64 << 20

// netbootOSImageDir is where a netbooted node holds its OS image: the
// tmpfs the init downloads it into, which moves into the booted system
// with /run (firstboot/bootinit/netboot.go, netbootMount).
const netbootOSImageDir = "/run/appliance/netboot"

// layersImage is a linux/amd64 OCI image made of layers.
func layersImage(t *testing.T, layers ...v1.Layer) v1.Image {
	t.Helper()
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.ConfigFile(img, &v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers"}})
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.AppendLayers(img, layers...); err != nil {
		t.Fatal(err)
	}
	return img
}

// checkOSImageLacksPayload checks that neither the OS image of the PXE
// bundle in dir (what a worker downloads) nor any other file of the
// bundle is large enough to hold the payload d, whose layer of
// netbootPayloadLayer incompressible bytes would be in it in any form,
// and returns the OS image's size.
func checkOSImageLacksPayload(t *testing.T, dir string, d payload.ImagePayload) int64 {
	t.Helper()
	if d.Size < netbootPayloadLayer {
		t.Fatalf("the payload has %d bytes, less than its layer of %d", d.Size, netbootPayloadLayer)
	}
	osImage := filepath.Join(dir, bootparam.PXEOSImage)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var size int64
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case e.Name() == bootparam.PXEOSImage:
			size = info.Size()
		case info.Size() >= netbootPayloadLayer:
			t.Errorf("the PXE bundle's %s has %d bytes: room for the payload, which a worker must not download", e.Name(), info.Size())
		}
	}
	name, largest := largestFile(t, osImage)
	t.Logf("OS image %s: %d bytes; its largest file %s has %d; the payload artifact %d", osImage, size, name, largest, d.Size)
	if largest >= netbootPayloadLayer {
		t.Errorf("the OS image's %s has %d bytes, room for the payload's %d-byte layer", name, largest, netbootPayloadLayer)
	}
	return size
}

// largestFile is the largest regular file in a squashfs, as unsquashfs
// lists it.
func largestFile(t *testing.T, squashfs string) (string, int64) {
	t.Helper()
	var name string
	var largest int64
	for _, l := range strings.Split(run(t, "unsquashfs", "-lls", "-d", "", squashfs), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 || !strings.HasPrefix(f[0], "-") {
			continue
		}
		n, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			t.Fatalf("unsquashfs -lls: %q: %v", l, err)
		}
		if n > largest {
			name, largest = strings.Join(f[5:], " "), n
		}
	}
	if name == "" {
		t.Fatalf("unsquashfs -lls %s listed no file", squashfs)
	}
	return name, largest
}

// checkWorkerOverSSH logs in to the netbooted worker at ip on the bridge
// in ns and checks: registries.yaml lists the mirrors of want; `firstboot
// status` says where its images come from (images, a pattern); what it
// holds in RAM of its boot is the OS image of osImage bytes and nothing
// else. It logs the kernel's account of the worker's memory.
func checkWorkerOverSSH(t *testing.T, ns string, ip net.IP, signer ssh.Signer, osImage int64, images string, want map[string][]string) {
	t.Helper()
	if ip == nil {
		t.Fatal("the site's DHCP server gave the worker no address")
	}
	addr := net.JoinHostPort(ip.String(), "22")
	dial := func() (conn net.Conn, err error) {
		err = netns.Do(ns, func() error {
			conn, err = net.DialTimeout("tcp", addr, 30*time.Second)
			return err
		})
		return conn, err
	}
	checkRegistriesYAML(t, sshRunVia(t, addr, dial, signer, "cat /etc/rancher/k3s/registries.yaml"), want)
	got := sshRunVia(t, addr, dial, signer, "firstboot status | grep '^images: '; echo --; "+
		"stat -c '%s %n' "+netbootOSImageDir+"/*; echo --; df -B1 --output=used "+netbootOSImageDir+" | tail -n 1; echo --; "+
		"grep -E '^(MemTotal|MemAvailable|Shmem):' /proc/meminfo")
	parts := strings.Split(got, "--\n")
	if len(parts) != 4 {
		t.Fatalf("on the worker:\n%s", got)
	}
	if !regexp.MustCompile(`^` + images + `\n$`).MatchString(parts[0]) {
		t.Errorf("on the worker, `firstboot status` says %q, want %s", parts[0], images)
	}
	if want := fmt.Sprintf("%d %s/%s\n", osImage, netbootOSImageDir, bootparam.PXEOSImage); parts[1] != want {
		t.Errorf("the worker holds in %s:\n%s\nwant only the OS image:\n%s", netbootOSImageDir, parts[1], want)
	}
	mem := map[string]int64{}
	for _, l := range strings.Split(strings.TrimSpace(parts[3]), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 || f[2] != "kB" {
			t.Fatalf("/proc/meminfo: %q", l)
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			t.Fatalf("/proc/meminfo: %q: %v", l, err)
		}
		mem[strings.TrimSuffix(f[0], ":")] = n << 10
	}
	mib := func(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
	t.Logf("worker memory (its /proc/meminfo, after firstboot and K3s started): MemTotal %s, in use (MemTotal-MemAvailable) %s, "+
		"tmpfs (Shmem) %s, of which %s holds the OS image: %s used (%d bytes)",
		mib(mem["MemTotal"]), mib(mem["MemTotal"]-mem["MemAvailable"]), mib(mem["Shmem"]), netbootOSImageDir,
		mib(atoi(t, strings.TrimSpace(parts[2]))), osImage)
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}
