/**
 * One read of the `okta` source: users, groups and memberships from the Okta Management API
 * (`/api/v1/users`, `/api/v1/groups`, `/api/v1/groups/{id}/users`) with an API token (`SSWS`).
 *
 * How a read goes:
 * 1. Users: `/api/v1/users?limit=200` (Okta's largest page) following `Link: rel="next"`, with
 *    `okta-response=omitCredentials,omitCredentialsLinks` so credentials do not travel, plus a
 *    second stream `filter=status eq "DEPROVISIONED"` (a plain listing leaves those out); with a
 *    native filter, one stream with it (a filter or search includes DEPROVISIONED users).
 * 2. Groups: `/api/v1/groups?limit=10000&expand=stats` (one request for most orgs); the stats'
 *    `usersCount` lets empty groups be skipped and the biggest read first.
 * 3. Members: `/api/v1/groups/{id}/users?limit=1000` for many groups at once, by a bounded
 *    pool of workers. Every request is paced by the rate-limit bucket of its endpoint family
 *    (`X-Rate-Limit-Limit/Remaining/Reset`), so roster spends at most
 *    `directory.okta.maxRateShare` percent of each bucket's limit in one window and waits for
 *    the reset when that share is spent; a 429 waits until the `X-Rate-Limit-Reset` it names
 *    and pauses every worker; a 429 over Okta's concurrent limit halves the workers.
 *
 * Incremental reads are delta reads (`done.delta`): users and groups are listed in full (a few
 * requests), and only the groups whose `lastUpdated` or `lastMembershipUpdated` moved since the
 * last complete read (Okta moves only the latter for membership changes) have their members
 * re-read; the pipeline merges them into the stored snapshot. Deletions cannot be seen by those
 * times, so the read proves none happened (see `./state.ts`) and reads in full otherwise.
 * @module
 */

import type { DirectoryGroup, DirectoryUser, SkippedEntry } from "../../engine/types.ts";
import { ConfigError, RosterError, SourceIncompleteError } from "../../errors.ts";
import {
  type ApiSession,
  createApiSession,
  createHttpClient,
  describeHttpError,
  HttpBodyError,
  HttpCaFileError,
  HttpError,
  httpRetryDecision,
  HttpStatusError,
  type JsonResponse,
  pagesByLinkHeader,
  PagingError,
  RetryExhaustedError,
} from "../../http/mod.ts";
import type { DirectoryPage, ProviderContext, ReadOptions } from "../provider.ts";
import { oktaError } from "./errors.ts";
import { oktaGroupQuery, type OktaQuery, oktaUserQueries } from "./filter.ts";
import {
  mapOktaGroup,
  mapOktaUser,
  oktaGroupChangedSince,
  type OktaGroupRecord,
  parseOktaGroup,
  parseOktaUser,
} from "./mapping.ts";
import { OKTA_TOKEN_KEY, oktaBaseUrl, oktaFilters, type OktaSettings } from "./settings.ts";
import { decodeState, digestBefore, encodeState, type OktaReadState, scopeOf } from "./state.ts";

/** Okta's largest page of `/api/v1/users`. */
export const USERS_PAGE_SIZE = 200;
/** Okta's largest page of `/api/v1/groups`. */
export const GROUPS_PAGE_SIZE = 10_000;
/** Okta's largest page of `/api/v1/groups/{id}/users`. */
export const MEMBERS_PAGE_SIZE = 1000;

/** How long one request may keep retrying (rate-limit waits included), in ms: 15 minutes. */
export const RETRY_MAX_ELAPSED_MS = 15 * 60_000;

/** Options of the `okta` provider (`createOktaProvider`) besides the context (tests, benchmark). */
export interface OktaProviderOptions {
  /**
   * Most requests in flight (member reads run in that many workers); halved while Okta answers
   * 429 for its concurrent limit. @default 16
   */
  concurrency?: number;
  /** Clock in ms since the epoch. @default `Date.now` */
  now?: () => number;
  /** Waits `ms`. @default a timer */
  sleep?: (ms: number) => Promise<void>;
  /** Randomness in [0, 1) for retry jitter. @default `Math.random` */
  random?: () => number;
}

/** The Okta rate-limit bucket of a URL: Okta's endpoint families for the calls roster makes. */
export function oktaBucketOf(url: URL): string {
  const path = url.pathname.replace(/\/+$/, "");
  if (path.endsWith("/api/v1/users")) return "users";
  if (path.endsWith("/api/v1/groups")) return "groups";
  if (/\/api\/v1\/groups\/[^/]+\/users$/.test(path)) return "groupUsers";
  return "other";
}

interface UserItem {
  id: string;
  created: number | null;
  lastUpdated: number | null;
  mapped: { user: DirectoryUser } | { skipped: SkippedEntry };
}

interface GroupItem {
  record: OktaGroupRecord;
  created: number | null;
}

function time(value: string | null): number | null {
  if (value === null) return null;
  const t = Date.parse(value);
  return Number.isNaN(t) ? null : t;
}

function queryString(query: OktaQuery): string {
  let text = "";
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined) text += `&${name}=${encodeURIComponent(value)}`;
  }
  return text;
}

function arrayBody(page: JsonResponse, what: string): unknown[] {
  if (Array.isArray(page.body)) return page.body;
  throw new HttpBodyError(
    { method: "GET", url: page.url },
    "unexpected-shape",
    {
      status: page.status,
      excerpt: page.bodyText,
      message: `the ${what} page is not a JSON array`,
    },
  );
}

/**
 * Reads the Okta org as provider pages (see the module documentation); the errors it throws
 * are listed on `createOktaProvider`.
 */
export async function* readOkta(
  context: ProviderContext<OktaSettings>,
  read: ReadOptions,
  options: OktaProviderOptions,
): AsyncGenerator<DirectoryPage> {
  const { okta, sync } = context.settings;
  const base = oktaBaseUrl(okta.orgUrl);
  const filters = oktaFilters(sync);
  const token = (await context.secret(OKTA_TOKEN_KEY))?.trim();
  if (token === undefined || token === "") {
    throw new ConfigError(`Missing ${OKTA_TOKEN_KEY}: roster has no Okta API token`, {
      hint: `Create an API token in the Okta Admin Console (Security → API → Tokens) and set ` +
        `it with: roster config set ${OKTA_TOKEN_KEY} --secret-env OKTA_TOKEN`,
      details: { setting: OKTA_TOKEN_KEY },
    });
  }
  const now = options.now ?? Date.now;
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 16));
  const http = createHttpClient({
    ...(okta.caFile === undefined ? {} : { caFile: okta.caFile }),
    now,
  });
  let objects = 0;
  const progress = (done = false) => {
    const stats = session.stats();
    context.progress?.({
      objects,
      requests: stats.requests,
      throttleWaits: stats.throttleWaits,
      ...(done ? { done: true } : {}),
    });
  };
  const session: ApiSession = createApiSession(http, {
    concurrency,
    rateLimitShare: okta.maxRateShare,
    bucketOf: oktaBucketOf,
    headers: () => ({
      Authorization: `SSWS ${token}`,
      Accept: "application/json",
      "Content-Type": "application/json; okta-response=omitCredentials,omitCredentialsLinks",
    }),
    isRetriable: (error, _attempt, idempotent) => httpRetryDecision(error, { idempotent, now }),
    // A request may wait for several one-minute windows when the share is spent or Okta
    // answers 429 several times: give it the time, the attempts stay bounded.
    retry: { maxElapsedMs: RETRY_MAX_ELAPSED_MS },
    onRetry: (event) =>
      context.log(
        "debug",
        `Okta: retrying in ${Math.round(event.delayMs)} ms (${describeHttpError(event.error)})`,
      ),
    onProgress: () => progress(),
    now,
    ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
    ...(options.random === undefined ? {} : { random: options.random }),
  });

  // The server time of the read's start: the `Date` of its first answer (one-second
  // resolution, so rounded down: anything later is treated as after the start).
  let readAt: number | null = null;
  let started = false;
  const failed = new AbortController();
  let firstAnswered: () => void = () => {};
  const firstAnswer = new Promise<void>((resolve) => {
    firstAnswered = resolve;
  });
  const get = async (url: string): Promise<JsonResponse> => {
    if (failed.signal.aborted) throw failed.signal.reason;
    read.signal?.throwIfAborted();
    const response = await session.get(url);
    if (readAt === null) {
      const date = Date.parse(response.headers.get("date") ?? "");
      readAt = Number.isNaN(date) ? now() - 1000 : date;
      firstAnswered();
    }
    return response;
  };
  /**
   * Runs one listing to its end, or maps its failure to a roster error. With `mayBeGone`, a
   * 404 on the first page (the object was deleted since it was listed) returns false.
   */
  const list = async (
    first: string,
    what: string,
    onPage: (items: unknown[]) => void,
    mayBeGone = false,
  ): Promise<boolean> => {
    let pages = 0;
    try {
      for await (const page of pagesByLinkHeader(first, { get })) {
        onPage(arrayBody(page.response, what));
        pages++;
        started = true;
      }
      return true;
    } catch (error) {
      if (mayBeGone && pages === 0 && error instanceof HttpStatusError && error.status === 404) {
        return false;
      }
      throw toRosterError(error, what);
    }
  };
  const toRosterError = (error: unknown, what: string): unknown => {
    if (error instanceof RosterError) return error;
    if (error instanceof PagingError && error.pages > 0) {
      return new SourceIncompleteError(
        `Okta read incomplete: reading ${what} stopped: ${error.message}`,
        { hint: "Nothing was sent. Run again; if it persists, report the Okta answer shown" },
      );
    }
    const http = error instanceof HttpError || error instanceof RetryExhaustedError ||
      error instanceof HttpCaFileError;
    return http ? oktaError(error, { what, started, orgUrl: base }) : error;
  };

  // Runs `tasks` at once; the first failure stops the others (they see `failed`).
  const all = async (tasks: (() => Promise<void>)[]): Promise<void> => {
    const results = await Promise.allSettled(tasks.map(async (task) => {
      try {
        await task();
      } catch (error) {
        if (!failed.signal.aborted) failed.abort(error);
        throw error;
      }
    }));
    if (failed.signal.aborted) throw failed.signal.reason;
    for (const result of results) if (result.status === "rejected") throw result.reason;
  };

  try {
    const previous = read.mode === "incremental" ? decodeState(read.state) : null;
    const scope = scopeOf([
      base,
      filters.users.native?.parameter ?? null,
      filters.users.native?.expression ?? null,
      filters.groups.native?.parameter ?? null,
      filters.groups.native?.expression ?? null,
      read.groups ? "groups" : "users",
    ]);
    const notices: DirectoryPage[] = [];
    let delta: OktaReadState | null = previous !== null && previous.scope === scope
      ? previous
      : null;
    if (read.mode === "incremental" && delta === null && read.state !== undefined) {
      notices.push({
        kind: "notice",
        code: "fullReadInstead",
        level: "info",
        message: previous === null
          ? "Okta: reading the whole directory (no usable state from the last sync)"
          : "Okta: reading the whole directory (the org URL or a native filter changed)",
      });
    }

    // 1. Users, and the group listing, at once (different rate-limit buckets).
    const userQueries = oktaUserQueries(filters.users.native);
    const users = new Map<string, UserItem>();
    const groupItems: GroupItem[] = [];
    const readUsers = async (query: OktaQuery) => {
      const first = `${base}/api/v1/users?limit=${USERS_PAGE_SIZE}${queryString(query)}`;
      await list(first, "users", (items) => {
        for (const item of items) {
          const record = parseOktaUser(item);
          const mapped = mapOktaUser(record);
          users.set(record.id, {
            id: record.id,
            created: time(record.created),
            lastUpdated: time(record.lastUpdated),
            mapped: mapped.kind === "mapped" ? { user: mapped.value } : { skipped: mapped.entry },
          });
          objects++;
        }
      });
    };
    const readGroups = async () => {
      const query = oktaGroupQuery(filters.groups.native);
      const first = `${base}/api/v1/groups?limit=${GROUPS_PAGE_SIZE}&expand=stats${
        queryString(query)
      }`;
      await list(first, "groups", (items) => {
        for (const item of items) {
          const record = parseOktaGroup(item);
          groupItems.push({ record, created: time(record.created) });
          objects++;
        }
      });
    };
    // The first users page goes alone: a refused token or a missing role shows there, before
    // anything else is sent.
    const [firstQuery, ...otherQueries] = userQueries;
    const tasks: (() => Promise<void>)[] = [];
    if (firstQuery !== undefined) tasks.push(() => readUsers(firstQuery));
    for (const query of otherQueries) tasks.push(() => readUsers(query));
    if (read.groups) tasks.push(readGroups);
    if (!read.users && !read.groups) tasks.length = 0;
    const [head, ...rest] = tasks;
    if (head !== undefined) {
      // The others start once the first listing has an answer.
      await all([
        async () => {
          try {
            await head();
          } finally {
            firstAnswered();
          }
        },
        async () => {
          await firstAnswer;
          // Only after a successful answer: a refused token fails the first listing alone.
          if (readAt !== null && !failed.signal.aborted) await all(rest);
        },
      ]);
    }
    const startedAt = readAt ?? now();

    // 2. Is a delta complete? Nothing listed at the last read may have disappeared since.
    if (delta !== null) {
      const usersDigest = digestBefore(users.values(), delta.readAt);
      const groupsDigest = digestBefore(
        groupItems.map((g) => ({ id: g.record.id, created: g.created })),
        delta.readAt,
      );
      let reason: string | null = null;
      if (usersDigest !== delta.users) reason = "users were deleted or left the user filter";
      else if (read.groups && groupsDigest !== delta.groups) {
        reason = "groups were deleted or left the group filter";
      }
      if (reason !== null) {
        notices.push({
          kind: "notice",
          code: "fullReadInstead",
          level: "info",
          message: `Okta: reading every group's members (${reason} since the last sync)`,
        });
        delta = null;
      }
    }

    // 3. Members: the groups that changed (all of them on a full read), biggest first.
    const since = delta?.readAt;
    const toRead = groupItems.filter((g) =>
      since === undefined || (g.created === null || g.created > since) ||
      oktaGroupChangedSince(g.record, new Date(since))
    );
    const members = new Map<string, string[]>();
    const gone = new Set<string>();
    const queue = toRead
      .filter((g) => {
        if (g.record.usersCount === 0) {
          members.set(g.record.id, []);
          return false;
        }
        return true;
      })
      .sort((a, b) =>
        (b.record.usersCount ?? Number.MAX_SAFE_INTEGER) -
        (a.record.usersCount ?? Number.MAX_SAFE_INTEGER)
      );
    let next = 0;
    const worker = async () => {
      while (next < queue.length && !failed.signal.aborted) {
        const item = queue[next++];
        if (item === undefined) break;
        const { id, name } = item.record;
        const ids: string[] = [];
        const what = `the members of group ${name ?? id} (${id})`;
        const found = await list(
          `${base}/api/v1/groups/${encodeURIComponent(id)}/users?limit=${MEMBERS_PAGE_SIZE}`,
          what,
          (items) => {
            for (const user of items) ids.push(parseOktaUser(user).id);
          },
          true,
        );
        // A group deleted since it was listed is no longer in the directory.
        if (found) members.set(id, ids);
        else gone.add(id);
      }
    };
    await all(Array.from({ length: Math.min(concurrency, queue.length) }, () => worker));

    // 4. Pages.
    for (const notice of notices) yield notice;
    const userList: DirectoryUser[] = [];
    const skipped: SkippedEntry[] = [];
    for (const item of users.values()) {
      if ("user" in item.mapped) userList.push(item.mapped.user);
      else skipped.push(item.mapped.skipped);
    }
    if (read.users || read.groups) yield { kind: "users", users: userList };
    const groupList: DirectoryGroup[] = [];
    for (const item of toRead) {
      const ids = members.get(item.record.id);
      if (ids === undefined) continue; // deleted while read
      const mapped = mapOktaGroup(item.record, ids);
      if (mapped.kind === "mapped") groupList.push(mapped.value);
      else skipped.push(mapped.entry);
    }
    if (read.groups) yield { kind: "groups", groups: groupList };
    if (skipped.length > 0) yield { kind: "skipped", entries: skipped };
    if (
      delta !== null && toRead.length === 0 &&
      ![...users.values()].some((u) => u.lastUpdated === null || u.lastUpdated > (since ?? 0))
    ) {
      yield {
        kind: "notice",
        code: "noChanges",
        level: "info",
        message: "Okta: no users or groups changed since the last sync",
      };
    }
    const state = encodeState({
      readAt: startedAt,
      users: digestBefore(users.values(), startedAt),
      groups: digestBefore(
        groupItems
          .filter((g) => !gone.has(g.record.id))
          .map((g) => ({ id: g.record.id, created: g.created })),
        startedAt,
      ),
      scope,
    });
    const stats = session.stats();
    context.log(
      "debug",
      `Okta: ${users.size} users, ${groupItems.length} groups (${toRead.length} member lists read) in ${stats.requests} requests, ${stats.throttled} throttled, ${stats.throttleWaits} waits`,
    );
    progress(true);
    yield delta === null
      ? { kind: "done", incremental: false, state }
      : { kind: "done", incremental: true, delta: true, state };
  } finally {
    http.close();
  }
}
