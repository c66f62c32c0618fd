// Package lambda_test runs the client's data Lambda (cmd/blue-data-lambda)
// as it is deployed: the zip that make lambda builds, its bootstrap under the
// AWS Lambda Runtime Interface Emulator (built by hack/setup-lambda-rie.sh),
// in front of the S3 and DynamoDB test servers, behind the test API Gateway
// that verifies SigV4 and hands requests on as a Lambda proxy integration.
package lambda_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/superviber/blue-operator/mcpserver/apigw"
	"github.com/superviber/blue-operator/mcpserver/store"
	"github.com/superviber/blue-operator/test/apigwtest"
	"github.com/superviber/blue-operator/test/lambdarie"
	"github.com/superviber/blue-operator/test/testutil"
	"github.com/superviber/blue-operator/test/world"
)

var root = filepath.Join("..", "..", "..")

// The function role's key, as Lambda hands it to the function.
const lambdaKey, lambdaSecret = "AKIABLUEDATALAMBDA", "lambda-role-secret"

func TestDocumentsThroughGatewayAndLambda(t *testing.T) {
	ctx := context.Background()
	w := world.Start(t)
	tn, err := w.AddTenant(ctx, "lambda", 525252525252)
	if err != nil {
		t.Fatal(err)
	}
	bootstrap := buildArtifact(t)
	invokeURL, logs := startEmulator(t, bootstrap, []string{
		"BLUE_BUCKET=" + tn.Bucket, "BLUE_TABLE=" + tn.Table, "BLUE_KMS_KEY_ARN=" + tn.KMSKeyID, "BLUE_ACCOUNT_ID=" + tn.Account,
		"AWS_REGION=" + world.Region, "AWS_ACCESS_KEY_ID=" + lambdaKey, "AWS_SECRET_ACCESS_KEY=" + lambdaSecret, "AWS_SESSION_TOKEN=",
		"AWS_ENDPOINT_URL_S3=" + w.S3.Endpoint(), "AWS_ENDPOINT_URL_DYNAMODB=" + w.DDB.Endpoint(),
	})
	gw := apigwtest.NewLambda(t, w.STS, tn.ClientRole, world.Region, invokeURL)

	// The server's side: the client role assumed with the ExternalId.
	role := assumeClientRole(t, w, tn)
	c, err := apigw.NewClient(gw.URL, world.Region, role, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	n, err := c.NextNumber(ctx, "rfc")
	if err != nil {
		t.Fatalf("next-number: %v", err)
	}
	t.Logf("first call (cold start of the function) took %s", time.Since(start).Round(time.Millisecond))
	id := fmt.Sprintf("%04d", n)
	body := []byte("# Lambda path\n\nbinary-safe: \x00\xff and ünïcode\n")
	d := &store.Document{Kind: "rfc", ID: id, Number: n, Slug: "lambda-path", Title: "Lambda path", Status: "draft",
		Body: body, Attrs: map[string]string{"plan": "- [ ] a\n"}}
	if err := c.Create(ctx, d); err != nil {
		t.Fatalf("create: %v", err)
	}
	if d.Version != 1 {
		t.Fatalf("create: version %d", d.Version)
	}
	if err := c.Create(ctx, &store.Document{Kind: "rfc", ID: "9999", Number: 9999, Title: "LAMBDA PATH", Status: "draft", Body: []byte("x")}); !errors.Is(err, store.ErrExists) {
		t.Errorf("a second document with the same title: %v, want exists", err)
	}
	got, err := c.Get(ctx, "rfc", id)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.Title != d.Title || !bytes.Equal(got.Body, body) || got.Attrs["plan"] != "- [ ] a\n" {
		t.Fatalf("get: %+v", got)
	}
	got.Status, got.Body = "accepted", []byte("# Lambda path\n\naccepted\n")
	if err := c.Update(ctx, got); err != nil {
		t.Fatalf("update: %v", err)
	}
	stale := *got
	stale.Version = 1
	if err := c.Update(ctx, &stale); !errors.Is(err, store.ErrConflict) {
		t.Errorf("update with a stale version: %v, want conflict", err)
	}
	docs, _, err := c.List(ctx, "rfc", store.ListOptions{Status: "accepted"})
	if err != nil || len(docs) != 1 || docs[0].ID != id || docs[0].Version != 2 {
		t.Fatalf("list: %v %+v", err, docs)
	}
	revs, err := c.Revisions(ctx, "rfc", id)
	if err != nil || len(revs) != 2 {
		t.Fatalf("revisions: %v %+v", err, revs)
	}
	old, err := c.BodyAt(ctx, "rfc", id, 1)
	if err != nil || !bytes.Equal(old, body) {
		t.Fatalf("body-at 1: %v %q", err, old)
	}
	if _, err := c.Get(ctx, "rfc", "0404"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get of a missing document: %v, want not_found", err)
	}

	// Everything landed in the client's bucket, written by the function's
	// role with SSE-KMS under the client's key, and in its table.
	objs, err := w.S3.Objects(tn.Bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	var sawBody bool
	for _, o := range objs {
		if o.Write.SSE != "aws:kms" || o.Write.KMSKeyID != tn.KMSKeyID || o.Write.AccessKeyID != lambdaKey {
			t.Errorf("object %s written with SSE %q key %q by %q", o.Key, o.Write.SSE, o.Write.KMSKeyID, o.Write.AccessKeyID)
		}
		sawBody = sawBody || bytes.Equal(o.Body, body)
	}
	if len(objs) < 2 || !sawBody {
		t.Errorf("bucket holds %d objects, first body among them: %v", len(objs), sawBody)
	}
	for _, call := range w.S3.Calls() {
		if call.AccessKeyID != lambdaKey || call.ExpectedBucketOwner != tn.Account {
			t.Errorf("S3 %s by %q, expected owner %q", call.Op, call.AccessKeyID, call.ExpectedBucketOwner)
		}
	}
	scan, err := w.DDB.Client("admin", "admin").Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(tn.Table)})
	if err != nil {
		t.Fatal(err)
	}
	var inTable bool
	for _, item := range scan.Items {
		for _, v := range item {
			inTable = inTable || strings.Contains(fmt.Sprint(v), "Lambda path")
		}
	}
	if !inTable {
		t.Errorf("no item of the table (%d) holds the document", len(scan.Items))
	}
	for _, call := range w.DDB.Calls() {
		if call.AccessKeyID != lambdaKey && call.AccessKeyID != "admin" {
			t.Errorf("DynamoDB %s by %q", call.Op, call.AccessKeyID)
		}
	}

	// Every request the gateway let through was one invocation of the
	// function under the emulator.
	accepted, _ := gw.Counts()
	testutil.Eventually(t, 10*time.Second, 20*time.Millisecond, "an emulator report per request", func() error {
		if n := strings.Count(logs.String(), "END RequestId:"); n != accepted {
			return fmt.Errorf("%d invocations for %d requests", n, accepted)
		}
		return nil
	})

	// Refused at the gateway, never reaching the function: unsigned, signed
	// by another principal, and signed with the role's key id but a wrong
	// secret.
	resp, err := http.Get(gw.URL + "/v1/rfc/documents/" + id)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("unsigned request: HTTP %d, want 403", resp.StatusCode)
	}
	hop := credentials.NewStaticCredentialsProvider(tn.HopKey.AccessKeyID, tn.HopKey.SecretAccessKey, "")
	rc, _ := role.Retrieve(ctx)
	forged := credentials.NewStaticCredentialsProvider(rc.AccessKeyID, "not-the-secret", rc.SessionToken)
	for name, creds := range map[string]aws.CredentialsProvider{"another principal": hop, "a wrong secret": forged} {
		bad, err := apigw.NewClient(gw.URL, world.Region, creds, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bad.Get(ctx, "rfc", id); err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("signed with %s: %v, want refused", name, err)
		}
	}
	if after, refused := gw.Counts(); after != accepted || refused != 3 {
		t.Errorf("gateway accepted %d more and refused %d, want 0 and 3", after-accepted, refused)
	}
}

// buildArtifact runs make lambda for this machine's architecture into a
// temporary directory and returns the bootstrap unpacked from its zip. It
// builds without -trimpath (LAMBDA_TRIMPATH=), which only rewrites file
// names in the binary: with it, a cold machine would compile the standard
// library and the AWS SDK once more just for this test.
func buildArtifact(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "--no-print-directory", "-C", root, "lambda", "LAMBDA_DIR="+dir, "LAMBDA_ARCH="+runtime.GOARCH, "LAMBDA_TRIMPATH=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make lambda: %v\n%s", err, out)
	}
	zr, err := zip.OpenReader(filepath.Join(dir, "blue-data-lambda.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = zr.Close() }()
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" || zr.File[0].Mode().Perm()&0o111 == 0 {
		t.Fatalf("the zip must hold one executable bootstrap: %v", zr.File)
	}
	task := filepath.Join(dir, "task")
	if err := os.Mkdir(task, 0o755); err != nil {
		t.Fatal(err)
	}
	rc, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	bin := filepath.Join(task, "bootstrap")
	f, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, zr.File[0].Mode().Perm())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, rc); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}

// startEmulator runs bootstrap under aws-lambda-rie with env until the test
// ends and returns its invoke URL once it listens, and what it prints.
func startEmulator(t *testing.T, bootstrap string, env []string) (string, *testutil.Buffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rie, err := lambdarie.Setup(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testutil.Buffer{}
	e, err := lambdarie.Start(ctx, lambdarie.Options{Bootstrap: bootstrap, Env: env, Log: logs, RIE: rie})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("aws-lambda-rie and the function:\n%s", logs.String())
		}
	})
	return e.InvokeURL, logs
}

// assumeClientRole does what the server does: AssumeRole from the hop role
// into the client role with the ExternalId.
func assumeClientRole(t *testing.T, w *world.World, tn *world.Tenant) aws.CredentialsProvider {
	t.Helper()
	c := sts.New(sts.Options{
		Region: world.Region, BaseEndpoint: aws.String(w.STSURL),
		Credentials: credentials.NewStaticCredentialsProvider(tn.HopKey.AccessKeyID, tn.HopKey.SecretAccessKey, ""),
	})
	out, err := c.AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String(tn.ClientRole), RoleSessionName: aws.String("blue-" + tn.Name + "-test"), ExternalId: aws.String(tn.ExternalID),
	})
	if err != nil {
		t.Fatalf("assume the client role: %v", err)
	}
	k := out.Credentials
	return credentials.NewStaticCredentialsProvider(*k.AccessKeyId, *k.SecretAccessKey, *k.SessionToken)
}
