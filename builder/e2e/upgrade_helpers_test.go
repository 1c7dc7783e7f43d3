package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/ml-appliance/appliance/firstboot/upgradebundle"
	"github.com/ml-appliance/appliance/internal/k3sstandin/standinbuild"
	"github.com/ml-appliance/appliance/internal/vmtest"
)

// upgradeRelease is one build of the upgrade test's site.
type upgradeRelease struct {
	version string
	// k3sVersion is what its K3s stand-in's `k3s --version` says.
	k3sVersion string
	// out is the build's output directory, bundle its upgrade bundle.
	out, bundle string
	// bundleBytes is the bundle's size: every file in its directory.
	bundleBytes int64
	// osImage is the bundle's os.squashfs.
	osImage upgradebundle.File
}

// releaseSpec is what differs between the releases of the test's site.
type releaseSpec struct {
	version string
	// standIn is the K3s stand-in's build-time values (a TEST DOUBLE,
	// not K3s: internal/k3sstandin).
	standIn standinbuild.Options
}

// upgradeOverlayFile is a file of the site's own overlay that every
// release changes: the node shows which release's image it runs.
const upgradeOverlayFile = "/etc/appliance-upgrade-test/release"

// upgradeOverlayContent is upgradeOverlayFile's content in a release.
func upgradeOverlayContent(version string) string {
	return "upgrade test overlay of release " + version + "\n"
}

// buildUpgradeRelease builds configs/single-node.yaml as release spec in
// work/<version>: the cloud kernel, the K3s stand-in built with
// spec.standIn and airgap, SSH with authorizedKey, an overlay holding
// upgradeOverlayFile, metadata.version. With secrets set, the build
// starts from a copy of that secrets directory (the site's cluster
// identity and bundle signing key: builder/build/clusterid.go keeps them
// per output directory), as a later release of the same site must. It
// logs the build's time and the bundle's size.
func buildUpgradeRelease(t *testing.T, work string, spec releaseSpec, airgap, authorizedKey, secrets string) upgradeRelease {
	t.Helper()
	dir := filepath.Join(work, spec.version)
	overlay := filepath.Join(dir, "overlay")
	file := filepath.Join(overlay, upgradeOverlayFile)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(upgradeOverlayContent(spec.version)), 0o644); err != nil {
		t.Fatal(err)
	}
	binary, err := standinbuild.Build(t.Context(), dir, spec.standIn)
	if err != nil {
		t.Fatal(err)
	}
	cloud := withCloudKernel(t)
	config := siteConfig(t, dir, "single-node.yaml", func(doc map[string]any) {
		cloud(doc)
		doc["metadata"].(map[string]any)["version"] = spec.version
		osSec := doc["os"].(map[string]any)
		osSec["overlays"] = append(osSec["overlays"].([]any), overlay)
		doc["k3s"] = map[string]any{"binary": binary, "airgap": airgap}
		// The smallest disk that fits (two 1 GiB slots): less to write,
		// hash and copy than the example's 8 GiB.
		doc["outputs"] = map[string]any{"raw": map[string]any{}}
		doc["cluster"].(map[string]any)["ssh"] = map[string]any{"authorizedKeys": []any{authorizedKey}}
	})
	out := filepath.Join(dir, "out")
	if secrets != "" {
		run(t, "mkdir", "-p", out)
		run(t, "cp", "-a", secrets, filepath.Join(out, "secrets"))
	}
	start := time.Now()
	build(t, config, out)
	took := time.Since(start)
	r := upgradeRelease{version: spec.version, k3sVersion: spec.standIn.Version, out: out}
	for _, a := range readReport(t, out).Artifacts {
		if a.Kind == "upgrade" {
			r.bundle = filepath.Dir(filepath.Join(out, a.Path))
		}
	}
	if r.bundle == "" {
		t.Fatalf("release %s: the build report lists no artifact of kind upgrade", spec.version)
	}
	m := readBundleManifest(t, r.bundle)
	if m.Release.Version != spec.version {
		t.Fatalf("release %s: the bundle's manifest says release %s", spec.version, m.Release.Version)
	}
	r.osImage = m.OSImage
	entries, err := os.ReadDir(r.bundle)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		r.bundleBytes += info.Size()
		size := fmt.Sprintf("%d bytes", info.Size())
		if info.Size() >= 1<<20 {
			size = mib(info.Size())
		}
		names = append(names, e.Name()+" "+size)
	}
	t.Logf("release %s: built in %.1fs; upgrade bundle %s: %s (%s; K3s %q, kernel %s)", spec.version, took.Seconds(),
		filepath.Base(r.bundle), mib(r.bundleBytes), strings.Join(names, ", "), m.Release.K3sVersion, m.Release.KernelVersion)
	return r
}

// readBundleManifest decodes a bundle's manifest.json (its signature is
// the node's to check).
func readBundleManifest(t *testing.T, bundle string) upgradebundle.Manifest {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(bundle, upgradebundle.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	var m upgradebundle.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s: %v", upgradebundle.ManifestFile, err)
	}
	return m
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// bundleServer serves bundle directories over HTTP on 127.0.0.1, each
// under /<version>/. Armed with stall, it sends only the first bytes of
// an os.squashfs, then holds the response open until the client goes
// away: a node applying the bundle is then in the middle of writing its
// slot for as long as the test wants.
type bundleServer struct {
	srv *httptest.Server
	mu  sync.Mutex
	// stallAt > 0 arms the stall; stalled is closed when a response
	// stalls.
	stallAt int64
	stalled chan struct{}
}

func newBundleServer(t *testing.T, releases ...upgradeRelease) *bundleServer {
	t.Helper()
	s := &bundleServer{}
	mux := http.NewServeMux()
	for _, r := range releases {
		prefix := "/" + r.version + "/"
		mux.Handle(prefix, http.StripPrefix(prefix, s.stalling(r.bundle, http.FileServer(http.Dir(r.bundle)))))
	}
	s.srv = httptest.NewServer(mux)
	t.Cleanup(s.srv.Close)
	return s
}

// url is where a node sees release version's bundle through guestfwd.
func (s *bundleServer) url(version string) string {
	return "http://" + upgradeBundleAddr + "/" + version + "/"
}

// stall arms the stall for the next os.squashfs request and returns the
// channel closed when it stalls.
func (s *bundleServer) stall(at int64) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stallAt, s.stalled = at, make(chan struct{})
	return s.stalled
}

func (s *bundleServer) stalling(dir string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		at, stalled := s.stallAt, s.stalled
		if r.URL.Path == upgradebundle.OSImageFile && at > 0 {
			s.stallAt = 0
		} else {
			at = 0
		}
		s.mu.Unlock()
		if at == 0 {
			next.ServeHTTP(w, r)
			return
		}
		f, err := os.Open(filepath.Join(dir, upgradebundle.OSImageFile))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		info, err := f.Stat()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(info.Size()))
		w.WriteHeader(http.StatusOK)
		if _, err := io.CopyN(w, f, at); err != nil {
			return // the client went away before the stall
		}
		w.(http.Flusher).Flush()
		close(stalled)
		<-r.Context().Done() // the node lost power
	})
}

// upgradeBundleAddr is where a node sees the bundle server: QEMU relays
// the guest's connections to it to the server on 127.0.0.1 (guestfwd,
// TestHelperGuestfwd), and restrict=on keeps the guest off every other
// host address.
const upgradeBundleAddr = "10.0.2.100:8080"

// upgradeNode is the test's machine: one disk kept across its boots,
// SSH forwarded from 127.0.0.1:port, the bundle server reachable.
type upgradeNode struct {
	disk    string
	port    int
	signer  ssh.Signer
	bundles *bundleServer
	// vm is the machine's current boot.
	vm *vmtest.VM
}

// upgradeMAC is the inventory's initial server (configs/single-node.yaml).
const upgradeMAC = "52:54:00:00:00:01"

// boot starts the machine from its disk under OVMF with -no-reboot: a
// reboot of the guest ends QEMU, and the test starts the next boot
// itself. Each boot gets a fresh copy of OVMF's variable store, unlike a
// real machine's NVRAM; what decides the slot does not live there:
// systemd-boot counts tries in the entries' file names on the ESP and
// loader.conf's default is a glob (package bootslot).
func (n *upgradeNode) boot(t *testing.T) *vmtest.VM {
	t.Helper()
	opts := bootOptions(t, n.disk, upgradeMAC)
	opts.Extra = []string{
		"-netdev", fmt.Sprintf("user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:%d-:22,guestfwd=tcp:%s-cmd:env %s=%s %s -test.run=^TestHelperGuestfwd$",
			n.port, upgradeBundleAddr, guestfwdEnv, n.bundles.srv.Listener.Addr(), os.Args[0]),
		"-device", "virtio-net-pci,netdev=n0,mac=" + upgradeMAC,
	}
	vm, err := vmtest.Start(t.Context(), t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vm.Kill)
	n.vm = vm
	return vm
}

// ssh runs command on the node, failing t unless it exits 0.
func (n *upgradeNode) ssh(t *testing.T, command string) string {
	t.Helper()
	return sshRun(t, n.port, n.signer, command)
}

// stream runs command on the node and calls line for each line of its
// output as it comes. It returns the whole output and the session's
// error: nil after exit 0, an *ssh.ExitError, or the connection's end
// when the node went down under it. It may run in a goroutine of its own.
func (n *upgradeNode) stream(command string, line func(string)) (string, error) {
	config := &ssh.ClientConfig{
		User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(n.signer)},
		// The node's host key is not what this checks.
		HostKeyCallback: ssh.InsecureIgnoreHostKey(),
		Timeout:         30 * time.Second,
	}
	client, err := ssh.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", n.port), config)
	if err != nil {
		return "", fmt.Errorf("SSH to the node: %w", err)
	}
	defer client.Close()
	session, err := client.NewSession()
	if err != nil {
		return "", fmt.Errorf("SSH session: %w", err)
	}
	defer session.Close()
	pr, pw := io.Pipe()
	session.Stdout, session.Stderr = pw, pw
	var out strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			line(sc.Text())
		}
	}()
	err = session.Run(command)
	pw.Close()
	<-done
	return out.String(), err
}
