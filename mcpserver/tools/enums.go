package tools

import (
	"github.com/superviber/blue-operator/mcpserver/blue"
)

// Blue's enums, by tool and argument: what Blue's tools/list advertised
// (crates/blue-mcp/src/server.rs at db1da8c), widened where the hosted
// server accepts more (every doc_type in blue_search, draft as an RFC
// status, Blue's severity words), and the hosted tools' own. The schema
// advertises them and decodeArgs refuses any other value.

var (
	rfcStatusArgs = []string{blue.RFCDraft, blue.RFCAccepted, blue.RFCInProgress, blue.RFCImpl, blue.RFCSuperseded}
	// severityArgs are Blue's P1 to P4 and the words its parser read as
	// them (Severity::parse in handlers/postmortem.rs).
	severityArgs = []string{"P1", "P2", "P3", "P4", "critical", "high", "medium", "low"}
	// rotationArgs are Blue's panel rotations (its schema lists three; its
	// parser also read graduated).
	rotationArgs = []string{"none", "wildcards", "full", "graduated"}
	expertTiers  = []string{"core", "adjacent", "wildcard"}
	panelTiers   = []string{blue.TierCore, blue.TierAdjacent, blue.TierWildcard}
	writeModes   = []string{"replace", "append"}
)

// toolEnums are the enums of every tool's arguments, by tool name.
var toolEnums = func() map[string]map[string]enumArg {
	docTypes := enumArg{what: "a doc_type", values: blue.KindNames()}
	deletableTypes := enumArg{what: "a doc_type Blue deletes", values: deletable}
	out := map[string]map[string]enumArg{
		"blue_rfc_update_status": {"status": {what: "an RFC status", values: rfcStatusArgs}},
		"blue_spike_complete":    {"outcome": {what: "a spike outcome", values: spikeOutcomes}},
		"blue_search":            {"doc_type": docTypes},
		"blue_audit_create":      {"audit_type": {what: "an audit type", values: auditTypes}},
		"blue_postmortem_create": {"severity": {what: "a severity", values: severityArgs}},
		"blue_dialogue_create": {
			"rotation":                 {what: "a panel rotation", values: rotationArgs},
			"expert_pool.experts.tier": {what: "an expert tier", values: expertTiers},
		},
		"blue_dialogue_round_prompt":     {"expert_source": {what: "an expert source", values: blue.ExpertSources}},
		"blue_dialogue_evolve_panel":     {"panel.source": {what: "an expert source", values: blue.ExpertSources}, "panel.tier": {what: "an expert tier", values: panelTiers}},
		"blue_dialogue_expert_create":    {"tier": {what: "an expert tier", values: panelTiers}},
		"blue_dialogue_verdict_register": {"verdict_type": {what: "a verdict type", values: blue.VerdictTypes}, "confidence": {what: "a confidence", values: blue.Confidences}},
		"blue_delete":                    {"doc_type": deletableTypes},
		"blue_restore":                   {"doc_type": deletableTypes},
		"blue_deleted_list":              {"doc_type": deletableTypes},
		"blue_doc_section_write":         {"doc_type": docTypes, "mode": {what: "a write mode", values: writeModes}},
		"blue_doc_body_write":            {"doc_type": docTypes},
		"blue_doc_revisions":             {"doc_type": docTypes},
		"blue_doc_revision_get":          {"doc_type": docTypes},
		"blue_doc_revision_restore":      {"doc_type": docTypes},
	}
	for _, k := range blue.Kinds {
		out["blue_"+k.Name+"_list"] = map[string]enumArg{"status": {what: k.Article() + " status", values: k.Statuses}}
	}
	return out
}()
