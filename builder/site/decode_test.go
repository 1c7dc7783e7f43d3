package site

import (
	"strings"
	"testing"
)

// valid is a minimal valid config; cases below change one part of it.
const valid = `apiVersion: appliance/v1alpha1
kind: Site
metadata:
  name: lab
os:
  base:
    rootfs: base.tar
cluster:
  nodes:
    - {hostname: a, role: server, init: true}
`

// checkLoad loads data as "site.yaml" and compares the joined error text
// ("" for none) and the warnings with the wanted ones exactly.
func checkLoad(t *testing.T, data string, wantErr string, wantWarnings []string) *Site {
	t.Helper()
	s, warnings, err := load("site.yaml", []byte(data))
	got := ""
	if err != nil {
		got = err.Error()
		if !IsConfigError(err) {
			t.Errorf("error is not a config error: %v", err)
		}
		if s != nil {
			t.Errorf("Load returned a Site along with an error")
		}
	}
	if got != wantErr {
		t.Errorf("error:\n got: %s\nwant: %s", got, wantErr)
	}
	if strings.Join(warnings, "\n") != strings.Join(wantWarnings, "\n") {
		t.Errorf("warnings:\n got: %q\nwant: %q", warnings, wantWarnings)
	}
	return s
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, data, want string
	}{{
		name: "unknown key with suggestion",
		data: strings.Replace(valid, "  base:", "  kernal: {}\n  base:", 1),
		want: `site.yaml:6: os.kernal: unknown field (did you mean "kernel"?)`,
	}, {
		name: "unknown key without suggestion",
		data: valid + "addons:\n  minio: {enabled: true}\n",
		want: `site.yaml:11: addons: unknown field`,
	}, {
		name: "suggestion ignores case",
		data: strings.Replace(valid, "cluster:\n", "cluster:\n  defaultrole: agent\n", 1),
		want: `site.yaml:9: cluster.defaultrole: unknown field (did you mean "defaultRole"?)`,
	}, {
		name: "unknown key in a list item",
		data: strings.Replace(valid, "init: true}", "init: true, ip: 10.0.0.1/24}", 1),
		want: `site.yaml:10: cluster.nodes[0].ip: unknown field`,
	}, {
		name: "string wanted, integer given",
		data: valid + "seed: 2026\n",
		want: `site.yaml:11: seed: expected a string, got integer 2026`,
	}, {
		name: "boolean wanted, string given",
		data: strings.Replace(valid, "init: true", "init: yes", 1),
		want: `site.yaml:10: cluster.nodes[0].init: expected a boolean (true or false), got string "yes"`,
	}, {
		name: "mapping wanted, list given",
		data: strings.Replace(valid, "  base:\n    rootfs: base.tar\n", "  base:\n    - base.tar\n", 1),
		want: `site.yaml:6: os.base: expected a mapping, got a list`,
	}, {
		name: "list wanted, string given",
		data: valid + "  ssh: {authorizedKeys: ssh-ed25519}\n",
		want: `site.yaml:11: cluster.ssh.authorizedKeys: expected a list, got string "ssh-ed25519"`,
	}, {
		name: "list item of the wrong type",
		data: strings.Replace(valid, "    rootfs: base.tar\n", "    rootfs: base.tar\n  cmdline: [quiet, {a: b}]\n", 1),
		want: `site.yaml:8: os.cmdline[1]: expected a string, got a mapping`,
	}, {
		name: "top level is not a mapping",
		data: "- apiVersion\n",
		want: `site.yaml:1: expected a mapping, got a list`,
	}, {
		name: "YAML syntax error",
		data: "apiVersion: appliance/v1alpha1\n\tkind: Site\n",
		want: `site.yaml:2: invalid YAML: found a tab character that violates indentation`,
	}, {
		name: "duplicate key",
		data: valid + "kind: Site\n",
		want: `site.yaml:11: kind: given twice (first at line 2)`,
	}, {
		name: "empty file",
		data: "",
		want: `site.yaml: the file is empty`,
	}, {
		name: "only a comment",
		data: "# nothing yet\n",
		want: `site.yaml: the file is empty`,
	}, {
		name: "two documents",
		data: valid + "---\nkind: Site\n",
		want: `site.yaml:11: a second YAML document: a site config is one document`,
	}, {
		name: "size of the wrong type",
		data: valid + "outputs:\n  raw: {size: [1]}\n",
		want: `site.yaml:12: outputs.raw.size: expected a size, got a list: want bytes as an integer or a string like "16GiB" (units B, K/KiB, M/MiB, G/GiB, T/TiB are powers of 1024; KB, MB, GB, TB powers of 1000)`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			checkLoad(t, tc.data, tc.want, nil)
		})
	}
}
