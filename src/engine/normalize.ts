/**
 * Normalisation: trims and lowercases emails, and sets aside users whose email cannot be sent.
 *
 * Unlike bwdc, which silently drops users without a usable email
 * (`filterUnsupportedUsers`), every such user is reported in `skipped` with the reason. A
 * deleted user keeps its place with a null email: Bitwarden removes by externalId, and AD
 * tombstones lose `mail`.
 * @module
 */

import type { DirectoryUser, SkippedEntry, SyncUser } from "./types.ts";

/** The longest email Bitwarden accepts (`[StringLength(256)]`), in UTF-16 code units. */
export const MAX_EMAIL_LENGTH = 256;

/** The outcome of {@link normalizeEmail}. */
export type EmailCheck =
  | { ok: true; email: string }
  | { ok: false; reason: string };

const WHITESPACE = /\s/u;

/**
 * Trims and lowercases an email, then checks it: present, at most {@link MAX_EMAIL_LENGTH}
 * characters, exactly one `@`, a non-empty local part, a domain with an inner dot, no
 * whitespace.
 */
export function normalizeEmail(raw: string | null): EmailCheck {
  const email = (raw ?? "").trim().toLowerCase();
  if (email === "") return { ok: false, reason: "no email address" };
  if (email.length > MAX_EMAIL_LENGTH) {
    return { ok: false, reason: `email address longer than ${MAX_EMAIL_LENGTH} characters` };
  }
  const at = email.indexOf("@");
  const domain = email.slice(at + 1);
  const dot = domain.indexOf(".");
  const valid = at > 0 && email.indexOf("@", at + 1) === -1 && !WHITESPACE.test(email) &&
    dot > 0 && !domain.endsWith(".");
  if (!valid) return { ok: false, reason: `invalid email address ${JSON.stringify(email)}` };
  return { ok: true, email };
}

/** A user that passed normalisation, with the directory record it came from. */
export interface NormalizedUser {
  /** The record as the provider reported it. */
  source: DirectoryUser;
  /** The normalised user. */
  user: SyncUser;
}

/** What {@link normalizeUsers} returns. */
export interface NormalizeResult {
  /** Users that can be synced, in input order. */
  users: NormalizedUser[];
  /** Users set aside, in input order, with the reason. */
  skipped: SkippedEntry[];
}

/**
 * Normalises every user's email. Users without a usable email go to `skipped`, except deleted
 * users, which are kept with a null email (their removal only needs the externalId).
 */
export function normalizeUsers(users: readonly DirectoryUser[]): NormalizeResult {
  const kept: NormalizedUser[] = [];
  const skipped: SkippedEntry[] = [];
  for (const source of users) {
    const check = normalizeEmail(source.email);
    if (!check.ok && !source.deleted) {
      skipped.push({ referenceId: source.referenceId, kind: "user", reason: check.reason });
      continue;
    }
    kept.push({
      source,
      user: {
        referenceId: source.referenceId,
        externalId: source.externalId,
        email: check.ok ? check.email : null,
        disabled: source.disabled,
        deleted: source.deleted,
      },
    });
  }
  return { users: kept, skipped };
}
