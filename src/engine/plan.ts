/**
 * The planner: what the import requests would change in the organization.
 *
 * It replays the Bitwarden server's import rules request by request (in the server's order:
 * remove members listed as deleted, remove unlisted linked members with `overwriteExisting`,
 * link unlinked members by email, add the rest, then create, rename and refill groups by
 * externalId) against a view of the organization read through the public API
 * (`GET /public/members`, `/public/groups`, `/public/groups/{id}/member-ids`). Without a view
 * (Vaultwarden has no read API) it describes the requests alone. The deletion guard that judges
 * a plan is `guard.ts`. Pure: the caller reads the organization.
 * @module
 */

import { compareKeys } from "./sort.ts";
import type { ImportRequest } from "./types.ts";

/** A member as `GET /public/members` returns it. */
export interface OrgMember {
  /** The organization-membership id. */
  id: string;
  /** Account email, or the invite email. */
  email: string;
  /** Null (or blank) when the member is not linked to the directory. */
  externalId: string | null;
  /** Revoked -1, Invited 0, Accepted 1, Confirmed 2, Staged 3. */
  status: -1 | 0 | 1 | 2 | 3;
  /** Owner 0, Admin 1, User 2, Custom 4. */
  type: 0 | 1 | 2 | 4;
}

/** A group as `GET /public/groups` plus `/member-ids` return it. */
export interface OrgGroup {
  /** The group id. */
  id: string;
  /** Display name. */
  name: string;
  /** Null (or blank) for a group not managed by directory sync. */
  externalId: string | null;
  /**
   * Membership ids ({@link OrgMember.id}), or null when they were not read (a sync reads only
   * the group list: the deletion guard counts membership removals against what the last sync
   * sent, and one read per group is slow).
   */
  memberIds: string[] | null;
}

/** The organization as the planner sees it. */
export interface OrgView {
  /** Every membership, owners and revoked members included. */
  members: OrgMember[];
  /** Every group, with its member ids. */
  groups: OrgGroup[];
}

/** A member named in a plan. `id` is null for a member that does not exist yet (or unknown). */
export interface PlanMember {
  /** The organization-membership id. */
  id: string | null;
  /** The member's email (as stored, or as sent). */
  email: string | null;
  /** The member's externalId. */
  externalId: string | null;
}

/** Why a member is removed. */
export type RemovalReason =
  /** Listed with `deleted: true` (deleted, or disabled with `sync.removeDisabled`). */
  | "deleted"
  /** Linked, but not in the request while `sync.overwriteExisting` is on. */
  | "overwrite";

/** A member the import removes. */
export interface PlanRemoval extends PlanMember {
  /** Why it is removed. */
  reason: RemovalReason;
}

/** A member the server would silently not add. */
export interface PlanSkip {
  /** The email the request sends (lowercased). */
  email: string;
  /** The externalId the request sends. */
  externalId: string;
  /** The organization member that already has this email. */
  existing: PlanMember;
  /** Why, in words an admin understands. */
  reason: string;
}

/** What happens to a group. */
export type PlanGroupAction =
  /** A new group. */
  | "create"
  /** The name changes (membership may change too). */
  | "rename"
  /** Only the membership changes. */
  | "update"
  /** No organization view: the group is created or updated, membership replaced. */
  | "upsert";

/** A group the import changes. */
export interface PlanGroup {
  /** Null for a new group or without an organization view. */
  id: string | null;
  /** Matched by externalId (ordinal). */
  externalId: string;
  /** The name after the import. */
  name: string;
  /** What happens to it. */
  action: PlanGroupAction;
  /** The current name when the group is renamed, else null. */
  previousName: string | null;
  /** Members added to the group (without an org view: every listed member). */
  add: PlanMember[];
  /** Members taken out of the group (they stay in the organization). */
  remove: PlanMember[];
}

/** Counts of a {@link Plan}. */
export interface PlanSummary {
  /** Members in the organization view (0 without one). */
  orgMembers: number;
  /** New members. */
  invite: number;
  /** Unlinked members that get linked. */
  link: number;
  /** Every removal however caused (for the removal guard). */
  remove: number;
  /** Linked members left as they are. */
  unchanged: number;
  /** Non-deleted members sent without an organization view. */
  upsert: number;
  /** Members the server silently skips. */
  skipped: number;
  /** Owners the import would remove but never does. */
  protectedOwners: number;
  /** New groups. */
  groupsCreate: number;
  /** Renamed groups. */
  groupsRename: number;
  /** Groups whose membership changes. */
  groupsUpdate: number;
  /** Groups sent without an organization view. */
  groupsUpsert: number;
  /** Groups sent that would not change. */
  groupsUnchanged: number;
  /** Members added to groups. */
  membershipAdds: number;
  /** Members taken out of groups. */
  membershipRemoves: number;
  /** Everything that would change (0 means the organization is in sync). */
  changes: number;
}

/** What a sync would do. Every list is sorted by email (or name), then externalId. */
export interface Plan {
  /** Whether the plan was made against an organization view. */
  orgView: boolean;
  /** New members invited (or staged). */
  invite: PlanMember[];
  /** Unlinked members that get the directory's externalId (matched by email). */
  link: PlanMember[];
  /** Members removed from the organization. */
  remove: PlanRemoval[];
  /** Linked members the import leaves as they are. */
  unchanged: PlanMember[];
  /** Without an org view: the non-deleted members sent (invited, linked or unchanged). */
  upsert: PlanMember[];
  /** Members the server silently skips; their group memberships are dropped. */
  skipped: PlanSkip[];
  /** Owners the import would remove, but never does. */
  protectedOwners: PlanRemoval[];
  /** Groups created, renamed or with changed membership. */
  groups: PlanGroup[];
  /**
   * True when `overwriteExisting` is sent without an organization view: the server removes
   * every linked member the request does not list, and how many that is cannot be known.
   */
  removalsUnknown: boolean;
  /** Problems in the organization or the plan, in words. */
  warnings: string[];
  /** Counts of every list. */
  summary: PlanSummary;
}

interface SimMember {
  id: string | null;
  email: string;
  externalId: string | null;
  type: number;
  status: number;
}

interface SimGroup {
  id: string | null;
  name: string;
  /** Null when the organization's membership of the group was not read. */
  members: Set<SimMember> | null;
}

interface GroupChange {
  id: string | null;
  externalId: string;
  name: string;
  created: boolean;
  /** The group's current membership was not read: adds and removes are unknown. */
  membershipUnknown: boolean;
  previousName: string | null;
  add: Map<SimMember, true>;
  remove: Map<SimMember, true>;
}

function isBlank(value: string | null): boolean {
  return value === null || value.trim() === "";
}

function view(m: SimMember): PlanMember {
  return { id: m.id, email: m.email, externalId: m.externalId };
}

function byMember(a: PlanMember, b: PlanMember): number {
  return compareKeys([a.email, a.externalId, a.id], [b.email, b.externalId, b.id]);
}

function byGroup(a: PlanGroup, b: PlanGroup): number {
  return compareKeys([a.name, a.externalId], [b.name, b.externalId]);
}

class OrgState {
  readonly byExternalId = new Map<string, SimMember>();
  readonly byEmail = new Map<string, Set<SimMember>>();
  readonly groups = new Map<string, SimGroup>();
  readonly warnings: string[] = [];

  constructor(org: OrgView) {
    const byId = new Map<string, SimMember>();
    const duplicateIds = new Set<string>();
    for (const m of org.members) {
      const sim: SimMember = {
        id: m.id,
        email: m.email,
        externalId: isBlank(m.externalId) ? null : m.externalId,
        type: m.type,
        status: m.status,
      };
      byId.set(m.id, sim);
      if (sim.externalId !== null) {
        if (this.byExternalId.has(sim.externalId)) duplicateIds.add(sim.externalId);
        else this.byExternalId.set(sim.externalId, sim);
      }
      this.indexEmail(sim);
    }
    if (duplicateIds.size > 0) {
      this.warnings.push(
        `Several organization members share the externalId ${
          [...duplicateIds].sort().map((id) => JSON.stringify(id)).join(", ")
        }: Bitwarden fails every import of this organization with a server error until they are unlinked`,
      );
    }
    for (const g of org.groups) {
      if (isBlank(g.externalId) || g.externalId === null) continue;
      let members: Set<SimMember> | null = null;
      if (g.memberIds !== null) {
        members = new Set<SimMember>();
        for (const id of g.memberIds) {
          const m = byId.get(id);
          if (m !== undefined) members.add(m);
        }
      }
      this.groups.set(g.externalId, { id: g.id, name: g.name, members });
    }
  }

  indexEmail(m: SimMember): void {
    const key = m.email.toLowerCase();
    const set = this.byEmail.get(key);
    if (set === undefined) this.byEmail.set(key, new Set([m]));
    else set.add(m);
  }

  remove(m: SimMember): void {
    if (m.externalId !== null && this.byExternalId.get(m.externalId) === m) {
      this.byExternalId.delete(m.externalId);
    }
    this.byEmail.get(m.email.toLowerCase())?.delete(m);
    for (const g of this.groups.values()) g.members?.delete(m);
  }

  members(): SimMember[] {
    const all = new Set<SimMember>();
    for (const set of this.byEmail.values()) for (const m of set) all.add(m);
    return [...all];
  }
}

function emptySummary(orgMembers: number): PlanSummary {
  return {
    orgMembers,
    invite: 0,
    link: 0,
    remove: 0,
    unchanged: 0,
    upsert: 0,
    skipped: 0,
    protectedOwners: 0,
    groupsCreate: 0,
    groupsRename: 0,
    groupsUpdate: 0,
    groupsUpsert: 0,
    groupsUnchanged: 0,
    membershipAdds: 0,
    membershipRemoves: 0,
    changes: 0,
  };
}

function finish(plan: Omit<Plan, "summary">, orgMembers: number, unchangedGroups: number): Plan {
  plan.invite.sort(byMember);
  plan.link.sort(byMember);
  plan.remove.sort(byMember);
  plan.unchanged.sort(byMember);
  plan.upsert.sort(byMember);
  plan.skipped.sort((a, b) => compareKeys([a.email, a.externalId], [b.email, b.externalId]));
  plan.protectedOwners.sort(byMember);
  for (const g of plan.groups) {
    g.add.sort(byMember);
    g.remove.sort(byMember);
  }
  plan.groups.sort(byGroup);
  const summary = emptySummary(orgMembers);
  summary.invite = plan.invite.length;
  summary.link = plan.link.length;
  summary.remove = plan.remove.length;
  summary.unchanged = plan.unchanged.length;
  summary.upsert = plan.upsert.length;
  summary.skipped = plan.skipped.length;
  summary.protectedOwners = plan.protectedOwners.length;
  summary.groupsUnchanged = unchangedGroups;
  for (const g of plan.groups) {
    if (g.action === "create") summary.groupsCreate++;
    else if (g.action === "rename") summary.groupsRename++;
    else if (g.action === "update") summary.groupsUpdate++;
    else summary.groupsUpsert++;
    summary.membershipAdds += g.add.length;
    summary.membershipRemoves += g.remove.length;
  }
  summary.changes = summary.invite + summary.link + summary.remove + summary.upsert +
    plan.groups.length + summary.membershipAdds + summary.membershipRemoves;
  return { ...plan, summary };
}

function planWithoutView(requests: readonly ImportRequest[]): Plan {
  const emails = new Map<string, string | null>();
  for (const r of requests) {
    for (const m of r.members) {
      if (!m.deleted || !emails.has(m.externalId)) emails.set(m.externalId, m.email);
    }
  }
  const plan: Omit<Plan, "summary"> = {
    orgView: false,
    invite: [],
    link: [],
    remove: [],
    unchanged: [],
    upsert: [],
    skipped: [],
    protectedOwners: [],
    groups: [],
    removalsUnknown: requests.some((r) => r.overwriteExisting),
    warnings: [
      "No organization view (the server has no read API, e.g. Vaultwarden): the plan lists what is sent, not what changes",
    ],
  };
  for (const r of requests) {
    const present = new Set(r.members.filter((m) => !m.deleted).map((m) => m.externalId));
    for (const m of r.members) {
      const member = { id: null, email: m.email, externalId: m.externalId };
      if (!m.deleted) plan.upsert.push(member);
      else if (!present.has(m.externalId)) plan.remove.push({ ...member, reason: "deleted" });
    }
    for (const g of r.groups) {
      plan.groups.push({
        id: null,
        externalId: g.externalId,
        name: g.name,
        action: "upsert",
        previousName: null,
        add: [...new Set(g.memberExternalIds)].map((externalId) => ({
          id: null,
          email: emails.get(externalId) ?? null,
          externalId,
        })),
        remove: [],
      });
    }
  }
  if (plan.removalsUnknown) {
    plan.warnings.push(
      "sync.overwriteExisting is on: the server removes every linked member the request does not list, and without an organization view their number is unknown",
    );
  }
  return finish(plan, 0, 0);
}

/**
 * Plans a sync: replays the server's import rules for each request in order against the
 * organization view, or describes the requests alone when `org` is null (`orgView: false`,
 * deleted entries counted as potential removals).
 */
export function planSync(requests: ImportRequest[], org: OrgView | null): Plan {
  if (org === null) return planWithoutView(requests);
  const state = new OrgState(org);
  const invite: SimMember[] = [];
  const link: SimMember[] = [];
  const remove: PlanRemoval[] = [];
  const unchanged: SimMember[] = [];
  const skipped: PlanSkip[] = [];
  const protectedOwners: PlanRemoval[] = [];
  const changes = new Map<string, GroupChange>();
  const touchedGroups = new Set<string>();
  const warnings = [...state.warnings];
  const handled = new Set<SimMember>();

  const removeMember = (m: SimMember, reason: RemovalReason): void => {
    if (m.type === 0) {
      protectedOwners.push({ ...view(m), reason });
      return;
    }
    remove.push({ ...view(m), reason });
    state.remove(m);
  };

  for (const request of requests) {
    const active = request.members.filter((m) => !m.deleted && !isBlank(m.email));
    const activeIds = new Set(request.members.filter((m) => !m.deleted).map((m) => m.externalId));

    // 1. Members listed as deleted, matched by externalId only; owners are kept.
    for (const m of request.members) {
      if (!m.deleted || activeIds.has(m.externalId)) continue;
      const existing = state.byExternalId.get(m.externalId);
      if (existing !== undefined) removeMember(existing, "deleted");
    }

    // 2. overwriteExisting: every linked member the request does not list.
    if (request.overwriteExisting) {
      for (const existing of state.members()) {
        if (existing.externalId !== null && !activeIds.has(existing.externalId)) {
          removeMember(existing, "overwrite");
        }
      }
    }

    // 3. Link unlinked members whose stored email equals the (lowercased) imported email.
    for (const m of active) {
      const email = (m.email ?? "").toLowerCase();
      for (const existing of state.byEmail.get(email) ?? []) {
        if (existing.externalId !== null || existing.email !== email) continue;
        const holder = state.byExternalId.get(m.externalId);
        if (holder !== undefined && holder !== existing) {
          warnings.push(
            `Linking ${existing.email} would give it the externalId ${
              JSON.stringify(m.externalId)
            } that ${holder.email} already has: Bitwarden then fails every later import with a server error`,
          );
        }
        existing.externalId = m.externalId;
        if (holder === undefined) state.byExternalId.set(m.externalId, existing);
        link.push(existing);
        handled.add(existing);
      }
    }

    // 4. Add the members whose externalId is still unknown, unless their email is known.
    for (const m of active) {
      const existing = state.byExternalId.get(m.externalId);
      if (existing !== undefined) {
        if (!handled.has(existing)) {
          handled.add(existing);
          unchanged.push(existing);
        }
        continue;
      }
      const email = (m.email ?? "").toLowerCase();
      const known = [...(state.byEmail.get(email) ?? [])][0];
      if (known !== undefined) {
        skipped.push({
          email,
          externalId: m.externalId,
          existing: view(known),
          reason: known.externalId === null
            ? `an unlinked member has this email with different letter case (${known.email}): the server neither links nor invites it, and drops its group memberships`
            : `the email belongs to a member linked to externalId ${
              JSON.stringify(known.externalId)
            }: the server skips it, and drops its group memberships`,
        });
        continue;
      }
      const added: SimMember = {
        id: null,
        email,
        externalId: m.externalId,
        type: 2,
        status: request.inviteUsersAfterProvisioning ? 0 : 3,
      };
      state.byExternalId.set(m.externalId, added);
      state.indexEmail(added);
      invite.push(added);
      handled.add(added);
    }

    // 5. Groups, matched by externalId; membership replaced by the resolvable members.
    for (const g of request.groups) {
      touchedGroups.add(g.externalId);
      const desired = new Set<SimMember>();
      for (const id of g.memberExternalIds) {
        const m = state.byExternalId.get(id);
        if (m !== undefined) desired.add(m);
      }
      let group = state.groups.get(g.externalId);
      let change = changes.get(g.externalId);
      if (group === undefined) {
        group = { id: null, name: g.name, members: new Set() };
        state.groups.set(g.externalId, group);
        change = {
          id: null,
          externalId: g.externalId,
          name: g.name,
          created: true,
          membershipUnknown: false,
          previousName: null,
          add: new Map(),
          remove: new Map(),
        };
        changes.set(g.externalId, change);
      }
      if (change === undefined) {
        change = {
          id: group.id,
          externalId: g.externalId,
          name: group.name,
          created: false,
          membershipUnknown: group.members === null,
          previousName: null,
          add: new Map(),
          remove: new Map(),
        };
        changes.set(g.externalId, change);
      }
      if (group.name !== g.name) {
        if (!change.created && change.previousName === null) change.previousName = group.name;
        group.name = g.name;
      }
      change.name = g.name;
      if (group.members === null) {
        group.members = desired;
        continue;
      }
      for (const m of group.members) {
        if (desired.has(m)) continue;
        if (change.add.has(m)) change.add.delete(m);
        else change.remove.set(m, true);
      }
      for (const m of desired) {
        if (group.members.has(m)) continue;
        if (change.remove.has(m)) change.remove.delete(m);
        else change.add.set(m, true);
      }
      group.members = desired;
    }
  }

  const revoked = [...unchanged, ...link].filter((m) => m.status === -1).map((m) => m.email).sort();
  if (revoked.length > 0) {
    warnings.push(
      `${revoked.length} revoked ${
        revoked.length === 1 ? "member stays" : "members stay"
      } revoked (the import never restores): ${revoked.join(", ")}`,
    );
  }

  const groups: PlanGroup[] = [];
  let unchangedGroups = 0;
  for (const change of changes.values()) {
    const renamed = change.previousName !== null && change.previousName !== change.name;
    const membershipChanged = change.add.size + change.remove.size > 0;
    if (!change.created && !renamed && !membershipChanged && !change.membershipUnknown) {
      unchangedGroups++;
      continue;
    }
    const action: PlanGroupAction = change.created
      ? "create"
      : renamed
      ? "rename"
      : change.membershipUnknown
      ? "upsert"
      : "update";
    groups.push({
      id: change.id,
      externalId: change.externalId,
      name: change.name,
      action,
      previousName: renamed ? change.previousName : null,
      add: [...change.add.keys()].map(view),
      remove: [...change.remove.keys()].map(view),
    });
  }

  return finish(
    {
      orgView: true,
      invite: invite.map(view),
      link: link.map(view),
      remove,
      unchanged: unchanged.map(view),
      upsert: [],
      skipped,
      protectedOwners,
      groups,
      removalsUnknown: false,
      warnings,
    },
    org.members.length,
    unchangedGroups,
  );
}
