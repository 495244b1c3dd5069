/**
 * Incremental OneLogin reads: a delta against the last complete snapshot, when it can be
 * proved complete.
 *
 * What OneLogin offers: users have `created_at` and `updated_at` and the user listing filters
 * on both (`created_since`, `updated_since`); deleted users simply vanish (no tombstones, no
 * "deleted since" listing); roles have no timestamps at all, and a role's `updated_at` would
 * not move on membership changes anyway. So:
 *
 * - **Roles and their members are read in full on every run** (they are the whole `groups`
 *   side of the delta, with the ids of roles gone since the last snapshot as `removed`).
 * - **Users**: only those updated since the last read (`updated_since`, whole objects), once
 *   the absence of deletions is proved by counting, with two one-item probes:
 *   `T` = users now (`Total-Count`), `A` = users created since the last read. With `N` users
 *   at the last read, `N + A - T` users were deleted since. Only when that is exactly 0 is the
 *   delta used; otherwise (deletions, or any inconsistency) the whole account is read. The
 *   `since` time is moved back by {@link OVERLAP_MS} for clock skew: that can only make `A`
 *   larger, never hide a deletion (the count then says "deleted" and the read is full).
 * - With a native user filter (`sync.userFilter` after `|`) users can leave and join the
 *   filtered set without being created or deleted, which counting cannot tell apart: users
 *   are then read in full (roles still as above).
 * - The state also holds a fingerprint of what shapes the mapping (API base, filters, email
 *   settings): when it changed, the read is full.
 *
 * {@link planOneLoginRead} applies these rules with the counting calls; the read (`read.ts`)
 * follows its plan and leaves the next state ({@link encodeOneLoginState}).
 * @module
 */

import { fnv1a } from "../cloud/fnv.ts";
import type { OneLoginSettings } from "./settings.ts";

/** How far back `since` times are moved for clock skew between roster and OneLogin, ms. */
export const OVERLAP_MS = 60_000;

/** What a complete OneLogin read leaves for the next one. */
export interface OneLoginState {
  /** What shapes the mapping; see {@link oneLoginFingerprint}. */
  fingerprint: string;
  /** When the read started, ms since the epoch (roster's clock). */
  readAt: number;
  /** Users the read listed (mapped and skipped). */
  users: number;
  /** Ids of the roles read, or null when roles were not read. */
  roleIds: number[] | null;
}

/** State keys (a `onelogin.` prefix keeps them apart from other sources' keys). */
const KEYS = {
  version: "onelogin.version",
  fingerprint: "onelogin.fingerprint",
  readAt: "onelogin.readAt",
  users: "onelogin.users",
  roleIds: "onelogin.roleIds",
} as const;

/** Encodes `state` for `done.state`. */
export function encodeOneLoginState(state: OneLoginState): Record<string, string> {
  return {
    [KEYS.version]: "1",
    [KEYS.fingerprint]: state.fingerprint,
    [KEYS.readAt]: new Date(state.readAt).toISOString(),
    [KEYS.users]: String(state.users),
    [KEYS.roleIds]: state.roleIds === null ? "-" : state.roleIds.join(","),
  };
}

/** Decodes a stored state, or null when it is absent, from another version, or unreadable. */
export function decodeOneLoginState(
  record: Readonly<Record<string, string>> | undefined,
): OneLoginState | null {
  if (record === undefined || record[KEYS.version] !== "1") return null;
  const fingerprint = record[KEYS.fingerprint];
  const readAt = Date.parse(record[KEYS.readAt] ?? "");
  const usersText = record[KEYS.users] ?? "";
  const rolesText = record[KEYS.roleIds];
  if (fingerprint === undefined || Number.isNaN(readAt) || !/^\d+$/.test(usersText)) return null;
  if (rolesText === undefined) return null;
  let roleIds: number[] | null = null;
  if (rolesText !== "-") {
    const parts = rolesText === "" ? [] : rolesText.split(",");
    if (!parts.every((p) => /^\d+$/.test(p))) return null;
    roleIds = parts.map(Number);
  }
  return { fingerprint, readAt, users: Number(usersText), roleIds };
}

/**
 * A digest of what shapes the mapping of unchanged users and roles: the API base, both
 * filters and the email settings. A different fingerprint means the stored snapshot was built
 * under other rules, so the read is full.
 */
export function oneLoginFingerprint(baseUrl: string, settings: OneLoginSettings): string {
  const text = JSON.stringify([
    baseUrl,
    settings.sync.userFilter ?? null,
    settings.sync.groupFilter ?? null,
    settings.sync.useEmailPrefixSuffix,
    settings.sync.emailSuffix ?? null,
  ]);
  const a = fnv1a(text, 0x811c9dc5);
  const b = fnv1a(text, 0x2f1a7c35);
  return `${a.toString(16).padStart(8, "0")}${b.toString(16).padStart(8, "0")}`;
}

/**
 * Users deleted since the last read by the count `N + A - T` (see the module documentation):
 * 0 proves there were none; anything else (positive: deletions; negative: an inconsistent
 * count, e.g. a user created during the probes) means the users must be read in full.
 */
export function deletedSince(
  counts: { before: number; createdSince: number; now: number },
): number {
  return counts.before + counts.createdSince - counts.now;
}

/** A query parameter of the user listing: name and value. */
export type UserParam = readonly [string, string];

/** What the counting calls decided for a read: full or delta, and how many users to list. */
export interface OneLoginReadPlan {
  /**
   * Users now (`Total-Count` with the native user filter); 0 when users are not read, null
   * when OneLogin did not report it.
   */
  users: number | null;
  /** Users the read lists: `users` on a full read, those updated since `since` on a delta. */
  usersToRead: number | null;
  /** The `updated_since` time of a delta read (ISO 8601), or null for a full read. */
  since: string | null;
  /** Why an incremental read reads in full (for a `fullReadInstead` notice), or null. */
  fullBecause: string | null;
}

/**
 * Decides whether a read is a delta or a full read (the rules of the module documentation),
 * with the counting calls of the user listing: the users now, and on a possible delta those
 * created since the last read and, when none were deleted, those updated since.
 * @param previous The state of the last complete read, or null.
 * @param options.incremental Whether an incremental read was asked for.
 * @param options.users Whether users are read; without them no user is counted.
 * @param options.groups Whether roles are read (a delta needs the last read's role ids).
 * @param options.fingerprint {@link oneLoginFingerprint} of the current settings.
 * @param options.userFilterParams The native user filter's query parameters (none: `[]`).
 * @param options.count Counts the user listing with the given parameters (its `Total-Count`),
 *   or null when OneLogin does not report it; its errors propagate.
 */
export async function planOneLoginRead(
  previous: OneLoginState | null,
  options: {
    incremental: boolean;
    users: boolean;
    groups: boolean;
    fingerprint: string;
    userFilterParams: readonly UserParam[];
    count: (params: readonly UserParam[]) => Promise<number | null>;
  },
): Promise<OneLoginReadPlan> {
  let fullBecause: string | null = null;
  let since: string | null = null;
  if (options.incremental) {
    if (previous === null) fullBecause = "there is no state from a complete OneLogin read";
    else if (previous.fingerprint !== options.fingerprint) {
      fullBecause = "the OneLogin settings, filters or email settings changed";
    } else if (options.groups && previous.roleIds === null) {
      fullBecause = "the last read did not include roles";
    } else if (options.userFilterParams.length > 0) {
      fullBecause = "a native user filter (after | in sync.userFilter) can move users in and " +
        "out of the listing unseen";
    }
  }
  const users = options.users ? await options.count(options.userFilterParams) : 0;
  let usersToRead = users;
  if (options.incremental && fullBecause === null && previous !== null) {
    const sinceText = new Date(previous.readAt - OVERLAP_MS).toISOString();
    const created = options.users ? await options.count([["created_since", sinceText]]) : 0;
    const deleted = users === null || created === null
      ? null
      : deletedSince({ before: previous.users, createdSince: created, now: users });
    if (deleted !== 0) {
      fullBecause = deleted === null
        ? "OneLogin did not report user counts, so deletions cannot be ruled out"
        : deleted > 0
        ? "the user counts show deletions since the last read (or users created just " +
          "before it), and OneLogin cannot list deleted users"
        : "users were created during the read, so the counts cannot rule out deletions";
    } else {
      since = sinceText;
      usersToRead = options.users ? await options.count([["updated_since", sinceText]]) : 0;
    }
  }
  return { users, usersToRead, since, fullBecause };
}
