package yamlnode

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestTopLevel(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		wantKeys   []string // nil: no mapping
		wantErr    string
	}{
		{name: "empty", data: ""},
		{name: "blank lines", data: "\n\n"},
		{name: "comment only", data: "# nothing here\n"},
		{name: "null", data: "~\n"},
		{name: "explicit null", data: "null\n"},
		{name: "mapping", data: "b: 1\na: 2\n", wantKeys: []string{"b", "a"}},
		{name: "list", data: "\n- a\n", wantErr: "src line 2: want a mapping, got a list"},
		{name: "scalar", data: "hello\n", wantErr: "src line 1: want a mapping, got a scalar"},
		{name: "syntax", data: "a: [1\n", wantErr: "src: yaml: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, err := TopLevel("src", []byte(tc.data))
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) || root != nil {
					t.Fatalf("TopLevel = %v, %v; want nil and an error starting %q", root, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantKeys == nil {
				if root != nil {
					t.Fatalf("TopLevel = %v, want nil for an empty document", root)
				}
				return
			}
			var keys []string
			for k := range Pairs(root) {
				keys = append(keys, k.Value)
			}
			if strings.Join(keys, ",") != strings.Join(tc.wantKeys, ",") {
				t.Errorf("keys = %q, want %q in file order", keys, tc.wantKeys)
			}
		})
	}
}

// node decodes a one-document YAML text to its root node.
func node(t *testing.T, text string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Content[0]
}

func TestKindName(t *testing.T) {
	for text, want := range map[string]string{
		"{a: 1}": "a mapping",
		"[1, 2]": "a list",
		"~":      "null",
		"null":   "null",
		"hello":  "a scalar",
		`""`:     "a scalar",
		"12":     "a scalar",
	} {
		if got := KindName(node(t, text)); got != want {
			t.Errorf("KindName(%s) = %q, want %q", text, got, want)
		}
	}
	alias := node(t, "a: &x [1]\nb: *x\n").Content[3]
	if got := KindName(alias); got != "an alias" {
		t.Errorf("KindName(*x) = %q, want %q", got, "an alias")
	}
}

func TestDeref(t *testing.T) {
	m := node(t, "a: &x {k: v}\nb: *x\nc: *x\n")
	anchored := m.Content[1]
	for _, i := range []int{1, 3, 5} {
		if got := Deref(m.Content[i]); got != anchored {
			t.Errorf("Deref(value %d) = %v, want the anchored mapping", i, got)
		}
	}
	if !IsNull(Deref(node(t, "~"))) || IsNull(Deref(node(t, `"~"`))) {
		t.Error(`IsNull: want ~ null and "~" not`)
	}
}

func TestPairsStops(t *testing.T) {
	m := node(t, "a: 1\nb: 2\nc: 3\n")
	var seen []string
	for k, v := range Pairs(m) {
		seen = append(seen, k.Value+"="+v.Value)
		if k.Value == "b" {
			break
		}
	}
	if strings.Join(seen, " ") != "a=1 b=2" {
		t.Errorf("pairs until b = %q, want a=1 b=2", seen)
	}
}
