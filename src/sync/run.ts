/**
 * One sync, start to finish, with every safety check between the directory and the server:
 *
 * 1. read the directory: incremental since the last sync unless forced, overwriting, or first;
 *    a partial read is a `SourceIncompleteError` from the provider;
 * 2. the source-health gate: a full read that finds nothing where the last one found many;
 * 3. build the requests (the engine), refuse what the server would refuse (`preflight`, the
 *    rules of `src/engine/import_rules.ts`);
 * 4. the change hash: unchanged and the member list has not drifted → nothing is sent;
 * 5. {@link planStep}, shared with `plan`: plan against the organization (or the requests alone
 *    on Vaultwarden) and run the deletion guard (`src/engine/guard.ts`) against the state
 *    store's record of what the last sync sent and the last complete read;
 * 6. send the batches one by one (checking the lock, and that no SIGINT/SIGTERM arrived, before
 *    each); record the hash, the sync times and what was sent only when all succeeded.
 *
 * Commands (`sync`, `daemon`, `plan`) wire this to the CLI; this module prints nothing itself
 * except log lines.
 * @module
 */

import type { BitwardenClient } from "../bitwarden/client.ts";
import { isBitwardenCloud } from "../bitwarden/urls.ts";
import type { Config } from "../config/schema.ts";
import {
  buildImportRequests,
  changeHash,
  checkGuard,
  type GuardAllowances,
  guardError,
  type GuardLimits,
  type GuardVerdict,
  type ImportOptions,
  type ImportRequest,
  mergeSnapshot,
  type OrgView,
  type Plan,
  type PlanSummary,
  planSync,
  preflight,
  type Refusal,
  type SentSnapshot,
  snapshotOfRequests,
  type SyncData,
} from "../engine/mod.ts";
import { ConfigError, DirectoryDataError, errorMessage, ExitCode, RosterError } from "../errors.ts";
import type { Logger } from "../output/log.ts";
import { plural } from "../output/render.ts";

/** The log lines a sync writes (a {@link Logger}, or one that routes them elsewhere). */
export type SyncLog = Pick<Logger, "debug" | "info" | "warn" | "error">;
import type { Counts, RunOutcome, RunRecord, StateStore } from "../state/store.ts";
import { checkReadNotices, checkSourceHealth } from "./health.ts";
import { describeDrift, detectDrift, type Drift, orgFingerprint } from "./drift.ts";
import type { HeldLock } from "./lock.ts";
import type { ReadResult } from "./read.ts";

/** The engine's request options from the `sync.*` settings. */
export function importOptions(config: Config): ImportOptions {
  return {
    overwriteExisting: config.sync.overwriteExisting,
    largeImport: config.sync.largeImport,
    removeDisabled: config.sync.removeDisabled,
    inviteUsersAfterProvisioning: config.sync.inviteUsersAfterProvisioning,
  };
}

export { preflight, type Refusal, removalWhy } from "../engine/mod.ts";

/** Throws the error for preflight refusals (nothing is sent). */
export function refusalError(refusals: readonly Refusal[]): RosterError {
  const lines = refusals.map((r) => `\n  - ${r.message}`).join("");
  const tooMany = refusals.some((r) =>
    r.code === "too_many_members" || r.code === "too_many_groups"
  );
  if (tooMany) {
    return new ConfigError(`Cannot sync: Bitwarden would refuse the import${lines}`, {
      hint:
        "Nothing was sent. Set sync.largeImport to true (roster config set sync.largeImport true)",
      details: { refusals },
    });
  }
  return new DirectoryDataError(`Cannot sync: Bitwarden would refuse the import${lines}`, {
    code: "import_invalid",
    hint:
      "Nothing was sent. Shorten the names or ids in the directory, or leave those objects out with sync.userFilter/sync.groupFilter",
    details: { refusals },
  });
}

/** The deletion guard's limits from the `sync.*` settings. */
export function guardLimits(config: Config): GuardLimits {
  const s = config.sync;
  return {
    maxRemovals: s.maxRemovals,
    maxRemovalsPercent: s.maxRemovalsPercent,
    maxMembershipRemovals: s.maxMembershipRemovals,
    maxMembershipRemovalsPercent: s.maxMembershipRemovalsPercent,
    maxGroupDeletions: s.maxGroupDeletions,
    maxGroupDeletionsPercent: s.maxGroupDeletionsPercent,
    maxShrink: s.maxShrink,
    maxShrinkPercent: s.maxShrinkPercent,
  };
}

/**
 * Vaultwarden needs an email on every member, removed ones included: without an organization
 * view, drops deleted members that have no email. Returns the kept requests and the dropped
 * members; requests left with nothing to do are dropped too.
 */
export function dropEmaillessRemovals(
  requests: readonly ImportRequest[],
): { requests: ImportRequest[]; dropped: { externalId: string }[] } {
  const dropped: { externalId: string }[] = [];
  const kept: ImportRequest[] = [];
  for (const request of requests) {
    const members = request.members.filter((m) => {
      if (m.deleted && (m.email === null || m.email.trim() === "")) {
        dropped.push({ externalId: m.externalId });
        return false;
      }
      return true;
    });
    if (members.length === 0 && request.groups.length === 0 && !request.overwriteExisting) continue;
    kept.push(members.length === request.members.length ? request : { ...request, members });
  }
  return { requests: kept, dropped };
}

/** The `--allow-*` flags of a run as the guard's allowances. */
export function allowancesOf(options: {
  allowRemovals?: number | undefined;
  allowMembershipRemovals?: number | undefined;
  allowGroupDeletions?: number | undefined;
  allowShrink?: number | undefined;
}): GuardAllowances {
  return {
    removals: options.allowRemovals,
    membershipRemovals: options.allowMembershipRemovals,
    groupDeletions: options.allowGroupDeletions,
    shrink: options.allowShrink,
  };
}

/** What {@link planStep} needs. */
export interface PlanStepInput {
  config: Config;
  /** Read for what the last sync sent and the last complete read's counts; not written. */
  store: StateStore;
  /** The requests the engine built. */
  requests: ImportRequest[];
  /** The organization as read, or null without a read API (Vaultwarden). */
  org: OrgView | null;
  /** The directory read's counts and mode. */
  read: { counts: Counts; incremental: boolean };
  /** The directory data, for the guard's listing. */
  data: SyncData;
  /** The `--allow-*` flags. */
  allowances: GuardAllowances;
}

/** What {@link planStep} decides. */
export interface PlanStepResult {
  /** The requests a sync sends (Vaultwarden: without removals that have no email). */
  toSend: ImportRequest[];
  /** The plan of `toSend` against `org`. */
  plan: Plan;
  /** The deletion guard's verdict: a sync throws {@link guardError} when not allowed. */
  verdict: GuardVerdict;
  /** The groups `toSend` sends, for the record kept after a successful sync. */
  sent: SentSnapshot;
  /** What roster wants the user to know (removals it will not send). */
  notices: string[];
}

/**
 * The plan step `plan` and `sync` share: drops what Vaultwarden cannot take, plans the
 * requests against the organization, and runs the deletion guard against the state store's
 * record of the last sync, so both commands give the same verdict on the same directory.
 */
export async function planStep(input: PlanStepInput): Promise<PlanStepResult> {
  const { config, store, requests, org } = input;
  const notices: string[] = [];
  let toSend = requests;
  if (org === null) {
    const { requests: kept, dropped } = dropEmaillessRemovals(requests);
    if (dropped.length > 0) {
      notices.push(
        `Not sending ${
          plural(dropped.length, "removal")
        } without an email (Vaultwarden needs one to find the member): ${
          dropped.map((d) => d.externalId).sort().join(", ")
        }`,
      );
    }
    toSend = kept;
  }
  const plan = planSync(toSend, org);
  const sent = snapshotOfRequests(toSend);
  const verdict = checkGuard(
    {
      plan,
      sent,
      previous: await store.getSentSnapshot(),
      fullRead: !input.read.incremental,
      read: input.read.counts,
      lastFullRead: await store.getLastFullRead(),
      syncing: { users: config.sync.users, groups: config.sync.groups },
      data: input.data,
    },
    guardLimits(config),
    input.allowances,
  );
  return { toSend, plan, verdict, sent, notices };
}

/** One request as sent. */
export interface BatchResult {
  /** Members listed (deleted ones included). */
  members: number;
  /** Members listed as deleted. */
  deleted: number;
  groups: number;
  /** `accepted` (2xx), `failed`, or `not-sent` after an earlier failure. */
  status: "accepted" | "failed" | "not-sent";
}

/** What a sync run did. */
export interface SyncResult {
  outcome: "synced" | "no-change";
  /** Why nothing was sent, or what was sent, in words. */
  reason: string;
  read: Counts & { mode: "full" | "incremental" };
  /** Requests the engine built. */
  requests: number;
  sent: SentCounts;
  /** The plan the guard ran on; null when nothing was planned (no change). */
  plan: Plan | null;
  /** The guard's verdict; null when nothing was planned. */
  guard: GuardVerdict | null;
  /** The drift found behind an unchanged hash; null when not checked. */
  drift: Drift | null;
  /** Whether the organization could be read. Null when it was not needed. */
  orgView: boolean | null;
  /** Warnings (also logged). */
  warnings: string[];
}

/** Counts of what was sent. */
export interface SentCounts {
  requests: number;
  members: number;
  deleted: number;
  groups: number;
  batches: BatchResult[];
}

/** What a run got to before it ended, for the run record of a failed run. */
export interface SyncProgress {
  read?: Counts & { mode: "full" | "incremental" };
  requests?: number;
  batches?: BatchResult[];
}

/** Everything {@link syncOnce} uses. */
export interface SyncEnv {
  config: Config;
  store: StateStore;
  client: BitwardenClient;
  log: SyncLog;
  now: () => Date;
  /** Reads the directory. */
  read: (incremental: boolean) => Promise<ReadResult>;
  /** Runs the engine on what was read. */
  build: (read: ReadResult) => SyncData;
  /** The held run lock, checked before each batch. */
  lock?: HeldLock;
}

/** Options of {@link syncOnce} (the command-line flags). */
export interface SyncOptions {
  /** `--force`: full read, and send even when the hash is unchanged. */
  force: boolean;
  /** Read the whole directory, without `--force`'s resend (set internally, see `syncOnce`). */
  fullRead?: boolean;
  /** `--allow-removals N`: member removals allowed for this run. */
  allowRemovals: number | undefined;
  /** `--allow-membership-removals N`: group membership removals allowed for this run. */
  allowMembershipRemovals?: number | undefined;
  /** `--allow-group-deletions N`: groups gone from the directory allowed for this run. */
  allowGroupDeletions?: number | undefined;
  /** `--allow-shrink N`: users (groups) fewer than the last complete read allowed. */
  allowShrink?: number | undefined;
  /** `--allow-empty`. */
  allowEmpty: boolean;
}

function emptySent(): SentCounts {
  return { requests: 0, members: 0, deleted: 0, groups: 0, batches: [] };
}

/**
 * The warning for the users the server skips (an email that belongs to a member linked to another
 * externalId, e.g. after switching directory sources, or that differs only in letter case): what
 * happens to them and what to do.
 */
export function skippedWarning(plan: Plan): string {
  const shown = plan.skipped.slice(0, 5).map((s) => s.email).join(", ");
  const more = plan.skipped.length > 5 ? ` and ${plan.skipped.length - 5} more` : "";
  return `The server skips ${
    plural(plan.skipped.length, "user")
  } whose email belongs to a member ` +
    `linked to another externalId (e.g. after switching directory sources) or differs only in ` +
    `letter case: ${shown}${more}. They keep their old externalId link and get no group ` +
    `memberships from this sync. To link them to this directory, unlink them in the admin ` +
    `console, or run one sync with sync.overwriteExisting true; roster plan lists each with its reason`;
}

/** One line of a plan summary's member and group changes. */
export function planLine(summary: PlanSummary, orgView: boolean): string {
  if (!orgView) {
    return `${plural(summary.upsert, "member")} to add or update, ${
      plural(summary.remove, "removal")
    }, ${plural(summary.groupsUpsert, "group")} to create or update (no organization view)`;
  }
  const members =
    `${summary.invite} to invite, ${summary.link} to link, ${summary.remove} to remove, ${summary.unchanged} unchanged, ${summary.skipped} skipped by the server`;
  if (summary.groupsUpsert > 0) {
    return `${members}; groups: ${summary.groupsCreate} to create, ${summary.groupsRename} to rename, ${
      summary.groupsUpdate + summary.groupsUpsert
    } to update (memberships set as the directory lists them)`;
  }
  return `${members}; groups: ${summary.groupsCreate} to create, ${summary.groupsRename} to rename, ${summary.groupsUpdate} to update (${summary.membershipAdds} memberships added, ${summary.membershipRemoves} removed)`;
}

/**
 * Runs one sync (see the module documentation). Records the hash, the sync times, the provider
 * state and the full-read counts only when the run succeeded.
 *
 * @throws {SourceIncompleteError} partial or suspicious read (nothing sent).
 * @throws {RemovalGuardError} too many removals (nothing sent).
 * @throws the client's errors when sending fails; earlier batches stay applied.
 */
export async function syncOnce(
  env: SyncEnv,
  options: SyncOptions,
  progress: SyncProgress = {},
): Promise<SyncResult> {
  const { config, store, client, log } = env;
  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(message);
    log.warn(message);
  };

  // 1. Read.
  const times = await store.getSyncTimes();
  const hasPrevious = times.users !== undefined || times.groups !== undefined;
  const incremental = !options.force && options.fullRead !== true &&
    !config.sync.overwriteExisting && hasPrevious;
  const readAt = env.now();
  const read = await env.read(incremental);
  const mode = read.incremental ? "incremental" : "full";
  const readCounts = { users: read.counts.users, groups: read.counts.groups, mode } as const;
  progress.read = readCounts;
  log.info(
    `Read ${plural(read.counts.users, "user")} and ${
      plural(read.counts.groups, "group")
    } from the directory (${mode} read)`,
  );

  // 2. Source health.
  const previous = await store.getLastFullRead();
  checkSourceHealth(read.counts, previous, {
    incremental: read.incremental,
    read: { users: config.sync.users || config.sync.groups, groups: config.sync.groups },
    allowEmpty: options.allowEmpty,
  });

  // 3. Requests.
  const data = env.build(read);
  const requests = buildImportRequests(data, importOptions(config));
  progress.requests = requests.length;
  const refusals = preflight(requests, { cloud: isBitwardenCloud(client.urls) });
  if (refusals.length > 0) throw refusalError(refusals);

  const succeed = async (hash: string | null, sentGroups: SentSnapshot | null): Promise<void> => {
    if (sentGroups !== null) {
      const previousGroups = await store.getSentSnapshot();
      await store.setSentSnapshot(
        mergeSnapshot(previousGroups, sentGroups, { fullRead: !read.incremental }),
      );
    }
    if (hash !== null) await store.setLastSyncHash(hash);
    await store.setSyncTimes({
      ...(config.sync.users ? { users: readAt } : {}),
      ...(config.sync.groups ? { groups: readAt } : {}),
    });
    await store.setProviderState(read.state);
    if (!read.incremental) {
      await store.setLastFullRead({
        users: read.counts.users,
        groups: read.counts.groups,
        at: readAt.toISOString(),
      });
    }
  };
  const noChange = async (
    reason: string,
    extra: Partial<SyncResult> = {},
    sentGroups: SentSnapshot | null = null,
  ) => {
    await succeed(null, sentGroups);
    return {
      outcome: "no-change" as const,
      reason,
      read: readCounts,
      requests: requests.length,
      sent: emptySent(),
      plan: null,
      guard: null,
      drift: null,
      orgView: null,
      warnings,
      ...extra,
    };
  };

  if (requests.length === 0 && read.incremental) {
    // The directory did not change. The organization may have: compare its linked members
    // with the fingerprint taken after the last sync, and check for drift on a full read when
    // they differ.
    const members = await client.listMembers();
    if (members !== null) {
      const fingerprint = orgFingerprint(members);
      const stored = await store.getOrgFingerprint();
      if (stored !== undefined && stored !== fingerprint) {
        log.info(
          "The directory is unchanged since the last sync, but the organization's linked members changed: reading the whole directory to check for drift",
        );
        return await syncOnce(env, { ...options, fullRead: true }, progress);
      }
      if (stored === undefined) await store.setOrgFingerprint(fingerprint);
    }
    return await noChange(
      "unchanged since the last sync: the directory reports no change, and the organization's linked members are as the last sync left them",
    );
  }
  if (requests.length === 0) {
    return await noChange("nothing to send: the directory read found no users or groups to sync");
  }

  // 4. Hash and drift.
  const hash = changeHash(requests, { apiUrl: client.urls.api, orgId: client.organizationId });
  const stored = await store.getLastSyncHash();
  const hashUnchanged = stored !== undefined &&
    (stored === hash.hash || stored === hash.legacyHash);
  let drift: Drift | null = null;
  // What an unchanged hash sent last time: recorded for the guard when no record exists yet
  // (the first run after an upgrade), so that the next change is measured against it.
  const unchangedGroups = hashUnchanged && !(await store.hasSentSnapshot())
    ? snapshotOfRequests(requests)
    : null;
  if (hashUnchanged && !options.force) {
    const members = await client.listMembers();
    if (members === null) {
      log.debug(
        "The server has no member list (Vaultwarden): relying on the change hash alone; roster sync --force resends",
      );
      return await noChange(
        "unchanged since the last sync (change hash; the server has no member list to check for drift)",
        { orgView: false },
        unchangedGroups,
      );
    }
    drift = detectDrift(requests, members);
    if (!drift.drifted) {
      await store.setOrgFingerprint(orgFingerprint(members));
      return await noChange(
        "unchanged since the last sync, and the organization's members have not drifted",
        { drift, orgView: true },
        unchangedGroups,
      );
    }
    log.info(
      `The directory is unchanged, but the organization drifted since the last sync: ${
        describeDrift(drift)
      }; resending`,
    );
  } else if (hashUnchanged) {
    log.info("The directory is unchanged since the last sync; --force resends it anyway");
  }

  // 5. Plan and guard.
  // Members and the group list only: reading each group's members (one GET per group, 180 a
  // minute on the cloud) would take minutes on large organizations; the guard counts
  // membership removals against what the last sync sent. `roster plan` reads them all.
  const org: OrgView | null = await client.readOrganization({ memberships: false });
  if (org === null) {
    log.info(
      "The server has no organization read API (Vaultwarden): planning from the requests alone",
    );
  }
  const step = await planStep({
    config,
    store,
    requests,
    org,
    read: { counts: read.counts, incremental: read.incremental },
    data,
    allowances: allowancesOf(options),
  });
  const { plan, toSend } = step;
  for (const notice of step.notices) warn(notice);
  for (const warning of plan.warnings) {
    if (org === null && warning.startsWith("No organization view")) continue;
    warn(warning);
  }
  if (plan.skipped.length > 0) warn(skippedWarning(plan));
  if (plan.protectedOwners.length > 0) {
    warn(
      `Owners are never removed by the import: ${
        plan.protectedOwners.map((o) => o.email ?? o.externalId ?? "?").join(", ")
      } stay`,
    );
  }
  checkReadNotices(read.notices, {
    removals: plan.summary.remove +
      (org === null
        ? toSend.reduce((n, r) => n + r.members.filter((m) => m.deleted).length, 0)
        : 0),
  });
  const guard = step.verdict;
  if (!guard.allowed) throw guardError(plan, guard, { limits: guardLimits(config) });
  log.debug(`Plan: ${planLine(plan.summary, plan.orgView)}`);

  // 6. Send.
  const sent = emptySent();
  const batches: BatchResult[] = toSend.map((r) => ({
    members: r.members.length,
    deleted: r.members.filter((m) => m.deleted).length,
    groups: r.groups.length,
    status: "not-sent",
  }));
  progress.batches = batches;
  sent.batches = batches;
  for (const [index, request] of toSend.entries()) {
    const batch = batches[index];
    if (batch === undefined) continue;
    env.lock?.check();
    log.info(
      `Sending request ${index + 1} of ${toSend.length}: ${
        plural(batch.members, "member")
      } (${batch.deleted} deleted), ${plural(batch.groups, "group")}`,
    );
    try {
      await client.importOrganization(request);
    } catch (error) {
      batch.status = "failed";
      throw batchError(error, index, toSend.length);
    }
    batch.status = "accepted";
    sent.requests++;
    sent.members += batch.members;
    sent.deleted += batch.deleted;
    sent.groups += batch.groups;
  }
  await succeed(hash.hash, step.sent);
  const after = await client.listMembers().catch((error: unknown) => {
    log.debug(`Cannot read the member list after the sync: ${errorMessage(error)}`);
    return null;
  });
  if (after !== null) await store.setOrgFingerprint(orgFingerprint(after));
  return {
    outcome: "synced",
    reason: drift !== null
      ? `resent: the organization drifted (${describeDrift(drift)})`
      : hashUnchanged
      ? "resent (--force)"
      : "the directory changed since the last sync",
    read: readCounts,
    requests: requests.length,
    sent,
    plan,
    guard,
    drift,
    orgView: org !== null,
    warnings,
  };
}

/** Says which batches were applied when one of several fails. */
function batchError(error: unknown, index: number, total: number): unknown {
  if (total <= 1 || !(error instanceof RosterError)) return error;
  const applied = index === 0
    ? "no earlier request was applied"
    : index === 1
    ? "request 1 was applied"
    : `requests 1 to ${index} were applied`;
  return new RosterError(
    error.code,
    error.exitCode,
    `Import request ${index + 1} of ${total} failed (${applied}): ${error.message}`,
    {
      hint: `${
        error.hint === undefined ? "" : `${error.hint}. `
      }The import is not atomic: the requests before it stay applied and this one may be partly applied. Nothing was recorded as synced, so the next sync sends everything again and converges`,
      cause: error,
      details: { ...(error.details ?? {}), batches: { total, applied: index, failed: index + 1 } },
    },
  );
}

/** A run record with what `sync` and `plan` add to it. */
export interface SyncRunRecord extends RunRecord {
  /** How the directory was read. */
  readMode?: "full" | "incremental";
  /** Requests the engine built. */
  requests?: number;
  /** Each request sent, with the server's answer. */
  batches?: BatchResult[];
  /** The server's answer or why nothing was sent, in words. */
  answer?: string;
  /** The plan's counts (plan, and sync runs that planned). */
  plan?: PlanSummary;
}

/** The run outcome recorded for an error: `refused` for the safety stops, else `error`. */
export function outcomeOfError(error: unknown): RunOutcome {
  if (
    error instanceof RosterError &&
    (error.exitCode === ExitCode.RemovalGuard || error.exitCode === ExitCode.SourceIncomplete)
  ) {
    return "refused";
  }
  return "error";
}
