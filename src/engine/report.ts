/**
 * Reports of what a sync would send: roster's own `test` report, and bwdc's exact
 * `test` JSON (the Bitwarden Directory Connector's `bwdc test` output).
 *
 * roster's report is sorted over the engine's compact data ({@link sortTestReport}: index
 * arrays, no copies of the records) and either written out as JSON as it is made
 * ({@link writeTestReportJson}, in 64 KiB chunks) or built as objects for the table output
 * ({@link materializeTestReport}). Its memory is then the index arrays (about 13 bytes per
 * user), not a second copy of the users, groups and memberships.
 * @module
 */

import {
  type CompactData,
  compactOf,
  type CompactUsers,
  USER_DELETED,
  USER_DISABLED,
} from "./compact.ts";
import { compactRefusals, type Refusal } from "./import_rules.ts";
import { compareCodeUnits } from "./sort.ts";
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

/** Orders nullable strings by code units, null first (as `compareKeys` does). */
function compareNullable(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return compareCodeUnits(a, b);
}

/**
 * roster's `test` report over the engine's compact form: every list sorted as in
 * {@link TestReport}, as indexes into `data` rather than copies of its records, so that a large
 * report is written out ({@link writeTestReportJson}) without being built. The small lists
 * (skipped, unresolved, refusals) are built.
 */
export interface SortedTestReport {
  /** The data the indexes point into. */
  data: CompactData;
  /** Group indexes, by name, then externalId. */
  groupOrder: number[];
  /** User indexes, partitioned, each by email (null first), then externalId. */
  users: { enabled: number[]; disabled: number[]; deleted: number[] };
  /**
   * Position of each group member's externalId (by index into `data.memberIds`) in code-unit
   * order among all members' externalIds; -1 for ids no group lists.
   */
  memberRank: Int32Array;
  /** The `data.memberIds` index at each position of that order. */
  byRank: Int32Array;
  skipped: TestReport["skipped"];
  unresolved: TestReport["unresolved"];
  refusals: Refusal[];
  summary: TestReportSummary;
}

/**
 * Sorts the engine's compact data into roster's `test` report. Lists are sorted by code units,
 * so the same input always gives byte-identical JSON. Users are partitioned regardless of
 * `removeDisabled`. Each group's members are sorted by ranking every member's externalId once
 * (one string sort), then each group's ranks as integers.
 */
export function sortTestReport(data: CompactData): SortedTestReport {
  const { users, groups } = data;
  const enabled: number[] = [];
  const disabled: number[] = [];
  const deleted: number[] = [];
  for (let i = 0; i < users.externalId.length; i++) {
    const flags = users.flags[i] ?? 0;
    if ((flags & USER_DELETED) !== 0) deleted.push(i);
    else if ((flags & USER_DISABLED) !== 0) disabled.push(i);
    else enabled.push(i);
  }
  const byUser = (a: number, b: number): number =>
    compareNullable(users.email[a] ?? null, users.email[b] ?? null) ||
    compareCodeUnits(users.externalId[a] ?? "", users.externalId[b] ?? "");
  enabled.sort(byUser);
  disabled.sort(byUser);
  deleted.sort(byUser);

  const groupOrder = Array.from(groups.name, (_, g) => g).sort((a, b) =>
    compareCodeUnits(groups.name[a] ?? "", groups.name[b] ?? "") ||
    compareCodeUnits(groups.externalId[a] ?? "", groups.externalId[b] ?? "")
  );
  const { memberRank, byRank } = rankMembers(data);

  const skipped = data.skipped
    .map((s) => ({ referenceId: s.referenceId, kind: s.kind, reason: s.reason }))
    .sort((a, b) =>
      compareCodeUnits(a.kind, b.kind) || compareCodeUnits(a.referenceId, b.referenceId) ||
      compareCodeUnits(a.reason, b.reason)
    );
  const unresolved = data.unresolved
    .map((u) => ({ group: u.groupReferenceId, memberRef: u.memberRef }))
    .sort((a, b) =>
      compareCodeUnits(a.group, b.group) || compareCodeUnits(a.memberRef, b.memberRef)
    );
  const refusals = compactRefusals(data);
  return {
    data,
    groupOrder,
    users: { enabled, disabled, deleted },
    memberRank,
    byRank,
    skipped,
    unresolved,
    refusals,
    summary: {
      users: users.externalId.length,
      enabled: enabled.length,
      disabled: disabled.length,
      deleted: deleted.length,
      groups: groups.name.length,
      memberships: data.members.length,
      skipped: skipped.length,
      unresolved: unresolved.length,
      refused: refusals.length,
    },
  };
}

/** Ranks the externalIds that groups list, in code-unit order (see {@link SortedTestReport}). */
function rankMembers(data: CompactData): { memberRank: Int32Array; byRank: Int32Array } {
  const { memberIds, members } = data;
  const memberRank = new Int32Array(memberIds.length).fill(-1);
  const listed: number[] = [];
  for (let k = 0; k < members.length; k++) {
    const m = members[k] ?? 0;
    if (memberRank[m] === -1) {
      memberRank[m] = 0;
      listed.push(m);
    }
  }
  listed.sort((a, b) => compareCodeUnits(memberIds[a] ?? "", memberIds[b] ?? ""));
  const byRank = Int32Array.from(listed);
  for (let r = 0; r < byRank.length; r++) memberRank[byRank[r] ?? 0] = r;
  return { memberRank, byRank };
}

/**
 * Group `g`'s members (indexes into `data.memberIds`) sorted by externalId in code-unit order,
 * in a new array.
 */
export function sortedMembers(report: SortedTestReport, g: number): Int32Array {
  const { memberStart, members } = report.data;
  const from = memberStart[g] ?? 0;
  const ranks = new Int32Array((memberStart[g + 1] ?? 0) - from);
  rankInto(ranks, members.subarray(from, from + ranks.length), report.memberRank);
  ranks.sort();
  rankInto(ranks, ranks, report.byRank);
  return ranks;
}

/**
 * `into[k] = table[from[k]]` for every k (`from` may be `into`). Its own function ending with
 * the loop, for the reason given at `writeMembers`.
 */
function rankInto(into: Int32Array, from: Int32Array, table: Int32Array): void {
  for (let k = 0; k < into.length; k++) into[k] = table[from[k] ?? 0] ?? 0;
}

/** Builds the {@link TestReport} a {@link SortedTestReport} stands for. */
export function materializeTestReport(report: SortedTestReport): TestReport {
  const { data } = report;
  const userList = (indexes: readonly number[]): TestReportUser[] =>
    indexes.map((i) => ({
      externalId: data.users.externalId[i] ?? "",
      email: data.users.email[i] ?? null,
    }));
  return {
    object: "test",
    groups: report.groupOrder.map((g) => ({
      externalId: data.groups.externalId[g] ?? "",
      name: data.groups.name[g] ?? "",
      memberExternalIds: Array.from(sortedMembers(report, g), (m) => data.memberIds[m] ?? ""),
    })),
    users: {
      enabled: userList(report.users.enabled),
      disabled: userList(report.users.disabled),
      deleted: userList(report.users.deleted),
    },
    skipped: report.skipped,
    unresolved: report.unresolved,
    refusals: report.refusals,
    summary: report.summary,
  };
}

/**
 * Builds roster's `test` report. Lists are sorted by code units, so the same input always gives
 * byte-identical JSON. Users are partitioned regardless of `removeDisabled`.
 */
export function toTestReport(data: SyncData): TestReport {
  return materializeTestReport(sortTestReport(compactOf(data)));
}

/**
 * Collects text pieces into chunks of about 64 KiB for `write`. Concatenation only links the
 * pieces; they are copied once, when the chunk is encoded for output.
 */
class Chunks {
  #text = "";
  readonly #write: (chunk: string) => void;

  constructor(write: (chunk: string) => void) {
    this.#write = write;
  }

  add(piece: string): void {
    this.#text += piece;
    if (this.#text.length >= 65536) this.flush();
  }

  flush(): void {
    if (this.#text === "") return;
    this.#write(this.#text);
    this.#text = "";
  }
}

/**
 * Writes the report as `JSON.stringify(materializeTestReport(report), null, 2)` would, byte for
 * byte, in chunks of about 64 KiB passed to `write` as they are made: the document, or a copy
 * of its lists, is never held whole. No final newline.
 */
export function writeTestReportJson(
  report: SortedTestReport,
  write: (chunk: string) => void,
): void {
  const out = new Chunks(write);
  const { data } = report;
  const quotedIds = quotedMembers(report);
  out.add('{\n  "object": "test",\n  "groups": ');
  if (report.groupOrder.length === 0) out.add("[]");
  else {
    out.add("[");
    for (let k = 0; k < report.groupOrder.length; k++) {
      out.add(k === 0 ? "\n    " : ",\n    ");
      writeGroup(report, report.groupOrder[k] ?? 0, out, quotedIds);
    }
    out.add("\n  ]");
  }
  const users = data.users;
  out.add(',\n  "users": {\n    "enabled": ');
  writeUsers(report.users.enabled, out, users);
  out.add(',\n    "disabled": ');
  writeUsers(report.users.disabled, out, users);
  out.add(',\n    "deleted": ');
  writeUsers(report.users.deleted, out, users);
  out.add('\n  },\n  "skipped": ');
  writeRecords(report.skipped, out);
  out.add(',\n  "unresolved": ');
  writeRecords(report.unresolved, out);
  out.add(',\n  "refusals": ');
  writeRecords(report.refusals, out);
  out.add(',\n  "summary": ' + JSON.stringify(report.summary, null, 2).replaceAll("\n", "\n  "));
  out.add("\n}");
  out.flush();
}

/** Characters `JSON.stringify` escapes in a string (lone surrogates included). */
// deno-lint-ignore no-control-regex -- control characters are exactly what JSON escapes
const ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/u;

/**
 * `JSON.stringify(s)`, or `null` for null: `'"' + s + '"'` when `s` has nothing to escape,
 * which copies nothing (the pieces are joined when the chunk is encoded for output).
 */
function quote(s: string | null): string {
  if (s === null) return "null";
  return ESCAPED.test(s) ? JSON.stringify(s) : '"' + s + '"';
}

/**
 * `JSON.stringify` of each externalId a group lists, by index into `memberIds` (others
 * empty). Made once, in directory order, and reused for every group that lists the id: a user
 * is in several groups, and reading each id where it lies in memory once, in order, is much
 * cheaper than reading it again for every membership.
 */
function quotedMembers(report: SortedTestReport): string[] {
  const ids = report.data.memberIds;
  const quoted = new Array<string>(ids.length);
  for (let m = 0; m < ids.length; m++) {
    quoted[m] = report.memberRank[m] === -1 ? "" : JSON.stringify(ids[m] ?? "");
  }
  return quoted;
}

/** One group, at the indentation of an item of the top-level `groups` list. */
function writeGroup(report: SortedTestReport, g: number, out: Chunks, quoted: string[]): void {
  const { data } = report;
  out.add(
    '{\n      "externalId": ' + JSON.stringify(data.groups.externalId[g] ?? "") +
      ',\n      "name": ' + JSON.stringify(data.groups.name[g] ?? "") +
      ',\n      "memberExternalIds": ',
  );
  const members = sortedMembers(report, g);
  if (members.length === 0) out.add("[]");
  else {
    writeMembers(members, out, quoted);
    out.add("\n      ]");
  }
  out.add("\n    }");
}

/**
 * A group's member list items, without the closing bracket. The loop has a function of its
 * own that ends with it: when V8 compiles a long loop while it runs (on-stack replacement), the
 * code after the loop gets no type feedback and later calls fall back to the interpreter.
 */
function writeMembers(members: Int32Array, out: Chunks, quoted: readonly string[]): void {
  for (let k = 0; k < members.length; k++) {
    out.add((k === 0 ? "[\n        " : ",\n        ") + quoted[members[k] ?? 0]);
  }
}

/** A list of users, at the indentation of a list in the `users` object. */
function writeUsers(
  indexes: readonly number[],
  out: Chunks,
  users: CompactUsers,
): void {
  if (indexes.length === 0) {
    out.add("[]");
    return;
  }
  writeUserItems(indexes, out, users);
  out.add("\n    ]");
}

/** The items of a list of users, without the closing bracket (shaped as `writeMembers`). */
function writeUserItems(indexes: readonly number[], out: Chunks, users: CompactUsers): void {
  for (let k = 0; k < indexes.length; k++) {
    const i = indexes[k] ?? 0;
    out.add(
      (k === 0 ? '[\n      {\n        "externalId": ' : ',\n      {\n        "externalId": ') +
        quote(users.externalId[i] ?? "") + ',\n        "email": ' + quote(users.email[i] ?? null) +
        "\n      }",
    );
  }
}

/** A list of small records, at the indentation of a top-level list. */
function writeRecords(records: readonly object[], out: Chunks): void {
  if (records.length === 0) {
    out.add("[]");
    return;
  }
  for (let k = 0; k < records.length; k++) {
    out.add(
      (k === 0 ? "[\n    " : ",\n    ") +
        JSON.stringify(records[k], null, 2).replaceAll("\n", "\n    "),
    );
  }
  out.add("\n  ]");
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
