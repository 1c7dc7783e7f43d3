package site

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// labelCase is a row of firstboot/nodelabels/testdata/cases.json: the table
// firstboot's cloud-config parser runs too, so both give the same verdict
// and the same words for the same item.
type labelCase struct {
	Name, Kind string
	Items      []string
	Want       []struct {
		Index   int
		Message string
	}
}

func TestNodeLabelsSameVerdictAsFirstboot(t *testing.T) {
	data, err := os.ReadFile("../../firstboot/nodelabels/testdata/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []labelCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			// One item a line from line 14, so each error names its own line.
			items := "      " + tc.Kind + ":\n"
			for _, it := range tc.Items {
				items += "        - " + strconv.Quote(it) + "\n"
			}
			doc := strings.Replace(valid, "    - {hostname: a, role: server, init: true}\n",
				"    - hostname: a\n      role: server\n      init: true\n"+items, 1)
			if !strings.Contains(doc, "init: true\n      "+tc.Kind) {
				t.Fatalf("inventory not replaced in:\n%s", doc)
			}
			path := func(i int) string { return fmt.Sprintf("cluster.nodes[0].%s[%d]", tc.Kind, i) }
			var want []string
			for _, w := range tc.Want {
				msg := w.Message
				for i := range tc.Items {
					msg = strings.ReplaceAll(msg, "ITEM"+strconv.Itoa(i), path(i))
				}
				want = append(want, fmt.Sprintf("site.yaml:%d: %s: %s", 14+w.Index, path(w.Index), msg))
			}
			checkLoad(t, doc, strings.Join(want, "\n"), nil)
		})
	}
}
