package manifests

import (
	"reflect"
	"strings"
	"testing"
)

// splitCases are inputs where the splitting rules show.
var splitCases = map[string]string{
	"leading separator":      "---\na: 1\n---\nb: 2\n",
	"no final newline":       "a: 1\n---\nb: 2",
	"separators in a row":    "a: 1\n---\n---\n---\nb: 2\n",
	"separator with comment": "a: 1\n--- # next\nb: 2\n",
	"crlf":                   "a: 1\r\n---\r\nb: 2\r\n",
	"lone cr":                "a: 1\rb: 2\n",
	"trailing cr":            "a: 1\r",
	"bad separator":          "a: 1\n--- b: 2\nc: 3\n",
	"bad separator first":    "--- {a: 1}\nb: 2\n",
	"dashes in a value":      "a: |\n  ---\n  b\n----\nc: 1\n",
	"only separators":        "---\n---\n",
	"long line":              "a: " + string(make([]byte, 9000)) + "\n---\nb: 1\n",
	"empty":                  "",
}

// TestSplitMatchesYAMLReader compares split with apimachinery's
// YAMLReader, which K3s uses: the same parts, and a bad separator where
// YAMLReader fails.
func TestSplitMatchesYAMLReader(t *testing.T) {
	for name, in := range splitCases {
		t.Run(name, func(t *testing.T) {
			if !checkSplit(t, []byte(in)) {
				t.Error("split cuts otherwise than YAMLReader")
			}
		})
	}
}

// TestSplitDroppedLastLine covers where YAMLReader and split differ: a
// last line without a line end that ends where bufio's 4096-byte buffer
// does is dropped by apimachinery's LineReader; parseFile says so.
func TestSplitDroppedLastLine(t *testing.T) {
	for _, n := range []int{4096, 8192, 4095, 4097} {
		data := []byte(configMap + "data:\n  a: " + strings.Repeat("x", n-len("  a: ")))
		if got, want := checkSplit(t, data), n%4096 != 0; got != want {
			t.Errorf("line of %d bytes: split agrees with YAMLReader: %v, want %v", n, got, want)
		}
		var probs problems
		parseFile("m.yaml", "m.yaml", data, &probs, func(string, string) {})
		var got []string
		for _, e := range probs.errs {
			got = append(got, e.Error())
		}
		var want []string
		if n%4096 == 0 {
			want = []string{"m.yaml:6: the last line has no line end, and at its length K3s's YAML reader (apimachinery's LineReader) drops it: end the file with a newline"}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("line of %d bytes: problems %q, want %q", n, got, want)
		}
	}
}

// checkSplit reports whether split(data) cuts data as YAMLReader does:
// its parts up to YAMLReader's first error are YAMLReader's. It fails t
// unless split reports a bad separator exactly when YAMLReader fails,
// readerAgrees says the same, and every part starts at a line of data.
func checkSplit(t *testing.T, data []byte) bool {
	t.Helper()
	want, err := yamlReaderParts(data)
	parts, bad := split(data)
	if (err != nil) != (len(bad) > 0) {
		t.Fatalf("YAMLReader error %v, split's bad separators %v", err, bad)
	}
	same := len(parts) >= len(want) && (err != nil || len(parts) == len(want))
	for i := 0; same && i < len(want); i++ {
		same = string(parts[i].text) == want[i]
	}
	if agrees := readerAgrees(data, parts); agrees != same {
		t.Errorf("readerAgrees %v, but the parts are the same: %v", agrees, same)
	}
	lines := 1 + strings.Count(string(data), "\n")
	for _, p := range parts {
		if p.line < 1 || p.line > lines {
			t.Errorf("part at line %d of %d", p.line, lines)
		}
	}
	return same
}
