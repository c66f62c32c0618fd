// Package s3test serves a real implementation of the S3 REST API for tests:
// gofakes3 with its in-memory backend, on 127.0.0.1 over real HTTP, path-style.
//
// On top of gofakes3 it records every call (API operation such as
// "s3:PutObject", the IAM action it needs, the access key id that signed it,
// bucket and key) and the server-side-encryption headers of every object write,
// so tests can check that only the client's credentials touched the bucket, that
// every object was written with SSE-KMS and the client's key, and which
// operations the server uses.
//
// What was checked in gofakes3 v1.2.0: it keeps every X-Amz-* request header as
// object metadata (so the SSE-KMS headers come back on GET and HEAD) and honours
// If-None-Match: * and If-Match on PutObject atomically (412 PreconditionFailed).
// Its in-memory backend, unlike S3, merges an overwritten object's old metadata
// into the new one, so an overwrite without SSE headers would still report
// aws:kms; this package makes overwrites replace metadata as S3 does, and records
// the headers of each write itself rather than trusting stored metadata.
package s3test

import (
	"bytes"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Region is the region the helper clients sign for; gofakes3 accepts any.
const Region = "us-east-1"

// Test credentials used by Client when none are given.
const (
	TestAccessKeyID     = "AKIDGOFAKES3TEST"
	TestSecretAccessKey = "gofakes3-test-secret"
)

// SSE header names as S3 defines them.
const (
	HeaderSSE      = "X-Amz-Server-Side-Encryption"
	HeaderSSEKMSID = "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"
)

// Call is one request seen by the server.
type Call struct {
	Op          string // API operation, e.g. "s3:ListObjectsV2"
	IAMAction   string // the IAM action it needs, e.g. "s3:ListBucket"
	AccessKeyID string // from the SigV4 Authorization header or presigned query; "" when unsigned
	Bucket, Key string
	Status      int
	// ExpectedBucketOwner is the x-amz-expected-bucket-owner header, "" when absent.
	ExpectedBucketOwner string
}

// Write is one successful object write (PutObject, CopyObject or
// CompleteMultipartUpload) with the encryption headers it carried.
type Write struct {
	Op          string
	Bucket, Key string
	AccessKeyID string
	SSE         string // x-amz-server-side-encryption, e.g. "aws:kms"
	KMSKeyID    string // x-amz-server-side-encryption-aws-kms-key-id
	IfNoneMatch string // the If-None-Match header, e.g. "*"
}

// Fault is an injected failure: Drop closes the connection without an answer;
// otherwise the server answers Status with an S3 XML error of Code and Message
// instead of serving the call.
type Fault struct {
	Drop    bool
	Status  int
	Code    string
	Message string
}

// Server is a running gofakes3 with recording.
type Server struct {
	backend  *replacingBackend
	faker    *gofakes3.GoFakeS3
	http     *http.Server
	endpoint string
	once     sync.Once

	mu        sync.Mutex
	calls     []Call
	writes    []Write
	current   map[string]Write // bucket + "/" + key → the write that made the object
	multipart map[string]Write // bucket + "/" + key → SSE of the open multipart upload
	fault     func(Call) *Fault
	owners    map[string]string    // bucket → owning account, as SetBucketOwner says
	sse       map[string][2]string // bucket → default encryption (algorithm, key), as SetBucketEncryption says
}

// Start serves gofakes3 on a free 127.0.0.1 port. The caller must Close it.
func Start() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{
		backend:   &replacingBackend{Backend: s3mem.New()},
		current:   map[string]Write{},
		multipart: map[string]Write{},
		owners:    map[string]string{},
		sse:       map[string][2]string{},
		endpoint:  "http://" + ln.Addr().String(),
	}
	s.faker = gofakes3.New(s.backend, gofakes3.WithHostBucket(false), gofakes3.WithLogger(gofakes3.DiscardLog()))
	s.http = &http.Server{Handler: s.handler(s.faker.Server()), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.http.Serve(ln) }()
	return s, nil
}

// New starts a server for a test and closes it in the test's cleanup.
func New(tb testing.TB) *Server {
	tb.Helper()
	s, err := Start()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// Endpoint is the server's base URL (path-style).
func (s *Server) Endpoint() string { return s.endpoint }

// Client returns an aws-sdk-go-v2 S3 client for this server (path-style),
// signed with the given static credentials (the test ones when accessKeyID is "").
func (s *Server) Client(accessKeyID, secret string) *s3.Client {
	if accessKeyID == "" {
		accessKeyID, secret = TestAccessKeyID, TestSecretAccessKey
	}
	return s3.New(s3.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(accessKeyID, secret, ""),
	})
}

// CreateBucket creates a bucket directly in the backend (not recorded: it is
// the client's Terraform that creates buckets, not the server).
func (s *Server) CreateBucket(name string) error { return s.backend.CreateBucket(name) }

// SetBucketOwner records the account that owns a bucket. As S3 does, a call
// whose x-amz-expected-bucket-owner names another account is refused with
// 403 AccessDenied before it touches the bucket.
func (s *Server) SetBucketOwner(bucket, account string) {
	s.mu.Lock()
	s.owners[bucket] = account
	s.mu.Unlock()
}

// SetBucketEncryption sets the bucket's default encryption as
// GetBucketEncryption reports it: algorithm "aws:kms" with a key ARN, or
// "AES256" with no key (S3's default for every bucket, and what a bucket
// never set reports). gofakes3 does not keep it; objects are not encrypted
// by it (the store sends its own SSE headers, which Writes records).
func (s *Server) SetBucketEncryption(bucket, algorithm, keyID string) {
	s.mu.Lock()
	s.sse[bucket] = [2]string{algorithm, keyID}
	s.mu.Unlock()
}

// Calls returns a copy of the calls recorded so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Writes returns a copy of every successful object write so far, in order.
func (s *Server) Writes() []Write {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Write(nil), s.writes...)
}

// ResetCalls forgets recorded calls and writes (not the objects' SSE state).
func (s *Server) ResetCalls() {
	s.mu.Lock()
	s.calls, s.writes = nil, nil
	s.mu.Unlock()
}

// Object is an object as stored now.
type Object struct {
	Key   string
	Body  []byte
	Write Write // the write that made it: its SSE headers and signer
}

// Objects returns the bucket's objects under prefix, sorted by key, read from
// the backend (not through HTTP, so not recorded).
func (s *Server) Objects(bucket, prefix string) ([]Object, error) {
	list, err := s.backend.ListBucket(bucket, &gofakes3.Prefix{Prefix: prefix, HasPrefix: true}, gofakes3.ListBucketPage{})
	if err != nil {
		return nil, err
	}
	var out []Object
	for _, c := range list.Contents {
		obj, err := s.backend.GetObject(bucket, c.Key, nil)
		if err != nil {
			if gofakes3.HasErrorCode(err, gofakes3.ErrNoSuchKey) {
				continue // deleted since the listing
			}
			return nil, err
		}
		body, err := io.ReadAll(obj.Contents)
		obj.Contents.Close()
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		w := s.current[bucket+"/"+c.Key]
		s.mu.Unlock()
		out = append(out, Object{Key: c.Key, Body: body, Write: w})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// SetFault installs a hook consulted for every call (Status is 0 in what it
// sees); a non-nil Fault replaces the answer. nil removes the hook.
func (s *Server) SetFault(hook func(Call) *Fault) {
	s.mu.Lock()
	s.fault = hook
	s.mu.Unlock()
}

// Close stops the server and drops its connections at once (Shutdown would
// wait up to 5 s for connections a client opened but never used).
func (s *Server) Close() error {
	var err error
	s.once.Do(func() { err = s.http.Close() })
	return err
}

func (s *Server) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		call := classify(r)
		call.AccessKeyID = AccessKeyID(r)
		call.ExpectedBucketOwner = r.Header.Get("X-Amz-Expected-Bucket-Owner")
		s.mu.Lock()
		hook := s.fault
		owner, known := s.owners[call.Bucket]
		s.mu.Unlock()
		if call.ExpectedBucketOwner != "" && known && owner != call.ExpectedBucketOwner {
			call.Status = http.StatusForbidden
			s.mu.Lock()
			s.calls = append(s.calls, call)
			s.mu.Unlock()
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
			return
		}
		if hook != nil {
			if f := hook(call); f != nil {
				s.serveFault(w, r, call, f)
				return
			}
		}
		if call.Op == "s3:GetBucketEncryption" {
			call.Status = s.bucketEncryption(w, call.Bucket)
			s.mu.Lock()
			s.calls = append(s.calls, call)
			s.mu.Unlock()
			return
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		call.Status = sw.status

		wr := Write{
			Op: call.Op, Bucket: call.Bucket, Key: call.Key, AccessKeyID: call.AccessKeyID,
			SSE: r.Header.Get(HeaderSSE), KMSKeyID: r.Header.Get(HeaderSSEKMSID), IfNoneMatch: r.Header.Get("If-None-Match"),
		}
		id := call.Bucket + "/" + call.Key
		ok := call.Status >= 200 && call.Status < 300
		s.mu.Lock()
		defer s.mu.Unlock()
		s.calls = append(s.calls, call)
		switch {
		case !ok:
		case call.Op == "s3:PutObject" || call.Op == "s3:CopyObject":
			s.writes = append(s.writes, wr)
			s.current[id] = wr
		case call.Op == "s3:CreateMultipartUpload":
			s.multipart[id] = wr
		case call.Op == "s3:CompleteMultipartUpload":
			mp := s.multipart[id]
			wr.SSE, wr.KMSKeyID = mp.SSE, mp.KMSKeyID
			delete(s.multipart, id)
			s.writes = append(s.writes, wr)
			s.current[id] = wr
		}
	})
}

// bucketEncryption answers GetBucketEncryption, which gofakes3 lacks.
func (s *Server) bucketEncryption(w http.ResponseWriter, bucket string) int {
	if ok, err := s.backend.BucketExists(bucket); err != nil || !ok {
		writeError(w, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist", "/"+bucket)
		return http.StatusNotFound
	}
	s.mu.Lock()
	sse, set := s.sse[bucket]
	s.mu.Unlock()
	if !set {
		sse = [2]string{"AES256", ""}
	}
	type byDefault struct {
		SSEAlgorithm   string
		KMSMasterKeyID string `xml:",omitempty"`
	}
	type rule struct {
		ApplyServerSideEncryptionByDefault byDefault
		BucketKeyEnabled                   bool
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	_ = xml.NewEncoder(&b).Encode(struct {
		XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ServerSideEncryptionConfiguration"`
		Rule    rule
	}{Rule: rule{ApplyServerSideEncryptionByDefault: byDefault{SSEAlgorithm: sse[0], KMSMasterKeyID: sse[1]}, BucketKeyEnabled: sse[0] != "AES256"}})
	w.Header().Set("Content-Type", "application/xml")
	_, _ = w.Write(b.Bytes())
	return http.StatusOK
}

func (s *Server) serveFault(w http.ResponseWriter, r *http.Request, call Call, f *Fault) {
	if f.Drop {
		s.mu.Lock()
		s.calls = append(s.calls, call)
		s.mu.Unlock()
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	call.Status = f.Status
	if call.Status == 0 {
		call.Status = http.StatusInternalServerError
	}
	code := f.Code
	if code == "" {
		code = "InternalError"
	}
	_, _ = io.Copy(io.Discard, r.Body)
	writeError(w, call.Status, code, f.Message, r.URL.Path)
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.mu.Unlock()
}

// writeError answers in S3's XML error format.
func writeError(w http.ResponseWriter, status int, code, msg, resource string) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	_ = xml.NewEncoder(&b).Encode(struct {
		XMLName  xml.Name `xml:"Error"`
		Code     string
		Message  string
		Resource string
	}{Code: code, Message: msg, Resource: resource})
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// classify names the S3 API operation of a path-style request and the IAM
// action that authorises it.
func classify(r *http.Request) Call {
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	q := r.URL.Query()
	has := func(k string) bool { _, ok := q[k]; return ok }
	op := ""
	switch {
	case bucket == "":
		op = "ListBuckets"
	case key == "":
		switch r.Method {
		case http.MethodGet:
			switch {
			case q.Get("list-type") == "2":
				op = "ListObjectsV2"
			case has("versioning"):
				op = "GetBucketVersioning"
			case has("location"):
				op = "GetBucketLocation"
			case has("uploads"):
				op = "ListMultipartUploads"
			case has("versions"):
				op = "ListObjectVersions"
			case has("encryption"):
				op = "GetBucketEncryption"
			default:
				op = "ListObjects"
			}
		case http.MethodHead:
			op = "HeadBucket"
		case http.MethodPut:
			if has("versioning") {
				op = "PutBucketVersioning"
			} else {
				op = "CreateBucket"
			}
		case http.MethodDelete:
			op = "DeleteBucket"
		case http.MethodPost:
			if has("delete") {
				op = "DeleteObjects"
			}
		}
	default:
		switch r.Method {
		case http.MethodGet:
			if has("uploadId") {
				op = "ListParts"
			} else {
				op = "GetObject"
			}
		case http.MethodHead:
			op = "HeadObject"
		case http.MethodPut:
			switch {
			case has("uploadId") && r.Header.Get("X-Amz-Copy-Source") != "":
				op = "UploadPartCopy"
			case has("uploadId"):
				op = "UploadPart"
			case r.Header.Get("X-Amz-Copy-Source") != "":
				op = "CopyObject"
			default:
				op = "PutObject"
			}
		case http.MethodDelete:
			if has("uploadId") {
				op = "AbortMultipartUpload"
			} else {
				op = "DeleteObject"
			}
		case http.MethodPost:
			if has("uploads") {
				op = "CreateMultipartUpload"
			} else if has("uploadId") {
				op = "CompleteMultipartUpload"
			}
		}
	}
	if op == "" {
		op = "Unknown" + r.Method
	}
	return Call{Op: "s3:" + op, IAMAction: "s3:" + iamAction(op), Bucket: bucket, Key: key}
}

// iamAction maps an API operation to the IAM action S3 authorises it with.
func iamAction(op string) string {
	switch op {
	case "ListObjects", "ListObjectsV2", "HeadBucket":
		return "ListBucket"
	case "ListObjectVersions":
		return "ListBucketVersions"
	case "ListMultipartUploads":
		return "ListBucketMultipartUploads"
	case "HeadObject":
		return "GetObject"
	case "DeleteObjects":
		return "DeleteObject"
	case "CopyObject", "CreateMultipartUpload", "UploadPart", "UploadPartCopy", "CompleteMultipartUpload":
		return "PutObject"
	case "ListParts":
		return "ListMultipartUploadParts"
	case "ListBuckets":
		return "ListAllMyBuckets"
	case "GetBucketEncryption":
		return "GetEncryptionConfiguration"
	}
	return op
}

// AccessKeyID returns the access key id that signed r (SigV4 header or
// presigned query), or "".
func AccessKeyID(r *http.Request) string {
	cred := r.URL.Query().Get("X-Amz-Credential")
	if a := r.Header.Get("Authorization"); a != "" {
		if _, rest, ok := strings.Cut(a, "Credential="); ok {
			cred = rest
		}
	}
	id, _, _ := strings.Cut(cred, "/")
	return strings.TrimSpace(id)
}

// replacingBackend gives overwrites S3's semantics (the new write's metadata
// replaces the old) while keeping PutObject's conditions atomic: one lock
// covers the condition check, the removal of the old object and the write.
type replacingBackend struct {
	gofakes3.Backend
	mu sync.Mutex
}

func (b *replacingBackend) PutObject(bucket, key string, meta map[string]string, input io.Reader, size int64, cond *gofakes3.PutConditions) (gofakes3.PutObjectResult, error) {
	// Read outside the lock so a slow upload does not block other writers.
	data, err := gofakes3.ReadAll(input, size)
	if err != nil {
		return gofakes3.PutObjectResult{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if cond != nil {
		info := &gofakes3.ConditionalObjectInfo{}
		obj, err := b.Backend.HeadObject(bucket, key)
		switch {
		case err == nil:
			info.Exists, info.Hash = true, obj.Hash
			obj.Contents.Close()
		case !gofakes3.HasErrorCode(err, gofakes3.ErrNoSuchKey):
			return gofakes3.PutObjectResult{}, err
		}
		if err := gofakes3.CheckPutConditions(cond, info); err != nil {
			return gofakes3.PutObjectResult{}, err
		}
	}
	if _, err := b.Backend.DeleteObject(bucket, key); err != nil {
		return gofakes3.PutObjectResult{}, err
	}
	return b.Backend.PutObject(bucket, key, meta, bytes.NewReader(data), int64(len(data)), nil)
}

func (b *replacingBackend) CopyObject(srcBucket, srcKey, dstBucket, dstKey string, meta map[string]string) (gofakes3.CopyObjectResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Backend.CopyObject(srcBucket, srcKey, dstBucket, dstKey, meta)
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(p)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
