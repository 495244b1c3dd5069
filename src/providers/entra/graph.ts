/**
 * The Graph client of one Entra read: the access token, the paced and retried API session,
 * paged listings (`@odata.nextLink`) and the progress counts. The full read (`./full_read.ts`),
 * the delta read (`./delta_read.ts`), the member reads (`./members.ts`) and the filter reads
 * (`./filter_members.ts`) all go through one {@link EntraGraph}.
 * @module
 */

import { isRecord } from "../../guards.ts";
import { SourceIncompleteError } from "../../errors.ts";
import {
  type ApiSession,
  createApiSession,
  type HttpClient,
  httpRetryDecision,
  HttpStatusError,
  pagesByNextLink,
} from "../../http/mod.ts";
import type { ProviderContext, ReadOptions } from "../provider.ts";
import { graphError } from "./errors.ts";
import type { EntraGroupFilter, EntraUserFilter } from "./filter.ts";
import type { EntraEndpoints } from "./hosts.ts";
import type { EntraSettings } from "./settings.ts";
import { createTokenSource, type EntraCredential, type TokenSource } from "./token.ts";

/** Options of the Entra provider (`createEntraProvider`, tests and benchmarks). */
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

/** What one read knows before its first request: where, who, which filters, what to read. */
export interface ReadSetup {
  endpoints: EntraEndpoints;
  tenant: string;
  clientId: string;
  credential: EntraCredential;
  /** The parsed `sync.userFilter`, or null when it is empty. */
  userFilter: EntraUserFilter | null;
  /** The parsed `sync.groupFilter`, or null when it is empty. */
  groupFilter: EntraGroupFilter | null;
  /** Whether the provider applies the filters (`entraFilterHandling` is `"provider"`). */
  providerFilters: boolean;
  read: ReadOptions;
}

/** The Graph client of one read, and its counts. */
export class EntraGraph {
  readonly context: ProviderContext<EntraSettings>;
  readonly setup: ReadSetup;
  readonly options: EntraProviderOptions;
  readonly api: ApiSession;
  readonly tokens: TokenSource;
  /** The Graph v1.0 root, e.g. `https://graph.microsoft.com/v1.0`. */
  readonly base: string;
  /** Whether data has been read: failures are then `SourceIncompleteError` (`graphError`). */
  started = false;
  /** Objects read so far (progress). */
  objects = 0;
  /** Throttling waits inside `$batch` (progress; the session counts its own). */
  batchWaits = 0;

  constructor(
    context: ProviderContext<EntraSettings>,
    options: EntraProviderOptions,
    http: HttpClient,
    setup: ReadSetup,
  ) {
    this.context = context;
    this.setup = setup;
    this.options = options;
    this.base = setup.endpoints.graphBase;
    const now = options.now ?? Date.now;
    this.tokens = createTokenSource(http, {
      endpoints: setup.endpoints,
      tenant: setup.tenant,
      clientId: setup.clientId,
      credential: setup.credential,
      now,
      ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
    });
    this.api = createApiSession(http, {
      concurrency: options.concurrency ?? 12,
      headers: async () => ({ authorization: `Bearer ${await this.tokens.token()}` }),
      isRetriable: (error, attempt, idempotent) => {
        if (error instanceof HttpStatusError && error.status === 401 && attempt === 1) {
          this.tokens.invalidate();
          return true;
        }
        return httpRetryDecision(error, { idempotent, now });
      },
      onProgress: () => this.progress(false),
      now,
      ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
      ...(options.random === undefined ? {} : { random: options.random }),
    });
  }

  /** Reports the counts to the progress reporter; `done` on the last report. */
  progress(done: boolean): void {
    const stats = this.api.stats();
    this.context.progress?.({
      objects: this.objects,
      requests: stats.requests,
      throttleWaits: stats.throttleWaits + this.batchWaits,
      ...(done ? { done: true } : {}),
    });
  }

  /**
   * Every page of a listing from the URL `first`: the `value` arrays, in order.
   * @throws {SourceIncompleteError} for a page without a `value` array; Graph failures as
   *   `graphError` maps them.
   */
  async *list(first: string): AsyncGenerator<unknown[]> {
    const pages = pagesByNextLink(first, {
      get: (url) => this.api.get(url),
      next: ["@odata.nextLink"],
      ...(this.setup.read.signal === undefined ? {} : { signal: this.setup.read.signal }),
    });
    for (;;) {
      let result: IteratorResult<{ body: unknown }>;
      try {
        result = await pages.next();
      } catch (error) {
        throw graphError(error, { started: this.started });
      }
      if (result.done === true) return;
      const value = isRecord(result.value.body) ? result.value.body.value : undefined;
      if (!Array.isArray(value)) {
        throw new SourceIncompleteError(
          `Directory read incomplete: a page of ${endpointOf(first)} has no value array`,
          { hint: "Nothing was sent. Run again; if it persists, report it with this message" },
        );
      }
      this.started = true;
      yield value;
    }
  }
}

/** `GET /v1.0/users` for a Graph URL (for messages), or the text itself when it is no URL. */
export function endpointOf(url: string): string {
  try {
    return `GET ${new URL(url).pathname}`;
  } catch {
    return url;
  }
}
