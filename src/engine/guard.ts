/**
 * The deletion guard: every destructive change a sync would make, counted and held against its
 * limit before anything is sent. `plan` and `sync` call the same {@link checkGuard}, so `plan`
 * shows the verdict `sync` would give.
 *
 * | check | counts | limit settings | allowed once by |
 * | --- | --- | --- | --- |
 * | `memberRemovals` | members the import removes from the organization (deleted, disabled with `sync.removeDisabled`, `sync.overwriteExisting`) | `sync.maxRemovals`, `sync.maxRemovalsPercent` of the organization's members | `--allow-removals N` |
 * | `membershipRemovals` | members taken out of a group, against what the last successful sync sent | `sync.maxMembershipRemovals`, `sync.maxMembershipRemovalsPercent` of the memberships it sent | `--allow-membership-removals N` |
 * | `groupDeletions` | groups the last successful sync sent that the directory no longer lists (full reads) | `sync.maxGroupDeletions`, `sync.maxGroupDeletionsPercent` of the groups it sent | `--allow-group-deletions N` |
 * | `userShrink`, `groupShrink` | users (groups) fewer than the last complete read (full reads) | `sync.maxShrink`, `sync.maxShrinkPercent` of that read | `--allow-shrink N` |
 *
 * Each limit is `max(count setting, floor(base × percent / 100))`; a count setting of `0` turns
 * its check off. An explicit allowance replaces the limit for one run.
 *
 * The import never deletes a group (Bitwarden leaves groups the request does not list as they
 * are), but a group that vanishes from the directory is how a `sync.groupFilter` or
 * `sync.groupPath` mistake shows; and a sync reads only the organization's group list, not each
 * group's members (one request per group), so membership removals are counted against a compact
 * record of what the last successful sync sent ({@link SentSnapshot}), kept in the state store.
 *
 * Pure: no I/O, no clock.
 * @module
 */

import { RemovalGuardError } from "../errors.ts";
import type { Plan, PlanRemoval } from "./plan.ts";
import type { ImportRequest, SyncData } from "./types.ts";

/**
 * A 53-bit hash of a string (two independent 32-bit multiply-xor hashes, combined into a safe
 * integer). Used to keep group members compactly: 8 bytes per membership whatever the length of
 * the externalId; two different externalIds share a hash with a probability near 2^-53.
 */
export function hash53(value: string): number {
  let a = 0x9e3779b9 ^ value.length;
  let b = 0x85ebca6b ^ value.length;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  a = Math.imul(a ^ (a >>> 16), 0x85ebca6b);
  a = Math.imul(a ^ (a >>> 13), 0xc2b2ae35);
  a ^= a >>> 16;
  b = Math.imul(b ^ (b >>> 16), 0x7feb352d);
  b = Math.imul(b ^ (b >>> 15), 0x846ca68b);
  b ^= b >>> 16;
  return (a >>> 0) * 0x200000 + ((b >>> 0) & 0x1fffff);
}

/** One group as a sync sent it. */
export interface SentGroup {
  /** The group's externalId. */
  externalId: string;
  /** The name sent. */
  name: string;
  /** {@link hash53} of each member externalId sent, sorted ascending, no duplicates. */
  members: Float64Array;
}

/** What a successful sync sent: every group with its members, by group externalId. */
export interface SentSnapshot {
  groups: Map<string, SentGroup>;
}

/** Counts of a {@link SentSnapshot}. */
export function snapshotCounts(snapshot: SentSnapshot): { groups: number; memberships: number } {
  let memberships = 0;
  for (const group of snapshot.groups.values()) memberships += group.members.length;
  return { groups: snapshot.groups.size, memberships };
}

function hashMembers(ids: readonly string[]): Float64Array {
  const hashes = new Float64Array(ids.length);
  ids.forEach((id, i) => hashes[i] = hash53(id));
  hashes.sort();
  let kept = 0;
  for (let i = 0; i < hashes.length; i++) {
    const value = hashes[i] ?? 0;
    if (kept === 0 || hashes[kept - 1] !== value) hashes[kept++] = value;
  }
  return hashes.slice(0, kept);
}

/** The groups `requests` send, with their members hashed (a later request's group wins). */
export function snapshotOfRequests(requests: readonly ImportRequest[]): SentSnapshot {
  const groups = new Map<string, SentGroup>();
  for (const request of requests) {
    for (const group of request.groups) {
      groups.set(group.externalId, {
        externalId: group.externalId,
        name: group.name,
        members: hashMembers(group.memberExternalIds),
      });
    }
  }
  return { groups };
}

/**
 * The record to keep after a successful sync: what it sent on a full read; on an incremental
 * read, the previous record with the groups it sent replaced (`previous` null: just `sent`).
 */
export function mergeSnapshot(
  previous: SentSnapshot | null,
  sent: SentSnapshot,
  options: { fullRead: boolean },
): SentSnapshot {
  if (options.fullRead || previous === null) return sent;
  const groups = new Map(previous.groups);
  for (const [id, group] of sent.groups) groups.set(id, group);
  return { groups };
}

/** Hashes in sorted `before` that are not in sorted `after`. */
function missingCount(before: Float64Array, after: Float64Array): number {
  let i = 0;
  let j = 0;
  let missing = 0;
  while (i < before.length) {
    const b = before[i] ?? 0;
    const a = after[j];
    if (a === undefined || b < a) {
      missing++;
      i++;
    } else if (b === a) {
      i++;
      j++;
    } else {
      j++;
    }
  }
  return missing;
}

/** The guard's checks. */
export type GuardKind =
  | "memberRemovals"
  | "membershipRemovals"
  | "groupDeletions"
  | "userShrink"
  | "groupShrink";

/** The `sync.*` limits of the guard (see the module table). */
export interface GuardLimits {
  /** Members removed from the organization always allowed; `0` turns the check off. */
  maxRemovals: number;
  /** Percentage of the organization's members that may be removed. */
  maxRemovalsPercent: number;
  /** Group memberships removed always allowed; `0` turns the check off. */
  maxMembershipRemovals: number;
  /** Percentage of the memberships the last sync sent that may be removed. */
  maxMembershipRemovalsPercent: number;
  /** Groups gone from the directory always allowed; `0` turns the check off. */
  maxGroupDeletions: number;
  /** Percentage of the groups the last sync sent that may be gone. */
  maxGroupDeletionsPercent: number;
  /** Users (and groups) fewer than the last complete read always allowed; `0` turns it off. */
  maxShrink: number;
  /** Percentage of the last complete read's users (groups) that may be missing. */
  maxShrinkPercent: number;
}

/** Explicit allowances for one run (the `--allow-*` flags): at most N of that kind go through. */
export interface GuardAllowances {
  /** `--allow-removals N`. */
  removals?: number | undefined;
  /** `--allow-membership-removals N`. */
  membershipRemovals?: number | undefined;
  /** `--allow-group-deletions N`. */
  groupDeletions?: number | undefined;
  /** `--allow-shrink N` (users and groups). */
  shrink?: number | undefined;
}

/** One line a refused check lists. */
export interface GuardItem {
  /** What it concerns: an email, a group, `users`. */
  subject: string;
  /** What happens to it, in words. */
  detail: string;
}

/** The verdict of one check. */
export interface GuardCheck {
  kind: GuardKind;
  /** Changes of this kind the sync would make. */
  count: number;
  /** What the percentage is taken of (members, memberships, groups, users). */
  base: number;
  /** `max(count setting, floor(base × percent / 100))`. */
  limit: number;
  /** The explicit allowance for this run, or null. */
  allowance: number | null;
  /** Whether this check lets the sync go ahead. */
  allowed: boolean;
  /** The count cannot be known (overwriteExisting without an organization view). */
  unknown: boolean;
  /** The settings and the flag of this check. */
  setting: string;
  percentSetting: string;
  flag: string;
  /** The objects concerned, for the refusal (members, groups). */
  items: GuardItem[];
}

/** The guard's verdict on a plan. */
export interface GuardVerdict {
  /** Whether every check lets the sync go ahead. */
  allowed: boolean;
  /** Every check, in the order of {@link GuardKind}. */
  checks: GuardCheck[];
}

/** What the guard looks at besides the plan. */
export interface GuardInput {
  /** The plan of the requests to send. */
  plan: Plan;
  /** What this sync would send ({@link snapshotOfRequests}). */
  sent: SentSnapshot;
  /** What the last successful sync sent; null before the first one. */
  previous: SentSnapshot | null;
  /** Whether the directory read was full (deletions and shrink need a full read). */
  fullRead: boolean;
  /** Users and groups read now. */
  read: { users: number; groups: number };
  /** Users and groups of the last complete read; undefined before the first. */
  lastFullRead: { users: number; groups: number } | undefined;
  /** Whether users and groups are synced (`sync.users`, `sync.groups`). */
  syncing: { users: boolean; groups: boolean };
  /** The directory data, to tell a disabled member from a deleted one in the listing. */
  data?: SyncData;
}

/** The users of `data` by externalId, built once per `data` (removal listings look them up). */
const usersById = new WeakMap<SyncData, Map<string, SyncData["users"][number]>>();

/** Why a member is removed, in words, using the directory data to tell disabled from deleted. */
export function removalWhy(removal: PlanRemoval, data: SyncData | undefined): string {
  if (removal.reason === "overwrite") {
    return "not in the directory (sync.overwriteExisting)";
  }
  let user: SyncData["users"][number] | undefined;
  if (data !== undefined && removal.externalId !== null) {
    let index = usersById.get(data);
    if (index === undefined) {
      index = new Map(data.users.map((u) => [u.externalId, u]));
      usersById.set(data, index);
    }
    user = index.get(removal.externalId);
  }
  if (user !== undefined && !user.deleted && user.disabled) {
    return "disabled in the directory (sync.removeDisabled)";
  }
  return "deleted in the directory";
}

function check(
  kind: GuardKind,
  values: {
    count: number;
    base: number;
    max: number;
    percent: number;
    allowance: number | undefined;
    unknown?: boolean;
    names: [string, string, string];
    items: GuardItem[];
  },
): GuardCheck {
  const limit = Math.max(values.max, Math.floor(values.base * values.percent / 100));
  const unknown = values.unknown ?? false;
  let allowed: boolean;
  if (values.max === 0) allowed = true;
  else if (values.allowance !== undefined) allowed = values.count <= values.allowance;
  else allowed = values.count <= limit && !unknown;
  return {
    kind,
    count: values.count,
    base: values.base,
    limit,
    allowance: values.allowance ?? null,
    allowed,
    unknown,
    setting: values.names[0],
    percentSetting: values.names[1],
    flag: values.names[2],
    items: values.items,
  };
}

/**
 * Runs every check of the guard (see the module documentation). Member removals come from the
 * plan; membership removals and group deletions from `sent` against `previous` (none before
 * the first sync); shrink from the read counts against the last complete read (full reads only,
 * and only for what is synced).
 */
export function checkGuard(
  input: GuardInput,
  limits: GuardLimits,
  allowances: GuardAllowances = {},
): GuardVerdict {
  const { plan, sent, previous } = input;
  const checks: GuardCheck[] = [];

  checks.push(check("memberRemovals", {
    count: plan.summary.remove,
    base: plan.summary.orgMembers,
    max: limits.maxRemovals,
    percent: limits.maxRemovalsPercent,
    allowance: allowances.removals,
    unknown: plan.removalsUnknown,
    names: ["sync.maxRemovals", "sync.maxRemovalsPercent", "--allow-removals"],
    items: plan.remove.map((r) => ({
      subject: `${r.email ?? "(no email)"} (externalId ${r.externalId ?? "none"})`,
      detail: removalWhy(r, input.data),
    })),
  }));

  let membershipRemovals = 0;
  const membershipItems: GuardItem[] = [];
  const deletions: GuardItem[] = [];
  const base = previous === null ? { groups: 0, memberships: 0 } : snapshotCounts(previous);
  if (previous !== null) {
    const groups = [...previous.groups.values()].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : a.externalId < b.externalId ? -1 : 1
    );
    for (const before of groups) {
      const now = sent.groups.get(before.externalId);
      if (now === undefined) {
        if (input.fullRead && input.syncing.groups) {
          deletions.push({
            subject: `group "${before.name}" (externalId ${before.externalId})`,
            detail:
              `no longer in the directory (the last sync sent it with ${before.members.length} members)`,
          });
        }
        continue;
      }
      const missing = missingCount(before.members, now.members);
      if (missing === 0) continue;
      membershipRemovals += missing;
      membershipItems.push({
        subject: `group "${now.name}" (externalId ${now.externalId})`,
        detail:
          `${missing} of ${before.members.length} members taken out (${now.members.length} left)`,
      });
    }
  }
  checks.push(check("membershipRemovals", {
    count: membershipRemovals,
    base: base.memberships,
    max: limits.maxMembershipRemovals,
    percent: limits.maxMembershipRemovalsPercent,
    allowance: allowances.membershipRemovals,
    names: [
      "sync.maxMembershipRemovals",
      "sync.maxMembershipRemovalsPercent",
      "--allow-membership-removals",
    ],
    items: membershipItems,
  }));
  checks.push(check("groupDeletions", {
    count: deletions.length,
    base: base.groups,
    max: limits.maxGroupDeletions,
    percent: limits.maxGroupDeletionsPercent,
    allowance: allowances.groupDeletions,
    names: ["sync.maxGroupDeletions", "sync.maxGroupDeletionsPercent", "--allow-group-deletions"],
    items: deletions,
  }));

  const last = input.lastFullRead;
  for (const which of ["users", "groups"] as const) {
    const before = last?.[which] ?? 0;
    const measured = input.fullRead && input.syncing[which] && last !== undefined;
    const shrink = measured ? Math.max(0, before - input.read[which]) : 0;
    checks.push(check(which === "users" ? "userShrink" : "groupShrink", {
      count: shrink,
      base: measured ? before : 0,
      max: limits.maxShrink,
      percent: limits.maxShrinkPercent,
      allowance: allowances.shrink,
      names: ["sync.maxShrink", "sync.maxShrinkPercent", "--allow-shrink"],
      items: shrink === 0 ? [] : [{
        subject: which,
        detail: `${input.read[which]} read, ${before} in the last complete read`,
      }],
    }));
  }
  return { allowed: checks.every((c) => c.allowed), checks };
}

const WHAT: Record<GuardKind, (n: number) => string> = {
  memberRemovals: (n) => `remove ${n} ${n === 1 ? "member" : "members"}`,
  membershipRemovals: (n) =>
    `take ${n} ${n === 1 ? "member" : "members"} out of groups (group memberships)`,
  groupDeletions: (n) =>
    `stop syncing ${n} ${n === 1 ? "group" : "groups"} the directory no longer lists`,
  userShrink: (n) => `follow a directory read with ${n} fewer ${n === 1 ? "user" : "users"}`,
  groupShrink: (n) => `follow a directory read with ${n} fewer ${n === 1 ? "group" : "groups"}`,
};

const BASE: Record<GuardKind, string> = {
  memberRemovals: "members",
  membershipRemovals: "memberships the last sync sent",
  groupDeletions: "groups the last sync sent",
  userShrink: "users in the last complete read",
  groupShrink: "groups in the last complete read",
};

/** The deletion guard's refusal, naming every change it stopped. */
export function guardError(
  plan: Plan,
  verdict: GuardVerdict,
  options: { limits: GuardLimits },
): RemovalGuardError {
  const refused = verdict.checks.filter((c) => !c.allowed);
  const why = refused.map((c) => refusalText(c, options.limits, plan.orgView)).join("; ");
  const listed = refused.flatMap((c) => c.items.map((i) => `\n  - ${i.subject}: ${i.detail}`))
    .join("");
  const flags = new Map<string, number>();
  for (const c of refused) flags.set(c.flag, Math.max(flags.get(c.flag) ?? 0, c.count));
  const command = [...flags].map(([flag, n]) => `${flag} ${n}`).join(" ");
  const settings = [...new Set(refused.flatMap((c) => [c.setting, c.percentSetting]))];
  const viewNote = plan.orgView
    ? ""
    : " Without an organization view (Vaultwarden), every deleted entry sent counts as a removal.";
  const members = verdict.checks.find((c) => c.kind === "memberRemovals");
  const only = refused.length === 1 && refused[0]?.kind === "memberRemovals";
  return new RemovalGuardError(`Deletion guard refused the sync: ${why}${listed}`, {
    hint: `Nothing was sent. If ${
      only ? "these removals are" : "these changes are"
    } intended, run roster sync ${command} once; or raise ${
      settings.join(" or ")
    } (a count setting of 0 turns its check off).${viewNote}`,
    details: {
      removals: plan.remove.map((r) => ({
        email: r.email,
        externalId: r.externalId,
        reason: r.reason,
      })),
      count: members?.count ?? 0,
      limit: members?.limit ?? 0,
      allowRemovals: members?.allowance ?? null,
      removalsUnknown: members?.unknown ?? false,
      checks: verdict.checks.map((c) => ({
        kind: c.kind,
        count: c.count,
        limit: c.limit,
        base: c.base,
        allowance: c.allowance,
        allowed: c.allowed,
        items: c.items,
      })),
    },
  });
}

/** One refused check in words, naming its settings and their values. */
export function refusalText(c: GuardCheck, limits: GuardLimits, orgView: boolean): string {
  if (c.unknown && c.allowance === null) {
    return orgView
      ? "the number of members it would remove cannot be known"
      : "sync.overwriteExisting is on and the server has no organization view (Vaultwarden), so the number of members it would remove cannot be known";
  }
  if (c.allowance !== null) {
    return `it would ${WHAT[c.kind](c.count)}, more than the ${c.allowance} allowed by ${c.flag}`;
  }
  const key = (name: string) => name.slice("sync.".length);
  const value = (name: string): number => {
    const k = key(name);
    for (const [field, v] of Object.entries(limits)) if (field === k) return v;
    return 0;
  };
  return `it would ${WHAT[c.kind](c.count)}, more than the limit of ${c.limit} (${c.setting} ${
    value(c.setting)
  }, or ${c.percentSetting} ${value(c.percentSetting)}% of ${c.base} ${BASE[c.kind]})`;
}

/**
 * The member-removal check alone (`sync.maxRemovals`, `sync.maxRemovalsPercent`): what
 * {@link checkGuard} runs first.
 */
export interface RemovalGuardOptions {
  /** Removals always allowed; `0` disables the check. */
  maxRemovals: number;
  /** Percentage of the organization's current members that may be removed. */
  maxRemovalsPercent: number;
  /** An explicit allowance (`--allow-removals N`): at most N removals go through. */
  allowRemovals?: number | undefined;
}

/** The member-removal check's verdict. */
export interface RemovalGuardResult {
  /** Whether the removals may go ahead. */
  allowed: boolean;
  /** `max(maxRemovals, floor(orgMembers * maxRemovalsPercent / 100))`. */
  limit: number;
  /** Every removal the plan contains, however caused. */
  removals: number;
  /** The plan cannot count its removals (overwriteExisting without an organization view). */
  removalsUnknown: boolean;
}

/**
 * The member-removal check: allows the plan's removals up to the limit, or up to an explicit
 * `allowRemovals`. `maxRemovals: 0` disables it. A plan whose removals cannot be counted
 * (overwriteExisting without an org view) is refused unless `allowRemovals` is given.
 */
export function checkRemovalGuard(plan: Plan, options: RemovalGuardOptions): RemovalGuardResult {
  const c = check("memberRemovals", {
    count: plan.summary.remove,
    base: plan.summary.orgMembers,
    max: options.maxRemovals,
    percent: options.maxRemovalsPercent,
    allowance: options.allowRemovals,
    unknown: plan.removalsUnknown,
    names: ["sync.maxRemovals", "sync.maxRemovalsPercent", "--allow-removals"],
    items: [],
  });
  return {
    allowed: c.allowed,
    limit: c.limit,
    removals: c.count,
    removalsUnknown: plan.removalsUnknown,
  };
}
