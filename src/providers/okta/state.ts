/**
 * What an Okta read keeps for the next incremental read (the provider state), and the proofs it
 * rests on.
 *
 * Okta's `lastUpdated` and `lastMembershipUpdated` say what changed, never what was deleted: a
 * deleted group, or a deprovisioned user that an admin then deletes, simply stops being
 * listed. So every read lists all users and all groups (a few requests: 200 users or 10,000
 * groups per page) and keeps, per side, an order-independent digest of the ids that existed
 * when the read started. The next read computes the same digest over its own listing,
 * restricted to objects created before that time: equal digests prove that nothing listed
 * then has disappeared since, and only then is a delta (changed groups' members re-read,
 * everything else from the stored snapshot) complete. Times are the server's (`Date` header,
 * `created`, `lastUpdated`), never the local clock, so clock skew cannot hide a change.
 * @module
 */

import { fnv1a } from "../cloud/fnv.ts";

/** State keys (flat strings, as the state store keeps them). */
export const OKTA_STATE_KEYS = {
  version: "okta.version",
  /** The server time at which the read started (ISO 8601). */
  readAt: "okta.readAt",
  /** Digest of the user ids listed that were created at or before `readAt`. */
  users: "okta.users",
  /** Digest of the group ids listed that were created at or before `readAt`. */
  groups: "okta.groups",
  /** What the read covered: org URL and native filters. A change forces a full read. */
  scope: "okta.scope",
} as const;

const VERSION = "1";

/** The state of one complete read. */
export interface OktaReadState {
  /** ms since the epoch, server time. */
  readAt: number;
  users: string;
  groups: string;
  scope: string;
}

/** Encodes {@link OktaReadState} as provider state. */
export function encodeState(state: OktaReadState): Record<string, string> {
  return {
    [OKTA_STATE_KEYS.version]: VERSION,
    [OKTA_STATE_KEYS.readAt]: new Date(state.readAt).toISOString(),
    [OKTA_STATE_KEYS.users]: state.users,
    [OKTA_STATE_KEYS.groups]: state.groups,
    [OKTA_STATE_KEYS.scope]: state.scope,
  };
}

/** Reads provider state back; null when absent, of another version or unreadable. */
export function decodeState(
  state: Readonly<Record<string, string>> | undefined,
): OktaReadState | null {
  if (state === undefined || state[OKTA_STATE_KEYS.version] !== VERSION) return null;
  const readAt = Date.parse(state[OKTA_STATE_KEYS.readAt] ?? "");
  const users = state[OKTA_STATE_KEYS.users];
  const groups = state[OKTA_STATE_KEYS.groups];
  const scope = state[OKTA_STATE_KEYS.scope];
  if (Number.isNaN(readAt) || users === undefined || groups === undefined || scope === undefined) {
    return null;
  }
  return { readAt, users, groups, scope };
}

/**
 * An order-independent digest of a set of ids: the count and two sums (mod 2^32) of per-id
 * 32-bit FNV-1a hashes with different seeds. Adding the same ids in any order gives the same
 * digest; ids must be added once each.
 */
export class IdDigest {
  #count = 0;
  #a = 0;
  #b = 0;

  /** Adds one id. */
  add(id: string): void {
    this.#count++;
    this.#a = (this.#a + fnv1a(id, 0x811c9dc5)) >>> 0;
    this.#b = (this.#b + fnv1a(id, 0x2f1a7c35)) >>> 0;
  }

  /** `<count>-<hex>-<hex>`. */
  toString(): string {
    return `${this.#count}-${this.#a.toString(16)}-${this.#b.toString(16)}`;
  }
}

/**
 * The digest of the ids of `items` created at or before `at` (ms); an item whose creation time
 * is unknown (null) counts as created before.
 */
export function digestBefore(
  items: Iterable<{ id: string; created: number | null }>,
  at: number,
): string {
  const digest = new IdDigest();
  for (const item of items) if (item.created === null || item.created <= at) digest.add(item.id);
  return digest.toString();
}

/** A short fingerprint of what a read covers (org URL, native filters). */
export function scopeOf(parts: readonly (string | null)[]): string {
  const text = JSON.stringify(parts);
  return `${fnv1a(text, 0x811c9dc5).toString(16)}${fnv1a(text, 0x2f1a7c35).toString(16)}`;
}
