/**
 * The 32-bit FNV-1a hash the cloud sources use for their state fingerprints and id digests
 * (not a cryptographic hash: it only tells "changed" from "unchanged"). Pure: no I/O.
 * @module
 */

/**
 * 32-bit FNV-1a of `text`'s UTF-16 code units, starting from `seed` (the standard offset basis
 * is `0x811c9dc5`; other seeds give independent hashes). Returns an unsigned 32-bit integer.
 */
export function fnv1a(text: string, seed: number): number {
  let hash = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  }
  return hash;
}
