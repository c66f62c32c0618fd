package store

import (
	"errors"
	"testing"
)

// A page token a client sends back is parsed, never trusted: whatever it
// holds, decoding never panics, accepts only a token of the same listing,
// and hands back only a valid id.
func FuzzPageToken(f *testing.F) {
	want := pageToken{V: 1, Kind: "rfc", Status: "draft"}
	good := pageToken{V: 1, Kind: "rfc", Status: "draft", After: "0007"}.encode()
	for _, s := range []string{good, "", "e30", "eyJ2IjoxfQ", pageToken{V: 1, Kind: "adr", After: "0001"}.encode(), "!!!", pageToken{V: 1, Kind: "rfc", Status: "draft", After: "../x"}.encode()} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		after, err := decodePageToken(s, want)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if !validID(after) {
			t.Fatalf("token %q gave the invalid id %q", s, after)
		}
		if back := (pageToken{V: 1, Kind: "rfc", Status: "draft", After: after}).encode(); back == "" {
			t.Fatal("cannot re-encode")
		}
	})
}
