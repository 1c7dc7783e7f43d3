package netconfig

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// TestRenderGolden renders every testdata/*.yaml and compares the files with
// testdata/<name>.golden; go test -run TestRenderGolden -update rewrites them.
func TestRenderGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(inputs) == 0 {
		t.Fatalf("no testdata/*.yaml (%v)", err)
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			cfg, warnings, err := Parse(filepath.Base(in), data)
			if err != nil || len(warnings) > 0 {
				t.Fatalf("Parse: %v, warnings %q", err, warnings)
			}
			files, err := Render(cfg)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := Render(cfg)
			if !bytes.Equal(joinFiles(files), joinFiles(again)) {
				t.Fatal("two renders of the same Config differ")
			}
			compareGolden(t, "testdata/"+name+".golden", joinFiles(files))
		})
	}
}

func TestRenderInventoryGolden(t *testing.T) {
	files, err := Render(FromInventory("10.0.40.21/24", "10.0.40.1", []string{"10.0.40.2", "10.0.40.3"}, "52:54:00:40:00:21"))
	if err != nil {
		t.Fatal(err)
	}
	compareGolden(t, "testdata/inventory.golden", joinFiles(files))
}

func TestRenderRefusesInvalidConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		err  string
	}{
		{
			name: "inventory without MAC",
			cfg:  FromInventory("10.0.0.5/24", "10.0.0.1", nil, ""),
			err:  "render network config: ethernets.inventory.match: want name, macaddress or driver, got none",
		},
		{
			name: "inventory with bad values",
			cfg:  FromInventory("10.0.0.5", "gw", []string{"10.0.0.2", "dns"}, "52:54:00:00:00:01"),
			err: "render network config: ethernets.inventory.addresses[0]: want an address with prefix length like 192.0.2.10/24, got \"10.0.0.5\"\n" +
				"render network config: ethernets.inventory.gateway4: want an IPv4 address, got \"gw\"\n" +
				"render network config: ethernets.inventory.nameservers.addresses[1]: want an IP address, got \"dns\"",
		},
		{
			name: "inventory without address",
			cfg:  FromInventory("", "", nil, "52:54:00:00:00:01"),
			err:  `render network config: ethernets.inventory.addresses[0]: want an address with prefix length like 192.0.2.10/24, got ""`,
		},
		{
			name: "ID that is not a file name",
			cfg:  Config{Ethernets: []Ethernet{{ID: "../x", Match: &Match{Name: "eth0"}}}},
			err:  `render network config: ethernets.../x: want an ID of letters, digits, ".", "_" or "-", got "../x"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files, err := Render(tc.cfg)
			if err == nil || err.Error() != tc.err {
				t.Fatalf("err:\n got %v\nwant %s", err, tc.err)
			}
			if files != nil {
				t.Errorf("files = %d, want none on error", len(files))
			}
		})
	}
}

func TestRenderNamesAndOrder(t *testing.T) {
	data, err := os.ReadFile("testdata/bond-vlan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := Parse("bond-vlan.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	files, err := Render(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	want := []string{
		"10-cloud-config-bond0.30.netdev", "10-cloud-config-bond0.30.network",
		"10-cloud-config-bond0.netdev", "10-cloud-config-bond0.network",
		"10-cloud-config-port0.link", "10-cloud-config-port0.network",
		"10-cloud-config-port1.link", "10-cloud-config-port1.network",
	}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("names = %q, want %q", names, want)
	}
	// Every .network must sort before the base OS's catch-all DHCP file.
	for _, n := range names {
		if n >= "80-dhcp.network" {
			t.Errorf("%s sorts after 80-dhcp.network", n)
		}
	}
}

func joinFiles(files []File) []byte {
	var b bytes.Buffer
	for _, f := range files {
		b.WriteString("### " + f.Name + "\n")
		b.Write(f.Content)
	}
	return b.Bytes()
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the rendered files (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
