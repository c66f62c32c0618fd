package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// errNoSuchKey marks a missing S3 object (internal: callers re-read META).
var errNoSuchKey = errors.New("no such key")

const contentType = "text/markdown; charset=utf-8"

// putObject writes body with SSE-KMS under the client's key. With create the
// write fails if the key exists (If-None-Match: *), which keeps revisions
// immutable.
// owner is the ExpectedBucketOwner every S3 call carries: S3 refuses the
// call (403) when the bucket belongs to another account, so a bucket name
// pointing at another client's bucket reaches nothing.
func (s *Store) owner() *string {
	if s.o.ExpectedBucketOwner == "" {
		return nil
	}
	return aws.String(s.o.ExpectedBucketOwner)
}

func (s *Store) putObject(ctx context.Context, key string, body []byte, create bool) error {
	if s.o.KMSKeyID == "" {
		return fmt.Errorf("put %s: %w: no KMS key configured", key, ErrInvalid)
	}
	in := &s3.PutObjectInput{
		Bucket:               aws.String(s.o.Bucket),
		Key:                  aws.String(key),
		Body:                 bytes.NewReader(body),
		ContentLength:        aws.Int64(int64(len(body))),
		ContentType:          aws.String(contentType),
		ServerSideEncryption: s3types.ServerSideEncryptionAwsKms,
		SSEKMSKeyId:          aws.String(s.o.KMSKeyID),
		ExpectedBucketOwner:  s.owner(),
	}
	if create {
		in.IfNoneMatch = aws.String("*")
	}
	if _, err := s.s3.PutObject(ctx, in); err != nil {
		var ae smithy.APIError
		if create && errors.As(err, &ae) && ae.ErrorCode() == "PreconditionFailed" {
			// A revision key carries the writer's own random txn, so only
			// this write can have stored it: the SDK retried a PUT that S3
			// had applied before its answer was lost, and the object (S3
			// stores whole objects only) is ours.
			return nil
		}
		return fmt.Errorf("put body %s: %w", key, err)
	}
	return nil
}

func (s *Store) getObject(ctx context.Context, key string) ([]byte, error) {
	out, err := s.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.o.Bucket), Key: aws.String(key), ExpectedBucketOwner: s.owner()})
	if err != nil {
		var nsk *s3types.NoSuchKey
		var ae smithy.APIError
		if errors.As(err, &nsk) || (errors.As(err, &ae) && ae.ErrorCode() == "NoSuchKey") {
			return nil, fmt.Errorf("get body %s: %w", key, errNoSuchKey)
		}
		return nil, fmt.Errorf("get body %s: %w", key, err)
	}
	defer out.Body.Close()
	n := aws.ToInt64(out.ContentLength)
	if n < 0 || n > maxBodyBytes {
		n = 0
	}
	buf := bytes.NewBuffer(make([]byte, 0, n))
	if _, err := io.Copy(buf, io.LimitReader(out.Body, maxBodyBytes+1)); err != nil {
		return nil, fmt.Errorf("read body %s: %w", key, err)
	}
	if buf.Len() > maxBodyBytes {
		return nil, fmt.Errorf("read body %s: over %d bytes", key, maxBodyBytes)
	}
	return buf.Bytes(), nil
}

// deleteObject removes key; S3 answers success for a missing key.
func (s *Store) deleteObject(ctx context.Context, key string) error {
	if _, err := s.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.o.Bucket), Key: aws.String(key), ExpectedBucketOwner: s.owner()}); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

func (s *Store) listKeys(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.s3, &s3.ListObjectsV2Input{Bucket: aws.String(s.o.Bucket), Prefix: aws.String(prefix), ExpectedBucketOwner: s.owner()})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys, nil
}

// getMeta reads a META item with a strongly consistent read; nil when absent.
func (s *Store) getMeta(ctx context.Context, kind, id string) (*meta, error) {
	item, err := s.consistentGet(ctx, keyOf(docPK(kind, id), metaSK))
	if err != nil {
		return nil, fmt.Errorf("get %s/%s: %w", kind, id, err)
	}
	if len(item) == 0 {
		return nil, nil
	}
	m, err := decodeMeta(item)
	if err != nil {
		return nil, fmt.Errorf("get %s/%s: %w", kind, id, err)
	}
	return m, nil
}

// cleanupCtx bounds best-effort cleanup, which must run even when the
// caller's context is done.
func cleanupCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
}
