package yamlnode

import (
	"strings"
	"testing"

	"github.com/ml-appliance/appliance/internal/fuzzcheck"
)

// checkDecode checks that Decode accepts data, or fails with an error
// starting with wantErr.
func checkDecode(t *testing.T, data, wantErr string) {
	t.Helper()
	_, err := Decode("src", []byte(data))
	switch {
	case wantErr == "" && err != nil:
		t.Fatalf("Decode: %v", err)
	case wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), wantErr)):
		t.Fatalf("Decode: %v, want an error starting %q", err, wantErr)
	}
}

func TestDecodeOneDocument(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		wantErr    string // "" for no error
	}{
		{name: "one", data: "a: 1\n"},
		{name: "explicit start", data: "---\na: 1\n"},
		{name: "end marker then comment", data: "a: 1\n...\n# done\n"},
		{name: "comment only", data: "# nothing\n"},
		{name: "second document", data: "a: 1\nb: 2\n---\nc: 3\n", wantErr: "src line 3: a second YAML document starts here; want one document"},
		{name: "empty second document", data: "a: 1\n---\n", wantErr: "src line 2: a second YAML document starts here"},
		{name: "after end marker", data: "a: 1\n...\n--- !!str\nx\n", wantErr: "src line 3: a second YAML document starts here"},
		{name: "bad second document", data: "a: 1\n---\n[\n", wantErr: "src: yaml: line "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkDecode(t, tc.data, tc.wantErr)
		})
	}
	// TopLevel, which all three parsers use, refuses it too.
	if _, err := TopLevel("src", []byte("a: 1\n---\nb: 2\n")); err == nil {
		t.Error("TopLevel took two documents")
	}
}

func TestDecodeAliasBounds(t *testing.T) {
	big := strings.Repeat("x", 300<<10)
	for _, tc := range []struct {
		name, data string
		wantErr    string
	}{
		// 10 + 100 + 1000 scalars and lists: well inside.
		{name: "small laughs", data: fuzzcheck.Laughs(3, "lol")},
		{name: "billion laughs", data: fuzzcheck.Laughs(9, "lol"), wantErr: "src line 5: alias *l3: aliases add more than 10000 nodes or 1048576 bytes"},
		{name: "anchored key list", data: "keys: &k [a, b, c]\nu1: *k\nu2: *k\n"},
		{name: "big scalar aliased", data: "a: &a " + big + "\nb: [*a, *a, *a, *a]\n", wantErr: "src line 2: alias *a: aliases add more than"},
		{name: "cycle", data: "a: &x [1, *x]\n", wantErr: "src line 1: alias *x refers to a node that contains it"},
		{name: "mapping cycle", data: "a: &m\n  b: *m\n", wantErr: "src line 2: alias *m refers to a node that contains it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkDecode(t, tc.data, tc.wantErr)
		})
	}
}
