/**
 * Maps OneLogin API objects (v2 `/api/2/users`, `/api/2/roles` and `/api/2/roles/{id}/users`)
 * to directory users and groups. Pure: no I/O.
 *
 * Rules, as bwdc applies them:
 * - a user's `externalId` and `referenceId` are its numeric OneLogin `id` in decimal (bwdc
 *   sends the number itself; Bitwarden stores it as this text, so a migrated organization
 *   keeps its identities);
 * - its email is `email` when that is an address (`^\S+@\S+\.\S+$`), else `username` when that
 *   is one, else `username` + `sync.emailSuffix` when `sync.useEmailPrefixSuffix` is on; a user
 *   still without an address is skipped with the reason (the engine lowercases the email);
 * - `disabled` = status 2 (suspended); OneLogin users are never `deleted`;
 * - groups are OneLogin **roles**: name = the role's `name`, members = the users the role's
 *   user listing returns.
 *
 * User and role ids are numbers from separate ranges that may overlap, so users are referenced
 * as `user:<id>` and roles as `role:<id>` (a role never matches a user).
 * @module
 */

import { DirectoryDataError } from "../../errors.ts";
import { isRecord } from "../../guards.ts";
import type { DirectoryGroup, DirectoryUser, SkippedEntry } from "../../engine/types.ts";

/** OneLogin user status 2: suspended. */
export const ONELOGIN_SUSPENDED = 2;

/** bwdc's test of an email address. */
const EMAIL = /^\S+@\S+\.\S+$/;

/** The parts of a OneLogin user that roster reads. */
export interface OneLoginUserRecord {
  /** The numeric id. */
  id: number;
  username: string | null;
  email: string | null;
  /** The status code (0 unactivated, 1 active, 2 suspended, 3 locked, …), or null. */
  status: number | null;
  /** `updated_at` (ISO 8601), or null. */
  updatedAt: string | null;
}

/** The parts of a OneLogin role that roster reads. */
export interface OneLoginRoleRecord {
  id: number;
  /** The role name, or null when missing or empty. */
  name: string | null;
}

/** A mapped object: the directory record, or why it is skipped. */
export type Mapped<T> = { kind: "mapped"; value: T } | { kind: "skipped"; entry: SkippedEntry };

/** Options of {@link mapOneLoginUser}: the `sync.*` settings that build a missing email. */
export interface OneLoginEmailOptions {
  /** `sync.useEmailPrefixSuffix`. @default false */
  useEmailPrefixSuffix?: boolean;
  /** `sync.emailSuffix`, appended to the username as is (e.g. `@example.com`). */
  emailSuffix?: string | undefined;
}

/** The reference of a OneLogin user in group `memberRefs`: `user:<id>`. */
export function oneLoginUserRef(id: number): string {
  return `user:${id}`;
}

/** The reference of a OneLogin role: `role:<id>`. */
export function oneLoginRoleRef(id: number): string {
  return `role:${id}`;
}

function text(value: unknown): string | null {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : null;
}

function malformed(what: string, value: unknown): DirectoryDataError {
  const shown = JSON.stringify(value)?.slice(0, 200) ?? String(value);
  return new DirectoryDataError(`OneLogin returned a malformed ${what}: ${shown}`, {
    hint: "Check directory.onelogin.apiUrl (or subdomain and region): it must be the OneLogin " +
      "API base, e.g. https://acme.onelogin.com",
  });
}

/** A numeric id: a non-negative safe integer, or its decimal text. */
function numericId(value: unknown): number | null {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return value;
  if (typeof value === "string" && /^\d{1,15}$/.test(value)) return Number(value);
  return null;
}

/**
 * Reads a OneLogin user object (one item of `/api/2/users` or of a role's user listing).
 *
 * @throws {DirectoryDataError} when it is not an object with a numeric `id`.
 */
export function parseOneLoginUser(value: unknown): OneLoginUserRecord {
  const id = isRecord(value) ? numericId(value.id) : null;
  if (!isRecord(value) || id === null) throw malformed("user (no numeric id)", value);
  return {
    id,
    username: text(value.username),
    email: text(value.email),
    status: typeof value.status === "number" ? value.status : null,
    updatedAt: text(value.updated_at),
  };
}

/**
 * Reads a OneLogin role object (one item of `/api/2/roles`).
 *
 * @throws {DirectoryDataError} when it is not an object with a numeric `id`.
 */
export function parseOneLoginRole(value: unknown): OneLoginRoleRecord {
  const id = isRecord(value) ? numericId(value.id) : null;
  if (!isRecord(value) || id === null) throw malformed("role (no numeric id)", value);
  return { id, name: text(value.name) };
}

/** Whether `value` passes bwdc's email test (`^\S+@\S+\.\S+$`). */
export function isOneLoginEmail(value: string | null): value is string {
  return value !== null && EMAIL.test(value);
}

/**
 * The email of a OneLogin user by bwdc's rule, or why there is none: `email`, else
 * `username`, else `username` + `emailSuffix` when `useEmailPrefixSuffix` is on.
 */
export function oneLoginEmail(
  record: OneLoginUserRecord,
  options: OneLoginEmailOptions = {},
): { email: string } | { reason: string } {
  if (isOneLoginEmail(record.email)) return { email: record.email };
  if (isOneLoginEmail(record.username)) return { email: record.username };
  const has = record.email === null ? "no email" : `email ${JSON.stringify(record.email)}`;
  const user = record.username === null
    ? "no username"
    : `username ${JSON.stringify(record.username)}`;
  if (options.useEmailPrefixSuffix === true) {
    if (options.emailSuffix === undefined || options.emailSuffix.trim() === "") {
      return {
        reason: `no email address (${has}, ${user}; sync.useEmailPrefixSuffix is on but ` +
          "sync.emailSuffix is not set)",
      };
    }
    if (record.username !== null) {
      const built = record.username + options.emailSuffix.trim();
      if (isOneLoginEmail(built)) return { email: built };
      return { reason: `no email address (${has}; ${JSON.stringify(built)} is not an address)` };
    }
  }
  return { reason: `no email address (${has}, ${user})` };
}

/** Maps a OneLogin user; one without an email by {@link oneLoginEmail} is skipped. */
export function mapOneLoginUser(
  record: OneLoginUserRecord,
  options: OneLoginEmailOptions = {},
): Mapped<DirectoryUser> {
  const id = String(record.id);
  const email = oneLoginEmail(record, options);
  if ("reason" in email) {
    return { kind: "skipped", entry: { referenceId: id, kind: "user", reason: email.reason } };
  }
  return {
    kind: "mapped",
    value: {
      referenceId: id,
      externalId: id,
      email: email.email,
      disabled: record.status === ONELOGIN_SUSPENDED,
      deleted: false,
      refs: [oneLoginUserRef(record.id)],
    },
  };
}

/**
 * Maps a OneLogin role to a group, with the numeric ids of its users (from
 * `/api/2/roles/{id}/users`, in listing order); a role without a name is skipped.
 */
export function mapOneLoginRole(
  record: OneLoginRoleRecord,
  memberIds: readonly number[],
): Mapped<DirectoryGroup> {
  const id = String(record.id);
  if (record.name === null) {
    return { kind: "skipped", entry: { referenceId: id, kind: "group", reason: "no role name" } };
  }
  return {
    kind: "mapped",
    value: {
      referenceId: id,
      externalId: id,
      name: record.name,
      memberRefs: memberIds.map(oneLoginUserRef),
      refs: [oneLoginRoleRef(record.id)],
    },
  };
}
