package platform

import (
	"reflect"
	"testing"
)

func TestMergeValues(t *testing.T) {
	base := map[string]any{
		"image":     map[string]any{"repository": "nginx", "tag": "1.25"},
		"replicas":  1,
		"args":      []any{"--a"},
		"resources": map[string]any{"requests": map[string]any{"cpu": "100m"}},
	}
	over := map[string]any{
		"image":     map[string]any{"tag": "1.27"},
		"args":      []any{"--b"},
		"resources": nil,
		"extra":     true,
	}
	want := map[string]any{
		"image":     map[string]any{"repository": "nginx", "tag": "1.27"},
		"replicas":  1,
		"args":      []any{"--b"},
		"resources": nil,
		"extra":     true,
	}
	got := MergeValues(base, over)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MergeValues:\n got %v\nwant %v", got, want)
	}
	got["image"].(map[string]any)["tag"] = "changed"
	if base["image"].(map[string]any)["tag"] != "1.25" || over["image"].(map[string]any)["tag"] != "1.27" {
		t.Error("MergeValues changed its arguments")
	}
}
