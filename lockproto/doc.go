// Package lockproto holds the wire formats shared by the cloud, the lock
// firmware and the phone app (DESIGN.md §4): cloud-signed phone credentials,
// the unlock challenge and response, sealed door-state bundles, lock
// acknowledgements, hash-chained event-log batches sealed to the cloud, HMAC
// day codes and the challenge–response of secure keycards.
//
// Every message carries a format version and is CBOR (RFC 8949). Anything the
// cloud or the lock vouches for is a COSE_Sign1 (RFC 9052) EdDSA signature;
// what only the lock (bundles) or only the cloud (event batches) may read is
// additionally sealed with XChaCha20-Poly1305.
// Every decoder is strict: unknown fields, duplicate map keys, indefinite
// lengths, tags, trailing bytes and unknown versions are errors, because a
// lock that guesses at a message it cannot fully verify can be talked into
// opening.
//
// Nothing else is shared between the lock and the cloud.
package lockproto
