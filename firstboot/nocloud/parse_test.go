package nocloud

import (
	"reflect"
	"testing"
)

func TestParseMetaData(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in       string
		want     MetaData
		warnings []string
		err      string
	}{
		{name: "empty", in: ""},
		{name: "yaml", in: "instance-id: iid-1\nlocal-hostname: n1\n", want: MetaData{InstanceID: "iid-1", LocalHostname: "n1"}},
		{name: "json", in: `{"instance-id": "iid-2", "local-hostname": "n2"}`, want: MetaData{InstanceID: "iid-2", LocalHostname: "n2"}},
		{
			name:     "unknown key warns",
			in:       "instance-id: iid-1\nnetwork-interfaces: |\n  auto eth0\n",
			want:     MetaData{InstanceID: "iid-1"},
			warnings: []string{`meta-data line 2: key "network-interfaces" is not supported yet, ignored`},
		},
		{name: "bad type", in: "instance-id: {a: b}\n", err: `meta-data line 1: instance-id: want a string, got a mapping`},
		{name: "second document", in: "instance-id: iid-1\n---\ninstance-id: iid-2\n", err: `meta-data line 2: a second YAML document starts here; want one document`},
		{name: "NUL", in: "local-hostname: \"n1\\0\"\n", err: `meta-data line 1: local-hostname: want a string without control characters, got "n1\x00" (U+0000 at byte 2)`},
		{name: "terminal escape", in: "instance-id: \"iid\\e[2J\"\n", err: `meta-data line 1: instance-id: want a string without control characters, got "iid\x1b[2J" (U+001B at byte 3)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, warnings, err := ParseMetaData([]byte(tc.in))
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got != tc.want || !reflect.DeepEqual(warnings, tc.warnings) {
				t.Errorf("got %+v %q, want %+v %q", got, warnings, tc.want, tc.warnings)
			}
		})
	}
}
