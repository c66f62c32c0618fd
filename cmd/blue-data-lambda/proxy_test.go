package main

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestProxyCarriesTheRequestAndTheAnswer(t *testing.T) {
	var got *http.Request
	var gotBody string
	p := &proxy{h: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(http.StatusConflict)
		_, _ = w.Write([]byte{0, 0xff})
	})}
	resp, err := p.serve(context.Background(), events.APIGatewayProxyRequest{
		HTTPMethod: "GET", Path: "/v1/rfc/documents/0001",
		Headers:                         map[string]string{"Content-Type": "application/json", "Host": "api.example"},
		MultiValueQueryStringParameters: map[string][]string{"a": {"1", "2"}},
		Body:                            base64.StdEncoding.EncodeToString([]byte(`{"kind":"rfc"}`)), IsBase64Encoded: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Method != "GET" || got.URL.Path != "/v1/rfc/documents/0001" || got.Host != "api.example" ||
		got.Header.Get("Content-Type") != "application/json" || strings.Join(got.URL.Query()["a"], ",") != "1,2" || gotBody != `{"kind":"rfc"}` {
		t.Errorf("request: %s %s host %q headers %v body %q", got.Method, got.URL, got.Host, got.Header, gotBody)
	}
	if resp.StatusCode != http.StatusConflict || !resp.IsBase64Encoded || resp.Body != base64.StdEncoding.EncodeToString([]byte{0, 0xff}) ||
		resp.MultiValueHeaders["Content-Type"][0] != "application/octet-stream" {
		t.Errorf("response: %+v", resp)
	}

	p.h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, `{}`) })
	resp, _ = p.serve(context.Background(), events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/", Body: "{}"})
	if resp.StatusCode != http.StatusOK || resp.IsBase64Encoded || resp.Body != "{}" {
		t.Errorf("text response: %+v", resp)
	}
	resp, _ = p.serve(context.Background(), events.APIGatewayProxyRequest{HTTPMethod: "POST", Path: "/", Body: "%%%", IsBase64Encoded: true})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("undecodable body: %+v", resp)
	}
}

func TestSettingsMustBeComplete(t *testing.T) {
	env := map[string]string{EnvBucket: "b", EnvTable: "t", EnvAccount: "222222222222"}
	_, err := newHandler(context.Background(), func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), EnvKMSKey) {
		t.Errorf("without a KMS key: %v", err)
	}
}
