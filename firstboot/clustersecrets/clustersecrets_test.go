package clustersecrets

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func testVolume() Volume {
	return Volume{
		Token:                  []byte("server-secret\n"),
		JoinToken:              []byte("K10abc::server:server-secret\n"),
		AgentToken:             []byte("agent-secret\n"),
		AgentJoinToken:         []byte("K10abc::node:agent-secret\n"),
		"tls/etcd/peer-ca.key": []byte("-----BEGIN EC PRIVATE KEY-----\n"),
	}
}

func TestRoundTrip(t *testing.T) {
	data, err := Encode(testVolume())
	if err != nil {
		t.Fatal(err)
	}
	// As on the partition: the volume, then zeros to the end.
	part := append(data, make([]byte, 4096)...)
	got, n, err := Decode(bytes.NewReader(part))
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(data)) || !reflect.DeepEqual(got, testVolume()) {
		t.Errorf("Decode = %d bytes %q, want %d bytes %q", n, got, len(data), testVolume())
	}
	if agent := got.ForAgent(); !reflect.DeepEqual(agent, Volume{AgentJoinToken: []byte("K10abc::node:agent-secret\n")}) {
		t.Errorf("ForAgent = %q", agent)
	}
}

func TestDecodeRefuses(t *testing.T) {
	good, err := Encode(testVolume())
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 1
		return b
	}
	huge := bytes.Clone(good)
	copy(huge[16:24], []byte{0, 0, 0, 1, 0, 0, 0, 0})
	evil, err := forge(good[:HeaderSize], map[string][]byte{"../etc/shadow": []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"wiped", make([]byte, 1<<20), ErrNone.Error()},
		{"another magic", append([]byte("hsqs"), make([]byte, 100)...), "not a secrets volume"},
		{"length beyond the bound", huge, "more than the 262144 a volume holds"},
		{"payload flipped", flip(HeaderSize + 3), "do not match the header's sha256"},
		{"digest flipped", flip(30), "do not match the header's sha256"},
		{"torn: payload cut", good[:len(good)-5], "read"},
		{"torn: header cut", good[:20], "read the header"},
		{"a name leaving the directory", evil, `file "../etc/shadow"`},
		{"not JSON", mustForgeRaw(t, good[:HeaderSize], []byte("[1,2")), "decode the secrets"},
	} {
		_, _, err := Decode(bytes.NewReader(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
		if tc.name == "wiped" && !errors.Is(err, ErrNone) {
			t.Errorf("wiped: %v is not ErrNone", err)
		}
	}
}

func TestEncodeRefusesBadNames(t *testing.T) {
	for _, name := range []string{"", "/abs", "a/../b", "../x", "Upper", "a//b", "a/", ".hidden", "tls/./x", "a\x00b", strings.Repeat("a", 129)} {
		if _, err := Encode(Volume{name: []byte("x")}); err == nil {
			t.Errorf("Encode accepted the name %q", name)
		}
	}
	if _, err := Encode(Volume{"big": make([]byte, MaxPayload)}); err == nil {
		t.Error("Encode accepted more than MaxPayload")
	}
}

func FuzzDecode(f *testing.F) {
	good, err := Encode(testVolume())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(make([]byte, HeaderSize))
	f.Add([]byte(Magic))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, n, err := Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		if n > int64(len(data)) || n > HeaderSize+MaxPayload {
			t.Fatalf("Decode consumed %d of %d bytes", n, len(data))
		}
		for name := range v {
			if why := CheckName(name); why != "" {
				t.Fatalf("Decode returned the name %q: %s", name, why)
			}
		}
		again, err := Encode(v)
		if err != nil {
			t.Fatalf("a decoded volume does not encode: %v", err)
		}
		if w, _, err := Decode(bytes.NewReader(again)); err != nil || !reflect.DeepEqual(w, v) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
