package tools

import (
	"context"
	"sync"
)

// CallInfo is filled in by a tool call for the audit line: the document it
// touched. The server puts one in the context of every call.
type CallInfo struct {
	DocType, DocID string
	// Status is the result's status (success, blocked, rfc_required).
	Status string
	// AWSRequestID is the last AWS request id of the call; the store's
	// parallel S3 and DynamoDB requests both write it, hence the lock.
	mu           sync.Mutex
	awsRequestID string
}

// AWSRequestID is the last AWS request id the call saw.
func (ci *CallInfo) AWSRequestID() string {
	ci.mu.Lock()
	defer ci.mu.Unlock()
	return ci.awsRequestID
}

// NoteAWSRequestID records an AWS request id for the call in ctx; the AWS
// clients' middleware calls it.
func NoteAWSRequestID(ctx context.Context, id string) {
	if ci, _ := ctx.Value(callInfoKey{}).(*CallInfo); ci != nil && id != "" {
		ci.mu.Lock()
		ci.awsRequestID = id
		ci.mu.Unlock()
	}
}

type callInfoKey struct{}

// WithCallInfo returns a context carrying ci.
func WithCallInfo(ctx context.Context, ci *CallInfo) context.Context {
	return context.WithValue(ctx, callInfoKey{}, ci)
}

func noteResult(ctx context.Context, r Result) {
	ci, _ := ctx.Value(callInfoKey{}).(*CallInfo)
	if ci == nil {
		return
	}
	ci.Status = r.Status
	if r.Document != nil {
		ci.DocType, ci.DocID = r.Document.Kind, r.Document.ID
	}
}
