package imageregistry

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestOpenPayload(t *testing.T) {
	p := newPayload(t, 64)
	l, err := Open(bytes.NewReader(p.data), int64(len(p.data)), p.index)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for name := range p.top {
		want = append(want, name)
	}
	slices.Sort(want)
	if got := l.Images(); !slices.Equal(got, want) {
		t.Errorf("Images() = %q, want %q", got, want)
	}
	for name, dgst := range p.top {
		if got := l.tags[imageKeyOf(t, name)]; got != dgst {
			t.Errorf("%s resolves to %q, want %s", name, got, dgst)
		}
	}
	if _, ok := l.manifests[p.arm64]; ok {
		t.Errorf("the absent arm64 manifest %s is listed as served", p.arm64)
	}

	// A partition is larger than the tar it holds: what follows the tar's
	// end does not count.
	padded := append(bytes.Clone(p.data), bytes.Repeat([]byte{0xff}, 1<<20)...)
	if _, err := Open(bytes.NewReader(padded), int64(len(padded)), p.index); err != nil {
		t.Errorf("payload followed by 1 MiB of other bytes: %v", err)
	}
}

func TestOpenChecksIndexDigest(t *testing.T) {
	p := newPayload(t, 64)
	other := "sha256:" + strings.Repeat("0", 64)
	_, err := Open(bytes.NewReader(p.data), int64(len(p.data)), other)
	if err == nil || !strings.Contains(err.Error(), p.index) || !strings.Contains(err.Error(), other) {
		t.Errorf("Open with another index digest: %v, want an error naming %s and %s", err, p.index, other)
	}
	if _, err := Open(bytes.NewReader(p.data), int64(len(p.data)), "sha256:ABC"); err == nil {
		t.Error("Open with a malformed index digest: no error")
	}
}

// hostileCase edits a payload's entries; Open must refuse the result with
// an error containing want, and one naming the entry's offset when offset.
type hostileCase struct {
	name   string
	edit   func(tb testing.TB, es []entry, p *testPayload) []entry
	want   string
	offset bool
}

func TestOpenRefusesHostilePayloads(t *testing.T) {
	p := newPayload(t, 64)
	for _, c := range hostileCases() {
		t.Run(c.name, func(t *testing.T) {
			data := hostilePayload(t, p, c)
			_, err := open(bytes.NewReader(data), int64(len(data)), anyIndex, defaultLimits())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want one containing %q", err, c.want)
			}
			t.Log(err)
			if c.offset && !regexp.MustCompile(`at offset \d+`).MatchString(err.Error()) {
				t.Errorf("err %v names no offset", err)
			}
		})
	}
}

func hostilePayload(tb testing.TB, p *testPayload, c hostileCase) []byte {
	tb.Helper()
	if c.name == "truncated" {
		return p.data[:len(p.data)/2]
	}
	data := writeEntries(tb, c.edit(tb, readEntries(tb, p.data), p))
	if c.name == "sparse" {
		// archive/tar writes no GNU sparse records: rename the stand-ins.
		data = bytes.ReplaceAll(data, []byte("ZZZ.sparse."), []byte("GNU.sparse."))
	}
	return data
}

func TestOpenLimits(t *testing.T) {
	p := newPayload(t, 64)
	for _, c := range []struct {
		name string
		lim  func(*limits)
		want string
	}{
		{"entries", func(l *limits) { l.entries = 5 }, "more than 5 entries"},
		{"images", func(l *limits) { l.images = 2 }, "5 images, more than 2"},
		{"index.json", func(l *limits) { l.indexBytes = 100 }, "index.json: "},
		{"one manifest", func(l *limits) { l.manifestBytes = 100 }, "more than 100"},
		{"all manifests", func(l *limits) { l.allManifests = 1000 }, "manifests total more than"},
	} {
		t.Run(c.name, func(t *testing.T) {
			lim := defaultLimits()
			c.lim(&lim)
			_, err := open(bytes.NewReader(p.data), int64(len(p.data)), anyIndex, lim)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err %v, want one containing %q", err, c.want)
			}
		})
	}
}

func hostileCases() []hostileCase {
	layerOf := func(tb testing.TB, p *testPayload) string {
		m, err := p.amd64["docker.io/library/nginx:1.25"].Manifest()
		if err != nil {
			tb.Fatal(err)
		}
		return blobEntry(m.Layers[1].Digest.String())
	}
	nginx := func(p *testPayload) string { return blobEntry(p.top["docker.io/library/nginx:1.25"]) }
	retype := func(typ byte, link string) func(testing.TB, []entry, *testPayload) []entry {
		return func(tb testing.TB, es []entry, p *testPayload) []entry {
			return change(es, layerOf(tb, p), func(e *entry) { e.hdr.Typeflag, e.hdr.Linkname, e.data = typ, link, nil })
		}
	}
	add := func(hdr tar.Header, data string) func(testing.TB, []entry, *testPayload) []entry {
		return func(_ testing.TB, es []entry, _ *testPayload) []entry {
			return append(es, entry{hdr, []byte(data)})
		}
	}
	reg := func(name string) tar.Header { return tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644} }
	return append([]hostileCase{
		{"symlink blob", retype(tar.TypeSymlink, "/etc/shadow"), "want a regular file", true},
		{"hard link blob", retype(tar.TypeLink, indexName), "want a regular file", true},
		{"device blob", retype(tar.TypeChar, ""), "want a regular file", true},
		{"blob directory", retype(tar.TypeDir, ""), "want a regular file", true},
		{"other file", add(reg("etc/passwd"), "root"), `"etc/passwd" at offset`, true},
		{"parent path", add(reg("../index.json"), "{}"), "not an entry of an image payload", true},
		{"absolute path", add(reg("/oci-layout"), "{}"), "not an entry of an image payload", true},
		{"global header", add(tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "g", PAXRecords: map[string]string{"comment": "x"}}, ""),
			"not an entry of an image payload", true},
		{"upper-case hex", add(reg("blobs/sha256/"+strings.Repeat("A", 64)), "x"), "64 lower-case hex", true},
		{"short blob name", add(reg("blobs/sha256/abc"), "x"), "64 lower-case hex", true},
		{"blobs as a file", func(_ testing.TB, es []entry, _ *testPayload) []entry {
			return change(es, blobDir+"/", func(e *entry) { e.hdr.Name, e.hdr.Typeflag = blobDir, tar.TypeReg })
		}, "want an empty directory", true},
		{"duplicate blob", func(tb testing.TB, es []entry, p *testPayload) []entry {
			return append(es, es[slices.IndexFunc(es, func(e entry) bool { return e.hdr.Name == layerOf(tb, p) })])
		}, "a second entry of that name", true},
		{"duplicate index.json", add(reg(indexName), `{"schemaVersion":2}`), "a second entry of that name", true},
		{"sparse", func(tb testing.TB, es []entry, p *testPayload) []entry {
			return change(es, layerOf(tb, p), func(e *entry) {
				e.hdr.Format = tar.FormatPAX
				e.hdr.PAXRecords = map[string]string{"ZZZ.sparse.major": "1", "ZZZ.sparse.minor": "0", "ZZZ.sparse.realsize": "64"}
				e.data = append(append([]byte("1\n0\n64\n"), make([]byte, 512-7)...), e.data...)
			})
		}, "a sparse file", true},
		{"truncated", nil, "ends past the payload", true},
		{"no index.json", func(_ testing.TB, es []entry, _ *testPayload) []entry { return remove(es, indexName) }, "no index.json", false},
		{"no oci-layout", func(_ testing.TB, es []entry, _ *testPayload) []entry { return remove(es, ociLayout) }, "no oci-layout", false},
		{"oci-layout version", func(_ testing.TB, es []entry, _ *testPayload) []entry {
			return change(es, ociLayout, func(e *entry) { e.data = []byte(`{"imageLayoutVersion":"2.0.0"}`) })
		}, `imageLayoutVersion "2.0.0"`, false},
		{"index.json not JSON", func(_ testing.TB, es []entry, _ *testPayload) []entry {
			return change(es, indexName, func(e *entry) { e.data = []byte("<html>") })
		}, "index.json: invalid character", false},
		{"missing layer", func(tb testing.TB, es []entry, p *testPayload) []entry { return remove(es, layerOf(tb, p)) },
			"is not in the payload", false},
		{"layer of another size", func(tb testing.TB, es []entry, p *testPayload) []entry {
			return change(es, layerOf(tb, p), func(e *entry) { e.data = append(e.data, 'x') })
		}, "its descriptor says", false},
		{"manifest of other content", func(_ testing.TB, es []entry, p *testPayload) []entry {
			return change(es, nginx(p), func(e *entry) { e.data = bytes.Replace(e.data, []byte(`"mediaType"`), []byte(`"mediaTypf"`), 1) })
		}, "content has digest", false},
		{"no held manifest in an index", func(tb testing.TB, es []entry, p *testPayload) []entry {
			d, err := p.amd64["docker.io/library/multi:3.0"].Digest()
			if err != nil {
				tb.Fatal(err)
			}
			return remove(es, blobEntry(d.String()))
		}, "none of its 2 manifests is in the payload", false},
	}, indexCases()...)
}

// indexCases change index.json.
func indexCases() []hostileCase {
	edit := func(f func(idx *v1.IndexManifest)) func(testing.TB, []entry, *testPayload) []entry {
		return func(tb testing.TB, es []entry, _ *testPayload) []entry {
			return change(es, indexName, func(e *entry) {
				var idx v1.IndexManifest
				if err := json.Unmarshal(e.data, &idx); err != nil {
					tb.Fatal(err)
				}
				f(&idx)
				var err error
				if e.data, err = json.Marshal(idx); err != nil {
					tb.Fatal(err)
				}
			})
		}
	}
	name := func(n string) func(*v1.IndexManifest) {
		return func(idx *v1.IndexManifest) { idx.Manifests[0].Annotations[annotationImageName] = n }
	}
	return []hostileCase{
		{"schema version", edit(func(idx *v1.IndexManifest) { idx.SchemaVersion = 1 }), "not an OCI image index", false},
		{"no name", edit(func(idx *v1.IndexManifest) { delete(idx.Manifests[0].Annotations, annotationImageName) }),
			"annotation io.containerd.image.name", false},
		{"short name", edit(name("nginx:1.25")), "must be canonical", false},
		{"untagged name", edit(name("docker.io/library/nginx")), "not a tagged name", false},
		{"name with a digest", edit(name("docker.io/library/nginx:1@sha256:" + strings.Repeat("a", 64))), "not a tagged name", false},
		{"name listed twice", edit(func(idx *v1.IndexManifest) {
			idx.Manifests = append(idx.Manifests, idx.Manifests[0])
		}), "listed twice", false},
		{"media type", edit(func(idx *v1.IndexManifest) { idx.Manifests[0].MediaType = "application/json" }),
			"neither an image manifest nor an index", false},
		{"manifest's own media type", edit(func(idx *v1.IndexManifest) {
			for i, m := range idx.Manifests {
				if m.MediaType == mediaTypeOCIManifest {
					idx.Manifests[i].MediaType = mediaTypeDockerManifest
					return
				}
			}
		}), "want 2 and " + mediaTypeDockerManifest, false},
		{"one manifest, two media types", edit(func(idx *v1.IndexManifest) {
			m := idx.Manifests[slices.IndexFunc(idx.Manifests, func(d v1.Descriptor) bool {
				return d.Annotations[annotationImageName] == "docker.io/library/nginx:1.25"
			})]
			m.MediaType, m.Annotations = mediaTypeDockerManifest, map[string]string{annotationImageName: "docker.io/library/nginx:other"}
			idx.Manifests = append(idx.Manifests, m)
		}), "is named both", false},
		{"blob not held", edit(func(idx *v1.IndexManifest) {
			idx.Manifests[0].Digest = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("b", 64)}
		}), "is not in the payload", false},
	}
}

func blobEntry(dgst string) string { return blobPrefix + strings.TrimPrefix(dgst, digestPrefix) }

func change(es []entry, name string, f func(*entry)) []entry {
	for i := range es {
		if es[i].hdr.Name == name {
			f(&es[i])
		}
	}
	return es
}

func remove(es []entry, name string) []entry {
	return slices.DeleteFunc(es, func(e entry) bool { return e.hdr.Name == name })
}

func imageKeyOf(tb testing.TB, name string) imageKey {
	tb.Helper()
	i, j := strings.Index(name, "/"), strings.LastIndex(name, ":")
	return imageKey{repoKey{name[:i], name[i+1 : j]}, name[j+1:]}
}
