package nodelabels

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
)

// Case is one row of testdata/cases.json, the table every caller of this
// package (the builder's site check, firstboot's cloud-config parser) runs
// too, so the same items get the same verdict and words everywhere.
type Case struct {
	Name string
	// Kind is "labels" or "taints".
	Kind  string
	Items []string
	// Why says where the verdict comes from, for the reader.
	Why  string
	Want []struct {
		Index int
		// Message is the problem's text; "ITEM<n>" stands for the caller's
		// path of item n.
		Message string
	}
}

func loadCases(t *testing.T) []Case {
	t.Helper()
	data, err := os.ReadFile("testdata/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []Case
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

func TestCases(t *testing.T) {
	cases := loadCases(t)
	if len(cases) < 20 {
		t.Fatalf("only %d cases in testdata/cases.json", len(cases))
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			var probs []Problem
			switch tc.Kind {
			case "labels":
				probs = CheckLabels(tc.Items)
			case "taints":
				probs = CheckTaints(tc.Items)
			default:
				t.Fatalf("kind %q", tc.Kind)
			}
			var got, want []string
			for _, p := range probs {
				got = append(got, strconv.Itoa(p.Index)+": "+p.Message(func(i int) string { return "ITEM" + strconv.Itoa(i) }))
			}
			for _, w := range tc.Want {
				want = append(want, strconv.Itoa(w.Index)+": "+w.Message)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s %q:\n got %q\nwant %q", tc.Kind, tc.Items, got, want)
			}
		})
	}
}

// The kubelet's lists, copied here from k8s.io/kubelet v0.36 and
// k8s.io/kubernetes v1.36 (read, not imported: firstboot stays small), are
// checked key by key.
func TestKubeletRefuses(t *testing.T) {
	for key, refused := range map[string]bool{
		"gpu":                                      false,
		"example.com/gpu":                          false,
		"kubernetes.io/hostname":                   false,
		"kubernetes.io/arch":                       false,
		"kubernetes.io/os":                         false,
		"beta.kubernetes.io/arch":                  false,
		"beta.kubernetes.io/os":                    false,
		"beta.kubernetes.io/instance-type":         false,
		"node.kubernetes.io/instance-type":         false,
		"topology.kubernetes.io/region":            false,
		"topology.kubernetes.io/zone":              false,
		"failure-domain.beta.kubernetes.io/region": false,
		"failure-domain.beta.kubernetes.io/zone":   false,
		"node.kubernetes.io/anything":              false,
		"a.node.kubernetes.io/anything":            false,
		"kubelet.kubernetes.io/anything":           false,
		"a.kubelet.kubernetes.io/anything":         false,
		"kubernetes.io/anything":                   true,
		"k8s.io/anything":                          true,
		"x.k8s.io/anything":                        true,
		"node-role.kubernetes.io/worker":           true,
		"topology.kubernetes.io/rack":              true,
		"xnode.kubernetes.io/a":                    true,
		"notkubernetes.io/a":                       false,
	} {
		if got := kubeletRefuses(key); got != refused {
			t.Errorf("kubeletRefuses(%q) = %v, want %v", key, got, refused)
		}
	}
}

func TestQuoteCuts(t *testing.T) {
	if got, want := quote(strings.Repeat("a", 61)), `"`+strings.Repeat("a", 60)+`"...`; got != want {
		t.Errorf("quote = %s, want %s", got, want)
	}
	if got := quote("a\nb"); got != `"a\nb"` {
		t.Errorf("quote = %s", got)
	}
}
