package store

import (
	"context"
	"errors"
	"fmt"
)

// SyncExport rewrites a document's export object from its committed state
// (or removes it when the document is soft-deleted or gone). Writes do this
// themselves; this repairs an export left stale by a failure after a commit.
func (s *Store) SyncExport(ctx context.Context, kind, id string) error {
	if err := checkKindID(kind, id); err != nil {
		return err
	}
	m, err := s.getMeta(ctx, kind, id)
	if err != nil {
		return err
	}
	if m == nil || !m.committed() {
		return fmt.Errorf("export %s/%s: %w", kind, id, ErrNotFound)
	}
	return s.syncExport(ctx, m, nil, "")
}

// syncExport makes the export object match the committed state, starting from
// state m that this writer knows (with its body when already in hand) and
// removing prevKey if the export's name changed. Writers of successive
// versions can race here; each one re-reads META after writing and redoes the
// export while META has moved on, so the last to finish leaves the newest
// version in place.
func (s *Store) syncExport(ctx context.Context, m *meta, body []byte, prevKey string) error {
	for range 5 {
		if m.live() {
			if body == nil {
				var err error
				if body, err = s.loadBody(ctx, m.rev); err != nil && !errors.Is(err, errNoSuchKey) {
					return fmt.Errorf("export %s/%s: %w", m.Kind, m.ID, err)
				}
			}
			// body is nil only when m was superseded meanwhile; the re-read
			// below then moves on to the newer state.
			if body != nil {
				if err := s.putObject(ctx, m.export, body, false); err != nil {
					return fmt.Errorf("export %s/%s: %w", m.Kind, m.ID, err)
				}
			}
		} else if m.export != "" {
			if err := s.deleteObject(ctx, m.export); err != nil {
				return fmt.Errorf("export %s/%s: %w", m.Kind, m.ID, err)
			}
		}
		if prevKey != "" && prevKey != m.export {
			if err := s.deleteObject(ctx, prevKey); err != nil {
				return fmt.Errorf("export %s/%s: %w", m.Kind, m.ID, err)
			}
		}
		cur, err := s.getMeta(ctx, m.Kind, m.ID)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if cur == nil || !cur.committed() {
			// Purged (or being purged) meanwhile: take back what we wrote.
			if m.export != "" {
				if err := s.deleteObject(ctx, m.export); err != nil {
					return fmt.Errorf("export %s/%s: %w", m.Kind, m.ID, err)
				}
			}
			return nil
		}
		if cur.Version == m.Version && cur.export == m.export {
			return nil
		}
		prevKey, m, body = m.export, cur, nil
	}
	return fmt.Errorf("export %s/%s: document kept changing", m.Kind, m.ID)
}
