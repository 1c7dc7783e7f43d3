package bootparam

import (
	"encoding/json"
	"testing"
)

// The attributes go through JSON as hex text, exactly, also when a
// reader decodes numbers as doubles (as the e2e tests' report reader and
// jq do): 2^60 as a JSON number would come back as 1152921504606847000.
func TestGPTAttributesJSON(t *testing.T) {
	p := InstallPartition{Name: "PAYLOAD", Attributes: GPTReadOnly | 1}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	if got := generic["attributes"]; got != "0x1000000000000001" {
		t.Errorf("attributes in JSON: %#v, want \"0x1000000000000001\"", got)
	}
	again, err := json.Marshal(generic)
	if err != nil {
		t.Fatal(err)
	}
	var back InstallPartition
	if err := json.Unmarshal(again, &back); err != nil || back.Attributes != p.Attributes {
		t.Errorf("read back through a generic decoder: %#x, %v; want %#x", back.Attributes, err, p.Attributes)
	}
	if b, _ := json.Marshal(InstallPartition{}); string(b) != `{"name":"","typeGUID":"","uniqueGUID":"","firstLBA":0,"sectors":0}` {
		t.Errorf("no attributes: %s, want the field left out", b)
	}
	for _, bad := range []string{`"1000"`, `"0x"`, `"0x10000000000000000"`, `"0xg"`, `4096`} {
		var a GPTAttributes
		if err := json.Unmarshal([]byte(bad), &a); err == nil {
			t.Errorf("%s: accepted as %#x", bad, a)
		}
	}
}
