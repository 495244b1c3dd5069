/**
 * De-duplication of users and groups, independent of input order.
 *
 * Rules (bwdc's `removeDuplicateUsers` made order-independent):
 * - identical records (same referenceId, externalId, email, disabled, deleted) collapse to the
 *   first one;
 * - two different non-deleted users with the same email are a duplicate;
 * - a deleted user sharing its email with one non-deleted user is that user's tombstone and is
 *   dropped, whichever comes first;
 * - deleted users sharing an email with each other are all kept;
 * - different records with the same externalId are a duplicate (users and groups alike: the
 *   server answers 500 or corrupts its state on those).
 * @module
 */

import { DirectoryDataError } from "../errors.ts";
import type { NormalizedUser } from "./normalize.ts";
import { compareCodeUnits } from "./sort.ts";
import type { DirectoryGroup, SyncUser } from "./types.ts";

/** An email used by more than one non-deleted user. */
export interface DuplicateEmail {
  /** The normalised email. */
  email: string;
  /** The referenceIds (DNs, ids) of the users that share it, sorted. */
  referenceIds: string[];
}

/** An externalId used by more than one different record. */
export interface DuplicateExternalId {
  /** The shared externalId. */
  externalId: string;
  /** The referenceIds of the records that share it, sorted. */
  referenceIds: string[];
}

/** What {@link dedupeUsers} returns. */
export interface UserDedupeResult {
  /** Surviving users, in input order. */
  users: NormalizedUser[];
  /** Duplicate emails, sorted by email. */
  duplicateEmails: DuplicateEmail[];
  /** Duplicate externalIds among the survivors, sorted by externalId. */
  duplicateExternalIds: DuplicateExternalId[];
}

/** What {@link dedupeGroups} returns. */
export interface GroupDedupeResult {
  /** Surviving groups, in input order. */
  groups: DirectoryGroup[];
  /** Duplicate externalIds, sorted by externalId. */
  duplicateExternalIds: DuplicateExternalId[];
}

function sorted(values: string[]): string[] {
  return values.sort(compareCodeUnits);
}

function sameUser(a: SyncUser, b: SyncUser): boolean {
  return a.referenceId === b.referenceId && a.externalId === b.externalId &&
    a.email === b.email && a.disabled === b.disabled && a.deleted === b.deleted;
}

/** Applies the user de-duplication rules; reports duplicates rather than throwing. */
export function dedupeUsers(users: readonly NormalizedUser[]): UserDedupeResult {
  // Identical records share an externalId, so they are found within its bucket.
  const byExternalId = new Map<string, NormalizedUser | NormalizedUser[]>();
  const distinct: NormalizedUser[] = [];
  for (const item of users) {
    const id = item.user.externalId;
    const bucket = byExternalId.get(id);
    if (bucket === undefined) {
      byExternalId.set(id, item);
    } else if (Array.isArray(bucket)) {
      if (bucket.some((other) => sameUser(other.user, item.user))) continue;
      bucket.push(item);
    } else {
      if (sameUser(bucket.user, item.user)) continue;
      byExternalId.set(id, [bucket, item]);
    }
    distinct.push(item);
  }

  const activeByEmail = new Map<string, NormalizedUser | NormalizedUser[]>();
  for (const item of distinct) {
    const { email, deleted } = item.user;
    if (email === null || deleted) continue;
    const bucket = activeByEmail.get(email);
    if (bucket === undefined) activeByEmail.set(email, item);
    else if (Array.isArray(bucket)) bucket.push(item);
    else activeByEmail.set(email, [bucket, item]);
  }
  const duplicateEmails: DuplicateEmail[] = [];
  for (const [email, bucket] of activeByEmail) {
    if (Array.isArray(bucket)) {
      duplicateEmails.push({ email, referenceIds: sorted(bucket.map((i) => i.user.referenceId)) });
    }
  }
  duplicateEmails.sort((a, b) => compareCodeUnits(a.email, b.email));

  const survivors = distinct.filter((item) =>
    !(item.user.deleted && item.user.email !== null && activeByEmail.has(item.user.email))
  );
  const duplicateExternalIds: DuplicateExternalId[] = [];
  for (const [externalId, bucket] of byExternalId) {
    if (!Array.isArray(bucket)) continue;
    const left = bucket.filter((item) =>
      !(item.user.deleted && item.user.email !== null && activeByEmail.has(item.user.email))
    );
    if (left.length > 1) {
      duplicateExternalIds.push({
        externalId,
        referenceIds: sorted(left.map((i) => i.user.referenceId)),
      });
    }
  }
  duplicateExternalIds.sort((a, b) => compareCodeUnits(a.externalId, b.externalId));
  return { users: survivors, duplicateEmails, duplicateExternalIds };
}

function sameRefs(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((ref, i) => ref === b[i]);
}

function sameGroup(a: DirectoryGroup, b: DirectoryGroup): boolean {
  return a.referenceId === b.referenceId && a.externalId === b.externalId && a.name === b.name &&
    sameRefs(a.memberRefs, b.memberRefs) && sameRefs(a.refs, b.refs);
}

/** Collapses identical group records and reports different groups sharing an externalId. */
export function dedupeGroups(groups: readonly DirectoryGroup[]): GroupDedupeResult {
  const byExternalId = new Map<string, DirectoryGroup[]>();
  const distinct: DirectoryGroup[] = [];
  for (const g of groups) {
    const bucket = byExternalId.get(g.externalId);
    if (bucket === undefined) byExternalId.set(g.externalId, [g]);
    else if (bucket.some((other) => sameGroup(other, g))) continue;
    else bucket.push(g);
    distinct.push(g);
  }
  const duplicateExternalIds: DuplicateExternalId[] = [];
  for (const [externalId, bucket] of byExternalId) {
    if (bucket.length > 1) {
      duplicateExternalIds.push({
        externalId,
        referenceIds: sorted(bucket.map((g) => g.referenceId)),
      });
    }
  }
  duplicateExternalIds.sort((a, b) => compareCodeUnits(a.externalId, b.externalId));
  return { groups: distinct, duplicateExternalIds };
}

/** Everything {@link duplicatesError} reports. */
export interface Duplicates {
  /** Emails used by several non-deleted users. */
  emails: readonly DuplicateEmail[];
  /** User externalIds used by several records. */
  userExternalIds: readonly DuplicateExternalId[];
  /** Group externalIds used by several records. */
  groupExternalIds: readonly DuplicateExternalId[];
}

function quoted(values: readonly string[]): string {
  return values.map((v) => JSON.stringify(v)).join(", ");
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * Builds the error for duplicates, or null when there are none. The message names every
 * duplicate with the referenceIds that produced it; `details` carries the same as data. The
 * code is `duplicate_email` when any email is duplicated, else `duplicate_external_id`.
 */
export function duplicatesError(duplicates: Duplicates): DirectoryDataError | null {
  const { emails, userExternalIds, groupExternalIds } = duplicates;
  if (emails.length + userExternalIds.length + groupExternalIds.length === 0) return null;
  const summary: string[] = [];
  const lines: string[] = [];
  const userFixes: string[] = [];
  if (emails.length > 0) {
    summary.push(
      `${
        plural(emails.length, "email address is", "email addresses are")
      } used by more than one user`,
    );
    for (const d of emails) lines.push(`  email ${d.email}: ${quoted(d.referenceIds)}`);
    userFixes.push("give each user its own email address");
  }
  if (userExternalIds.length > 0) {
    summary.push(
      `${
        plural(userExternalIds.length, "externalId is", "externalIds are")
      } used by more than one user`,
    );
    for (const d of userExternalIds) {
      lines.push(`  user externalId ${JSON.stringify(d.externalId)}: ${quoted(d.referenceIds)}`);
    }
    userFixes.push("give each user its own externalId");
  }
  const hints: string[] = [];
  if (userFixes.length > 0) {
    hints.push(
      `Fix the directory (${
        userFixes.join(", ")
      }) or narrow sync.userFilter to leave the duplicates out`,
    );
  }
  if (groupExternalIds.length > 0) {
    summary.push(
      `${
        plural(groupExternalIds.length, "externalId is", "externalIds are")
      } used by more than one group`,
    );
    for (const d of groupExternalIds) {
      lines.push(`  group externalId ${JSON.stringify(d.externalId)}: ${quoted(d.referenceIds)}`);
    }
    const groupFix =
      "the directory (give each group its own externalId) or narrow sync.groupFilter to leave the duplicates out";
    hints.push(hints.length > 0 ? `for groups, fix ${groupFix}` : `Fix ${groupFix}`);
  }
  const hint = hints.join("; ");
  return new DirectoryDataError(
    `Cannot sync the directory: ${summary.join("; ")}\n${lines.join("\n")}`,
    {
      code: emails.length > 0 ? "duplicate_email" : "duplicate_external_id",
      hint,
      details: {
        duplicateEmails: emails.map((d) => ({ email: d.email, referenceIds: [...d.referenceIds] })),
        duplicateUserExternalIds: userExternalIds.map((d) => ({
          externalId: d.externalId,
          referenceIds: [...d.referenceIds],
        })),
        duplicateGroupExternalIds: groupExternalIds.map((d) => ({
          externalId: d.externalId,
          referenceIds: [...d.referenceIds],
        })),
      },
    },
  );
}
