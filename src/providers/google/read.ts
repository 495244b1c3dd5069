/**
 * The Google Workspace read: users, deleted users, groups and the members of every group from
 * the Admin SDK Directory API, through the shared HTTP layer.
 *
 * - Every listing carries the account scope (`customer`, or `domain` when one is set, see
 *   `./settings.ts`), Google's largest page size (users 500, groups and members 200) and a
 *   `fields=` projection of the fields roster maps (`./mapping.ts`). Pages are chained by
 *   `nextPageToken`, which is absent on the last page.
 * - Users: `users.list`, then `users.list?showDeleted=true` (only the deleted users), both with
 *   the native query of `sync.userFilter`. Groups: `groups.list` with the native query of
 *   `sync.groupFilter`; then `members.list` of every group whose `directMembersCount` is not
 *   `"0"`, many groups at once. Nested groups are left to the engine (no
 *   `includeDerivedMembership`), so cycles are resolved there.
 * - The three listings run at the same time; their requests share one bounded, adaptive
 *   concurrency limit (16 at most, halved on throttling) and the per-user quota gate
 *   (`./quota.ts`). Throttled answers (403 `userRateLimitExceeded` / `rateLimitExceeded` /
 *   `quotaExceeded`, 429) pause every sender and are retried; other transient failures
 *   (5xx, resets, truncated bodies) are retried with exponential backoff and full jitter; a
 *   request is given up after 8 attempts or 5 minutes.
 * - Google has no change feed for groups or memberships (and none that proves a user listing
 *   complete), so an incremental read is a full read, said with a `fullReadInstead` notice.
 * @module
 */

import type { DirectoryGroup, DirectoryUser, SkippedEntry } from "../../engine/types.ts";
import { ConfigError, SourceIncompleteError } from "../../errors.ts";
import {
  apiErrorInfo,
  createApiSession,
  createHttpClient,
  type HttpClient,
  httpRetryDecision,
  HttpStatusError,
  isThrottled,
  type JsonResponse,
  pagesByToken,
  type RetryLimits,
  valueAt,
} from "../../http/mod.ts";
import type { DirectoryPage, ProviderContext, ReadOptions } from "../provider.ts";
import { apiFailure, type FailureContext, type GoogleIdentity, tokenFailure } from "./errors.ts";
import { type GoogleFilter, parseGoogleFilter } from "./filter.ts";
import { parseServiceAccountKey } from "./key.ts";
import {
  type GoogleGroupRecord,
  GROUP_FIELDS,
  mapGoogleGroup,
  mapGoogleMember,
  mapGoogleUser,
  MEMBER_FIELDS,
  parseGoogleGroup,
  USER_FIELDS,
} from "./mapping.ts";
import { QuotaGate } from "./quota.ts";
import { googleEndpoints, googleScope, type GoogleSettings } from "./settings.ts";
import { createTokenSource, GoogleTokenError } from "./token.ts";

/** Tuning of the read; every field has a default (tests inject clocks and small limits). */
export interface GoogleReadTuning {
  /** Most requests in flight. @default 16 */
  maxConcurrency?: number;
  /** The per-user quota, requests per minute. @default 2400 */
  quotaPerMinute?: number;
  /** Retry bounds of each request. @default 8 attempts, 5 minutes, 1 s doubling to 32 s */
  retry?: RetryLimits;
  /** Clock in ms. @default `Date.now` */
  now?: () => number;
  /** Waits `ms`. @default a timer */
  sleep?: (ms: number) => Promise<void>;
  /** Randomness in [0, 1). @default `Math.random` */
  random?: () => number;
  /** The HTTP client. @default one made with `directory.google.caFile` */
  http?: HttpClient;
}

const SCOPE = "https://www.googleapis.com/auth/";
const RETRY: RetryLimits = {
  maxAttempts: 8,
  maxElapsedMs: 300_000,
  baseDelayMs: 1000,
  maxDelayMs: 32_000,
};

function missing(setting: string, how: string): ConfigError {
  return new ConfigError(`Directory configuration incomplete: ${setting} is not set`, {
    hint: how,
    details: { missing: [setting] },
  });
}

/** A group and the raw member records read for it. */
interface GroupRead {
  group: GoogleGroupRecord;
  members: unknown[];
}

/**
 * Reads the whole Google Workspace directory as provider pages (see the module documentation).
 * @throws {ConfigError} for a bad filter, URL, key or missing setting, before any request.
 * @throws {DirectoryError} when the credentials, the delegation or the admin are refused, or
 *   Google cannot be reached before any data was read.
 * @throws {SourceIncompleteError} when a page fails after retries once the read has begun.
 * @throws {DirectoryDataError} for records roster cannot interpret.
 */
export async function* readGoogle(
  context: ProviderContext<GoogleSettings>,
  options: ReadOptions,
  tuning: GoogleReadTuning = {},
): AsyncGenerator<DirectoryPage> {
  const { google, sync } = context.settings;
  const userFilter = parseGoogleFilter(sync.userFilter, "sync.userFilter");
  const groupFilter = parseGoogleFilter(sync.groupFilter, "sync.groupFilter");
  const endpoints = googleEndpoints(google);
  const scope = googleScope(google);
  const subject = google.adminUser?.trim();
  if (subject === undefined || subject === "") {
    throw missing(
      "directory.google.adminUser",
      "roster config set directory.google.adminUser admin@example.com (an administrator to impersonate)",
    );
  }
  const secret = await context.secret("directory.google.privateKey");
  if (secret === undefined) {
    throw missing(
      "directory.google.privateKey",
      "roster config set directory.google.privateKey --secret-file key.json",
    );
  }
  const key = parseServiceAccountKey(secret, { clientEmail: google.clientEmail });
  const identity: GoogleIdentity = {
    clientEmail: key.clientEmail,
    clientId: key.clientId,
    subject,
  };
  if (scope.domain !== null) {
    context.log(
      "info",
      `Google: reading only the domain ${scope.domain} (directory.google.domain); unset it to read every domain of the account`,
    );
  }
  if (options.mode === "incremental") {
    yield {
      kind: "notice",
      code: "fullReadInstead",
      level: "info",
      message:
        "Google: reading the whole directory (the Directory API has no change feed for groups and memberships)",
    };
  }

  const now = tuning.now ?? Date.now;
  const http = tuning.http ??
    createHttpClient(google.caFile === undefined ? {} : { caFile: google.caFile });
  const clock = {
    now,
    ...(tuning.sleep === undefined ? {} : { sleep: tuning.sleep }),
    ...(tuning.random === undefined ? {} : { random: tuning.random }),
  };
  const tokens = createTokenSource(http, {
    key,
    subject,
    tokenUrl: endpoints.tokenUrl,
    ...clock,
  });
  const quota = new QuotaGate({
    ...(tuning.quotaPerMinute === undefined ? {} : { perMinute: tuning.quotaPerMinute }),
    ...clock,
  });
  /** Aborts every listing: on the first failure, or when the caller's signal aborts. */
  const abort = new AbortController();
  let objects = 0;
  const report = (done = false) =>
    context.progress?.({
      objects,
      requests: session.stats().requests + tokens.requests,
      throttleWaits: quota.waits,
      ...(done ? { done } : {}),
    });
  const session = createApiSession(http, {
    concurrency: tuning.maxConcurrency ?? 16,
    retry: tuning.retry ?? RETRY,
    headers: async () => {
      await quota.acquire(abort.signal);
      return { authorization: `Bearer ${await tokens.token()}` };
    },
    isRetriable: (error, attempt, idempotent) => {
      if (error instanceof GoogleTokenError) return false;
      if (error instanceof HttpStatusError && error.status === 401 && attempt === 1) {
        tokens.invalidate();
        return { waitMs: 0 };
      }
      if (
        isThrottled(error) && error instanceof HttpStatusError &&
        error.headers.get("retry-after") === null
      ) {
        // Google sends no Retry-After on its quota answers: back off as it documents.
        const reason = apiErrorInfo(error.body).code;
        quota.throttled(reason === "userRateLimitExceeded" ? "quota" : "concurrency");
        return { waitMs: 0 }; // the pause is waited in quota.acquire(), by every sender
      }
      return httpRetryDecision(error, { idempotent, now });
    },
    onProgress: () => report(),
    ...clock,
  });

  try {
    try {
      await tokens.token();
    } catch (error) {
      throw error instanceof GoogleTokenError ? tokenFailure(error, identity) : error;
    }

    const onAbort = () => abort.abort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    let started = false;

    const get = async (url: string): Promise<JsonResponse> => {
      const response = await session.json({ url, signal: abort.signal });
      quota.succeeded();
      return response;
    };

    /** Reads every page of a listing; `collection` is the array key of its pages. */
    const list = async (
      url: URL,
      collection: "users" | "groups" | "members",
      failure: Omit<FailureContext, "identity" | "started" | "laterPage">,
      onItems: (items: unknown[]) => void,
    ): Promise<void> => {
      let pages = 0;
      try {
        for await (
          const page of pagesByToken(url.href, {
            get,
            token: (response) => valueAt(response.body, ["nextPageToken"]),
            param: "pageToken",
            signal: abort.signal,
          })
        ) {
          pages++;
          const items = valueAt(page.body, [collection]);
          if (items !== undefined && !Array.isArray(items)) {
            throw new SourceIncompleteError(
              `Google directory read incomplete: a page of ${failure.listing} holds no ${collection} list`,
              {
                hint: "Nothing was sent. Check directory.google.apiUrl (unset it for Google's " +
                  "own endpoint) and run again",
                details: { listing: failure.listing },
              },
            );
          }
          started = true;
          onItems(items ?? []);
          objects += items?.length ?? 0;
        }
      } catch (error) {
        throw apiFailure(error, { ...failure, identity, started, laterPage: pages > 0 });
      }
      if (abort.signal.aborted) throw new Error("aborted");
    };

    const listingUrl = (path: string, params: Record<string, string | null>): URL => {
      const url = new URL(`${endpoints.directoryBase}${path}`);
      for (const [name, value] of Object.entries(params)) {
        if (value !== null) url.searchParams.set(name, value);
      }
      return url;
    };
    const account = { customer: scope.customer, domain: scope.domain };
    const queryOf = (filter: GoogleFilter, setting: "sync.userFilter" | "sync.groupFilter") =>
      filter.query === null ? {} : { query: { setting, text: filter.query } };

    const users: DirectoryUser[] = [];
    const deletedUsers: DirectoryUser[] = [];
    const skipped: SkippedEntry[] = [];
    const groupReads: GroupRead[] = [];

    const readUsers = (deleted: boolean) =>
      list(
        listingUrl("/users", {
          ...account,
          maxResults: "500",
          ...(deleted ? { showDeleted: "true" } : {}),
          query: userFilter.query,
          fields: USER_FIELDS,
        }),
        "users",
        {
          listing: deleted ? "deleted users" : "users",
          scope: `${SCOPE}admin.directory.user.readonly`,
          ...queryOf(userFilter, "sync.userFilter"),
        },
        (items) => {
          for (const raw of items) {
            const mapped = mapGoogleUser(raw, { deleted });
            if (mapped.kind === "user") (deleted ? deletedUsers : users).push(mapped.user);
            else skipped.push(mapped.entry);
          }
        },
      );

    const readMembers = async (read: GroupRead): Promise<void> => {
      const label = read.group.email ?? read.group.name ?? read.group.id;
      await list(
        listingUrl(`/groups/${encodeURIComponent(read.group.id)}/members`, {
          maxResults: "200",
          fields: MEMBER_FIELDS,
        }),
        "members",
        {
          listing: `members of group ${label}`,
          scope: `${SCOPE}admin.directory.group.member.readonly`,
        },
        (items) => {
          for (const raw of items) read.members.push(raw);
        },
      );
    };

    /** The first failure of any listing; the others are then aborted. */
    let failure: { error: unknown } | undefined;
    const fail = (error: unknown): void => {
      failure ??= { error };
      abort.abort();
    };
    const memberReads: Promise<void>[] = [];

    const readGroups = () =>
      list(
        listingUrl("/groups", {
          ...account,
          maxResults: "200",
          query: groupFilter.query,
          fields: GROUP_FIELDS,
        }),
        "groups",
        {
          listing: "groups",
          scope: `${SCOPE}admin.directory.group.readonly`,
          ...queryOf(groupFilter, "sync.groupFilter"),
        },
        (items) => {
          for (const raw of items) {
            const read: GroupRead = { group: parseGoogleGroup(raw), members: [] };
            groupReads.push(read);
            if (read.group.directMembersCount !== 0) {
              memberReads.push(readMembers(read).catch(fail));
            }
          }
        },
      );

    const tasks: Promise<void>[] = [];
    if (options.users) tasks.push(readUsers(false).catch(fail), readUsers(true).catch(fail));
    if (options.groups) tasks.push(readGroups().catch(fail));
    try {
      await Promise.all(tasks);
      // Every member read has been started once the group listing is over.
      await Promise.all(memberReads);
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
    }
    options.signal?.throwIfAborted();
    if (failure !== undefined) throw failure.error;

    if (users.length > 0) yield { kind: "users", users };
    if (deletedUsers.length > 0) yield { kind: "users", users: deletedUsers };

    if (options.groups) {
      // A USER member outside the account can be told only when every user of it was read.
      const wholeAccount = options.users && scope.domain === null && userFilter.query === null;
      const accountUserIds = wholeAccount
        ? new Set([...users, ...deletedUsers].map((u) => u.externalId))
        : undefined;
      const memberOptions = accountUserIds === undefined ? {} : { accountUserIds };
      const groups: DirectoryGroup[] = [];
      for (const read of groupReads) {
        const refs: string[] = [];
        for (const raw of read.members) {
          const mapped = mapGoogleMember(raw, read.group, memberOptions);
          if (mapped.kind === "ref") refs.push(mapped.ref);
          else if (mapped.kind === "skipped") skipped.push(mapped.entry);
        }
        const group = mapGoogleGroup(read.group, refs);
        if (group.kind === "group") groups.push(group.group);
        else skipped.push(group.entry);
      }
      if (groups.length > 0) yield { kind: "groups", groups };
    }
    if (skipped.length > 0) yield { kind: "skipped", entries: skipped };
    report(true);
    yield { kind: "done", incremental: false };
  } finally {
    if (tuning.http === undefined) http.close();
  }
}
