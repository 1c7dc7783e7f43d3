package manifests

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/internal/fuzzcheck"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/FuzzParseFile from fuzzSeeds")

// fuzzSeeds are FuzzParseFile's seeds, committed as its corpus: the files
// of testdata/good, the split cases and hostile input. They stay small:
// the fuzzer minimizes what it derives from a seed byte by byte.
func fuzzSeeds(t testing.TB) map[string][]byte {
	seeds := map[string][]byte{
		"alias-bomb":      []byte(fuzzcheck.Laughs(9, "x") + "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {a: *l9}\n"),
		"alias-bomb-list": []byte("apiVersion: v1\nkind: List\n" + fuzzcheck.Laughs(9, "{apiVersion: v1, kind: ConfigMap, metadata: {name: a}}") + "items: *l9\n"),
		"alias-cycle":     []byte("a: &a [*a]\n"),
		"deep-flow":       []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nx: " + strings.Repeat("[", 300) + strings.Repeat("]", 300) + "\n"),
		"deep-json":       []byte(`{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "x": ` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + "}"),
		"helmchart":       []byte("apiVersion: helm.cattle.io/v1\nkind: HelmChart\nmetadata: {name: a}\nspec: {chart: a, repo: http://x/, jobImage: img:1}\n"),
		"list-items":      []byte("apiVersion: v1\nkind: ConfigMapList\nitems:\n- metadata: {name: a}\n- {apiVersion: v1, kind: Secret, metadata: {name: Bad}}\n"),
		"items-null":      []byte("apiVersion: v1\nkind: List\nitems: ~\n"),
		"merge-key":       []byte("apiVersion: v1\nkind: ConfigMap\nbase: &b {name: a}\nmetadata: {<<: *b}\n"),
		"binary":          {0, 1, 2, 0xff, 0xfe, '\n', '-', '-', '-', '\n', 0x80},
		"bom":             []byte("\ufeffapiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n"),
		"end-markers":     []byte("a: 1\n...\n...\n---\n...\nb: 2\n"),
		"tabs":            []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: a\n"),
		"yaml11":          []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: on, namespace: 0x1f}\n"),
	}
	for name, in := range splitCases {
		seeds["split-"+strings.ReplaceAll(name, " ", "-")] = []byte(in)
	}
	err := filepath.WalkDir("testdata/good", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		seeds["good-"+strings.ReplaceAll(strings.TrimPrefix(p, "testdata/good/"), "/", "-")] = data
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return seeds
}

func TestFuzzParseFileCorpus(t *testing.T) {
	fuzzcheck.Corpus(t, "testdata/fuzz/FuzzParseFile", fuzzSeeds(t), *updateCorpus)
}

// FuzzParseFile feeds a manifest file's parser arbitrary content. It must
// not panic, must stay within bounded memory and time whatever the
// aliases, must cut parts as K3s's YAMLReader does or refuse the file,
// must place every problem at a line of the file and list at most
// MaxErrors+1, and must agree with the K3s double: what it accepts, K3s
// decodes into the same objects; what K3s cannot decode, it refuses.
func FuzzParseFile(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sameSplit := checkSplit(t, data)
		var (
			probs problems
			objs  []Object
		)
		fuzzcheck.Bounded(t, 512<<20, 10*time.Second, func() {
			objs, _ = parseFile("fuzz.yaml", "fuzz.yaml", data, &probs, func(string, string) {})
		})
		if len(probs.errs) > MaxErrors {
			t.Errorf("%d problems kept, want at most %d", len(probs.errs), MaxErrors)
		}
		lines := 1 + strings.Count(string(data), "\n")
		for _, e := range probs.errs {
			var perr *Error
			if !errors.As(e, &perr) {
				t.Fatalf("not an *Error: %v", e)
			}
			if perr.File != "fuzz.yaml" || perr.Line < 1 || perr.Line > lines {
				t.Errorf("problem at %s:%d, but the file is fuzz.yaml of %d lines: %v", perr.File, perr.Line, lines, e)
			}
		}
		k3s, k3sErr := k3sObjects(data)
		refused := len(probs.errs) > 0
		if !sameSplit && !refused {
			t.Fatal("YAMLReader cuts it otherwise than split, but parseFile accepts it")
		}
		if k3sErr != nil && !refused {
			t.Fatalf("K3s cannot decode it (%v), but parseFile accepts it", k3sErr)
		}
		if refused {
			return
		}
		if len(k3s) != len(objs) {
			t.Fatalf("K3s decodes %d objects, parseFile %d", len(k3s), len(objs))
		}
		for i, o := range objs {
			k := k3s[i]
			if k.GetAPIVersion() != o.APIVersion || k.GetKind() != o.Kind || k.GetName() != o.Name || k.GetNamespace() != o.Namespace {
				t.Errorf("object %d: K3s %s %s %s/%s, parseFile %+v", i, k.GetAPIVersion(), k.GetKind(), k.GetNamespace(), k.GetName(), o)
			}
		}
	})
}
