package s3test_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/superviber/blue-operator/test/s3test"
)

const (
	bucket = "client-bucket"
	keyID  = "arn:aws:kms:eu-west-1:111111111111:key/client-key"
)

func setup(t *testing.T) (*s3test.Server, *s3.Client, context.Context) {
	t.Helper()
	srv := s3test.New(t)
	if err := srv.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return srv, srv.Client("AKIDCLIENTROLE", "secret"), ctx
}

func put(ctx context.Context, c *s3.Client, key, body string, kms bool, ifNoneMatch bool) error {
	in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader([]byte(body))}
	if kms {
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = aws.String(keyID)
	}
	if ifNoneMatch {
		in.IfNoneMatch = aws.String("*")
	}
	_, err := c.PutObject(ctx, in)
	return err
}

func get(ctx context.Context, t *testing.T, c *s3.Client, key string) (*s3.GetObjectOutput, string) {
	t.Helper()
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	b, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return out, string(b)
}

func TestSSEHeadersKeptAndReplacedOnOverwrite(t *testing.T) {
	srv, c, ctx := setup(t)
	if err := put(ctx, c, "rfcs/0001-a.md", "one", true, false); err != nil {
		t.Fatal(err)
	}
	out, body := get(ctx, t, c, "rfcs/0001-a.md")
	if body != "one" || out.ServerSideEncryption != types.ServerSideEncryptionAwsKms || aws.ToString(out.SSEKMSKeyId) != keyID {
		t.Fatalf("got body %q sse %q key %q", body, out.ServerSideEncryption, aws.ToString(out.SSEKMSKeyId))
	}
	// S3 replaces metadata on overwrite; an unencrypted overwrite must show as such.
	if err := put(ctx, c, "rfcs/0001-a.md", "two", false, false); err != nil {
		t.Fatal(err)
	}
	out, body = get(ctx, t, c, "rfcs/0001-a.md")
	if body != "two" || out.ServerSideEncryption != "" || out.SSEKMSKeyId != nil {
		t.Fatalf("overwrite kept old SSE metadata: body %q sse %q", body, out.ServerSideEncryption)
	}
	w := srv.Writes()
	if len(w) != 2 || w[0].SSE != "aws:kms" || w[0].KMSKeyID != keyID || w[1].SSE != "" || w[0].AccessKeyID != "AKIDCLIENTROLE" {
		t.Fatalf("writes: %+v", w)
	}
	objs, err := srv.Objects(bucket, "rfcs/")
	if err != nil || len(objs) != 1 || string(objs[0].Body) != "two" || objs[0].Write.SSE != "" {
		t.Fatalf("objects: %+v %v", objs, err)
	}
}

func TestIfNoneMatchIsAtomic(t *testing.T) {
	srv, c, ctx := setup(t)
	if err := put(ctx, c, "rev/x", "first", true, true); err != nil {
		t.Fatal(err)
	}
	err := put(ctx, c, "rev/x", "second", true, true)
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "PreconditionFailed" {
		t.Fatalf("second If-None-Match put: %v", err)
	}
	if _, body := get(ctx, t, c, "rev/x"); body != "first" {
		t.Fatalf("object overwritten despite If-None-Match: %q", body)
	}

	// Racing creators of one key: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if put(ctx, c, "rev/race", fmt.Sprint(i), true, true) == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d racing If-None-Match puts succeeded, want 1", wins)
	}
	puts := 0
	for _, w := range srv.Writes() {
		if w.Key == "rev/race" {
			puts++
			if w.IfNoneMatch != "*" {
				t.Errorf("write recorded without its If-None-Match: %+v", w)
			}
		}
	}
	if puts != 1 {
		t.Fatalf("%d successful writes recorded for rev/race, want 1", puts)
	}
}

func TestRecordsOperationsAndSigners(t *testing.T) {
	srv, c, ctx := setup(t)
	if err := put(ctx, c, "a/1", "x", true, false); err != nil {
		t.Fatal(err)
	}
	get(ctx, t, c, "a/1")
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("a/1")}); err != nil {
		t.Fatal(err)
	}
	l, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("a/")})
	if err != nil || len(l.Contents) != 1 {
		t.Fatalf("list: %v %v", l, err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("a/1")}); err != nil {
		t.Fatal(err)
	}
	other := srv.Client("AKIDSOMEONEELSE", "x")
	if _, err := other.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("a/1")}); err == nil {
		t.Fatal("deleted object still there")
	}

	var got []string
	for _, call := range srv.Calls() {
		got = append(got, call.Op+" "+call.IAMAction+" "+call.AccessKeyID+" "+call.Key)
	}
	want := []string{
		"s3:PutObject s3:PutObject AKIDCLIENTROLE a/1",
		"s3:GetObject s3:GetObject AKIDCLIENTROLE a/1",
		"s3:HeadObject s3:GetObject AKIDCLIENTROLE a/1",
		"s3:ListObjectsV2 s3:ListBucket AKIDCLIENTROLE ",
		"s3:DeleteObject s3:DeleteObject AKIDCLIENTROLE a/1",
		"s3:HeadObject s3:GetObject AKIDSOMEONEELSE a/1",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("calls:\n got %q\nwant %q", got, want)
	}
	if calls := srv.Calls(); calls[len(calls)-1].Status != 404 {
		t.Fatalf("head of a missing key recorded with status %d", calls[len(calls)-1].Status)
	}
}

func TestFaultAnswersInS3ErrorFormat(t *testing.T) {
	srv, c, ctx := setup(t)
	srv.SetFault(func(call s3test.Call) *s3test.Fault {
		if call.Op == "s3:PutObject" {
			return &s3test.Fault{Status: 403, Code: "AccessDenied", Message: "revoked"}
		}
		return nil
	})
	err := put(ctx, c, "k", "v", true, false)
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
		t.Fatalf("got %v", err)
	}
	srv.SetFault(nil)
	if err := put(ctx, c, "k", "v", true, false); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Writes()); n != 1 {
		t.Fatalf("%d writes recorded, want 1 (the faulted one never reached the backend)", n)
	}
}
