package awscreds

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
)

// validOptions need no STS: New does no I/O.
func validOptions() Options {
	return Options{
		Tenant:      "acme",
		Region:      "eu-west-1",
		STSEndpoint: "http://127.0.0.1:1",
		Base:        credentials.NewStaticCredentialsProvider("AKIDHOP", "secret", ""),
	}
}

func TestNewValidatesOptions(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Options)
		want   string
	}{
		{"no tenant", func(o *Options) { o.Tenant = "" }, "Tenant"},
		{"no region", func(o *Options) { o.Region = "" }, "Region"},
		{"duration below STS minimum", func(o *Options) { o.Duration = 10 * time.Minute }, "Duration"},
		{"duration above role chaining limit", func(o *Options) { o.Duration = 2 * time.Hour }, "1h"},
		{"refresh not before expiry", func(o *Options) { o.Duration = 30 * time.Minute; o.RefreshBefore = 30 * time.Minute }, "RefreshBefore"},
		{"negative refresh", func(o *Options) { o.RefreshBefore = -time.Second }, "RefreshBefore"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := validOptions()
			tc.mutate(&o)
			_, err := New(t.Context(), o, nil, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	a, err := New(t.Context(), validOptions(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.duration != DefaultDuration || a.refreshBefore != DefaultRefreshBefore {
		t.Errorf("defaults: duration %v, refresh %v", a.duration, a.refreshBefore)
	}
}
