package domain

// RevokeIsNoop reports whether Revoke All Keys would change nothing: the
// person is revoked already. Giving a key again is the only way out of
// revoked (it clears the revocation), so a revoked record holds no grant,
// doorcode, keycard or guest with access; revoking it again must not
// write a second person.revoked entry, bump its doors or touch updated_at.
func RevokeIsNoop(p Person) bool { return p.RevokedAt != nil && p.DeletedAt == nil }
