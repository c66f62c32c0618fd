package store

// ValidID reports whether id is a document id the store accepts
// ([A-Za-z0-9][A-Za-z0-9._-]{0,127}), so callers can refuse one from a
// client before any request.
func ValidID(id string) bool { return validID(id) }
