/**
 * Maps Okta Management API objects (from `/api/v1/users`, `/api/v1/groups` and
 * `/api/v1/groups/{id}/users`) to directory users and groups. Pure: no I/O.
 *
 * Rules, as bwdc applies them:
 * - a user's `externalId` and `referenceId` are its Okta `id`; its email is `profile.email`
 *   (the engine trims and lowercases it);
 * - `deleted` = status DEPROVISIONED; `disabled` = status SUSPENDED. LOCKED_OUT,
 *   PASSWORD_EXPIRED, RECOVERY, STAGED and PROVISIONED users stay enabled;
 * - a user without `profile.email` is skipped with a reason, unless it is DEPROVISIONED (the
 *   engine keeps a deleted user without email, as its removal needs only the externalId);
 * - a group's `externalId` and `referenceId` are its `id`, its name `profile.name`, its
 *   members the ids of the users its member listing returns (Okta groups do not nest).
 *
 * Okta ids carry their type (`00u…` users, `00g…` groups), so user and group references never
 * collide.
 * @module
 */

import { DirectoryDataError } from "../../errors.ts";
import { isRecord } from "../../guards.ts";
import type { DirectoryGroup, DirectoryUser, SkippedEntry } from "../../engine/types.ts";

/** The Okta user statuses Okta documents. */
export type OktaUserStatus =
  | "ACTIVE"
  | "STAGED"
  | "PROVISIONED"
  | "RECOVERY"
  | "PASSWORD_EXPIRED"
  | "LOCKED_OUT"
  | "SUSPENDED"
  | "DEPROVISIONED";

/** The parts of an Okta user that roster reads. */
export interface OktaUserRecord {
  id: string;
  /** One of {@link OktaUserStatus}, or a status Okta added later (kept as text). */
  status: string;
  /** `profile.email`, or null when missing, empty or not a string. */
  email: string | null;
  /** `profile.login`, or null. */
  login: string | null;
  /** `lastUpdated` as Okta sends it (ISO 8601), or null. */
  lastUpdated: string | null;
  /** `created` (ISO 8601), or null. */
  created: string | null;
}

/** The parts of an Okta group that roster reads. */
export interface OktaGroupRecord {
  id: string;
  /** `profile.name`, or null when missing or empty. */
  name: string | null;
  /** `OKTA_GROUP`, `APP_GROUP` or `BUILT_IN`. */
  type: string;
  /** ISO 8601 times, or null when absent. */
  created: string | null;
  lastUpdated: string | null;
  lastMembershipUpdated: string | null;
  /** `_embedded.stats.usersCount` when the listing asked for `expand=stats`. */
  usersCount: number | undefined;
}

/** A mapped object: the directory record, or why it is skipped. */
export type Mapped<T> = { kind: "mapped"; value: T } | { kind: "skipped"; entry: SkippedEntry };

function text(value: unknown): string | null {
  return typeof value === "string" && value.trim() !== "" ? value : null;
}

function malformed(what: string, value: unknown): DirectoryDataError {
  const shown = JSON.stringify(value)?.slice(0, 200) ?? String(value);
  return new DirectoryDataError(`Okta returned a malformed ${what}: ${shown}`, {
    hint: "Check the Okta org URL (directory.okta.orgUrl): it must be the org's base URL, " +
      "e.g. https://acme.okta.com",
  });
}

/**
 * Reads an Okta user object (one item of a user listing).
 *
 * @throws {DirectoryDataError} when it is not an object with a string `id` and `status`.
 */
export function parseOktaUser(value: unknown): OktaUserRecord {
  if (!isRecord(value) || typeof value.id !== "string" || value.id === "") {
    throw malformed("user (no id)", value);
  }
  if (typeof value.status !== "string") throw malformed(`user ${value.id} (no status)`, value);
  const profile = isRecord(value.profile) ? value.profile : {};
  return {
    id: value.id,
    status: value.status,
    email: text(profile.email),
    login: text(profile.login),
    lastUpdated: text(value.lastUpdated),
    created: text(value.created),
  };
}

/**
 * Reads an Okta group object (one item of `/api/v1/groups`).
 *
 * @throws {DirectoryDataError} when it is not an object with a string `id`.
 */
export function parseOktaGroup(value: unknown): OktaGroupRecord {
  if (!isRecord(value) || typeof value.id !== "string" || value.id === "") {
    throw malformed("group (no id)", value);
  }
  const profile = isRecord(value.profile) ? value.profile : {};
  const embedded = isRecord(value._embedded) ? value._embedded : {};
  const stats = isRecord(embedded.stats) ? embedded.stats : {};
  return {
    id: value.id,
    name: text(profile.name),
    type: typeof value.type === "string" ? value.type : "OKTA_GROUP",
    created: text(value.created),
    lastUpdated: text(value.lastUpdated),
    lastMembershipUpdated: text(value.lastMembershipUpdated),
    usersCount: typeof stats.usersCount === "number" ? stats.usersCount : undefined,
  };
}

/** Maps an Okta user; a non-deprovisioned user without `profile.email` is skipped. */
export function mapOktaUser(record: OktaUserRecord): Mapped<DirectoryUser> {
  const deleted = record.status === "DEPROVISIONED";
  if (record.email === null && !deleted) {
    return {
      kind: "skipped",
      entry: {
        referenceId: record.id,
        kind: "user",
        reason: `no email address (profile.email is empty${
          record.login === null ? "" : `; login ${record.login}`
        })`,
      },
    };
  }
  return {
    kind: "mapped",
    value: {
      referenceId: record.id,
      externalId: record.id,
      email: record.email,
      disabled: record.status === "SUSPENDED",
      deleted,
    },
  };
}

/**
 * Maps an Okta group with the ids of its member users (from `/api/v1/groups/{id}/users`, in
 * listing order); a group without `profile.name` is skipped.
 */
export function mapOktaGroup(
  record: OktaGroupRecord,
  memberIds: readonly string[],
): Mapped<DirectoryGroup> {
  if (record.name === null) {
    return {
      kind: "skipped",
      entry: { referenceId: record.id, kind: "group", reason: "no group name (profile.name)" },
    };
  }
  return {
    kind: "mapped",
    value: {
      referenceId: record.id,
      externalId: record.id,
      name: record.name,
      memberRefs: [...memberIds],
    },
  };
}

/**
 * Whether a group may have changed after `since`: its `lastUpdated` (name, description) or its
 * `lastMembershipUpdated` (members; Okta does not move `lastUpdated` for membership) is later,
 * or a time is missing or unreadable (then it cannot be proved unchanged).
 */
export function oktaGroupChangedSince(record: OktaGroupRecord, since: Date): boolean {
  const limit = since.getTime();
  for (const time of [record.lastUpdated, record.lastMembershipUpdated]) {
    const t = time === null ? NaN : Date.parse(time);
    if (Number.isNaN(t) || t > limit) return true;
  }
  return false;
}
