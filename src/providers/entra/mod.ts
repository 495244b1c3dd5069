/**
 * The `entra` source: Microsoft Entra ID through Microsoft Graph v1.0.
 *
 * **Full read** (`test`, `sync --force`, a first run, an unusable delta link):
 * 1. an access token ({@link createTokenSource}: client secret or certificate);
 * 2. fresh delta links for the next run, taken before anything is listed
 *    (`users/delta?$deltatoken=latest`, `groups/delta?$deltatoken=latest`), so changes made
 *    during the read are in the next delta;
 * 3. at the same time, three independent streams: users (`/users?$select=…&$top=999`, one
 *    serial stream of next links), the recycle bin (`/directory/deletedItems/microsoft.graph.user`,
 *    users soft-deleted in the last 30 days: deleted users), and groups
 *    (`/groups?$select=id,displayName&$top=999`) whose direct members
 *    (`/groups/{id}/members?$select=id&$top=999`) are read through `$batch`, 20 groups per
 *    batch, several batches in flight, later member pages fed into later batches
 *    (`./batch.ts`). Members that are groups become group references: the engine resolves
 *    nesting (cycles included); contacts, devices and service principals are skipped with a
 *    reason.
 *
 * **Delta read** (`test --last`, plain `sync`, with the delta links of the last successful
 * sync in the provider state under `usersDeltaLink` / `groupsDeltaLink`): one round of
 * `users/delta` and one of `groups/delta` (`members@delta`). Changed users come whole; a
 * removed user (`@removed`) is a deleted user, so the import can remove it. A changed group's
 * `members@delta` holds only the member changes, so the provider reads the whole member lists
 * of the changed groups again (through `$batch`) and returns whole groups; removed groups are
 * returned as `removed` ids. The pipeline merges them into the stored snapshot. An expired or
 * rejected delta link (`syncStateNotFound`, 410) means a full read, with a `fullReadInstead`
 * notice.
 *
 * **Filters** (`./filter.ts`): a filter of one `include:`/`exclude:` clause is left to the
 * engine (it then also applies to delta reads). Anything else (`includeGroup:`,
 * `excludeGroup:`, administrative units, several clauses) is applied here: group clauses from
 * `/groups/{id}/transitiveMembers/microsoft.graph.user`, administrative units from
 * `/directory/administrativeUnits/{id}/members`; such filters need whole-directory knowledge,
 * so those reads are always full.
 * @module
 */

import type { Config } from "../../config/schema.ts";
import type { DirectoryGroup, DirectoryUser, SkippedEntry } from "../../engine/types.ts";
import { ConfigError, RosterError, SourceIncompleteError } from "../../errors.ts";
import { isRecord } from "../../guards.ts";
import {
  type ApiSession,
  createApiSession,
  createHttpClient,
  describeHttpError,
  type HttpClient,
  httpRetryDecision,
  HttpStatusError,
  type JsonResponse,
  pagesByNextLink,
} from "../../http/mod.ts";
import type {
  DirectoryPage,
  DirectoryProvider,
  ProviderContext,
  ReadOptions,
} from "../provider.ts";
import type { FilterHandling, SourceDefinition } from "../registry.ts";
import { type BatchAnswer, type BatchItem, runBatched } from "./batch.ts";
import { graphError, isDeltaExpired, permissionError } from "./errors.ts";
import {
  type EntraGroupFilter,
  type EntraUserFilter,
  groupPassesFilter,
  parseEntraGroupFilter,
  parseEntraUserFilter,
  userPassesFilter,
} from "./filter.ts";
import { type EntraEndpoints, entraEndpoints } from "./hosts.ts";
import {
  GROUP_SELECT,
  mapGroup,
  mapMember,
  mapUser,
  MEMBER_SELECT,
  USER_SELECT,
} from "./mapping.ts";
import { createTokenSource, type EntraCredential, type TokenSource } from "./token.ts";

/** The settings slice of the Entra source. */
export interface EntraSettings {
  entra: Config["directory"]["entra"];
  sync: Config["sync"];
}

/** Provider state keys: the delta links of the last read (bwdc's user delta link migrates to `usersDeltaLink`). */
export const ENTRA_STATE_KEYS = {
  users: "usersDeltaLink",
  groups: "groupsDeltaLink",
} as const;

/** Options of {@link createEntraProvider} (tests and benchmarks). */
export interface EntraProviderOptions {
  /** Clock in ms. @default `Date.now` */
  now?: () => number;
  /** Waits `ms` (retries, throttling). @default a timer */
  sleep?: (ms: number) => Promise<void>;
  /** Randomness in [0, 1) for the jitter. @default `Math.random` */
  random?: () => number;
  /** The fetch to use. @default the global `fetch` */
  fetch?: typeof fetch;
  /** Graph requests in flight at most (the users stream, batches, filter reads). @default 12 */
  concurrency?: number;
  /** `$batch` requests in flight at most. @default 8 */
  batchConcurrency?: number;
}

const MEMBERS_PAGE = `$select=${MEMBER_SELECT.join(",")}&$top=999`;
const GROUPS_DELTA_SELECT = "id,displayName,members";

/**
 * Whether the engine or the provider applies `sync.userFilter` / `sync.groupFilter`: the engine
 * when each is absent or a single `include:`/`exclude:` clause (the engine's set filter, which
 * also applies after a delta merge), the provider otherwise (group and administrative-unit
 * clauses, several clauses).
 */
export function entraFilterHandling(sync: Pick<Config["sync"], "userFilter" | "groupFilter">) {
  const simple = (text: string | undefined) => {
    if (text === undefined || text.trim() === "") return true;
    if (text.includes("|")) return false;
    const keyword = text.slice(0, Math.max(0, text.indexOf(":"))).trim().toLowerCase();
    return keyword === "include" || keyword === "exclude";
  };
  const handling: FilterHandling = simple(sync.userFilter) && simple(sync.groupFilter)
    ? "engine"
    : "provider";
  return handling;
}

/**
 * Checks both filters' syntax (see `./filter.ts`).
 * @throws {ConfigError} naming the setting and the malformed clause.
 */
export function validateEntraFilters(sync: Pick<Config["sync"], "userFilter" | "groupFilter">) {
  parseEntraUserFilter(sync.userFilter);
  parseEntraGroupFilter(sync.groupFilter);
}

/** The registry descriptor of the `entra` source. */
export const entraSource: SourceDefinition<EntraSettings> = {
  type: "entra",
  requiredSettings: ["directory.entra.tenant", "directory.entra.applicationId"],
  secretSettings: ["directory.entra.key"],
  settings: (config) => ({ entra: config.directory.entra, sync: config.sync }),
  create: (context) => createEntraProvider(context),
  // The client secret, unless a certificate credential (certificatePath) takes its place.
  missingSettings: async ({ entra }, secret) =>
    entra.certificatePath !== undefined || await secret("directory.entra.key") !== undefined
      ? []
      : ["directory.entra.key"],
  filters: (settings) => entraFilterHandling(settings.sync),
  validateFilters: (settings) => validateEntraFilters(settings.sync),
  describeTarget: ({ entra }) =>
    entra.tenant === undefined ? null : `${entra.tenant} (${entra.identityAuthority})`,
  readsDeltas: true,
};

/**
 * Makes the Entra provider. Nothing is requested before {@link DirectoryProvider.read}.
 * Reads throw `ConfigError` (exit 2) for settings and filters, `DirectoryError` (exit 6) when
 * the token or the first Graph call is refused (naming the setting or permission to fix),
 * `SourceIncompleteError` (exit 5) for any failure once data has been read.
 */
export function createEntraProvider(
  context: ProviderContext<EntraSettings>,
  options: EntraProviderOptions = {},
): DirectoryProvider {
  return { name: "entra", read: (readOptions) => readEntra(context, options, readOptions) };
}

async function credentialOf(
  context: ProviderContext<EntraSettings>,
): Promise<EntraCredential> {
  const path = context.settings.entra.certificatePath;
  if (path !== undefined) return { kind: "certificate", path };
  const secret = await context.secret("directory.entra.key");
  if (secret !== undefined && secret !== "") return { kind: "secret", secret };
  throw new ConfigError(
    "Directory configuration incomplete: neither directory.entra.key nor directory.entra.certificatePath is set",
    {
      hint: "roster config set directory.entra.key --secret-env VAR (a client secret), or " +
        "roster config set directory.entra.certificatePath <PEM with certificate and key>",
      details: { missing: ["directory.entra.key", "directory.entra.certificatePath"] },
    },
  );
}

async function* readEntra(
  context: ProviderContext<EntraSettings>,
  options: EntraProviderOptions,
  read: ReadOptions,
): AsyncGenerator<DirectoryPage> {
  const { entra, sync } = context.settings;
  const userFilter = parseEntraUserFilter(sync.userFilter);
  const groupFilter = parseEntraGroupFilter(sync.groupFilter);
  const providerFilters = entraFilterHandling(sync) === "provider";
  if (entra.tenant === undefined || entra.applicationId === undefined) {
    const missing = [
      ...(entra.tenant === undefined ? ["directory.entra.tenant"] : []),
      ...(entra.applicationId === undefined ? ["directory.entra.applicationId"] : []),
    ];
    throw new ConfigError(`Directory configuration incomplete: ${missing.join(", ")} not set`, {
      hint: `roster config set ${missing[0]} <value>`,
      details: { missing },
    });
  }
  const endpoints = entraEndpoints({
    identityAuthority: entra.identityAuthority,
    tenant: entra.tenant,
    authorityUrl: entra.authorityUrl,
    graphUrl: entra.graphUrl,
  });
  const credential = await credentialOf(context);
  const http = createHttpClient({
    ...(entra.caFile === undefined ? {} : { caFile: entra.caFile }),
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
  });
  try {
    const reader = new EntraReader(context, options, http, {
      endpoints,
      tenant: entra.tenant,
      clientId: entra.applicationId,
      credential,
      userFilter,
      groupFilter,
      providerFilters,
      read,
    });
    yield* reader.run();
  } finally {
    http.close();
  }
}

interface ReaderSetup {
  endpoints: EntraEndpoints;
  tenant: string;
  clientId: string;
  credential: EntraCredential;
  userFilter: EntraUserFilter | null;
  groupFilter: EntraGroupFilter | null;
  providerFilters: boolean;
  read: ReadOptions;
}

/** Raw Graph objects of a delta round, merged by id. */
interface DeltaRound {
  /** id → the merged object (later properties win); `@removed` kept. */
  objects: Map<string, Record<string, unknown>>;
  /** The round's delta link. */
  deltaLink: string;
}

/** Why an incremental read is not possible, or null. */
type DeltaPlan = { links: { users: string; groups: string | null } } | { reason: string };

class EntraReader {
  readonly #context: ProviderContext<EntraSettings>;
  readonly #setup: ReaderSetup;
  readonly #api: ApiSession;
  readonly #tokens: TokenSource;
  readonly #options: EntraProviderOptions;
  readonly #base: string;
  #started = false;
  #objects = 0;
  #batchWaits = 0;

  constructor(
    context: ProviderContext<EntraSettings>,
    options: EntraProviderOptions,
    http: HttpClient,
    setup: ReaderSetup,
  ) {
    this.#context = context;
    this.#setup = setup;
    this.#options = options;
    this.#base = setup.endpoints.graphBase;
    const now = options.now ?? Date.now;
    this.#tokens = createTokenSource(http, {
      endpoints: setup.endpoints,
      tenant: setup.tenant,
      clientId: setup.clientId,
      credential: setup.credential,
      now,
      ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
    });
    this.#api = createApiSession(http, {
      concurrency: options.concurrency ?? 12,
      headers: async () => ({ authorization: `Bearer ${await this.#tokens.token()}` }),
      isRetriable: (error, attempt, idempotent) => {
        if (error instanceof HttpStatusError && error.status === 401 && attempt === 1) {
          this.#tokens.invalidate();
          return true;
        }
        return httpRetryDecision(error, { idempotent, now });
      },
      onProgress: () => this.#progress(false),
      now,
      ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
      ...(options.random === undefined ? {} : { random: options.random }),
    });
  }

  #progress(done: boolean): void {
    const stats = this.#api.stats();
    this.#context.progress?.({
      objects: this.#objects,
      requests: stats.requests,
      throttleWaits: stats.throttleWaits + this.#batchWaits,
      ...(done ? { done: true } : {}),
    });
  }

  /** Every page of a listing: the `value` arrays, in order. */
  async *#list(first: string): AsyncGenerator<unknown[]> {
    const pages = pagesByNextLink(first, {
      get: (url) => this.#api.get(url),
      next: ["@odata.nextLink"],
      ...(this.#setup.read.signal === undefined ? {} : { signal: this.#setup.read.signal }),
    });
    for (;;) {
      let result: IteratorResult<{ body: unknown }>;
      try {
        result = await pages.next();
      } catch (error) {
        throw graphError(error, { started: this.#started });
      }
      if (result.done === true) return;
      const value = isRecord(result.value.body) ? result.value.body.value : undefined;
      if (!Array.isArray(value)) {
        throw new SourceIncompleteError(
          `Directory read incomplete: a page of ${endpointOf(first)} has no value array`,
          { hint: "Nothing was sent. Run again; if it persists, report it with this message" },
        );
      }
      this.#started = true;
      yield value;
    }
  }

  async *run(): AsyncGenerator<DirectoryPage> {
    const { read } = this.#setup;
    // The token first: a refused credential is a DirectoryError before any Graph call.
    await this.#tokens.token();
    if (read.mode === "incremental") {
      const plan = this.#deltaPlan();
      if ("links" in plan) {
        const delta = await this.#tryDelta(plan.links);
        if ("pages" in delta) {
          yield* delta.pages;
          this.#progress(true);
          yield { kind: "done", incremental: true, delta: true, state: delta.state };
          return;
        }
        yield {
          kind: "notice",
          code: "fullReadInstead",
          level: "warn",
          message: `Entra ID: reading the whole directory: ${delta.reason}`,
        };
      } else {
        yield {
          kind: "notice",
          code: "fullReadInstead",
          level: "info",
          message: `Entra ID: reading the whole directory: ${plan.reason}`,
        };
      }
    }
    yield* this.#fullRead();
  }

  #deltaPlan(): DeltaPlan {
    const { read, providerFilters } = this.#setup;
    if (providerFilters) {
      return {
        reason: "sync.userFilter or sync.groupFilter uses group, administrative-unit or " +
          "combined clauses, which need the whole directory",
      };
    }
    const users = read.state?.[ENTRA_STATE_KEYS.users];
    const groups = read.state?.[ENTRA_STATE_KEYS.groups];
    if (users === undefined) return { reason: "no users delta link from a previous sync" };
    if (read.groups && groups === undefined) {
      return { reason: "no groups delta link from a previous sync" };
    }
    for (const [link, kind] of [[users, "users"], [groups, "groups"]] as const) {
      if (link !== undefined && !link.startsWith(`${this.#base}/${kind}/delta?`)) {
        return { reason: `the stored ${kind} delta link is not for ${this.#base}` };
      }
    }
    return { links: { users, groups: read.groups ? groups ?? null : null } };
  }

  /** Follows one delta round from `link` to its delta link, merging objects by id. */
  async #round(link: string): Promise<DeltaRound> {
    const objects = new Map<string, Record<string, unknown>>();
    let deltaLink: string | null = null;
    for await (
      const page of pagesByNextLink(link, {
        get: (url) => this.#api.get(url),
        next: ["@odata.nextLink"],
        checkEnd: (page) => {
          const value = isRecord(page.body) ? page.body["@odata.deltaLink"] : undefined;
          return typeof value === "string" && value !== ""
            ? null
            : "the delta round ended without a delta link";
        },
      })
    ) {
      this.#started = true;
      const body = isRecord(page.body) ? page.body : {};
      const value = body.value;
      if (!Array.isArray(value)) {
        throw new SourceIncompleteError(
          `Directory read incomplete: a page of ${endpointOf(link)} has no value array`,
          { hint: "Nothing was sent. Run again; if it persists, report it with this message" },
        );
      }
      for (const raw of value) {
        if (!isRecord(raw) || typeof raw.id !== "string") continue;
        const before = objects.get(raw.id);
        if (before === undefined) {
          objects.set(raw.id, { ...raw });
          continue;
        }
        const merged: Record<string, unknown> = { ...before, ...raw };
        const old = before["members@delta"];
        const add = raw["members@delta"];
        if (Array.isArray(old) && Array.isArray(add)) merged["members@delta"] = [...old, ...add];
        else if (Array.isArray(old)) merged["members@delta"] = old;
        if (!("@removed" in raw)) delete merged["@removed"];
        objects.set(raw.id, merged);
      }
      const next = body["@odata.deltaLink"];
      if (typeof next === "string") deltaLink = next;
    }
    if (deltaLink === null) {
      throw new SourceIncompleteError(
        `Directory read incomplete: the delta round of ${
          endpointOf(link)
        } ended without a delta link`,
        { hint: "Nothing was sent. Run again; if it persists, report it with this message" },
      );
    }
    return { objects, deltaLink };
  }

  async #tryDelta(
    links: { users: string; groups: string | null },
  ): Promise<{ pages: DirectoryPage[]; state: Record<string, string> } | { reason: string }> {
    let users: DeltaRound;
    let groups: DeltaRound | null;
    try {
      [users, groups] = await Promise.all([
        this.#round(links.users),
        links.groups === null ? Promise.resolve(null) : this.#round(links.groups),
      ]);
    } catch (error) {
      if (isDeltaExpired(error)) {
        return {
          reason: `Graph no longer accepts the stored delta link (${
            describeHttpError(error)
          }); delta links expire after 7 days without a sync`,
        };
      }
      throw graphError(error, { started: this.#started });
    }
    const pages: DirectoryPage[] = [];
    const changedUsers: DirectoryUser[] = [];
    const skipped: SkippedEntry[] = [];
    const removedUsers: string[] = [];
    for (const raw of users.objects.values()) {
      const mapped = mapUser(raw);
      if (mapped.kind === "skipped") {
        skipped.push(mapped.entry);
        removedUsers.push(mapped.entry.referenceId);
      } else {
        changedUsers.push(mapped.user);
      }
    }
    this.#objects += changedUsers.length;
    pages.push({ kind: "users", users: changedUsers, removed: removedUsers });
    const state: Record<string, string> = { [ENTRA_STATE_KEYS.users]: users.deltaLink };
    if (groups !== null) {
      state[ENTRA_STATE_KEYS.groups] = groups.deltaLink;
      const removed: string[] = [];
      const changed = new Map<string, Record<string, unknown>>();
      for (const [id, raw] of groups.objects) {
        if (isRecord(raw["@removed"])) removed.push(id);
        else changed.set(id, raw);
      }
      const read = await this.#groupsWithMembers(changed, { fetchMissingNames: true });
      removed.push(...read.gone);
      // A group that lost its name is skipped now: it leaves the snapshot too.
      for (const entry of read.skipped) {
        if (entry.kind === "group") removed.push(entry.referenceId);
      }
      skipped.push(...read.skipped);
      this.#objects += read.groups.length;
      pages.push({ kind: "groups", groups: read.groups, removed });
    }
    if (skipped.length > 0) pages.push({ kind: "skipped", entries: skipped });
    if (
      changedUsers.length === 0 && removedUsers.length === 0 && (groups?.objects.size ?? 0) === 0
    ) {
      pages.push({
        kind: "notice",
        code: "noChanges",
        level: "info",
        message: "Entra ID: no users or groups changed since the last sync",
      });
    }
    return { pages, state };
  }

  /** A fresh delta link ("from now on") for `kind`, or null when Graph offers none. */
  async #latestLink(kind: "users" | "groups"): Promise<string | null> {
    const select = kind === "users" ? USER_SELECT.join(",") : GROUPS_DELTA_SELECT;
    const url = `${this.#base}/${kind}/delta?$select=${select}&$deltatoken=latest`;
    let response: JsonResponse;
    try {
      response = await this.#api.get(url);
    } catch (error) {
      const cause = error instanceof HttpStatusError ? error : null;
      if (
        cause !== null && cause.status >= 400 && cause.status < 500 && cause.status !== 401 &&
        cause.status !== 403
      ) {
        this.#context.log(
          "warn",
          `Entra ID: no ${kind} delta link (${
            describeHttpError(cause)
          }); the next sync reads in full`,
        );
        return null;
      }
      throw graphError(error, { started: false });
    }
    const link = isRecord(response.body) ? response.body["@odata.deltaLink"] : undefined;
    return typeof link === "string" && link !== "" ? link : null;
  }

  async *#fullRead(): AsyncGenerator<DirectoryPage> {
    const { read, providerFilters, userFilter, groupFilter } = this.#setup;
    const state: Record<string, string> = {};
    if (!providerFilters && read.users) {
      const [users, groups] = await Promise.all([
        this.#latestLink("users"),
        read.groups ? this.#latestLink("groups") : Promise.resolve(null),
      ]);
      if (users !== null && (groups !== null || !read.groups)) {
        state[ENTRA_STATE_KEYS.users] = users;
        if (groups !== null) state[ENTRA_STATE_KEYS.groups] = groups;
      }
    }
    const memberships = providerFilters && userFilter !== null
      ? await this.#filterMemberships(userFilter)
      : {};
    const units = providerFilters && groupFilter !== null
      ? await this.#unitMemberships(groupFilter)
      : {};

    const abort = new AbortController();
    const groupsTask = read.groups
      ? this.#allGroups({
        filter: providerFilters ? groupFilter : null,
        units,
        signal: abort.signal,
      })
      : Promise.resolve(null);
    groupsTask.catch(() => {});
    const deletedTask = read.users ? this.#deletedUsers() : Promise.resolve(null);
    deletedTask.catch(() => {});
    const restrictByGroups = providerFilters && groupFilter !== null && read.groups;
    const held: DirectoryUser[] = [];
    try {
      if (read.users) {
        for await (
          const values of this.#list(
            `${this.#base}/users?$select=${USER_SELECT.join(",")}&$top=999`,
          )
        ) {
          const users: DirectoryUser[] = [];
          const skipped: SkippedEntry[] = [];
          for (const raw of values) {
            const mapped = mapUser(raw);
            if (mapped.kind === "skipped") skipped.push(mapped.entry);
            else if (!providerFilters || userPassesFilter(userFilter, mapped.user, memberships)) {
              users.push(mapped.user);
            }
          }
          this.#objects += values.length;
          this.#progress(false);
          if (skipped.length > 0) yield { kind: "skipped", entries: skipped };
          if (restrictByGroups) held.push(...users);
          else if (users.length > 0) yield { kind: "users", users };
        }
        const deleted = await deletedTask;
        if (deleted !== null) {
          if ("notice" in deleted) {
            yield deleted.notice;
          } else {
            const kept = deleted.users.filter((u) =>
              !providerFilters || userPassesFilter(userFilter, u, memberships)
            );
            if (kept.length > 0) yield { kind: "users", users: kept };
          }
        }
      }
      const groups = await groupsTask;
      if (groups !== null) {
        if (restrictByGroups) {
          const direct = new Set<string>();
          for (const g of groups.groups) for (const ref of g.memberRefs) direct.add(ref);
          const removeDisabled = this.#context.settings.sync.removeDisabled;
          const kept = held.filter((u) =>
            u.deleted || (u.disabled && removeDisabled) || direct.has(u.externalId)
          );
          if (kept.length > 0) yield { kind: "users", users: kept };
        }
        if (groups.skipped.length > 0) yield { kind: "skipped", entries: groups.skipped };
        yield { kind: "groups", groups: groups.groups };
      } else if (restrictByGroups && held.length > 0) {
        yield { kind: "users", users: held };
      }
    } finally {
      abort.abort();
      await Promise.allSettled([groupsTask, deletedTask]);
    }
    this.#progress(true);
    yield {
      kind: "done",
      incremental: false,
      ...(Object.keys(state).length > 0 ? { state } : {}),
    };
  }

  /**
   * The recycle bin's users (deleted users), or a `deletedObjectsUnreadable` notice when it
   * cannot be read (a sync that would remove anyone then stops).
   */
  async #deletedUsers(): Promise<
    { users: DirectoryUser[] } | { notice: DirectoryPage & { kind: "notice" } }
  > {
    const users: DirectoryUser[] = [];
    try {
      for await (
        const values of this.#list(
          `${this.#base}/directory/deletedItems/microsoft.graph.user?$select=${
            USER_SELECT.join(",")
          }&$top=999`,
        )
      ) {
        for (const raw of values) {
          const mapped = mapUser(raw, { deleted: true });
          if (mapped.kind === "user") users.push(mapped.user);
        }
        this.#objects += values.length;
      }
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      return {
        notice: {
          kind: "notice",
          code: "deletedObjectsUnreadable",
          level: "warn",
          message: `Entra ID: cannot read deleted users from the recycle bin: ${
            error instanceof Error ? error.message : String(error)
          }`,
        },
      };
    }
    return { users };
  }

  /** Every group (kept by the provider-side filter), with its direct members. */
  async #allGroups(
    options: {
      filter: EntraGroupFilter | null;
      units: { included?: ReadonlySet<string>; excluded?: ReadonlySet<string> };
      signal: AbortSignal;
    },
  ): Promise<{ groups: DirectoryGroup[]; skipped: SkippedEntry[]; gone: string[] }> {
    const raws = new Map<string, Record<string, unknown>>();
    for await (
      const values of this.#list(`${this.#base}/groups?$select=${GROUP_SELECT.join(",")}&$top=999`)
    ) {
      if (options.signal.aborted) break;
      this.#objects += values.length;
      for (const raw of values) {
        if (!isRecord(raw) || typeof raw.id !== "string") continue;
        const name = typeof raw.displayName === "string" ? raw.displayName : "";
        if (
          options.filter !== null &&
          !groupPassesFilter(options.filter, { externalId: raw.id, name }, options.units)
        ) continue;
        raws.set(raw.id, raw);
      }
    }
    return await this.#groupsWithMembers(raws, {
      fetchMissingNames: false,
      signal: options.signal,
    });
  }

  /**
   * Reads the whole direct member lists of `raws` (group id → Graph group, `displayName` maybe
   * missing in a delta) through `$batch`, and maps the groups. Groups that no longer exist
   * (404) are returned in `gone`.
   */
  async #groupsWithMembers(
    raws: Map<string, Record<string, unknown>>,
    options: { fetchMissingNames: boolean; signal?: AbortSignal },
  ): Promise<{ groups: DirectoryGroup[]; skipped: SkippedEntry[]; gone: string[] }> {
    const refs = new Map<string, Set<string>>();
    const skipped: SkippedEntry[] = [];
    const gone = new Set<string>();
    const items: BatchItem[] = [];
    for (const [id, raw] of raws) {
      refs.set(id, new Set());
      items.push({
        key: `m:${id}`,
        url: `/groups/${encodeURIComponent(id)}/members?${MEMBERS_PAGE}`,
      });
      if (options.fetchMissingNames && typeof raw.displayName !== "string") {
        items.push({
          key: `g:${id}`,
          url: `/groups/${encodeURIComponent(id)}?$select=${GROUP_SELECT.join(",")}`,
        });
      }
    }
    const onAnswer = (answer: BatchAnswer): BatchItem[] => {
      const kind = answer.item.key.slice(0, 1);
      const id = answer.item.key.slice(2);
      if (answer.status === 404) {
        gone.add(id);
        return [];
      }
      if (answer.status === 403) {
        throw permissionError(
          `GET ${new URL(this.#base).pathname}${answer.item.url.split("?")[0]}`,
          `403 Forbidden`,
        );
      }
      if (answer.status < 200 || answer.status > 299 || !isRecord(answer.body)) {
        throw new SourceIncompleteError(
          `Directory read incomplete: GET ${new URL(this.#base).pathname}${
            answer.item.url.split("?")[0]
          } answered ${answer.status} inside $batch${detailOf(answer.body)}`,
          {
            hint: "Nothing was sent. Run again; if it persists, report it with this message",
            details: { status: answer.status },
          },
        );
      }
      if (kind === "g") {
        const raw = raws.get(id);
        if (raw !== undefined) raw.displayName = answer.body.displayName;
        return [];
      }
      const value = answer.body.value;
      if (!Array.isArray(value)) {
        throw new SourceIncompleteError(
          `Directory read incomplete: a member page of group ${id} has no value array`,
          { hint: "Nothing was sent. Run again; if it persists, report it with this message" },
        );
      }
      const set = refs.get(id) ?? new Set<string>();
      for (const rawMember of value) {
        const member = mapMember(rawMember, id);
        if (member.kind === "skipped") skipped.push(member.entry);
        else set.add(member.ref);
      }
      this.#objects += value.length;
      const next = answer.body["@odata.nextLink"];
      if (next === undefined || next === null) return [];
      if (typeof next !== "string") {
        throw new SourceIncompleteError(
          `Directory read incomplete: a member page of group ${id} has a malformed next link`,
          { hint: "Nothing was sent. Run again; if it persists, report it with this message" },
        );
      }
      return [{ key: answer.item.key, url: relativeToVersion(next, id) }];
    };
    try {
      await runBatched(this.#api, items, {
        graphBase: this.#base,
        onAnswer,
        concurrency: this.#options.batchConcurrency ?? 8,
        onWait: () => {
          this.#batchWaits++;
          this.#progress(false);
        },
        ...(this.#options.now === undefined ? {} : { now: this.#options.now }),
        ...(this.#options.sleep === undefined ? {} : { sleep: this.#options.sleep }),
        ...(this.#options.random === undefined ? {} : { random: this.#options.random }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    } catch (error) {
      throw graphError(error, { started: true });
    }
    const groups: DirectoryGroup[] = [];
    for (const [id, raw] of raws) {
      if (gone.has(id)) continue;
      const mapped = mapGroup(raw, [...(refs.get(id) ?? [])]);
      if (mapped.kind === "skipped") skipped.push(mapped.entry);
      else groups.push(mapped.group);
    }
    return { groups, skipped, gone: [...gone] };
  }

  /**
   * The ids (lowercase) of the members listed at `url(id)` for each of `ids` that `keep`
   * accepts, read in parallel.
   * @throws {ConfigError} naming `setting` when Graph has no `what` with one of the ids (404).
   */
  async #memberIds(
    ids: ReadonlySet<string>,
    source: {
      url: (id: string) => string;
      keep: (raw: Record<string, unknown>) => boolean;
      setting: string;
      what: string;
    },
  ): Promise<Set<string>> {
    const out = new Set<string>();
    await Promise.all([...ids].map(async (id) => {
      try {
        for await (const values of this.#list(source.url(id))) {
          for (const raw of values) {
            if (isRecord(raw) && typeof raw.id === "string" && source.keep(raw)) {
              out.add(raw.id.toLowerCase());
            }
          }
        }
      } catch (error) {
        throw notFoundAsConfig(error, id, source.setting, source.what);
      }
    }));
    return out;
  }

  /** Transitive user members of the user filter's `includeGroup:` / `excludeGroup:` groups. */
  async #filterMemberships(filter: EntraUserFilter): Promise<{
    includedByGroup?: ReadonlySet<string>;
    excludedByGroup?: ReadonlySet<string>;
  }> {
    const read = (ids: ReadonlySet<string>) =>
      this.#memberIds(ids, {
        url: (id) =>
          `${this.#base}/groups/${
            encodeURIComponent(id)
          }/transitiveMembers/microsoft.graph.user?$select=id&$top=999`,
        keep: () => true,
        setting: "sync.userFilter",
        what: "group",
      });
    return {
      ...(filter.includeGroups.size > 0
        ? { includedByGroup: await read(filter.includeGroups) }
        : {}),
      ...(filter.excludeGroups.size > 0
        ? { excludedByGroup: await read(filter.excludeGroups) }
        : {}),
    };
  }

  /** Group members of the group filter's administrative units. */
  async #unitMemberships(filter: EntraGroupFilter): Promise<{
    included?: ReadonlySet<string>;
    excluded?: ReadonlySet<string>;
  }> {
    const read = (ids: ReadonlySet<string>) =>
      this.#memberIds(ids, {
        url: (id) =>
          `${this.#base}/directory/administrativeUnits/${
            encodeURIComponent(id)
          }/members?${MEMBERS_PAGE}`,
        keep: (raw) => raw["@odata.type"] === "#microsoft.graph.group",
        setting: "sync.groupFilter",
        what: "administrative unit",
      });
    return {
      ...(filter.includeAdministrativeUnits.size > 0
        ? { included: await read(filter.includeAdministrativeUnits) }
        : {}),
      ...(filter.excludeAdministrativeUnits.size > 0
        ? { excluded: await read(filter.excludeAdministrativeUnits) }
        : {}),
    };
  }
}

/** A 404 for an object a filter names → a ConfigError naming the setting; others unchanged. */
function notFoundAsConfig(
  error: unknown,
  id: string,
  setting: string,
  what: string,
): unknown {
  const cause = error instanceof RosterError ? error.cause : error;
  if (cause instanceof HttpStatusError && cause.status === 404) {
    return new ConfigError(`Invalid ${setting}: there is no ${what} ${id} in the tenant`, {
      hint: `Correct or remove the ${what} id ${id} in ${setting} (object ids are shown in the ` +
        "Entra admin center)",
      details: { setting, id },
    });
  }
  return error;
}

function detailOf(body: unknown): string {
  const error = isRecord(body) ? body.error : undefined;
  if (isRecord(error) && typeof error.code === "string") {
    return `: ${error.code}${typeof error.message === "string" ? `: ${error.message}` : ""}`;
  }
  return "";
}

function endpointOf(url: string): string {
  try {
    return `GET ${new URL(url).pathname}`;
  } catch {
    return url;
  }
}

/**
 * A next link made relative to the version root, for `$batch` (`https://graph…/v1.0/groups/…`
 * → `/groups/…`).
 * @throws {SourceIncompleteError} for a link that is not a Graph v1.0 URL.
 */
function relativeToVersion(link: string, groupId: string): string {
  const url = URL.canParse(link) ? new URL(link) : null;
  const match = url === null ? null : /^\/v1\.0(\/.*)$/.exec(url.pathname);
  if (url === null || match === null || match[1] === undefined) {
    throw new SourceIncompleteError(
      `Directory read incomplete: a member page of group ${groupId} has the next link ${
        JSON.stringify(link)
      }, which is not a Graph v1.0 URL`,
      { hint: "Nothing was sent. Check directory.entra.graphUrl" },
    );
  }
  return `${match[1]}${url.search}`;
}
