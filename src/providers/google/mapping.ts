/**
 * Google Workspace Directory API records → roster's directory model. Pure: no I/O.
 *
 * - A user (`users.list`) becomes a {@link DirectoryUser}: `externalId` and `referenceId` are
 *   Google's immutable `id`; the email is `primaryEmail` as read (the engine trims and
 *   lowercases it); `disabled` is `suspended || archived` (an archived user holds an archived-user
 *   licence and cannot sign in); users from the `showDeleted=true` listing are `deleted`. An
 *   active user without a primary email is skipped with a reason. A deleted one is kept, since
 *   its removal only needs the externalId.
 * - A group (`groups.list`) becomes a {@link DirectoryGroup} named by its `name`, with member
 *   references from `members.list`:
 *   - `USER` with status `ACTIVE` → the user's id. Other statuses (`SUSPENDED`, `ARCHIVED`,
 *     `UNDEFINED`) are not memberships, as in bwdc: the user's own record already says it is
 *     disabled.
 *   - `GROUP` → the nested group's id.
 *   - `CUSTOMER` (the whole organisation) → {@link GOOGLE_CUSTOMER_REF}, a reference every user
 *     carries in its `refs`, so it resolves to every synced user, as in bwdc.
 *   - `EXTERNAL`, and `USER` members that are not users of the account when the caller knows
 *     the account's users, are skipped with a reason.
 * @module
 */

import type { DirectoryGroup, DirectoryUser, SkippedEntry } from "../../engine/types.ts";
import { DirectoryDataError } from "../../errors.ts";
import { isRecord } from "../../guards.ts";

/**
 * The member reference of a `CUSTOMER` member (the whole organisation). Every user's `refs`
 * holds it, so a group with that member contains every synced user. Google ids never contain a
 * colon, so it cannot collide with a user or group id.
 */
export const GOOGLE_CUSTOMER_REF = "google:customer";

/** The fields roster reads from a user (the `fields=` projection of `users.list`). */
export const USER_FIELDS = "nextPageToken,users(id,primaryEmail,suspended,archived)";
/** The fields roster reads from a group (the `fields=` projection of `groups.list`). */
export const GROUP_FIELDS = "nextPageToken,groups(id,email,name,directMembersCount)";
/** The fields roster reads from a member (the `fields=` projection of `members.list`). */
export const MEMBER_FIELDS = "nextPageToken,members(id,email,type,status)";

/** What {@link mapGoogleUser} makes of one user record. */
export type UserMapping =
  | { kind: "user"; user: DirectoryUser }
  | { kind: "skipped"; entry: SkippedEntry };

function badRecord(what: string, detail: string, record: unknown): DirectoryDataError {
  return new DirectoryDataError(`Google returned a malformed ${what}: ${detail}`, {
    code: "google_malformed_record",
    hint: "Check directory.google.apiUrl: it must point at the Admin SDK Directory API root " +
      "(https://admin.googleapis.com by default)",
    details: { record: JSON.stringify(record).slice(0, 500) },
  });
}

function optionalBoolean(record: Record<string, unknown>, key: string, what: string): boolean {
  const value = record[key];
  if (value === undefined || value === null) return false;
  if (typeof value !== "boolean") throw badRecord(what, `${key} is not true or false`, record);
  return value;
}

function optionalString(record: Record<string, unknown>, key: string, what: string) {
  const value = record[key];
  if (value === undefined || value === null) return null;
  if (typeof value !== "string") throw badRecord(what, `${key} is not a string`, record);
  return value;
}

function requiredId(record: Record<string, unknown>, what: string): string {
  const id = record["id"];
  if (typeof id !== "string" || id === "") throw badRecord(what, "it has no id", record);
  return id;
}

/**
 * Maps one entry of `users.list`'s `users` array.
 * @param raw The user as parsed from JSON.
 * @param options `deleted`: the record comes from the `showDeleted=true` listing.
 * @throws {DirectoryDataError} `google_malformed_record` when the record is not an object, has
 *   no `id`, or a field has the wrong type.
 */
export function mapGoogleUser(raw: unknown, options: { deleted: boolean }): UserMapping {
  if (!isRecord(raw)) throw badRecord("user", "it is not an object", raw);
  const id = requiredId(raw, "user");
  const email = optionalString(raw, "primaryEmail", "user");
  const suspended = optionalBoolean(raw, "suspended", "user");
  const archived = optionalBoolean(raw, "archived", "user");
  if ((email === null || email.trim() === "") && !options.deleted) {
    return {
      kind: "skipped",
      entry: { referenceId: id, kind: "user", reason: "no primary email address" },
    };
  }
  return {
    kind: "user",
    user: {
      referenceId: id,
      externalId: id,
      email: email === null || email.trim() === "" ? null : email,
      disabled: suspended || archived,
      deleted: options.deleted,
      refs: [id, GOOGLE_CUSTOMER_REF],
    },
  };
}

/** A group as `groups.list` returns it, before its members are read. */
export interface GoogleGroupRecord {
  /** Google's immutable id: the `externalId`, and the key for `members.list`. */
  id: string;
  /** The group's email address, or null when there is none. */
  email: string | null;
  /** The display name, or null when there is none. */
  name: string | null;
  /**
   * `directMembersCount` (Google sends a string), or null when absent. Zero means the
   * `members.list` call can be skipped.
   */
  directMembersCount: number | null;
}

/**
 * Reads one entry of `groups.list`'s `groups` array.
 * @throws {DirectoryDataError} `google_malformed_record` when the record is not an object, has
 *   no `id`, or `directMembersCount` is not a count.
 */
export function parseGoogleGroup(raw: unknown): GoogleGroupRecord {
  if (!isRecord(raw)) throw badRecord("group", "it is not an object", raw);
  const id = requiredId(raw, "group");
  const count = raw["directMembersCount"];
  let directMembersCount: number | null = null;
  if (count !== undefined && count !== null) {
    const text = typeof count === "number" ? String(count) : count;
    if (typeof text !== "string" || !/^\d+$/.test(text)) {
      throw badRecord("group", "directMembersCount is not a count", raw);
    }
    directMembersCount = Number(text);
  }
  return {
    id,
    email: optionalString(raw, "email", "group"),
    name: optionalString(raw, "name", "group"),
    directMembersCount,
  };
}

/** What {@link mapGoogleMember} makes of one member record. */
export type MemberMapping =
  /** A member reference for {@link DirectoryGroup.memberRefs}. */
  | { kind: "ref"; ref: string }
  /** Not synced, and the admin should know: reported in `skipped`. */
  | { kind: "skipped"; entry: SkippedEntry }
  /** Not a membership, and nothing to report (e.g. a suspended user's entry). */
  | { kind: "ignored"; reason: string };

/** Options of {@link mapGoogleMember}. */
export interface MemberOptions {
  /**
   * Ids of every user of the account, when the read covered the whole account (customer
   * scope, no native query). A `USER` member whose id is not among them is outside the
   * account and skipped. Without it, such members are left to the engine, which reports
   * references that match no synced user as unresolved. @default undefined
   */
  accountUserIds?: ReadonlySet<string>;
}

function groupLabel(group: GoogleGroupRecord): string {
  return group.email ?? group.name ?? group.id;
}

/**
 * Maps one entry of `members.list`'s `members` array of `group`.
 * @throws {DirectoryDataError} `google_malformed_record` when the record is not an object, or
 *   a `USER` or `GROUP` member has no id.
 */
export function mapGoogleMember(
  raw: unknown,
  group: GoogleGroupRecord,
  options: MemberOptions = {},
): MemberMapping {
  if (!isRecord(raw)) throw badRecord("member", "it is not an object", raw);
  const type = optionalString(raw, "type", "member");
  const email = optionalString(raw, "email", "member");
  const status = optionalString(raw, "status", "member");
  const id = typeof raw["id"] === "string" && raw["id"] !== "" ? raw["id"] : null;
  const label = email ?? id ?? "(no id)";
  const outside = (): MemberMapping => ({
    kind: "skipped",
    entry: {
      referenceId: label,
      kind: "user",
      reason: `member of group ${groupLabel(group)} from outside the Google Workspace account`,
    },
  });
  switch (type) {
    case "USER": {
      if (id === null) throw badRecord("member", `a USER member of ${group.id} has no id`, raw);
      if (options.accountUserIds !== undefined && !options.accountUserIds.has(id)) {
        return outside();
      }
      if (status !== "ACTIVE") {
        return { kind: "ignored", reason: `member status ${status ?? "missing"}` };
      }
      return { kind: "ref", ref: id };
    }
    case "GROUP":
      if (id === null) throw badRecord("member", `a GROUP member of ${group.id} has no id`, raw);
      return { kind: "ref", ref: id };
    case "CUSTOMER":
      return { kind: "ref", ref: GOOGLE_CUSTOMER_REF };
    case "EXTERNAL":
      return outside();
    default:
      return {
        kind: "skipped",
        entry: {
          referenceId: label,
          kind: "user",
          reason: `member of group ${groupLabel(group)} of unsupported type ${type ?? "(none)"}`,
        },
      };
  }
}

/** What {@link mapGoogleGroup} makes of a group and its member references. */
export type GroupMapping =
  | { kind: "group"; group: DirectoryGroup }
  | { kind: "skipped"; entry: SkippedEntry };

/**
 * Builds the {@link DirectoryGroup} of `group` with its member references, in `members.list`
 * order. A group without a name is skipped: Bitwarden needs one.
 */
export function mapGoogleGroup(
  group: GoogleGroupRecord,
  memberRefs: readonly string[],
): GroupMapping {
  if (group.name === null || group.name.trim() === "") {
    return {
      kind: "skipped",
      entry: { referenceId: group.id, kind: "group", reason: "no group name" },
    };
  }
  return {
    kind: "group",
    group: { referenceId: group.id, externalId: group.id, name: group.name, memberRefs },
  };
}
