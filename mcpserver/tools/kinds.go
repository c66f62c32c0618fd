package tools

import "github.com/superviber/blue-operator/mcpserver/blue"

// StoredKinds are every kind the tools keep in the client's storage: Blue's
// document kinds and the tools' own records (alignment dialogues' record and
// rounds, the search index). A client API in front of the storage must serve
// all of them; the Terraform module's API declares a resource tree per kind
// (test/deploy checks it against this list).
func StoredKinds() []string {
	out := make([]string, 0, len(blue.Kinds)+3)
	for _, k := range blue.Kinds {
		out = append(out, k.Name)
	}
	return append(out, kindAlignRecord, kindAlignRound, SearchCatalogKind)
}
