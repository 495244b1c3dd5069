/**
 * One sync, start to finish, with every safety check between the directory and the server:
 *
 * 1. read the directory: incremental since the last sync unless forced, overwriting, or first;
 *    a partial read is a `SourceIncompleteError` from the provider;
 * 2. the source-health gate: a full read that finds nothing where the last one found many;
 * 3. build the requests (the engine), refuse what the server would refuse (preflight);
 * 4. the change hash: unchanged and the member list has not drifted → nothing is sent;
 * 5. plan against the organization (or the requests alone on Vaultwarden) and run the
 *    deletion guard;
 * 6. send the batches one by one; record the hash and the sync times only when all succeeded.
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
  checkRemovalGuard,
  type ImportOptions,
  type ImportRequest,
  type OrgView,
  type Plan,
  type PlanRemoval,
  type PlanSummary,
  planSync,
  type RemovalGuardResult,
  type SyncData,
} from "../engine/mod.ts";
import {
  ConfigError,
  DirectoryDataError,
  errorMessage,
  ExitCode,
  RemovalGuardError,
  RosterError,
} from "../errors.ts";
import type { Logger } from "../output/log.ts";
import { plural } from "../output/render.ts";

/** The log lines a sync writes (a {@link Logger}, or one that routes them elsewhere). */
export type SyncLog = Pick<Logger, "debug" | "info" | "warn" | "error">;
import type { Counts, RunOutcome, RunRecord, StateStore } from "../state/store.ts";
import { checkReadNotices, checkSourceHealth } from "./health.ts";
import { describeDrift, detectDrift, type Drift, orgFingerprint } from "./drift.ts";
import type { HeldLock } from "./lock.ts";
import type { ReadResult } from "./read.ts";

/** Group names longer than this are refused by Bitwarden. */
export const MAX_GROUP_NAME = 100;
/** External ids longer than this are refused by Bitwarden. */
export const MAX_EXTERNAL_ID = 300;
/** Non-deleted members or groups per request the cloud accepts without `largeImport`. */
export const CLOUD_IMPORT_LIMIT = 2000;

/** The engine's request options from the `sync.*` settings. */
export function importOptions(config: Config): ImportOptions {
  return {
    overwriteExisting: config.sync.overwriteExisting,
    largeImport: config.sync.largeImport,
    removeDisabled: config.sync.removeDisabled,
    inviteUsersAfterProvisioning: config.sync.inviteUsersAfterProvisioning,
  };
}

/** Something the server would refuse, found before sending. */
export interface Refusal {
  /** Stable code. */
  code:
    | "too_many_members"
    | "too_many_groups"
    | "group_name_too_long"
    | "external_id_too_long"
    | "removal_guard";
  /** What it concerns: a group, a member, a request. */
  subject: string;
  /** In words. */
  message: string;
}

/**
 * Finds what the server would refuse in `requests`: more than 2000 non-deleted members or
 * groups in one request on Bitwarden's cloud without `largeImport`, a group name over 100
 * characters, an externalId over 300. Sorted by code, then subject.
 */
export function preflight(
  requests: readonly ImportRequest[],
  options: { cloud: boolean },
): Refusal[] {
  const refusals: Refusal[] = [];
  requests.forEach((request, index) => {
    const where = requests.length === 1 ? "the request" : `request ${index + 1}`;
    if (options.cloud && !request.largeImport) {
      const active = request.members.filter((m) => !m.deleted).length;
      if (active > CLOUD_IMPORT_LIMIT) {
        refusals.push({
          code: "too_many_members",
          subject: where,
          message:
            `${where} lists ${active} non-deleted members; Bitwarden's cloud accepts at most ${CLOUD_IMPORT_LIMIT} without sync.largeImport`,
        });
      }
      if (request.groups.length > CLOUD_IMPORT_LIMIT) {
        refusals.push({
          code: "too_many_groups",
          subject: where,
          message:
            `${where} lists ${request.groups.length} groups; Bitwarden's cloud accepts at most ${CLOUD_IMPORT_LIMIT} without sync.largeImport`,
        });
      }
    }
    for (const group of request.groups) {
      if (group.name.length > MAX_GROUP_NAME) {
        refusals.push({
          code: "group_name_too_long",
          subject: `group ${group.externalId}`,
          message:
            `group "${group.name}" (externalId ${group.externalId}) has a name of ${group.name.length} characters; Bitwarden accepts at most ${MAX_GROUP_NAME}`,
        });
      }
      if (group.externalId.length > MAX_EXTERNAL_ID) {
        refusals.push({
          code: "external_id_too_long",
          subject: `group ${group.name}`,
          message:
            `group "${group.name}" has an externalId of ${group.externalId.length} characters; Bitwarden accepts at most ${MAX_EXTERNAL_ID}`,
        });
      }
    }
    for (const member of request.members) {
      if (member.externalId.length > MAX_EXTERNAL_ID) {
        const name = member.email ?? "(no email)";
        refusals.push({
          code: "external_id_too_long",
          subject: `member ${name}`,
          message:
            `member ${name} has an externalId of ${member.externalId.length} characters; Bitwarden accepts at most ${MAX_EXTERNAL_ID}`,
        });
      }
    }
  });
  return refusals.sort((a, b) =>
    a.code === b.code
      ? (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0)
      : a.code < b.code
      ? -1
      : 1
  );
}

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

/** The guard settings of `config`, with an explicit allowance. */
export function guardOptions(
  config: Config,
  allowRemovals: number | undefined,
): { maxRemovals: number; maxRemovalsPercent: number; allowRemovals?: number } {
  return {
    maxRemovals: config.sync.maxRemovals,
    maxRemovalsPercent: config.sync.maxRemovalsPercent,
    ...(allowRemovals === undefined ? {} : { allowRemovals }),
  };
}

/** Why a member is removed, in words, using the directory data to tell disabled from deleted. */
export function removalWhy(removal: PlanRemoval, data: SyncData | undefined): string {
  if (removal.reason === "overwrite") {
    return "not in the directory (sync.overwriteExisting)";
  }
  const user = data?.users.find((u) => u.externalId === removal.externalId);
  if (user !== undefined && !user.deleted && user.disabled) {
    return "disabled in the directory (sync.removeDisabled)";
  }
  return "deleted in the directory";
}

/** The deletion guard's refusal, naming every member it would have removed. */
export function removalGuardError(
  plan: Plan,
  verdict: RemovalGuardResult,
  options: { config: Config; allowRemovals: number | undefined; data?: SyncData },
): RemovalGuardError {
  const { config, allowRemovals } = options;
  const listed = plan.remove.map((r) =>
    `\n  - ${r.email ?? "(no email)"} (externalId ${r.externalId ?? "none"}): ${
      removalWhy(r, options.data)
    }`
  ).join("");
  let why: string;
  if (verdict.removalsUnknown && allowRemovals === undefined) {
    why =
      "sync.overwriteExisting is on and the server has no organization view (Vaultwarden), so the number of members it would remove cannot be known";
  } else if (allowRemovals !== undefined) {
    why =
      `it would remove ${verdict.removals} members, more than the ${allowRemovals} allowed by --allow-removals`;
  } else {
    why =
      `it would remove ${verdict.removals} members, more than the limit of ${verdict.limit} (sync.maxRemovals ${config.sync.maxRemovals}, or sync.maxRemovalsPercent ${config.sync.maxRemovalsPercent}% of ${plan.summary.orgMembers} members)`;
  }
  const viewNote = plan.orgView
    ? ""
    : " Without an organization view (Vaultwarden), every deleted entry sent counts as a removal.";
  return new RemovalGuardError(`Removal guard refused the sync: ${why}${listed}`, {
    hint:
      `Nothing was sent. If these removals are intended, run roster sync --allow-removals ${verdict.removals} once; or raise sync.maxRemovals or sync.maxRemovalsPercent (sync.maxRemovals 0 turns the guard off).${viewNote}`,
    details: {
      removals: plan.remove.map((r) => ({
        email: r.email,
        externalId: r.externalId,
        reason: r.reason,
        why: removalWhy(r, options.data),
      })),
      count: verdict.removals,
      limit: verdict.limit,
      allowRemovals: allowRemovals ?? null,
      removalsUnknown: verdict.removalsUnknown,
    },
  });
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
  guard: RemovalGuardResult | null;
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
  /** `--allow-removals N`. */
  allowRemovals: number | undefined;
  /** `--allow-empty`. */
  allowEmpty: boolean;
}

function emptySent(): SentCounts {
  return { requests: 0, members: 0, deleted: 0, groups: 0, batches: [] };
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

  const succeed = async (hash: string | null): Promise<void> => {
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
  const noChange = async (reason: string, extra: Partial<SyncResult> = {}) => {
    await succeed(null);
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
  if (hashUnchanged && !options.force) {
    const members = await client.listMembers();
    if (members === null) {
      log.debug(
        "The server has no member list (Vaultwarden): relying on the change hash alone; roster sync --force resends",
      );
      return await noChange(
        "unchanged since the last sync (change hash; the server has no member list to check for drift)",
        { orgView: false },
      );
    }
    drift = detectDrift(requests, members);
    if (!drift.drifted) {
      await store.setOrgFingerprint(orgFingerprint(members));
      return await noChange(
        "unchanged since the last sync, and the organization's members have not drifted",
        { drift, orgView: true },
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
  // Members and the group list only: the guard needs members, and reading each group's
  // members (one GET per group, 200 a minute on the cloud) would take minutes on large
  // organizations. `roster plan` reads them all.
  const org: OrgView | null = await client.readOrganization({ memberships: false });
  let toSend = requests;
  if (org === null) {
    log.info(
      "The server has no organization read API (Vaultwarden): planning from the requests alone",
    );
    const { requests: kept, dropped } = dropEmaillessRemovals(requests);
    if (dropped.length > 0) {
      warn(
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
  for (const warning of plan.warnings) {
    if (org === null && warning.startsWith("No organization view")) continue;
    warn(warning);
  }
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
  const guard = checkRemovalGuard(plan, guardOptions(config, options.allowRemovals));
  if (!guard.allowed) {
    throw removalGuardError(plan, guard, { config, allowRemovals: options.allowRemovals, data });
  }
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
  await succeed(hash.hash);
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
