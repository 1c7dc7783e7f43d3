package cloudconfig

import (
	"flag"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ml-appliance/appliance/internal/fuzzcheck"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/FuzzParse from fuzzSeeds")

// fuzzSeeds are FuzzParse's seeds, committed as its corpus: valid
// documents using every key, and the hostile input of issue 12. The gzip
// seeds are scaled to fuzzLimits (a 1 MiB bomb, five aliases of 60 KiB):
// the real-sized ones (TestParseBoundsWriteFiles) are 20 KB of text, and
// the fuzzer minimizes every new input it derives from a seed by running
// it byte by byte, which for 20 KB eats a 30 s fuzzing run.
func fuzzSeeds(t testing.TB) map[string][]byte {
	seeds := map[string]string{
		"every-key": "hostname: node-1\nfqdn: node-1.lab\nusers:\n  - default\n  - bob\n  - name: alice\n    gecos: Alice\n    groups: [adm, sudo]\n    sudo: ALL=(ALL) NOPASSWD:ALL\n    shell: /bin/sh\n    ssh_authorized_keys: [ssh-ed25519 AAAA a@b]\n    lock_passwd: false\n    hashed_passwd: $6$salt$hash\n    homedir: /home/a\n    primary_group: staff\n    uid: 1500\n" +
			"ssh_authorized_keys: [ssh-ed25519 AAAA root@b]\nwrite_files:\n  - {path: /etc/motd, content: hi, permissions: '0644', owner: 'alice:staff', append: true, defer: true}\n  - {path: /a, encoding: gzip+base64, content: " + helloGzB64 + "}\n" +
			"runcmd: [ls, [echo, hi]]\nbootcmd: [true]\nntp: {enabled: true, servers: [10.0.0.1], pools: [pool.lab], ntp_client: auto}\ntimezone: Europe/Berlin\n" +
			"appliance: {role: server, cluster_init: true, server: 'https://10.0.0.1:6443', token: K10abc, node_labels: [a=b], node_taints: ['k=v:NoSchedule'], node_ip: 10.0.0.2}\n",
		"not-cloud-config":     "#!/bin/sh\necho hi\n",
		"second-document":      "hostname: node-1\n---\nhostname: node-2\n",
		"billion-laughs":       fuzzcheck.Laughs(9, "[echo, lol]") + "runcmd: *l9\n",
		"alias-cycle":          "runcmd: &r [ls, *r]\n",
		"merge-key":            "base: &b {path: /a, content: x}\nwrite_files:\n  - <<: *b\n    path: /b\n",
		"nul-in-path":          "write_files:\n  - path: \"/etc/a\\0b\"\n",
		"controls":             "users:\n  - {name: alice, gecos: \"A\\e[2J\", sudo: \"ALL=(ALL) ALL\\0\", ssh_authorized_keys: [\"k\\fk\"]}\nruncmd: [\"a\\0b\"]\nappliance: {token: \"t\\x01\"}\n",
		"gzip-bomb-one-file":   "write_files:\n  - {path: /big, encoding: gz+b64, content: " + gzB64Zeros(t, 1<<20) + "}\n",
		"gzip-aliased-total":   "f: &f {path: /f, encoding: gz+b64, content: " + gzB64Zeros(t, 60<<10) + "}\nwrite_files: [*f, *f, *f, *f, *f]\n",
		"aliases-many-entries": "f: &f {path: /f, encoding: gz+b64, content: " + gzB64Zeros(t, 10<<10) + ", pad: [" + strings.Repeat("0,", 100) + "0]}\nwrite_files: [" + strings.TrimSuffix(strings.Repeat("*f, ", 100), ", ") + "]\n",
	}
	out := map[string][]byte{}
	for name, doc := range seeds {
		if !strings.HasPrefix(doc, "#") {
			doc = Header + "\n" + doc
		}
		out[name] = []byte(doc)
	}
	return out
}

// FuzzParse feeds Parse arbitrary documents: it must not panic, must stay
// within bounded memory and time however the input nests aliases or
// compresses content, and what it accepts must keep the promises the
// apply functions rely on.
func FuzzParse(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var (
			cfg      Config
			warnings []string
			err      error
		)
		// With content bounded to 256 KiB a parse costs a few megabytes
		// at most; a blow-up is gigabytes. The limits are Parse's scaled
		// down (TestParseBoundsWriteFiles checks Parse's own), so that an
		// input reaching them costs microseconds and the fuzzer, which
		// minimizes every new input by running it over and over, keeps
		// fuzzing.
		fuzzcheck.Bounded(t, 256<<20, 10*time.Second, func() { cfg, warnings, err = parse("fuzz", data, fuzzLimits) })
		if err != nil {
			if !reflect.DeepEqual(cfg, Config{}) || warnings != nil {
				t.Fatalf("a failed Parse returned %+v, warnings %q", cfg, warnings)
			}
			return
		}
		checkParsed(t, cfg)
	})
}

// fuzzLimits are FuzzParse's content limits.
var fuzzLimits = contentLimits{file: 64 << 10, total: 256 << 10}

// checkParsed checks what an accepted Config promises.
func checkParsed(t *testing.T, cfg Config) {
	t.Helper()
	var total int64
	for _, wf := range cfg.WriteFiles {
		if !strings.HasPrefix(wf.Path, "/") || wf.Path == "/" || strings.Contains(wf.Path, "//") || strings.Contains(wf.Path+"/", "/../") {
			t.Errorf("write_files path %q is not absolute and clean", wf.Path)
		}
		if _, at := control(wf.Path, ""); at >= 0 {
			t.Errorf("write_files path %q has a control character", wf.Path)
		}
		if int64(len(wf.Content)) > fuzzLimits.file {
			t.Errorf("write_files %s: %d bytes, want at most %d", wf.Path, len(wf.Content), fuzzLimits.file)
		}
		total += int64(len(wf.Content))
	}
	if total > fuzzLimits.total {
		t.Errorf("write_files: %d bytes in all, want at most %d", total, fuzzLimits.total)
	}
	for _, s := range stringsOf(reflect.ValueOf(cfg)) {
		if strings.ContainsRune(s, 0) {
			t.Errorf("accepted a string with a NUL: %q", s)
		}
	}
	if script := Script(append(cfg.BootCmd, cfg.RunCmd...)); !strings.HasPrefix(string(script), "#!/bin/sh\n") {
		t.Errorf("Script = %q", script)
	}
	Merge(cfg, cfg)
}

// stringsOf returns every string in v (structs, slices, pointers, maps).
func stringsOf(v reflect.Value) []string {
	switch v.Kind() {
	case reflect.String:
		return []string{v.String()}
	case reflect.Pointer:
		if !v.IsNil() {
			return stringsOf(v.Elem())
		}
	case reflect.Struct:
		var out []string
		for i := range v.NumField() {
			out = append(out, stringsOf(v.Field(i))...)
		}
		return out
	case reflect.Slice:
		var out []string
		for i := range v.Len() {
			out = append(out, stringsOf(v.Index(i))...)
		}
		return out
	case reflect.Map:
		var out []string
		for _, k := range v.MapKeys() {
			out = append(out, stringsOf(k)...)
		}
		return out
	}
	return nil
}

// The hostile seeds are committed as FuzzParse's corpus, so a plain
// `go test` runs them and a fuzzing run starts from them.
func TestFuzzParseCorpus(t *testing.T) {
	fuzzcheck.Corpus(t, "testdata/fuzz/FuzzParse", fuzzSeeds(t), *updateCorpus)
}
