/**
 * One read of a OneLogin account, through the v2 API.
 *
 * In order:
 * 1. the access token (`./token.ts`) and the hourly budget, `GET /auth/rate_limit` (free);
 * 2. counting calls (`limit=1&fields=id`, their `Total-Count` headers): users, roles, and on
 *    incremental runs users created and updated since the last read (`./incremental.ts`);
 * 3. the budget check (`./budget.ts`): when the calls the read needs at the largest page size
 *    are more than the budget left, stop now with exit 6 and the reset time, or wait for the
 *    reset (`directory.onelogin.waitForRateLimit`); nothing has been read yet;
 * 4. the roles (`/api/2/roles`, their `users` field refining the estimate, checked again);
 * 5. at once, under one concurrency limit (4): the users (`/api/2/users`, one cursor stream,
 *    `fields=` projection) and each role's members (`/api/2/roles/{id}/users`, several
 *    streams). Every page after retries must arrive whole and parse, and each listing must
 *    end with as many items as its `Total-Count`, else the read stops with exit 5.
 * @module
 */

import {
  ConfigError,
  DirectoryDataError,
  DirectoryError,
  SourceIncompleteError,
} from "../../errors.ts";
import type { DirectoryGroup, DirectoryUser, SkippedEntry } from "../../engine/types.ts";
import {
  type ApiSession,
  createApiSession,
  createHttpClient,
  HttpBodyError,
  type HttpClient,
  httpRetryDecision,
  HttpStatusError,
  type JsonResponse,
  pagesByToken,
  type RateLimitState,
  retry,
  type SessionStats,
  sleep as timerSleep,
} from "../../http/mod.ts";
import { isRecord } from "../../guards.ts";
import type { DirectoryPage, ProviderContext, ReadOptions } from "../provider.ts";
import {
  BudgetExhaustedError,
  BudgetGate,
  estimateCalls,
  formatIn,
  formatReset,
  gatedClient,
  ONELOGIN_PAGE_SIZE,
} from "./budget.ts";
import { budgetError, oneLoginError } from "./errors.ts";
import { type OneLoginFilter, parseOneLoginFilter } from "./filter.ts";
import {
  decodeOneLoginState,
  encodeOneLoginState,
  oneLoginFingerprint,
  type OneLoginState,
  planOneLoginRead,
} from "./incremental.ts";
import {
  mapOneLoginRole,
  mapOneLoginUser,
  type OneLoginEmailOptions,
  type OneLoginRoleRecord,
  parseOneLoginRole,
  parseOneLoginUser,
} from "./mapping.ts";
import { ONELOGIN_SECRET_KEY, oneLoginBaseUrl, type OneLoginSettings } from "./settings.ts";
import { OneLoginToken } from "./token.ts";

/** The user attributes roster reads (`fields=`): everything else stays on the server. */
export const ONELOGIN_USER_FIELDS = "id,username,email,status,updated_at";

/** The role attributes roster reads; `users` only sizes the member reads. */
export const ONELOGIN_ROLE_FIELDS = "id,name,users";

/** Options of the `onelogin` provider (`createOneLoginProvider`); every field has a default. */
export interface OneLoginProviderOptions {
  /** Clock in ms since the epoch. @default `Date.now` */
  now?: () => number;
  /** Waits `ms` (retries, rate-limit resets). @default a timer */
  sleep?: (ms: number) => Promise<void>;
  /** Randomness in [0, 1) for retry jitter. @default `Math.random` */
  random?: () => number;
  /** Most API calls in flight (OneLogin's role listings are read 2–4 at a time). @default 4 */
  concurrency?: number;
}

/**
 * Reads the OneLogin account as provider pages (see the module documentation).
 * @throws {ConfigError} when `directory.onelogin.clientId` or its secret is missing, or a
 *   filter is malformed, before any request.
 * @throws {DirectoryError} when OneLogin refuses the credential, or the hourly budget cannot
 *   cover the read (and `directory.onelogin.waitForRateLimit` is off), before any data is read.
 * @throws {SourceIncompleteError} when a page fails after retries, is cut short or cannot be
 *   parsed once the read has begun.
 */
export async function* readOneLogin(
  context: ProviderContext<OneLoginSettings>,
  read: ReadOptions,
  options: OneLoginProviderOptions,
): AsyncGenerator<DirectoryPage> {
  const { settings } = context;
  const baseUrl = oneLoginBaseUrl(settings.onelogin);
  const userFilter = parseOneLoginFilter(settings.sync.userFilter, "sync.userFilter");
  const roleFilter = parseOneLoginFilter(settings.sync.groupFilter, "sync.groupFilter");
  const clientId = settings.onelogin.clientId;
  const clientSecret = await context.secret(ONELOGIN_SECRET_KEY);
  if (clientId === undefined || clientSecret === undefined || clientSecret === "") {
    const key = clientId === undefined ? "directory.onelogin.clientId" : ONELOGIN_SECRET_KEY;
    throw new ConfigError(`OneLogin is not configured: ${key} is not set`, {
      hint: `Set ${key} to the API credential's ${
        clientId === undefined ? "client ID" : "client secret"
      } (OneLogin admin portal > Developers > API Credentials)`,
      details: { key },
    });
  }
  const now = options.now ?? Date.now;
  const http = createHttpClient({
    now,
    ...(settings.onelogin.caFile === undefined ? {} : { caFile: settings.onelogin.caFile }),
  });
  try {
    const reader = new OneLoginReader({
      context,
      http,
      baseUrl,
      clientId,
      clientSecret,
      userFilter,
      roleFilter,
      now,
      sleep: options.sleep ?? timerSleep,
      random: options.random ?? Math.random,
      concurrency: Math.min(4, Math.max(1, options.concurrency ?? 4)),
      signal: read.signal,
    });
    yield* reader.read(read);
  } finally {
    http.close();
  }
}

interface ReaderSetup {
  context: ProviderContext<OneLoginSettings>;
  http: HttpClient;
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  userFilter: OneLoginFilter;
  roleFilter: OneLoginFilter;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  concurrency: number;
  signal: AbortSignal | undefined;
}

function totalCount(headers: Headers): number | null {
  const value = headers.get("total-count");
  return value !== null && /^\d+$/.test(value.trim()) ? Number(value.trim()) : null;
}

/** An answer that is not a JSON array where OneLogin sends one. */
class UnexpectedPageError extends Error {}

/** The roles of a read, and their members once read. */
interface RoleRead {
  record: OneLoginRoleRecord;
  /** Member count from the role listing's `users` field, when it had one. */
  listed: number | null;
  members: number[] | null;
  /** The role was deleted while it was read (404 on its members). */
  gone: boolean;
}

/** One read of a OneLogin account. */
class OneLoginReader {
  readonly #setup: ReaderSetup;
  readonly #token: OneLoginToken;
  readonly #gate: BudgetGate;
  readonly #api: ApiSession;
  readonly #emailOptions: OneLoginEmailOptions;
  #started = false;
  #objects = 0;
  #stats: SessionStats = {
    requests: 0,
    retries: 0,
    throttled: 0,
    throttleWaits: 0,
    throttleWaitMs: 0,
  };
  #extraRequests = 0;

  constructor(setup: ReaderSetup) {
    this.#setup = setup;
    const { http, now, sleep, random } = setup;
    this.#emailOptions = {
      useEmailPrefixSuffix: setup.context.settings.sync.useEmailPrefixSuffix,
      emailSuffix: setup.context.settings.sync.emailSuffix,
    };
    this.#token = new OneLoginToken({
      http,
      baseUrl: setup.baseUrl,
      clientId: setup.clientId,
      clientSecret: setup.clientSecret,
      now,
      sleep,
      random,
    });
    this.#gate = new BudgetGate({
      wait: setup.context.settings.onelogin.waitForRateLimit,
      refresh: () => this.#rateLimit(),
      now,
      sleep,
      onWait: (ms) => {
        setup.context.log(
          "info",
          `OneLogin's hourly API budget is spent: waiting ${
            formatIn(now() + ms, now())
          } for the reset (directory.onelogin.waitForRateLimit)`,
        );
        this.#progress();
      },
    });
    // The gate sees every API call's rate-limit headers first; the session's generic
    // per-window pacing would sleep up to an hour on them, so it gets them stripped.
    this.#api = createApiSession(gatedClient(http, this.#gate), {
      concurrency: setup.concurrency,
      bucketOf: () => "account",
      headers: async () => ({ Authorization: `Bearer ${await this.#token.get()}` }),
      isRetriable: (error, attempt, idempotent) => {
        if (error instanceof BudgetExhaustedError) return false;
        if (error instanceof HttpStatusError && error.status === 401 && attempt === 1) {
          // An expired or revoked token: renew it once; a second 401 is the credential's scope.
          this.#token.invalidate();
          return true;
        }
        // A page that arrived cut short or unparsable is read again, within the bounds.
        if (error instanceof HttpBodyError) return idempotent;
        return httpRetryDecision(error, { idempotent, now });
      },
      onRetry: (event) =>
        setup.context.log(
          "debug",
          `OneLogin: retrying after ${
            event.error instanceof Error ? event.error.message : String(event.error)
          } (attempt ${event.attempt}, wait ${event.delayMs} ms)`,
        ),
      onProgress: (stats) => {
        this.#stats = stats;
        this.#progress();
      },
      now,
      sleep,
      random,
    });
  }

  #progress(done = false): void {
    this.#setup.context.progress?.({
      objects: this.#objects,
      requests: this.#stats.requests + this.#extraRequests,
      throttleWaits: this.#stats.throttleWaits + this.#gate.waits,
      ...(done ? { done: true } : {}),
    });
  }

  /** `GET /auth/rate_limit` (free): the budget, or null when it cannot be read. */
  async #rateLimit(): Promise<RateLimitState | null> {
    const { http, baseUrl, now } = this.#setup;
    const token = await this.#token.get();
    try {
      this.#extraRequests++;
      const response = await retry(
        () =>
          http.json({
            url: `${baseUrl}/auth/rate_limit`,
            headers: { Authorization: `Bearer ${token}` },
          }),
        {
          isRetriable: (error) => httpRetryDecision(error, { now }),
          maxAttempts: 3,
          now,
          sleep: this.#setup.sleep,
          random: this.#setup.random,
        },
      );
      const data = isRecord(response.body) ? response.body["data"] : undefined;
      const field = (name: string) => {
        const value = isRecord(data) ? data[name] : undefined;
        return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : null;
      };
      const limit = field("X-RateLimit-Limit");
      const remaining = field("X-RateLimit-Remaining");
      const reset = field("X-RateLimit-Reset");
      if (remaining === null || reset === null) return null;
      return { limit: limit ?? remaining, remaining, resetAt: now() + reset * 1000 };
    } catch (error) {
      this.#setup.context.log(
        "debug",
        `OneLogin: GET /auth/rate_limit failed (${
          error instanceof Error ? error.message : String(error)
        }); the budget is taken from the next answers`,
      );
      return null;
    }
  }

  /** A URL of the API with `limit` and the given parameters. */
  #url(path: string, params: readonly (readonly [string, string])[], limit: number): string {
    const url = new URL(`${this.#setup.baseUrl}${path}`);
    url.searchParams.set("limit", String(limit));
    for (const [name, value] of params) url.searchParams.set(name, value);
    return url.href;
  }

  /** One API call (paced, retried), stopped by the read's signal. */
  #get(url: string): Promise<JsonResponse> {
    const signal = this.#setup.signal;
    return this.#api.json({ url, ...(signal === undefined ? {} : { signal }) });
  }

  /**
   * Whether a role whose members answered 404 is really gone: `GET /api/2/roles/{id}` answers
   * 404 too. A role that is still there makes the 404 a failure, not a deletion.
   */
  async #gone(role: RoleRead): Promise<boolean> {
    try {
      await this.#get(`${this.#setup.baseUrl}/api/2/roles/${role.record.id}`);
      return false;
    } catch (error) {
      if (error instanceof HttpStatusError && error.status === 404) return true;
      throw error;
    }
  }

  /** A counting call: `limit=1&fields=id`, its `Total-Count`, or null when it has none. */
  async #count(
    path: string,
    params: readonly (readonly [string, string])[],
  ): Promise<number | null> {
    const response = await this.#get(this.#url(path, [...params, ["fields", "id"]], 1));
    return totalCount(response.headers);
  }

  /**
   * Reads a whole v2 listing by its `After-Cursor`, handing each page's items to `onItems`.
   * The last page must bring the item count to the listing's `Total-Count`.
   *
   * @returns the items read
   */
  async #list(
    path: string,
    params: readonly (readonly [string, string])[],
    onItems: (items: unknown[]) => void,
  ): Promise<number> {
    let read = 0;
    const pages = pagesByToken(this.#url(path, params, ONELOGIN_PAGE_SIZE), {
      get: (url) => this.#get(url),
      token: (response) => response.headers.get("after-cursor"),
      param: "cursor",
      checkEnd: (page) => {
        if (!Array.isArray(page.body)) return null; // reported below
        const total = totalCount(page.response.headers);
        const count = read + page.body.length;
        return total !== null && count < total
          ? `OneLogin reported ${total} items but the listing ended after ${count}`
          : null;
      },
      ...(this.#setup.signal === undefined ? {} : { signal: this.#setup.signal }),
    });
    for await (const page of pages) {
      if (!Array.isArray(page.body)) {
        throw new UnexpectedPageError(
          `GET ${path}: page ${page.index + 1} is not a JSON array of items`,
        );
      }
      this.#started = true;
      read += page.body.length;
      this.#objects += page.body.length;
      onItems(page.body);
    }
    this.#setup.signal?.throwIfAborted();
    return read;
  }

  /**
   * Makes sure the budget covers `needed` calls: returns when it does; waits for the reset
   * (`waitForRateLimit`); else throws the budget error (exit 6).
   */
  async #checkBudget(needed: number | null, stage: string): Promise<void> {
    const { now, context } = this.#setup;
    if (needed === null) return;
    for (let round = 0;; round++) {
      const state = this.#gate.state;
      const left = this.#gate.available();
      context.log(
        "debug",
        `OneLogin ${stage}: about ${needed} API calls needed, ${
          left === Infinity ? "budget unknown" : `${left} of ${state?.limit} left`
        }`,
      );
      if (state === null || needed <= left) return;
      const wait = context.settings.onelogin.waitForRateLimit;
      if (needed > state.limit) {
        if (!wait) {
          throw new DirectoryError(
            `OneLogin's hourly API budget cannot cover this read: it needs about ${needed} API ` +
              `calls and the limit is ${state.limit} an hour`,
            {
              code: "directory_rate_limit",
              hint: "Set directory.onelogin.waitForRateLimit true to spread the read over " +
                `about ${Math.ceil(needed / state.limit)} hours of budget, narrow ` +
                "sync.userFilter or sync.groupFilter, or ask OneLogin for a higher limit",
              details: { needed, limit: state.limit },
            },
          );
        }
        context.log(
          "warn",
          `OneLogin read needs about ${needed} API calls, more than the hourly limit of ` +
            `${state.limit}: it will wait for the budget to reset when it runs out`,
        );
        return;
      }
      if (!wait || round >= 2) {
        throw budgetError(
          { needed, remaining: Math.max(0, left), limit: state.limit, resetAt: state.resetAt },
          now(),
        );
      }
      context.log(
        "info",
        `OneLogin read needs about ${needed} API calls and ${Math.max(0, left)} are left: ` +
          `waiting for the reset at ${formatReset(state.resetAt)}`,
      );
      await this.#gate.waitForReset(state);
      await this.#gate.refresh();
    }
  }

  async *read(read: ReadOptions): AsyncGenerator<DirectoryPage> {
    try {
      yield* this.#read(read);
    } catch (error) {
      if (this.#setup.signal?.aborted === true) throw error;
      const cause = error instanceof DirectoryDataError || error instanceof UnexpectedPageError
        ? new SourceIncompleteError(error.message, {
          hint: "OneLogin sent a page roster cannot read: run again, and report it if it persists",
          cause: error,
        })
        : error;
      throw oneLoginError(cause, this.#started || cause !== error, this.#setup.now());
    }
  }

  async *#read(read: ReadOptions): AsyncGenerator<DirectoryPage> {
    const { context, userFilter, roleFilter, now } = this.#setup;
    const settings = context.settings;
    const startedAt = now();
    const fingerprint = oneLoginFingerprint(this.#setup.baseUrl, settings);
    const previous = read.mode === "incremental" ? decodeOneLoginState(read.state) : null;

    // 1. The budget (free); this fetches the token, so a refused credential stops here.
    await this.#gate.refresh();

    // 2. Full read or delta; the counting calls.
    const { users, usersToRead, since, fullBecause } = await planOneLoginRead(previous, {
      incremental: read.mode === "incremental",
      users: read.users,
      groups: read.groups,
      fingerprint,
      userFilterParams: userFilter.params,
      count: (params) => this.#count("/api/2/users", params),
    });
    const roles = read.groups ? await this.#count("/api/2/roles", roleFilter.params) : null;

    // 3. The budget check, before any data is read.
    await this.#checkBudget(
      usersToRead === null || (read.groups && roles === null)
        ? null
        : estimateCalls({ users: usersToRead, roles: read.groups ? roles : null }),
      "before the read",
    );
    if (fullBecause !== null) {
      yield {
        kind: "notice",
        code: "fullReadInstead",
        level: "info",
        message: `Reading the whole OneLogin account: ${fullBecause}`,
      };
    }

    // 4. The roles.
    const roleReads: RoleRead[] = [];
    if (read.groups) {
      await this.#list("/api/2/roles", [["fields", ONELOGIN_ROLE_FIELDS], ...roleFilter.params], (
        items,
      ) => {
        for (const item of items) {
          const listed = isRecord(item) && Array.isArray(item["users"])
            ? item["users"].length
            : null;
          roleReads.push({ record: parseOneLoginRole(item), listed, members: null, gone: false });
        }
      });
      const known = roleReads.every((r) => r.listed !== null);
      const needed =
        (usersToRead === null ? 0 : estimateCalls({ users: usersToRead, roles: null })) +
        (known
          ? roleReads.reduce(
            (sum, r) => sum + Math.max(1, Math.ceil((r.listed ?? 0) / ONELOGIN_PAGE_SIZE)),
            0,
          )
          : roleReads.length);
      await this.#checkBudget(needed, "after the role listing");
    }

    // 5. Users and role members, at once.
    const mappedUsers: DirectoryUser[] = [];
    const skipped: SkippedEntry[] = [];
    let listedUsers = 0;
    const userParams: [string, string][] = [
      ["fields", ONELOGIN_USER_FIELDS],
      ...userFilter.params,
      ...(since === null ? [] : [["updated_since", since] satisfies [string, string]]),
    ];
    let failed = false;
    const usersTask = async () => {
      if (!read.users) return;
      listedUsers = await this.#list("/api/2/users", userParams, (items) => {
        for (const item of items) {
          const mapped = mapOneLoginUser(parseOneLoginUser(item), this.#emailOptions);
          if (mapped.kind === "mapped") mappedUsers.push(mapped.value);
          else skipped.push(mapped.entry);
        }
      });
    };
    // Largest roles first (by the role listing's counts), so no long member stream starts last.
    const queue = [...roleReads].sort((a, b) => (b.listed ?? 0) - (a.listed ?? 0));
    const roleWorker = async () => {
      for (;;) {
        const role = queue.shift();
        if (role === undefined || failed) return;
        const members: number[] = [];
        try {
          await this.#list(`/api/2/roles/${role.record.id}/users`, [], (items) => {
            for (const item of items) members.push(parseOneLoginUser(item).id);
          });
          role.members = members;
        } catch (error) {
          if (error instanceof HttpStatusError && error.status === 404 && await this.#gone(role)) {
            // Deleted between the role listing and its members: it is gone, not short.
            role.gone = true;
            context.log("debug", `OneLogin role ${role.record.id} was deleted during the read`);
            continue;
          }
          failed = true;
          throw error;
        }
      }
    };
    const tasks = [usersTask(), ...Array.from({ length: this.#setup.concurrency }, roleWorker)]
      .map((task) =>
        task.catch((error) => {
          failed = true;
          throw error;
        })
      );
    const outcomes = await Promise.allSettled(tasks);
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") throw outcome.reason;
    }

    // 6. The pages.
    const groups: DirectoryGroup[] = [];
    const skippedRoles: SkippedEntry[] = [];
    const present = roleReads.filter((r) => !r.gone);
    for (const role of present) {
      const mapped = mapOneLoginRole(role.record, role.members ?? []);
      if (mapped.kind === "mapped") groups.push(mapped.value);
      else skippedRoles.push(mapped.entry);
    }
    const delta = since !== null;
    const removedUsers = delta ? skipped.map((entry) => entry.referenceId) : [];
    const removedGroups: string[] = [];
    if (delta && previous !== null && previous.roleIds !== null && read.groups) {
      const current = new Set(groups.map((g) => g.externalId));
      for (const id of previous.roleIds) {
        if (!current.has(String(id))) removedGroups.push(String(id));
      }
    }
    for (let i = 0; i < mappedUsers.length; i += 1000) {
      yield { kind: "users", users: mappedUsers.slice(i, i + 1000) };
    }
    if (delta && removedUsers.length > 0) yield { kind: "users", users: [], removed: removedUsers };
    if (read.groups) {
      yield { kind: "groups", groups, ...(delta ? { removed: removedGroups } : {}) };
    }
    if (skipped.length + skippedRoles.length > 0) {
      yield { kind: "skipped", entries: [...skipped, ...skippedRoles] };
    }
    const state: OneLoginState = {
      fingerprint,
      readAt: startedAt,
      users: delta ? users ?? 0 : listedUsers,
      roleIds: read.groups ? present.map((r) => r.record.id) : null,
    };
    this.#progress(true);
    yield delta
      ? { kind: "done", incremental: true, delta: true, state: encodeOneLoginState(state) }
      : { kind: "done", incremental: false, state: encodeOneLoginState(state) };
  }
}
