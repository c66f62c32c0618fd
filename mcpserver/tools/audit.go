package tools

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/superviber/blue-operator/mcpserver/blue"
)

// AuditCreateIn are blue_audit_create's parameters.
type AuditCreateIn struct {
	Common
	Title     string `json:"title" jsonschema:"the audit's title"`
	AuditType string `json:"audit_type,omitempty" jsonschema:"repository, security, rfc-verification, adr-adherence or custom"`
	Scope     string `json:"scope,omitempty"`
}

var auditTypes = []string{"repository", "security", "rfc-verification", "adr-adherence", "custom"}

func (s *Service) auditCreate(ctx context.Context, st Store, in AuditCreateIn) (Result, error) {
	typ := in.AuditType
	if typ == "" {
		typ = "custom"
	}
	if !slices.Contains(auditTypes, typ) {
		return Result{}, fmt.Errorf("audit_type %q is not one of: %s", in.AuditType, strings.Join(auditTypes, ", "))
	}
	k := kind("audit")
	d, err := s.newDoc(ctx, st, k, in.Title, map[string]string{attrAuditType: typ}, func(string, int) []byte {
		return blue.Doc{
			Heading:  heading(k, 0, strings.TrimSpace(in.Title)),
			Header:   []blue.Row{{Key: "Status", Value: "In-Progress"}, {Key: "Date", Value: s.now().Format("2006-01-02")}, {Key: "Type", Value: typ}},
			Sections: []blue.Section{{Name: "Scope", Text: in.Scope}, {Name: "Findings"}, {Name: "Recommendations"}},
		}.Render()
	})
	if err != nil {
		return Result{}, err
	}
	r := ok(fmt.Sprintf("Started %s audit %q", typ, d.Title))
	r.Document = view(d, d.Body)
	fields := createdFields(d)
	fields["audit_type"] = typ
	fields["date"] = blue.TimestampID(d.CreatedAt)
	return r.with(fields), nil
}
