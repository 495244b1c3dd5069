/**
 * Microsoft Graph JSON → roster's directory records, for the Entra ID source.
 *
 * Users (`/users`, `/users/delta`, the recycle bin `/directory/deletedItems/microsoft.graph.user`):
 * - `externalId` and `referenceId` are the object id;
 * - the email is `mail`, or `userPrincipalName` when `mail` is empty or an `onmicrosoft.com`
 *   address (as bwdc does); it is passed on as read, since the engine trims and lowercases it;
 * - `disabled` is `!accountEnabled`;
 * - an enabled user without a usable email (none at all, or a guest's `#EXT#` user principal
 *   name) is skipped with that reason, where bwdc drops it silently;
 * - a removed delta entry (`@removed`, reason `changed` = soft-deleted or `deleted` =
 *   permanently deleted) or a recycle-bin entry is a deleted user, kept with its externalId even
 *   without an email, so the import can remove it (bwdc drops those for want of an email).
 *
 * Members (`/groups/{id}/members`, `members@delta`, administrative-unit members): an object
 * typed `#microsoft.graph.user` is a user member, `#microsoft.graph.group` a nested group;
 * anything else (org contacts, devices, service principals) is skipped with a reason.
 *
 * Pure: no I/O.
 * @module
 */

import type { DirectoryGroup, DirectoryUser, SkippedEntry } from "../../engine/types.ts";
import { DirectoryDataError } from "../../errors.ts";
import { isRecord } from "../../guards.ts";

/** The user properties the Entra source `$select`s. */
export const USER_SELECT = ["id", "mail", "userPrincipalName", "accountEnabled"];
/** The group properties the Entra source `$select`s. */
export const GROUP_SELECT = ["id", "displayName"];
/** The member properties the Entra source `$select`s (`@odata.type` always comes back). */
export const MEMBER_SELECT = ["id"];

/** What {@link mapUser} makes of one Graph user. */
export type MappedUser =
  | { kind: "user"; user: DirectoryUser }
  | { kind: "skipped"; entry: SkippedEntry };

/** Options of {@link mapUser}. */
export interface MapUserOptions {
  /**
   * The user comes from the recycle bin (soft-deleted), so it is deleted whatever it says.
   * Default false: deleted only when it carries `@removed`.
   */
  deleted?: boolean;
}

function optionalString(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

function objectId(raw: unknown, what: string): { record: Record<string, unknown>; id: string } {
  if (!isRecord(raw) || typeof raw.id !== "string" || raw.id.trim() === "") {
    throw new DirectoryDataError(`Graph returned a ${what} without an id: ${preview(raw)}`, {
      hint: "Run again; if it persists, report it with this message",
    });
  }
  return { record: raw, id: raw.id };
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

const isBlank = (value: string | null): value is null => value === null || value.trim() === "";

/**
 * The email bwdc takes for a Graph user: `mail`, or `userPrincipalName` when `mail` is empty or
 * contains `onmicrosoft.com` (case-insensitive) and a user principal name exists. Untrimmed, as
 * read; null when both are empty.
 */
export function graphUserEmail(
  user: { mail?: unknown; userPrincipalName?: unknown },
): string | null {
  const mail = optionalString(user.mail);
  const upn = optionalString(user.userPrincipalName);
  if (!isBlank(mail) && !mail.toLowerCase().includes("onmicrosoft.com")) return mail;
  if (!isBlank(upn)) return upn;
  return isBlank(mail) ? null : mail;
}

/** Whether an email is a guest's user principal name (`alice_example.com#EXT#@contoso.onmicrosoft.com`). */
export function isGuestUpn(email: string): boolean {
  return email.toUpperCase().includes("#EXT#");
}

/**
 * Maps one Graph user object to a {@link DirectoryUser}, or a {@link SkippedEntry} for an enabled
 * user without a usable email.
 * @throws {DirectoryDataError} when the object has no id, or a live (not removed) user lacks
 *   `accountEnabled` (it is not in Graph's default properties and must be `$select`ed).
 */
export function mapUser(raw: unknown, options: MapUserOptions = {}): MappedUser {
  const { record, id } = objectId(raw, "user");
  const deleted = options.deleted === true || isRecord(record["@removed"]);
  const email = graphUserEmail(record);
  if (deleted) {
    return {
      kind: "user",
      user: { referenceId: id, externalId: id, email, disabled: false, deleted: true },
    };
  }
  const enabled = record.accountEnabled;
  if (typeof enabled !== "boolean") {
    throw new DirectoryDataError(`Graph returned user ${id} without accountEnabled`, {
      hint: "Run again; if it persists, report it with this message",
    });
  }
  if (enabled) {
    if (email === null) {
      return {
        kind: "skipped",
        entry: {
          referenceId: id,
          kind: "user",
          reason: "no email address (mail and userPrincipalName are empty)",
        },
      };
    }
    if (isGuestUpn(email)) {
      return {
        kind: "skipped",
        entry: {
          referenceId: id,
          kind: "user",
          reason: `guest without a mail address (userPrincipalName ${email.trim()})`,
        },
      };
    }
  }
  return {
    kind: "user",
    user: { referenceId: id, externalId: id, email, disabled: !enabled, deleted: false },
  };
}

/** What {@link mapMember} makes of one member object. */
export type MappedMember =
  | { kind: "user"; ref: string; removed: boolean }
  | { kind: "group"; ref: string; removed: boolean }
  | { kind: "skipped"; entry: SkippedEntry; removed: boolean };

const TYPE_NAMES: Record<string, string> = {
  "#microsoft.graph.orgContact": "an organizational contact",
  "#microsoft.graph.device": "a device",
  "#microsoft.graph.servicePrincipal": "a service principal",
};

/**
 * Maps one member object (with `@odata.type`) of a group. `groupId` names the group in the skip
 * reason. `removed` is true for a `members@delta` entry carrying `@removed`.
 * @throws {DirectoryDataError} when the object has no id or no `@odata.type`.
 */
export function mapMember(raw: unknown, groupId: string): MappedMember {
  const { record, id } = objectId(raw, `member of group ${groupId}`);
  const type = record["@odata.type"];
  const removed = isRecord(record["@removed"]);
  if (type === "#microsoft.graph.user") return { kind: "user", ref: id, removed };
  if (type === "#microsoft.graph.group") return { kind: "group", ref: id, removed };
  if (typeof type !== "string") {
    throw new DirectoryDataError(
      `Graph returned member ${id} of group ${groupId} without @odata.type`,
      { hint: "Run again; if it persists, report it with this message" },
    );
  }
  const what = TYPE_NAMES[type] ?? `of type ${type.replace(/^#microsoft\.graph\./, "")}`;
  return {
    kind: "skipped",
    removed,
    entry: {
      referenceId: id,
      kind: "user",
      reason: `member of group ${groupId} is ${what}, not a user or group`,
    },
  };
}

/** Member references of a group, and the members that are skipped. */
export interface MappedMembers {
  /** User and group ids, in the order given, without duplicates. */
  memberRefs: string[];
  /** Members that are neither users nor groups. */
  skipped: SkippedEntry[];
}

/**
 * Maps a group's member objects (one or more pages, in order). Entries carrying `@removed` are
 * left out.
 * @throws {DirectoryDataError} as {@link mapMember}.
 */
export function mapMembers(members: Iterable<unknown>, groupId: string): MappedMembers {
  const refs = new Set<string>();
  const skipped: SkippedEntry[] = [];
  for (const raw of members) {
    const member = mapMember(raw, groupId);
    if (member.removed) continue;
    if (member.kind === "skipped") skipped.push(member.entry);
    else refs.add(member.ref);
  }
  return { memberRefs: [...refs], skipped };
}

/** What {@link mapGroup} makes of one Graph group. */
export type MappedGroup =
  | { kind: "group"; group: DirectoryGroup }
  | { kind: "skipped"; entry: SkippedEntry };

/**
 * Maps one Graph group and its member references to a {@link DirectoryGroup}; a group without a
 * display name is skipped with that reason. `externalId` and `referenceId` are the object id.
 * @throws {DirectoryDataError} when the object has no id.
 */
export function mapGroup(raw: unknown, memberRefs: readonly string[]): MappedGroup {
  const { record, id } = objectId(raw, "group");
  const name = optionalString(record.displayName);
  if (isBlank(name)) {
    return {
      kind: "skipped",
      entry: { referenceId: id, kind: "group", reason: "no display name" },
    };
  }
  return { kind: "group", group: { referenceId: id, externalId: id, name, memberRefs } };
}
