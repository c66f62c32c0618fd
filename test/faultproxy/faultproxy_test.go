package faultproxy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/superviber/blue-operator/test/faultproxy"
	"github.com/superviber/blue-operator/test/s3test"
)

// jsonTarget answers every DynamoDB call with an empty JSON object and
// counts the calls it applied.
func jsonTarget(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var applied atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		applied.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = io.WriteString(w, "{}")
	}))
	t.Cleanup(srv.Close)
	return srv, &applied
}

// ddbClient is a DynamoDB client with the SDK's standard retryer (which
// decides what is retried and how a throttle is counted), 4 attempts as the
// DynamoDB client has by default, without the waits between them.
func ddbClient(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 4
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		}),
	})
}

func getItem(ctx context.Context, c *dynamodb.Client) error {
	_, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("t"), Key: map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "a"},
	}})
	return err
}

func putItem(ctx context.Context, c *dynamodb.Client) error {
	_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("t"), Item: map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: "a"},
	}})
	return err
}

func TestThrottlingIsWhatTheSDKRetries(t *testing.T) {
	target, applied := jsonTarget(t)
	p := faultproxy.New(t, target.URL)
	c := ddbClient(p.URL())
	ctx := context.Background()

	in := p.Inject(faultproxy.DynamoDBOp("GetItem"), faultproxy.ProvisionedThroughputExceeded, 1)
	if err := getItem(ctx, c); err != nil {
		t.Fatalf("one throttle is retried: %v", err)
	}
	if in.Hits() != 1 || applied.Load() != 1 {
		t.Fatalf("hits %d, applied %d", in.Hits(), applied.Load())
	}
	evs := p.Events()
	if len(evs) != 2 || evs[0].Action != faultproxy.Failed || evs[0].Status != 400 || evs[0].Op != "GetItem" ||
		!strings.HasPrefix(evs[0].Attempt, "attempt=1;") || evs[1].Action != faultproxy.Forwarded || !strings.HasPrefix(evs[1].Attempt, "attempt=2;") {
		t.Fatalf("events: %+v", evs)
	}

	p.ClearEvents()
	p.Inject(faultproxy.DynamoDBOp(), faultproxy.Throttling, 0)
	err := getItem(ctx, c)
	var ae smithy.APIError
	var mae *retry.MaxAttemptsError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ThrottlingException" || !errors.As(err, &mae) || mae.Attempt != 4 {
		t.Fatalf("throttled every time: %v", err)
	}
	p.Clear()
	p.Inject(faultproxy.DynamoDBOp(), faultproxy.ProvisionedThroughputExceeded, 0)
	var pte *types.ProvisionedThroughputExceededException
	if err := getItem(ctx, c); !errors.As(err, &pte) {
		t.Fatalf("the SDK does not see ProvisionedThroughputExceededException: %v", err)
	}
	p.Clear()
	if applied.Load() != 1 {
		t.Fatalf("a throttled call reached the target: %d", applied.Load())
	}
}

func TestAppliedThenAnswerLost(t *testing.T) {
	for _, f := range []faultproxy.Fault{faultproxy.ApplyThen500, faultproxy.ApplyThenReset} {
		target, applied := jsonTarget(t)
		p := faultproxy.New(t, target.URL)
		c := ddbClient(p.URL())
		p.Inject(faultproxy.DynamoDBOp("PutItem"), f, 1)
		// The SDK retries and the second attempt is answered.
		if err := putItem(context.Background(), c); err != nil {
			t.Fatalf("%+v: %v", f, err)
		}
		if applied.Load() != 2 {
			t.Fatalf("%+v: applied %d times, want 2 (the lost one and the retry)", f, applied.Load())
		}
		evs := p.Events()
		want := faultproxy.AppliedThenFailed
		if f.Reset {
			want = faultproxy.AppliedThenReset
		}
		if len(evs) != 2 || evs[0].Action != want || evs[0].Upstream != 200 || evs[1].Action != faultproxy.Forwarded {
			t.Fatalf("%+v: events %+v", f, evs)
		}
	}
}

func TestS3Faults(t *testing.T) {
	srv := s3test.New(t)
	if err := srv.CreateBucket("b"); err != nil {
		t.Fatal(err)
	}
	p := faultproxy.New(t, srv.Endpoint())
	c := s3.New(s3.Options{
		Region: s3test.Region, BaseEndpoint: aws.String(p.URL()), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		}),
	})
	ctx := context.Background()
	put := func(key, body string) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("b"), Key: aws.String(key), Body: strings.NewReader(body)})
		return err
	}

	p.Inject(faultproxy.S3("PUT", "/b/slow/"), faultproxy.Unavailable, 0)
	err := put("slow/x", "x")
	var ae smithy.APIError
	var mae *retry.MaxAttemptsError
	if !errors.As(err, &ae) || ae.ErrorCode() != "SlowDown" || !errors.As(err, &mae) || mae.Attempt != 3 {
		t.Fatalf("503 every time: %v", err)
	}
	if objs, _ := srv.Objects("b", ""); len(objs) != 0 {
		t.Fatalf("a refused PUT was stored: %+v", objs)
	}
	// Other paths and methods pass.
	if err := put("fast/y", "y"); err != nil {
		t.Fatal(err)
	}
	p.Clear()

	// Applied, then every answer lost: the SDK gives up, the object is there.
	p.Inject(faultproxy.S3("PUT", "/b/"), faultproxy.ApplyThen500, 0)
	err = put("lost/z", "z")
	if !errors.As(err, &ae) || ae.ErrorCode() != "InternalError" {
		t.Fatalf("answers lost: %v", err)
	}
	p.Clear()
	objs, err := srv.Objects("b", "lost/")
	if err != nil || len(objs) != 1 || string(objs[0].Body) != "z" {
		t.Fatalf("the applied PUT: %+v %v", objs, err)
	}
	for _, ev := range p.Events() {
		if ev.Path == "/b/lost/z" && (ev.Action != faultproxy.AppliedThenFailed || ev.Upstream != 200 || ev.Status != 500) {
			t.Fatalf("event: %+v", ev)
		}
	}
}

func TestConcurrentInjectionsCountExactly(t *testing.T) {
	target, applied := jsonTarget(t)
	p := faultproxy.New(t, target.URL)
	in := p.Inject(faultproxy.S3("POST", "/"), faultproxy.Internal, 10)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(p.URL()+"/x", "text/plain", bytes.NewReader([]byte("hello")))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode == 500 {
				if !strings.Contains(string(b), "<Code>InternalError</Code>") {
					t.Errorf("error body: %s", b)
				}
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 10 || in.Hits() != 10 || applied.Load() != 40 || len(p.Events()) != 50 {
		t.Fatalf("failed %d, hits %d, applied %d, events %d", failed.Load(), in.Hits(), applied.Load(), len(p.Events()))
	}
	in.Remove()
	p.Inject(faultproxy.S3("", "/"), faultproxy.ConnReset, 1)
	// A fresh connection each time: Go's transport would quietly retry a
	// request whose reused connection broke.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	_, err := client.Post(p.URL()+"/x", "text/plain", strings.NewReader("a"))
	if err == nil || !strings.Contains(err.Error(), "reset") && !errors.Is(err, io.EOF) {
		t.Fatalf("a reset connection: %v", err)
	}
	if resp, err := client.Post(p.URL()+"/x", "text/plain", strings.NewReader("a")); err != nil || resp.StatusCode != 200 {
		t.Fatalf("after the reset: %v", err)
	} else {
		resp.Body.Close()
	}
}
