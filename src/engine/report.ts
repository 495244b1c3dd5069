/**
 * Reports of what a sync would send: roster's own `test` report, and bwdc's exact
 * `test` JSON (the Bitwarden Directory Connector's `bwdc test` output).
 * @module
 */

import { dataRefusals, type Refusal } from "./import_rules.ts";
import { compareCodeUnits, compareKeys } from "./sort.ts";
import type { SyncData, SyncUser } from "./types.ts";

/** A user in a {@link TestReport}. */
export interface TestReportUser {
  /** The id sent to Bitwarden. */
  externalId: string;
  /** Normalised email; null only for a deleted user without one. */
  email: string | null;
}

/** A group in a {@link TestReport}. */
export interface TestReportGroup {
  /** The id sent to Bitwarden. */
  externalId: string;
  /** The group's display name. */
  name: string;
  /** Flattened member externalIds, sorted. */
  memberExternalIds: string[];
}

/** Counts of a {@link TestReport}. */
export interface TestReportSummary {
  /** All users: enabled + disabled + deleted. */
  users: number;
  /** Users neither deleted nor disabled. */
  enabled: number;
  /** Disabled users that are not deleted. */
  disabled: number;
  /** Deleted users. */
  deleted: number;
  /** Groups synced. */
  groups: number;
  /** Sum of the groups' flattened member counts. */
  memberships: number;
  /** Objects left out. */
  skipped: number;
  /** Member references that matched nothing. */
  unresolved: number;
  /** Objects the import would refuse. */
  refused: number;
}

/** roster's `test` report. Every list is sorted by a stable code-unit key. */
export interface TestReport {
  /** Always `test`. */
  object: "test";
  /** Sorted by name, then externalId. */
  groups: TestReportGroup[];
  /** Partitioned (deleted, else disabled, else enabled), each sorted by email then externalId. */
  users: {
    enabled: TestReportUser[];
    disabled: TestReportUser[];
    deleted: TestReportUser[];
  };
  /** Sorted by kind, then referenceId. */
  skipped: { referenceId: string; kind: "user" | "group"; reason: string }[];
  /** Sorted by group referenceId, then reference. */
  unresolved: { group: string; memberRef: string }[];
  /**
   * Users and groups Bitwarden's import would refuse (a name or externalId too long or blank),
   * with the limit: a sync would send nothing. Sorted by code, then subject.
   */
  refusals: Refusal[];
  /** Counts. */
  summary: TestReportSummary;
}

/** An entry of bwdc's `test` JSON. */
export interface BwdcTestEntry {
  /** The id sent to Bitwarden. */
  externalId: string;
  /** Email (users) or name (groups), else the referenceId. */
  displayName: string;
}

/** A group of bwdc's `test` JSON. */
export interface BwdcTestGroup {
  /** The id sent to Bitwarden. */
  externalId: string;
  /** The group name, else its referenceId. */
  displayName: string;
  /** Flattened member externalIds, in flattened order. */
  userIds: string[];
}

/** bwdc's `test` response, key order included. */
export interface BwdcTestResponse {
  /** Groups, sorted by display name. */
  groups: BwdcTestGroup[];
  /** Users neither deleted nor disabled, sorted by display name. */
  enabledUsers: BwdcTestEntry[];
  /** Disabled users that are not deleted, sorted by display name. */
  disabledUsers: BwdcTestEntry[];
  /** Deleted users, sorted by display name. */
  deletedUsers: BwdcTestEntry[];
  /** Always `test`. */
  object: "test";
}

function partition(users: readonly SyncUser[]): {
  enabled: SyncUser[];
  disabled: SyncUser[];
  deleted: SyncUser[];
} {
  const enabled: SyncUser[] = [];
  const disabled: SyncUser[] = [];
  const deleted: SyncUser[] = [];
  for (const u of users) {
    if (u.deleted) deleted.push(u);
    else if (u.disabled) disabled.push(u);
    else enabled.push(u);
  }
  return { enabled, disabled, deleted };
}

/** Orders nullable strings as {@link compareKeys} does for one element: null first. */
function compareNullable(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return compareCodeUnits(a, b);
}

/**
 * By email (null first), then externalId: the order of `compareKeys([email, externalId])`,
 * without two arrays per comparison (a 100,000-user sort makes about two million).
 */
function compareReportUsers(a: TestReportUser, b: TestReportUser): number {
  return compareNullable(a.email, b.email) || compareCodeUnits(a.externalId, b.externalId);
}

function reportUsers(users: SyncUser[]): TestReportUser[] {
  return users
    .map((u) => ({ externalId: u.externalId, email: u.email }))
    .sort(compareReportUsers);
}

/**
 * Builds roster's `test` report. Lists are sorted by code units, so the same input always gives
 * byte-identical JSON. Users are partitioned regardless of `removeDisabled`.
 */
export function toTestReport(data: SyncData): TestReport {
  const parts = partition(data.users);
  const groups = data.groups
    .map((g) => ({
      externalId: g.externalId,
      name: g.name,
      // The default order of strings is by UTF-16 code units (as compareCodeUnits), and
      // faster than a comparator called from the sort.
      memberExternalIds: [...g.memberExternalIds].sort(),
    }))
    .sort((a, b) =>
      compareCodeUnits(a.name, b.name) || compareCodeUnits(a.externalId, b.externalId)
    );
  const skipped = data.skipped
    .map((s) => ({ referenceId: s.referenceId, kind: s.kind, reason: s.reason }))
    .sort((a, b) =>
      compareKeys([a.kind, a.referenceId, a.reason], [b.kind, b.referenceId, b.reason])
    );
  const unresolved = data.unresolved
    .map((u) => ({ group: u.groupReferenceId, memberRef: u.memberRef }))
    .sort((a, b) => compareKeys([a.group, a.memberRef], [b.group, b.memberRef]));
  const memberships = groups.reduce((sum, g) => sum + g.memberExternalIds.length, 0);
  const refusals = dataRefusals(data);
  return {
    object: "test",
    groups,
    users: {
      enabled: reportUsers(parts.enabled),
      disabled: reportUsers(parts.disabled),
      deleted: reportUsers(parts.deleted),
    },
    skipped,
    unresolved,
    refusals,
    summary: {
      users: data.users.length,
      enabled: parts.enabled.length,
      disabled: parts.disabled.length,
      deleted: parts.deleted.length,
      groups: groups.length,
      memberships,
      skipped: skipped.length,
      unresolved: unresolved.length,
      refused: refusals.length,
    },
  };
}

const collator = new Intl.Collator("en", { numeric: true, sensitivity: "base" });

function byDisplayName<T extends { displayName: string }>(items: T[]): T[] {
  return items.sort((a, b) => collator.compare(a.displayName, b.displayName));
}

function bwdcUsers(users: SyncUser[]): BwdcTestEntry[] {
  return byDisplayName(
    users.map((u) => ({ externalId: u.externalId, displayName: u.email ?? u.referenceId })),
  );
}

/**
 * Builds bwdc's exact `test` JSON: groups and users sorted by display name with
 * `Intl.Collator("en", { numeric: true, sensitivity: "base" })` (ties keep directory order),
 * `userIds` in flattened order.
 */
export function toBwdcTestResponse(data: SyncData): BwdcTestResponse {
  const parts = partition(data.users);
  return {
    groups: byDisplayName(data.groups.map((g) => ({
      externalId: g.externalId,
      displayName: g.name === "" ? g.referenceId : g.name,
      userIds: [...g.memberExternalIds],
    }))),
    enabledUsers: bwdcUsers(parts.enabled),
    disabledUsers: bwdcUsers(parts.disabled),
    deletedUsers: bwdcUsers(parts.deleted),
    object: "test",
  };
}
