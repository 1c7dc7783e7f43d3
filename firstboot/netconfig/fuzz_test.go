package netconfig

import (
	"flag"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/ml-appliance/appliance/internal/fuzzcheck"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/FuzzParse from fuzzSeeds")

// fuzzSeeds are FuzzParse's seeds, committed as its corpus: valid configs
// using every section, and the hostile input of issue 12.
func fuzzSeeds() map[string][]byte {
	seeds := map[string]string{
		"wrapped-dhcp": "network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n",
		"disabled":     "network:\n  config: disabled\n",
		"static": "version: 2\nethernets:\n  id0:\n    match: {macaddress: \"52:54:00:12:34:56\", name: \"en*\", driver: virtio_net}\n    set-name: lan0\n" +
			"    addresses: [192.0.2.10/24, \"2001:db8::10/64\"]\n    gateway4: 192.0.2.1\n    gateway6: \"2001:db8::1\"\n" +
			"    routes: [{to: 198.51.100.0/24, via: 192.0.2.254, metric: 100, on-link: true}, {to: default, via: \"2001:db8::fffe\"}]\n" +
			"    nameservers: {addresses: [192.0.2.53], search: [lab.internal]}\n    mtu: 9000\n    optional: false\n",
		"bond-vlan": "version: 2\nethernets: {eth0: {}, eth1: {}}\nbonds:\n  bond0:\n    interfaces: [eth0, eth1]\n" +
			"    parameters: {mode: active-backup, primary: eth0, mii-monitor-interval: 100ms, lacp-rate: fast, transmit-hash-policy: layer3+4}\n" +
			"vlans:\n  vlan10: {id: 10, link: bond0, addresses: [10.0.10.2/24]}\n",
		"version-1":         "network:\n  version: 1\n  config:\n    - type: physical\n      name: eth0\n",
		"second-document":   "version: 2\nethernets:\n  eth0: {dhcp4: true}\n---\nversion: 1\n",
		"billion-laughs":    nameserverLaughs(9),
		"alias-cycle":       "version: 2\nethernets:\n  eth0:\n    routes: &r [*r]\n",
		"nul-in-match-name": "version: 2\nethernets:\n  lan:\n    match: {name: \"en\\0*\"}\n",
		"line-break-driver": "version: 2\nethernets:\n  lan:\n    match: {driver: \"e1000\\n[Network]\"}\n",
		"escape-in-search":  "version: 2\nethernets:\n  eth0:\n    nameservers: {search: [\"lab\\e[2J\"]}\n",
	}
	out := map[string][]byte{}
	for name, doc := range seeds {
		out[name] = []byte(doc)
	}
	return out
}

// nameserverLaughs nests anchored address lists ten-fold per level under
// one ethernet's nameservers: nine levels are 10^9 addresses once the
// aliases are followed.
func nameserverLaughs(depth int) string {
	return "version: 2\n" + fuzzcheck.Laughs(depth, "[192.0.2.53]") +
		fmt.Sprintf("ethernets:\n  eth0:\n    nameservers: {addresses: *l%d}\n", depth)
}

// FuzzParse feeds Parse arbitrary documents: it must not panic, must stay
// within bounded memory and time however the input nests aliases, and
// what it accepts must render to systemd-networkd files with nothing
// injected: Render refuses nothing Parse accepted, and no file name has a
// slash and no file a control character but line breaks.
func FuzzParse(f *testing.F) {
	for _, seed := range fuzzSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var (
			cfg      Config
			warnings []string
			err      error
		)
		fuzzcheck.Bounded(t, 256<<20, 10*time.Second, func() { cfg, warnings, err = Parse("fuzz", data) })
		if err != nil {
			if !reflect.DeepEqual(cfg, Config{}) || warnings != nil {
				t.Fatalf("a failed Parse returned %+v, warnings %q", cfg, warnings)
			}
			return
		}
		files, err := Render(cfg)
		if err != nil {
			t.Fatalf("Render refuses what Parse accepted: %v", err)
		}
		for _, file := range files {
			if !strings.HasPrefix(file.Name, FilePrefix) || strings.Contains(file.Name, "/") {
				t.Errorf("file name %q", file.Name)
			}
			if i := strings.IndexFunc(string(file.Content), func(r rune) bool { return r != '\n' && unicode.IsControl(r) }); i >= 0 {
				t.Errorf("%s has a control character at byte %d:\n%q", file.Name, i, file.Content)
			}
		}
	})
}

// The hostile seeds are committed as FuzzParse's corpus, so a plain
// `go test` runs them and a fuzzing run starts from them.
func TestFuzzParseCorpus(t *testing.T) {
	fuzzcheck.Corpus(t, "testdata/fuzz/FuzzParse", fuzzSeeds(), *updateCorpus)
}
