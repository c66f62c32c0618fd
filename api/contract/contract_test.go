package contract

import "testing"

func TestExternalIDChars(t *testing.T) {
	for id, want := range map[string]bool{
		"blue-acme-Zm9v_+=,.@:/": true, "": true,
		"with space": false, "tab\t": false, "ünï": false, "semi;colon": false, "quote\"": false,
	} {
		if got := ExternalIDChars(id); got != want {
			t.Errorf("ExternalIDChars(%q) = %v, want %v", id, got, want)
		}
	}
}
