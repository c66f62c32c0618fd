package main

import (
	"strings"
	"testing"
)

// -only runs the phases it names and refuses a name that is none.
func TestOnlySelectsPhases(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		runs    []string
		skips   []string
		wantErr string
	}{
		{args: nil, runs: phaseNames},
		{args: []string{"-only", "starts"}, runs: []string{"starts"}, skips: []string{"overhead", "sts", "load", "latency"}},
		{args: []string{"-only", "load, latency"}, runs: []string{"load", "latency"}, skips: []string{"overhead", "starts", "sts"}},
		{args: []string{"-only", "idle"}, wantErr: `unknown phase "idle"`},
		{args: []string{"-only", "latency", "-latency", ""}, wantErr: "-only latency with no -latency"},
		{args: []string{"-server-env", "GOGC=50 =1"}, wantErr: "-server-env"},
		{args: []string{"-server-env", "GOGC"}, wantErr: "want NAME=value"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			s, err := parseFlags(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseFlags(%q) error = %v, want one containing %q", tc.args, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlags(%q): %v", tc.args, err)
			}
			for _, p := range tc.runs {
				if !s.runs(p) {
					t.Errorf("phase %s not selected", p)
				}
			}
			for _, p := range tc.skips {
				if s.runs(p) {
					t.Errorf("phase %s selected", p)
				}
			}
		})
	}
}
