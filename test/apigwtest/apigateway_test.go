package apigwtest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/superviber/blue-operator/mcpserver/apigw"
	"github.com/superviber/blue-operator/mcpserver/store"
	"github.com/superviber/blue-operator/test/apigwtest"
	"github.com/superviber/blue-operator/test/ststest"
)

const (
	region = "eu-west-1"
	hop    = "arn:aws:iam::111111111111:role/blue-hop-t"
	role   = "arn:aws:iam::222222222222:role/BlueAccess-t"
)

// StartLambda without a testing.TB: only the client role's signed requests
// reach the function, as its grants allow; Close stops the gateway.
func TestStartLambdaGrantsAndClose(t *testing.T) {
	ctx := context.Background()
	s := ststest.New(ststest.Options{})
	ep := s.StartTB(t)
	if err := s.PutRole(ststest.Role{ARN: role, TrustedPrincipals: []string{hop}}); err != nil {
		t.Fatal(err)
	}
	hopKey := s.NewAccessKey(hop)
	out, err := sts.New(sts.Options{Region: region, BaseEndpoint: aws.String(ep.URL),
		Credentials: credentials.NewStaticCredentialsProvider(hopKey.AccessKeyID, hopKey.SecretAccessKey, "")}).
		AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("blue-t-test")})
	if err != nil {
		t.Fatal(err)
	}
	k := out.Credentials
	session := credentials.NewStaticCredentialsProvider(*k.AccessKeyId, *k.SecretAccessKey, *k.SessionToken)

	// The function: every list is empty.
	var invoked atomic.Int32
	fn := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		invoked.Add(1)
		var ev events.APIGatewayProxyRequest
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil || ev.HTTPMethod != http.MethodGet || ev.Path != "/v1/rfc/documents" {
			t.Errorf("event %+v (%v)", ev, err)
		}
		_ = json.NewEncoder(w).Encode(events.APIGatewayProxyResponse{StatusCode: 200, Body: `{"documents":[]}`,
			Headers: map[string]string{"Content-Type": "application/json"}})
	}))
	defer fn.Close()

	g, err := apigwtest.StartLambda(s, role, region, fn.URL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := apigw.NewClient(g.URL, region, session, nil)
	if err != nil {
		t.Fatal(err)
	}
	list := func() error { _, _, err := c.List(ctx, "rfc", store.ListOptions{}); return err }
	if err := list(); err != nil {
		t.Fatalf("signed by the client role: %v", err)
	}
	g.GrantNothing()
	if err := list(); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("with nothing granted: %v, want refused", err)
	}
	g.Grant("GET/v1/*")
	if err := list(); err != nil {
		t.Errorf("with GET/v1/* granted: %v", err)
	}
	g.Grant()
	resp, err := http.Get(g.URL + "/v1/not-a-kind/documents")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "Missing Authentication Token") {
		t.Errorf("an undeclared resource: HTTP %d %s", resp.StatusCode, body)
	}
	if accepted, refused := g.Counts(); accepted != 2 || refused != 2 || invoked.Load() != 2 {
		t.Errorf("accepted %d, refused %d, invoked %d; want 2, 2, 2", accepted, refused, invoked.Load())
	}
	g.Close()
	if _, err := http.Get(g.URL + "/v1/rfc/documents"); err == nil {
		t.Error("the gateway still answers after Close")
	}
}
