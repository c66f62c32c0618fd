package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/superviber/blue-operator/mcpserver/blue"
	"github.com/superviber/blue-operator/mcpserver/store"
	"github.com/superviber/blue-operator/test/apigwtest"
	"github.com/superviber/blue-operator/test/dynamotest"
	"github.com/superviber/blue-operator/test/infisicaltest"
	"github.com/superviber/blue-operator/test/s3test"
	"github.com/superviber/blue-operator/test/ststest"
	"github.com/superviber/blue-operator/test/world"
)

// The document every read targets: RFC 0001, read by number as a client
// would ("1"), with a plan so the progress view has work to do.
const (
	docTitle = "Index cache"
	docRef   = "1"
	docKind  = "rfc"
	docID    = "0001"
)

// docProblem makes the body a realistic size (≈ 3 KB rendered).
var docProblem = strings.Repeat("Listing documents is slow because every call reads the whole index from the table. ", 30)

// env is the tenant's outside world and the seeded tenant.
type env struct {
	w      *world.World
	tenant *world.Tenant
	tmp    string
}

// startEnv runs the four systems world.Start runs, without a testing.TB,
// seeds one tenant as world.AddTenant does and writes the benchmark's RFC
// through the real server.
func startEnv(ctx context.Context, cl *cleanups, tmp string) (*env, error) {
	w := &world.World{STS: ststest.New(ststest.Options{})}
	ep, err := w.STS.Start()
	if err != nil {
		return nil, fmt.Errorf("start STS: %w", err)
	}
	cl.add(func() { _ = ep.Close() })
	w.STSURL = ep.URL

	w.Infisical = infisicaltest.New()
	cl.add(w.Infisical.Close)

	if w.S3, err = s3test.Start(); err != nil {
		return nil, fmt.Errorf("start gofakes3: %w", err)
	}
	cl.add(func() { _ = w.S3.Close() })

	startCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if w.DDB, err = dynamotest.Start(startCtx); err != nil {
		return nil, fmt.Errorf("start dynalite (run `make node_modules` first if it is missing): %w", err)
	}
	cl.add(func() { _ = w.DDB.Close() })

	t, err := w.AddTenant(ctx, "bench", 222222222222)
	if err != nil {
		return nil, fmt.Errorf("seed tenant: %w", err)
	}
	e := &env{w: w, tenant: t, tmp: tmp}
	if err := e.seedDocument(ctx); err != nil {
		return nil, err
	}
	return e, nil
}

// seedDocument creates and plans the RFC through an in-process server, as a
// client would, and checks that reading it by number works.
func (e *env) seedDocument(ctx context.Context) error {
	run, stop, err := e.w.Start(e.tenant, world.ServerOptions{Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("seed: start server: %w", err)
	}
	defer stop()
	s, err := connect(ctx, run.URL, e.tenant.Token)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	defer func() { _ = s.Close() }()
	for _, c := range []struct {
		tool string
		args map[string]any
	}{
		{"blue_rfc_create", map[string]any{"title": docTitle, "problem": docProblem}},
		{"blue_rfc_plan", map[string]any{"title": docRef, "tasks": []string{"design", "build", "test", "ship"}}},
		{"blue_rfc_task_complete", map[string]any{"title": docRef, "task": "1"}},
	} {
		if _, err := callTool(ctx, s, c.tool, c.args); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	text, err := callTool(ctx, s, "blue_rfc_get", map[string]any{"title": docRef})
	if err != nil {
		return fmt.Errorf("seed: read back: %w", err)
	}
	if !strings.Contains(text, docTitle) || !strings.Contains(text, `"total":4`) {
		return fmt.Errorf("seed: blue_rfc_get %s answered %.200q, want the seeded RFC with its 4-task plan", docRef, text)
	}
	return nil
}

// newStore builds a store.Store over the tenant's bucket and table the way
// mcpserver/backend does (same region, endpoints, signing, options), signed
// with a key standing for the client's role, so its reads are the storage
// part of a tool call and nothing else. cacheBytes is store.Options'
// BodyCacheBytes (0: the server's default; negative: off).
func (e *env) newStore(cacheBytes int64) *store.Store {
	return e.storeAs(e.tenant.ClientRole, cacheBytes)
}

// storeAs is a store straight on gofakes3 and dynalite with a key of role.
func (e *env) storeAs(role string, cacheBytes int64) *store.Store {
	key := e.w.STS.NewAccessKey(role)
	cfg := aws.Config{
		Region:      world.Region,
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(key.AccessKeyID, key.SecretAccessKey, "")),
	}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(e.w.S3.Endpoint())
		o.UsePathStyle = true
	})
	ddb := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(e.w.DDB.Endpoint()) })
	return store.New(s3c, ddb, store.Options{
		Bucket: e.tenant.Bucket, Table: e.tenant.Table, KMSKeyID: e.tenant.KMSKeyID,
		Plural: blue.Plural, BodyCacheBytes: cacheBytes,
	})
}

// seedRFCs writes n RFCs straight through the store and returns their
// numbers as references ("2", "3", ...), for sessions that read one each.
func (e *env) seedRFCs(ctx context.Context, n int) ([]string, error) {
	st := e.newStore(-1)
	refs := make([]string, n)
	now := time.Now().UTC()
	for i := range refs {
		num, err := st.NextNumber(ctx, docKind)
		if err != nil {
			return nil, err
		}
		title := fmt.Sprintf("Load %04d", i)
		d := &store.Document{Kind: docKind, ID: blue.FormatNumber(num), Number: num, Title: title, Slug: blue.Slug(title),
			Status: "draft", Body: []byte("# " + title + "\n\n" + docProblem + "\n"), CreatedAt: now, UpdatedAt: now}
		if err := st.Create(ctx, d); err != nil {
			return nil, fmt.Errorf("seed %s: %w", title, err)
		}
		refs[i] = fmt.Sprint(num)
	}
	return refs, nil
}

// startGateway serves the client's API as its API Gateway and data
// function do, in-process: requests signed by the client role's sessions,
// storage reached with the function's own role.
func (e *env) startGateway() (*apigwtest.Gateway, error) {
	fn := "arn:aws:iam::" + e.tenant.Account + ":role/BlueDataLambda-" + e.tenant.Name
	return apigwtest.Start(e.w.STS, e.tenant.ClientRole, world.Region, e.storeAs(fn, 0))
}

// useAPI puts the tenant in API mode (API_ENDPOINT in its Infisical folder in
// place of the bucket, table and key names) for the binaries started until
// the returned func puts it back.
func (e *env) useAPI(endpoint string) (restore func()) { return e.w.UseAPI(e.tenant, endpoint) }

// storeLookup is the storage work of one blue_rfc_get by number, the store
// call the tool makes: GetByTitleOrID (the title claim "1" and RFC 0001's
// META in one consistent BatchGetItem, plus the body, from the revision
// cache or S3).
func storeLookup(st *store.Store) func(context.Context) error {
	return func(ctx context.Context) error {
		d, _, err := st.GetByTitleOrID(ctx, docKind, docRef, docID)
		if err != nil {
			return fmt.Errorf("store lookup %s %q or %s: %w", docKind, docRef, docID, err)
		}
		if len(d.Body) == 0 {
			return fmt.Errorf("store get %s/%s: empty body", docKind, docID)
		}
		return nil
	}
}

// resetRecordings forgets what the recording test backends kept, so long
// runs do not grow them without bound.
func (e *env) resetRecordings() {
	e.w.S3.ResetCalls()
	e.w.DDB.ResetCalls()
}

// logFile opens a file for a server's JSON log lines.
func (e *env) logFile(name string) (*os.File, error) {
	f, err := os.Create(filepath.Join(e.tmp, name))
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	return f, nil
}
