package catalog

import (
	"fmt"
	"strings"
	"testing"
)

func TestPathFind(t *testing.T) {
	doc := map[string]any{
		"singleuser": map[string]any{
			"image": map[string]any{"name": "quay.io/jupyter/scipy-notebook", "tag": "2026-07-28"},
			"profileList": []any{
				map[string]any{"display_name": "default"},
				map[string]any{"kubespawner_override": map[string]any{"image": "quay.io/jupyter/pytorch-notebook:2026-07-28"}},
				map[string]any{"profile_options": map[string]any{
					"image": map[string]any{"choices": map[string]any{
						"tf":    map[string]any{"kubespawner_override": map[string]any{"image": "quay.io/jupyter/tensorflow-notebook:2026-07-28"}},
						"julia": map[string]any{"kubespawner_override": map[string]any{"image": "quay.io/jupyter/julia-notebook:2026-07-28"}},
					}},
				}},
			},
			"empty": []any{},
			"cmd":   nil,
		},
	}
	tests := []struct{ path, want string }{
		{"singleuser.image.tag", "singleuser.image.tag=2026-07-28"},
		{"singleuser.profileList[*].kubespawner_override.image", "singleuser.profileList[1].kubespawner_override.image=quay.io/jupyter/pytorch-notebook:2026-07-28"},
		{"singleuser.profileList[*].profile_options.*.choices.*.kubespawner_override.image",
			"singleuser.profileList[2].profile_options.image.choices.julia.kubespawner_override.image=quay.io/jupyter/julia-notebook:2026-07-28\n" +
				"singleuser.profileList[2].profile_options.image.choices.tf.kubespawner_override.image=quay.io/jupyter/tensorflow-notebook:2026-07-28"},
		// Misses say where the walk stopped and what is there.
		{"singleuser.imgae", "error: singleuser.imgae: singleuser has no key imgae (it has keys empty, image, profileList)"},
		{"hub.image", "error: hub.image: the document has no key hub (it has keys singleuser)"},
		{"singleuser.cmd", "error: singleuser.cmd: singleuser has no key cmd (it has keys empty, image, profileList)"},
		{"singleuser.image.tag.x", `error: singleuser.image.tag.x: singleuser.image.tag is the string "2026-07-28", not a map`},
		{"singleuser.image[*]", "error: singleuser.image[*]: singleuser.image is a map, not a list"},
		{"singleuser.empty[*].image", "error: singleuser.empty[*].image: an empty list"},
		{"singleuser.profileList[*].nothing", "error: singleuser.profileList[*].nothing: singleuser.profileList[0] has no key nothing (it has keys display_name)"},
	}
	for _, tt := range tests {
		p, err := ParsePath(tt.path)
		if err != nil {
			t.Fatalf("ParsePath(%q): %v", tt.path, err)
		}
		var got []string
		matches, err := p.Find(doc)
		if err != nil {
			got = append(got, "error: "+err.Error())
		}
		for _, m := range matches {
			got = append(got, fmt.Sprintf("%s=%v", m.Path, m.Value))
		}
		if g := strings.Join(got, "\n"); g != tt.want {
			t.Errorf("Find(%s)\n got %s\nwant %s", tt.path, g, tt.want)
		}
	}
}

func TestParsePathErrors(t *testing.T) {
	for path, want := range map[string]string{
		"":        "empty path",
		"a.":      `"a.": an empty key (want key.key, key[*] or *)`,
		"a[0]":    `"a[0]": "a[0]" is not a key, key[*] or *`,
		"a*.b":    `"a*.b": "a*" is not a key, key[*] or *`,
		"[*]":     `"[*]": an empty key (want key.key, key[*] or *)`,
		"a[*][*]": "",
		"*[*].b":  "",
	} {
		got := ""
		if _, err := ParsePath(path); err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("ParsePath(%q) = %q, want %q", path, got, want)
		}
	}
}
