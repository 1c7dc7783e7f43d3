package modsnapshot

import (
	"strings"
	"testing"
)

func TestParseFailsNamingTheModule(t *testing.T) {
	out := `{"Path": "example.com/a", "Version": "v1.0.0", "Dir": "/cache/example.com/a@v1.0.0"}
{"Path": "example.com/b", "Version": "v0.0.0-1", "Error": "403 Forbidden"}
`
	_, err := Parse(strings.NewReader(out))
	if want := "module example.com/b@v0.0.0-1: 403 Forbidden"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %s", err, want)
	}
	dirs, err := Parse(strings.NewReader(out[:strings.Index(out, "\n")+1]))
	if err != nil || dirs["example.com/a@v1.0.0"] != "/cache/example.com/a@v1.0.0" {
		t.Errorf("dirs %v, err %v", dirs, err)
	}
}
