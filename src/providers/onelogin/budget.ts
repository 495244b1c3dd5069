/**
 * OneLogin's hourly API budget: 5,000 calls per hour per account (OneLogin's documented
 * limit), reported on every answer as `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
 * `X-RateLimit-Reset` (the reset in **seconds from now**), and by `GET /auth/rate_limit`, which
 * costs nothing.
 *
 * The budget belongs to the whole account, so other integrations spend it too. roster:
 * - estimates the calls a read needs before starting it ({@link estimateCalls}) and stops
 *   before the first data request when the budget left cannot cover it, or waits for the reset
 *   when `directory.onelogin.waitForRateLimit` is on (`read.ts`);
 * - passes every API call through a {@link BudgetGate} ({@link gatedClient}), which knows the
 *   calls left from the last answers and, when none are left, waits for the reset
 *   (`waitForRateLimit`) or stops the read with {@link BudgetExhaustedError}, never sending
 *   calls that can only be refused.
 * @module
 */

import {
  type HttpClient,
  HttpStatusError,
  parseRateLimitHeaders,
  type RateLimitState,
} from "../../http/mod.ts";

/** OneLogin's documented budget: calls per hour per account. */
export const ONELOGIN_HOURLY_LIMIT = 5000;

/** The largest page OneLogin serves on `/api/2/users`, `/api/2/roles` and role users. */
export const ONELOGIN_PAGE_SIZE = 100;

/** The hourly budget is spent (and roster may not wait for its reset). */
export class BudgetExhaustedError extends Error {
  /** The budget as last reported. */
  readonly state: RateLimitState;
  constructor(state: RateLimitState) {
    super(`no API calls left until the reset at ${formatReset(state.resetAt)}`);
    this.name = "BudgetExhaustedError";
    this.state = state;
  }
}

/** `2026-01-01 10:00:00 UTC`. */
export function formatReset(resetAt: number): string {
  return `${new Date(resetAt).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

/** `42 min`, `1 h 5 min` or `30 s`: how long until `resetAt`. */
export function formatIn(resetAt: number, now: number): string {
  const seconds = Math.max(0, Math.ceil((resetAt - now) / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = `${Math.floor(minutes / 60)} h`;
  return minutes % 60 === 0 ? hours : `${hours} ${minutes % 60} min`;
}

/** What a read is expected to need. */
export interface ReadSize {
  /** Users the user listing returns (its `Total-Count`). */
  users: number;
  /** Roles the role listing returns, or null when roles are not read. */
  roles: number | null;
  /**
   * Member counts of the roles when known (the role listing's `users` field), else null: each
   * role then counts for one page of members, the fewest it can need.
   */
  roleMembers?: readonly number[] | null;
}

/**
 * The API calls a read needs at the largest page size: one per started page of users, of
 * roles, and of each role's members (an empty listing still takes one call).
 */
export function estimateCalls(size: ReadSize): number {
  const pages = (n: number) => Math.max(1, Math.ceil(n / ONELOGIN_PAGE_SIZE));
  let calls = pages(size.users);
  if (size.roles !== null) {
    calls += pages(size.roles);
    const members = size.roleMembers ?? null;
    calls += members === null ? size.roles : members.reduce((sum, n) => sum + pages(n), 0);
  }
  return calls;
}

/** Options of {@link BudgetGate}. */
export interface BudgetGateOptions {
  /** Wait for the reset when the budget is spent, instead of throwing. */
  wait: boolean;
  /** Reads the budget afresh (`GET /auth/rate_limit`, free), or null when it cannot. */
  refresh: () => Promise<RateLimitState | null>;
  /** Clock in ms. */
  now: () => number;
  /** Waits `ms`. */
  sleep: (ms: number) => Promise<void>;
  /** Called before each wait for a reset, with its length in ms. */
  onWait?: (ms: number) => void;
  /** Added to each wait for a reset, ms (one-second resolution of the reset). @default 1000 */
  marginMs?: number;
}

/**
 * Lets an API call start only while the hourly budget has calls left, counting the calls in
 * flight. Feed it every answer's headers ({@link update}); after a 429 ({@link markStale}) it
 * reads the budget afresh before the next call, so a burst refusal with budget left is retried
 * and an exhausted budget is not.
 */
export class BudgetGate {
  readonly #options: BudgetGateOptions;
  #state: RateLimitState | null = null;
  #inFlight = 0;
  #stale = false;
  #refreshing: Promise<void> | null = null;
  #waits = 0;

  constructor(options: BudgetGateOptions) {
    this.#options = options;
  }

  /** The budget as last reported, or null before any answer. */
  get state(): RateLimitState | null {
    return this.#state === null ? null : { ...this.#state };
  }

  /** Waits for a reset taken so far. */
  get waits(): number {
    return this.#waits;
  }

  /** Calls that may still start in this window (Infinity when unknown or past the reset). */
  available(): number {
    const state = this.#state;
    if (state === null || this.#options.now() >= state.resetAt) return Infinity;
    return state.remaining - this.#inFlight;
  }

  /** Reads the budget afresh now (one read at a time). */
  async refresh(): Promise<void> {
    this.#refreshing ??= (async () => {
      try {
        const fresh = await this.#options.refresh();
        if (fresh !== null) this.#state = fresh;
        this.#stale = false;
      } finally {
        this.#refreshing = null;
      }
    })();
    await this.#refreshing;
  }

  /**
   * Waits until a call may start, then counts it in flight.
   *
   * @throws {BudgetExhaustedError} when no call is left before the reset and waiting is off,
   *   or when the budget is still spent after two waits for a reset.
   */
  async acquire(): Promise<void> {
    let waited = 0;
    for (;;) {
      if (this.#stale) await this.refresh();
      if (this.available() > 0) {
        this.#inFlight++;
        return;
      }
      const state = this.#state;
      if (state === null) throw new Error("unreachable: a spent budget is known");
      if (!this.#options.wait || waited >= 2) throw new BudgetExhaustedError(state);
      await this.waitForReset(state);
      waited++;
    }
  }

  /** Waits until the reset of `state` (plus the margin), then reads the budget afresh. */
  async waitForReset(state: RateLimitState): Promise<void> {
    const ms = Math.max(0, state.resetAt - this.#options.now()) + (this.#options.marginMs ?? 1000);
    this.#waits++;
    this.#options.onWait?.(ms);
    await this.#options.sleep(ms);
    this.#stale = true;
  }

  /** Records an answer's `X-RateLimit-*` headers and ends one call in flight. */
  update(headers: Headers): void {
    this.release();
    const now = this.#options.now();
    const parsed = parseRateLimitHeaders(headers, now);
    if (parsed !== null) this.record(parsed);
  }

  /** Records a budget reading (a header set or `/auth/rate_limit`). */
  record(parsed: RateLimitState): void {
    const state = this.#state;
    if (state === null || this.#options.now() >= state.resetAt) {
      this.#state = parsed;
    } else if (Math.abs(parsed.resetAt - state.resetAt) <= 1500) {
      // The same window; answers may arrive out of order: the lowest remaining is the newest.
      this.#state = { ...parsed, remaining: Math.min(parsed.remaining, state.remaining) };
    } else if (parsed.resetAt > state.resetAt) {
      this.#state = parsed;
    }
  }

  /** Ends one call in flight that got no answer. */
  release(): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1);
  }

  /** A 429 came back: read the budget afresh before the next call. */
  markStale(): void {
    this.#stale = true;
  }
}

/**
 * `http` with every JSON call passed through `gate`: each call first acquires a call from the
 * budget ({@link BudgetGate.acquire}), and each answer (or HTTP error) updates the gate from
 * its `X-RateLimit-*` headers (a 429 also marks the budget stale). The answers and errors are
 * handed on without those headers: the gate owns them, and an API session's generic
 * per-window pacing would sleep up to an hour on them. `request`, `stats` and `close` are
 * `http`'s own.
 */
export function gatedClient(http: HttpClient, gate: BudgetGate): HttpClient {
  return {
    request: (request) => http.request(request),
    stats: () => http.stats(),
    close: () => http.close(),
    json: async (request) => {
      await gate.acquire();
      try {
        const response = await http.json(request);
        gate.update(response.headers);
        return { ...response, headers: withoutRateLimit(response.headers) };
      } catch (error) {
        if (!(error instanceof HttpStatusError)) {
          gate.release();
          throw error;
        }
        gate.update(error.headers);
        if (error.status === 429) gate.markStale();
        throw new HttpStatusError({ method: error.method, url: error.url }, {
          status: error.status,
          headers: withoutRateLimit(error.headers),
          bodyText: error.bodyText,
        });
      }
    },
  };
}

/** Copies `headers` without OneLogin's `X-RateLimit-*` (the {@link BudgetGate} owns them). */
function withoutRateLimit(headers: Headers): Headers {
  const copy = new Headers(headers);
  for (const name of ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"]) {
    copy.delete(name);
  }
  return copy;
}
