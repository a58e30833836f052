package data

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestNameListRoundTripsEveryByte(t *testing.T) {
	names := NameList{"Brad Pitt/1.jpg", "a/caf\xe9.jpg", "a/100%.jpg", "a/50%E9\xff.jpg", "Zoë/ü.png", ""}
	b, err := json.Marshal(names)
	if err != nil {
		t.Fatal(err)
	}
	want := `["Brad Pitt/1.jpg",{"escaped":"a/caf%E9.jpg"},"a/100%.jpg",{"escaped":"a/50%25E9%FF.jpg"},"Zoë/ü.png",""]`
	if string(b) != want {
		t.Errorf("JSON\n%s\nwant\n%s", b, want)
	}
	var back NameList
	if err := json.Unmarshal(b, &back); err != nil || !slices.Equal(back, names) {
		t.Errorf("read back %q, %v", back, err)
	}
	for _, bad := range []string{`[1]`, `[{"escaped":"%zz"}]`, `[{"other":"x"}]`, `{}`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("%s read as %q", bad, back)
		}
	}
}

// FuzzNameList: any name list survives writing and reading, byte for byte.
func FuzzNameList(f *testing.F) {
	f.Add("caf\xe9.jpg", "100%", "%E9")
	f.Add("", "\x00\xff", "ü")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		in := NameList{a, b, c}
		js, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var out NameList
		if err := json.Unmarshal(js, &out); err != nil || !slices.Equal(in, out) {
			t.Fatalf("%q -> %s -> %q (%v)", []string(in), js, []string(out), err)
		}
	})
}
