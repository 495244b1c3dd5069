/**
 * A faithful fake of the OneLogin API (v2, with v1 where v2 has no equivalent), for tests and
 * the benchmark. Real HTTP on 127.0.0.1 (port 0).
 *
 * What it reproduces, as OneLogin documents it:
 * - `POST /auth/oauth2/v2/token`: credentials in `Authorization: client_id:X, client_secret:Y`,
 *   `Authorization: Basic base64(X:Y)` or a form body; `grant_type=client_credentials` in a JSON
 *   or form body (400 "grant_type is incorrect/absent" otherwise); 401 "Authentication Failure"
 *   for bad credentials; the same token until it expires (`expires_in` 36000 s); errors in the
 *   v1 envelope; HTTP 500 when the credentials' owner was deleted. `POST /auth/oauth2/token`
 *   (v1) wraps the same data in `{status, data:[…]}`.
 * - Resource calls take `Authorization: Bearer <token>` or `bearer:<token>`.
 * - `GET /api/2/roles/{id}`: one role, 404 when there is none.
 * - `GET /api/2/users`, `/api/2/roles`, `/api/2/roles/{id}/users`: `limit` (default 50,
 *   maximum 100), `page`, `cursor`; a bare JSON array with `Current-Page`, `Page-Items`,
 *   `Total-Count`, `Total-Pages`, `Link`, `Before-Cursor` and `After-Cursor` headers
 *   (`After-Cursor` absent, or empty, on the last page). Cursors resume after the last id
 *   served (stable while data changes); `page` is an offset (drifts when data changes). Users:
 *   `fields` projection (the listing leaves out `role_ids` unless `fields` asks for it),
 *   `updated_since`/`updated_until`/`created_since`/`created_until` (ISO 8601),
 *   `email`/`username`/`firstname`/`lastname`/`samaccountname`/`directory_id`/`external_id`
 *   (with `*` wildcards), `user_ids` (comma list), `status`; integer `status` and `state`.
 *   Roles: `name` (with `*`), `fields`; role users: `include_unassigned`.
 * - `GET /api/1/groups`: the v1 envelope with a `pagination` block (`after_cursor`,
 *   `next_link`), 50 groups a page; users' `group_id` refers to these groups.
 * - Rate limit: one budget per hour (default 5,000 calls) over every `/api/` call (or only
 *   the v1 calls, `rateLimitScope: "v1"`),
 *   `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (**seconds
 *   remaining**) on each; 429 when it is spent, in the v1 or v2 error shape according to the
 *   endpoint's version; `GET /auth/rate_limit` returns the same values and costs nothing.
 *
 * Error shapes: v1 and token endpoints
 * `{"status":{"error":true,"code":401,"type":"Unauthorized","message":"Authentication Failure"}}`;
 * v2 `{"statusCode":401,"name":"Unauthorized","message":"Authentication Failure"}`. The 429 and
 * 404 messages are this fake's wording (OneLogin does not document them).
 * @module
 */

import {
  FaultSchedule,
  HoldGate,
  type IdpFaultKind,
  type IdpFaultOptions,
  type IdpRequest,
  realDelay,
  RequestLog,
  seededRandom,
  serveIdp,
  withBodyFault,
} from "./_idp.ts";

/** OneLogin user status codes: 0 unactivated, 1 active, 2 suspended, 3 locked, 4 password expired, 5 awaiting password reset, 7 password pending, 8 security questions required. */
export type OneLoginStatus = 0 | 1 | 2 | 3 | 4 | 5 | 7 | 8;

/** Every {@link OneLoginStatus}. */
export const ONELOGIN_STATUSES: readonly OneLoginStatus[] = [0, 1, 2, 3, 4, 5, 7, 8];

/** A user as the fake stores it (times in ms since the epoch). */
export interface OneLoginUser {
  id: number;
  username: string;
  email: string | null;
  firstname: string;
  lastname: string;
  status: OneLoginStatus;
  /** 0 unapproved, 1 approved, 2 rejected, 3 unlicensed. */
  state: 0 | 1 | 2 | 3;
  /** The one group of the user (v1 groups), or null. */
  groupId: number | null;
  directoryId: number | null;
  externalId: string | null;
  samAccountName: string | null;
  createdAt: number;
  updatedAt: number;
}

/** A role: the many-to-many membership concept. */
export interface OneLoginRole {
  id: number;
  name: string;
  /** Member user ids, in the order they were assigned. */
  users: number[];
}

/** A v1 group. */
export interface OneLoginGroup {
  id: number;
  name: string;
}

/** A user to create. Defaults: status 1, state 1, username and email `user<n>@example.com`. */
export interface OneLoginUserInit {
  id?: number;
  username?: string;
  /** `null` for none. Default: the username. */
  email?: string | null;
  firstname?: string;
  lastname?: string;
  status?: OneLoginStatus;
  state?: 0 | 1 | 2 | 3;
  groupId?: number | null;
  updatedAt?: number;
}

/** A role to create. */
export interface OneLoginRoleInit {
  id?: number;
  name: string;
  users?: number[];
}

/** Options of {@link startFakeOneLogin}. */
export interface FakeOneLoginOptions {
  /** The API credential that works. Default `onelogin-client` / `onelogin-secret`. */
  clientId?: string;
  clientSecret?: string;
  users?: OneLoginUserInit[];
  roles?: OneLoginRoleInit[];
  groups?: OneLoginGroup[];
  /** Calls per rate-limit window. Default 5000. */
  rateLimit?: number;
  /** Rate-limit window, ms, aligned to the clock. Default one hour. */
  rateLimitWindowMs?: number;
  /**
   * Which calls spend the budget: `all` `/api/` calls (default), or only `v1` ones (OneLogin
   * scopes the documented limit to v1 and says nothing of v2).
   */
  rateLimitScope?: "all" | "v1";
  /** Token lifetime, seconds. Default 36000. */
  tokenLifetimeSeconds?: number;
  /** `After-Cursor` on the last page: left out (default) or sent empty. */
  lastPageCursor?: "absent" | "empty";
  /** Real delay per response, ms. Default 0. */
  latencyMs?: number;
  /** Clock in ms (token expiry, rate-limit window, timestamps). Default `Date.now`. */
  now?: () => number;
  /**
   * The API credential's scope. With `Authentication Only` every `/api/` call and
   * `/auth/rate_limit` answer 401 (the fake's guess: OneLogin documents the scopes, not the
   * refusal). Default `Manage All`.
   */
  scope?: "Authentication Only" | "Read users" | "Manage users" | "Read All" | "Manage All";
  /** Seconds sent as `Retry-After` on injected 503s (none by default). */
  retryAfterSeconds?: number;
}

/** Counters for assertions. */
export interface OneLoginCounters {
  /** Every request received. */
  requests: number;
  /** Token requests. */
  tokenRequests: number;
  /** Tokens issued (a repeated token request while one is valid returns the same token). */
  tokensIssued: number;
  /** 429s sent. */
  rateLimited: number;
  /** The most requests in flight at once. */
  peakConcurrency: number;
}

/** A running fake OneLogin account and its test hooks. */
export interface FakeOneLogin {
  /** The base that `/auth/oauth2/v2/token` and `/api/2/...` are appended to. */
  readonly apiUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  requests(): IdpRequest[];
  counters(): OneLoginCounters;
  /** Calls left in the current rate-limit window. */
  remaining(): number;
  /** Sets the calls left in the current window (e.g. too few for a read). */
  setRemaining(calls: number): void;
  users(): OneLoginUser[];
  roles(): OneLoginRole[];
  groups(): OneLoginGroup[];
  addUser(init: OneLoginUserInit): OneLoginUser;
  /** Changes a user; moves its `updated_at` (`updatedAt`). */
  updateUser(
    id: number,
    changes: Partial<Pick<OneLoginUser, "email" | "username" | "status" | "groupId">>,
  ): void;
  deleteUser(id: number): void;
  addRole(init: OneLoginRoleInit): OneLoginRole;
  /** Deletes a role (its members stay). */
  deleteRole(id: number): void;
  assignRole(roleId: number, userId: number): void;
  unassignRole(roleId: number, userId: number): void;
  /**
   * The next v2 listing page whose path plus query contains `path` is served without its
   * `After-Cursor` and `Link` (as if it were the last page) while `Total-Count` stays true: a
   * listing that ends early.
   */
  endEarly(path: string): void;
  /** Makes every issued token expired (the next API call gets a 401). */
  expireTokens(): void;
  /** The token call answers HTTP 500 (the credentials' owner was deleted) while true. */
  setOwnerDeleted(deleted: boolean): void;
  failNext(count: number, kind: IdpFaultKind, options?: IdpFaultOptions): void;
  failAlways(kind: IdpFaultKind, options?: IdpFaultOptions): () => void;
  setLatency(ms: number): void;
  hold(): void;
  release(): void;
  held(): number;
  close(): Promise<void>;
}

/** Options of {@link generateOneLoginAccount}. */
export interface OneLoginAccountSize {
  users: number;
  roles: number;
  /** v1 groups; users get `group_id` round-robin. Default 0. */
  groups?: number;
  seed?: number;
  /** Time of every object, ms. Default 2026-01-01T00:00:00Z. */
  at?: number;
}

/**
 * A deterministic account: user ids 1000+n; statuses by index (every 40th 2 suspended, 60th
 * 3 locked, 70th 0 unactivated, 80th 4 password expired; else 1); every 150th user has no email
 * but an email-shaped username, every 300th neither (username `user<n>`); `roles` roles, every
 * 100th with min(users, 1500) members, the others 0 to 60 (seeded), each a contiguous run.
 */
export function generateOneLoginAccount(size: OneLoginAccountSize): {
  users: OneLoginUserInit[];
  roles: OneLoginRoleInit[];
  groups: OneLoginGroup[];
} {
  const random = seededRandom(size.seed ?? 1);
  const at = size.at ?? Date.UTC(2026, 0, 1);
  const groupCount = size.groups ?? 0;
  const groups: OneLoginGroup[] = [];
  for (let g = 0; g < groupCount; g++) groups.push({ id: 500 + g, name: `Department ${g}` });
  const users: OneLoginUserInit[] = [];
  for (let n = 0; n < size.users; n++) {
    const status: OneLoginStatus = n % 40 === 39
      ? 2
      : n % 60 === 59
      ? 3
      : n % 70 === 69
      ? 0
      : n % 80 === 79
      ? 4
      : 1;
    const plain = n % 300 === 299;
    const username = plain ? `user${n}` : `user${n}@example.com`;
    users.push({
      id: 1000 + n,
      username,
      email: plain || n % 150 === 149 ? null : `user${n}@example.com`,
      firstname: "User",
      lastname: String(n),
      status,
      groupId: groupCount === 0 ? null : 500 + (n % groupCount),
      updatedAt: at,
    });
  }
  const roles: OneLoginRoleInit[] = [];
  for (let r = 0; r < size.roles; r++) {
    const count = Math.min(
      size.users,
      r % 100 === 0 ? 1500 : Math.floor(random() * random() * 61),
    );
    const start = Math.floor(random() * Math.max(1, size.users));
    const members: number[] = [];
    for (let k = 0; k < count; k++) members.push(1000 + ((start + k) % size.users));
    roles.push({ id: 200000 + r, name: `Role ${r}`, users: members });
  }
  return { users, roles, groups };
}

const V1_OK = { error: false, code: 200, type: "success", message: "Success" };

function v1Error(code: number, type: string, message: string) {
  return { status: { error: true, code, type, message } };
}

function v2Error(code: number, name: string, message: string) {
  return { statusCode: code, name, message };
}

/** `*` wildcards match any run of characters; the match is case-insensitive. */
function wildcard(pattern: string, value: string | null): boolean {
  if (value === null) return false;
  const escaped = pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(`^${escaped.join(".*")}$`, "i").test(value);
}

/**
 * Starts a fake OneLogin account on 127.0.0.1.
 *
 * @example
 * ```ts
 * const onelogin = startFakeOneLogin(generateOneLoginAccount({ users: 10, roles: 2 }));
 * try { … } finally { await onelogin.close(); }
 * ```
 */
export function startFakeOneLogin(options: FakeOneLoginOptions = {}): FakeOneLogin {
  const now = options.now ?? Date.now;
  const clientId = options.clientId ?? "onelogin-client";
  const clientSecret = options.clientSecret ?? "onelogin-secret";
  const rateLimit = options.rateLimit ?? 5000;
  const windowMs = options.rateLimitWindowMs ?? 3_600_000;
  const rateLimitScope = options.rateLimitScope ?? "all";
  const lifetime = options.tokenLifetimeSeconds ?? 36000;
  const lastPageCursor = options.lastPageCursor ?? "absent";
  const scope = options.scope ?? "Manage All";
  const endEarly: string[] = [];
  let latencyMs = options.latencyMs ?? 0;
  let ownerDeleted = false;
  const faults = new FaultSchedule();
  const gate = new HoldGate();
  const counters: OneLoginCounters = {
    requests: 0,
    tokenRequests: 0,
    tokensIssued: 0,
    rateLimited: 0,
    peakConcurrency: 0,
  };
  const log = new RequestLog(counters, { now });
  let window = { start: -Infinity, used: 0 };
  let current: { token: string; expiresAt: number; createdAt: number } | null = null;
  const tokens = new Map<string, number>();
  let nextUserId = 9_000_000;
  let nextRoleId = 900_000;
  const users = new Map<number, OneLoginUser>();
  const roles = new Map<number, OneLoginRole>();
  const groups = new Map<number, OneLoginGroup>();
  for (const group of options.groups ?? []) groups.set(group.id, { ...group });

  const makeUser = (init: OneLoginUserInit): OneLoginUser => {
    const id = init.id ?? ++nextUserId;
    const t = now();
    const username = init.username ?? `user${id}@example.com`;
    return {
      id,
      username,
      email: init.email === undefined ? username : init.email,
      firstname: init.firstname ?? "User",
      lastname: init.lastname ?? String(id),
      status: init.status ?? 1,
      state: init.state ?? 1,
      groupId: init.groupId ?? null,
      directoryId: null,
      externalId: null,
      samAccountName: null,
      createdAt: init.updatedAt ?? t,
      updatedAt: init.updatedAt ?? t,
    };
  };
  const makeRole = (init: OneLoginRoleInit): OneLoginRole => {
    for (const id of init.users ?? []) {
      if (!users.has(id)) throw new Error(`fake onelogin: role ${init.name} lists unknown ${id}`);
    }
    return { id: init.id ?? ++nextRoleId, name: init.name, users: [...new Set(init.users)] };
  };
  for (const init of options.users ?? []) {
    const user = makeUser(init);
    users.set(user.id, user);
  }
  for (const init of options.roles ?? []) {
    const role = makeRole(init);
    roles.set(role.id, role);
  }

  const windowNow = () => {
    const start = Math.floor(now() / windowMs) * windowMs;
    if (window.start !== start) window = { start, used: 0 };
    return window;
  };
  const rateValues = () => {
    const w = windowNow();
    return {
      limit: rateLimit,
      remaining: Math.max(0, rateLimit - w.used),
      reset: Math.max(0, Math.ceil((w.start + windowMs - now()) / 1000)),
    };
  };
  const headersFor = () => {
    const values = rateValues();
    return new Headers({
      "content-type": "application/json; charset=utf-8",
      "x-ratelimit-limit": String(values.limit),
      "x-ratelimit-remaining": String(values.remaining),
      "x-ratelimit-reset": String(values.reset),
    });
  };
  const send = (
    status: number,
    body: unknown,
    headers = new Headers({
      "content-type": "application/json; charset=utf-8",
    }),
  ) => new Response(JSON.stringify(body), { status, headers });

  // --- Token -----------------------------------------------------------------------------------

  const tokenEndpoint = async (request: Request, v1: boolean): Promise<Response> => {
    counters.tokenRequests++;
    if (request.method !== "POST") return send(404, v1Error(404, "not found", "No Route Exists"));
    if (ownerDeleted) return send(500, v1Error(500, "server error", "Internal Server Error"));
    const type = (request.headers.get("content-type") ?? "").toLowerCase();
    const text = await request.text();
    const body = new Map<string, string>();
    if (type.includes("json")) {
      try {
        const parsed: unknown = JSON.parse(text);
        if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
          for (const [key, value] of Object.entries(parsed)) {
            if (typeof value === "string") body.set(key, value);
          }
        }
      } catch {
        return send(400, v1Error(400, "bad request", "Invalid JSON"));
      }
    } else {
      for (const [key, value] of new URLSearchParams(text)) body.set(key, value);
    }
    const authorization = request.headers.get("authorization") ?? "";
    let id = body.get("client_id");
    let secret = body.get("client_secret");
    const legacy = /client_id:\s*([^,\s]+)\s*,\s*client_secret:\s*(\S+)/i.exec(authorization);
    const basic = /^Basic\s+(\S+)$/i.exec(authorization)?.[1];
    if (legacy !== null) {
      id = legacy[1];
      secret = legacy[2];
    } else if (basic !== undefined) {
      try {
        const decoded = atob(basic);
        const colon = decoded.indexOf(":");
        id = decoded.slice(0, colon);
        secret = decoded.slice(colon + 1);
      } catch {
        id = undefined;
      }
    }
    if (id !== clientId || secret !== clientSecret) {
      return send(401, v1Error(401, "Unauthorized", "Authentication Failure"));
    }
    if (body.get("grant_type") !== "client_credentials") {
      return send(400, v1Error(400, "bad request", "grant_type is incorrect/absent"));
    }
    const t = now();
    if (current === null || current.expiresAt <= t) {
      const token = crypto.randomUUID().replaceAll("-", "");
      current = { token, expiresAt: t + lifetime * 1000, createdAt: t };
      tokens.set(token, current.expiresAt);
      counters.tokensIssued++;
    }
    const data = {
      "access_token": current.token,
      "created_at": new Date(current.createdAt).toISOString(),
      "expires_in": Math.floor((current.expiresAt - t) / 1000),
      "refresh_token": "deprecated",
      "token_type": "bearer",
      "account_id": 555555,
    };
    return v1 ? send(200, { status: V1_OK, data: [data] }) : send(200, data);
  };

  const authenticated = (request: Request): boolean => {
    const header = request.headers.get("authorization") ?? "";
    const token = /^bearer(?:\s+|:\s*)(\S+)$/i.exec(header)?.[1];
    const expiresAt = token === undefined ? undefined : tokens.get(token);
    return expiresAt !== undefined && expiresAt > now();
  };

  // --- Listings --------------------------------------------------------------------------------

  const encodeCursor = (direction: "a" | "b", id: number) =>
    btoa(`${direction}${id}`).replaceAll("=", "");
  const decodeCursor = (cursor: string): { direction: "a" | "b"; id: number } | null => {
    try {
      const match = /^([ab])(\d+)$/.exec(atob(cursor));
      if (match === null) return null;
      return { direction: match[1] === "b" ? "b" : "a", id: Number(match[2]) };
    } catch {
      return null;
    }
  };

  /** Pages `items` (sorted by id) the v2 way. */
  const v2Page = <T extends { id: number }>(
    items: T[],
    url: URL,
    headers: Headers,
    render: (item: T) => unknown,
  ): Response => {
    const rawLimit = Number.parseInt(url.searchParams.get("limit") ?? "", 10);
    const limit = Number.isNaN(rawLimit) || rawLimit < 1 ? 50 : Math.min(rawLimit, 100);
    const cursorText = url.searchParams.get("cursor");
    let start = 0;
    if (cursorText !== null && cursorText !== "") {
      const cursor = decodeCursor(cursorText);
      if (cursor === null) {
        return send(400, v2Error(400, "BadRequest", "Invalid cursor"), headers);
      }
      if (cursor.direction === "a") {
        start = items.findIndex((item) => item.id > cursor.id);
        if (start === -1) start = items.length;
      } else {
        let end = items.findIndex((item) => item.id >= cursor.id);
        if (end === -1) end = items.length;
        start = Math.max(0, end - limit);
      }
    } else {
      const rawPage = Number.parseInt(url.searchParams.get("page") ?? "", 10);
      const pageNumber = Number.isNaN(rawPage) || rawPage < 1 ? 1 : rawPage;
      start = (pageNumber - 1) * limit;
    }
    const slice = items.slice(start, start + limit);
    const totalPages = Math.max(1, Math.ceil(items.length / limit));
    headers.set("current-page", String(Math.floor(start / limit) + 1));
    headers.set("page-items", String(limit));
    headers.set("total-count", String(items.length));
    headers.set("total-pages", String(totalPages));
    const links: string[] = [];
    const first = slice[0];
    const last = slice[slice.length - 1];
    if (start > 0 && first !== undefined) {
      const before = encodeCursor("b", first.id);
      headers.set("before-cursor", before);
      const prev = new URL(url.href);
      prev.searchParams.delete("page");
      prev.searchParams.set("cursor", before);
      links.push(`<${prev.href}>; rel="prev"`);
    }
    const target = url.pathname + url.search;
    const cut = endEarly.findIndex((path) => target.includes(path));
    const early = cut !== -1 && start + limit < items.length;
    if (early) endEarly.splice(cut, 1);
    if (start + limit < items.length && last !== undefined && !early) {
      const after = encodeCursor("a", last.id);
      headers.set("after-cursor", after);
      const next = new URL(url.href);
      next.searchParams.delete("page");
      next.searchParams.set("cursor", after);
      links.push(`<${next.href}>; rel="next"`);
    } else if (lastPageCursor === "empty") {
      headers.set("after-cursor", "");
    }
    if (links.length > 0) headers.set("link", links.join(", "));
    return send(200, slice.map(render), headers);
  };

  const byId = <T extends { id: number }>(items: Iterable<T>): T[] =>
    [...items].sort((a, b) => a.id - b.id);
  // Users in id order, cached until a user is added or deleted.
  let userOrder: OneLoginUser[] | null = null;
  const allUsers = () => userOrder ??= byId(users.values());
  const iso = (ms: number) => new Date(ms).toISOString();

  const userJson = (user: OneLoginUser, fields: string[] | null) => {
    const full: Record<string, unknown> = {
      id: user.id,
      username: user.username,
      email: user.email,
      firstname: user.firstname,
      lastname: user.lastname,
      title: null,
      department: null,
      company: null,
      comment: null,
      "group_id": user.groupId,
      phone: null,
      state: user.state,
      status: user.status,
      "directory_id": user.directoryId,
      "trusted_idp_id": null,
      "manager_ad_id": null,
      "manager_user_id": null,
      samAccountName: user.samAccountName,
      "member_of": null,
      userprincipalname: null,
      "distinguished_name": null,
      "external_id": user.externalId,
      "activated_at": user.status === 0 ? null : iso(user.createdAt),
      "last_login": null,
      "invitation_sent_at": null,
      "updated_at": iso(user.updatedAt),
      "created_at": iso(user.createdAt),
      "invalid_login_attempts": 0,
      "locked_until": null,
      "password_changed_at": null,
      "preferred_locale_code": null,
      "custom_attributes": {},
    };
    if (fields === null) return full;
    const projected: Record<string, unknown> = { id: user.id };
    for (const field of fields) {
      if (field === "role_ids") {
        projected["role_ids"] = byId(roles.values()).filter((r) => r.users.includes(user.id)).map((
          r,
        ) => r.id);
      } else if (field in full) projected[field] = full[field];
    }
    return projected;
  };

  const fieldsOf = (url: URL): string[] | null => {
    const raw = url.searchParams.get("fields");
    if (raw === null || raw.trim() === "") return null;
    return raw.split(",").map((f) => f.trim()).filter((f) => f !== "");
  };

  const listUsers = (url: URL, headers: Headers): Response => {
    let all = allUsers();
    const p = url.searchParams;
    const dates: [string, (u: OneLoginUser, t: number) => boolean][] = [
      ["updated_since", (u, t) => u.updatedAt >= t],
      ["updated_until", (u, t) => u.updatedAt <= t],
      ["created_since", (u, t) => u.createdAt >= t],
      ["created_until", (u, t) => u.createdAt <= t],
    ];
    for (const [name, test] of dates) {
      const value = p.get(name);
      if (value === null || value === "") continue;
      const t = Date.parse(value);
      if (Number.isNaN(t)) {
        return send(400, v2Error(400, "BadRequest", `Invalid ${name}`), headers);
      }
      all = all.filter((u) => test(u, t));
    }
    const attributes: [string, (u: OneLoginUser) => string | null][] = [
      ["email", (u) => u.email],
      ["username", (u) => u.username],
      ["firstname", (u) => u.firstname],
      ["lastname", (u) => u.lastname],
      ["samaccountname", (u) => u.samAccountName],
      ["external_id", (u) => u.externalId],
      ["directory_id", (u) => (u.directoryId === null ? null : String(u.directoryId))],
      ["status", (u) => String(u.status)],
    ];
    for (const [name, get] of attributes) {
      const value = p.get(name);
      if (value === null || value === "") continue;
      all = all.filter((u) => wildcard(value, get(u)));
    }
    const ids = p.get("user_ids");
    if (ids !== null && ids !== "") {
      const wanted = new Set(ids.split(",").map((s) => Number(s.trim())));
      all = all.filter((u) => wanted.has(u.id));
    }
    const fields = fieldsOf(url);
    return v2Page(all, url, headers, (u) => userJson(u, fields));
  };

  const listRoles = (url: URL, headers: Headers): Response => {
    let all = byId(roles.values());
    const name = url.searchParams.get("name");
    if (name !== null && name !== "") all = all.filter((r) => wildcard(name, r.name));
    const fields = fieldsOf(url);
    return v2Page(all, url, headers, (r) => {
      const full: Record<string, unknown> = {
        id: r.id,
        name: r.name,
        apps: [],
        users: [...r.users],
        admins: [],
      };
      if (fields === null) return { id: r.id, name: r.name };
      const projected: Record<string, unknown> = { id: r.id };
      for (const field of fields) if (field in full) projected[field] = full[field];
      return projected;
    });
  };

  const listRoleUsers = (url: URL, headers: Headers, roleId: number): Response => {
    const role = roles.get(roleId);
    if (role === undefined) return send(404, v2Error(404, "NotFound", "Role not found"), headers);
    const assigned = new Set(role.users);
    let all = url.searchParams.get("include_unassigned") === "true"
      ? allUsers()
      : byId(role.users.flatMap((id) => users.get(id) ?? []));
    const name = url.searchParams.get("name");
    if (name !== null && name !== "") {
      all = all.filter((u) => wildcard(name, `${u.firstname} ${u.lastname}`));
    }
    return v2Page(all, url, headers, (u) => ({
      id: u.id,
      name: `${u.firstname} ${u.lastname}`,
      email: u.email,
      username: u.username,
      assigned: assigned.has(u.id),
    }));
  };

  const listGroupsV1 = (url: URL, headers: Headers): Response => {
    const all = byId(groups.values());
    const cursorText = url.searchParams.get("after_cursor");
    let start = 0;
    if (cursorText !== null && cursorText !== "") {
      const cursor = decodeCursor(cursorText);
      if (cursor === null) {
        return send(400, v1Error(400, "bad request", "Invalid cursor"), headers);
      }
      start = all.findIndex((g) => g.id > cursor.id);
      if (start === -1) start = all.length;
    }
    const slice = all.slice(start, start + 50);
    const last = slice[slice.length - 1];
    const more = start + 50 < all.length && last !== undefined;
    const after = more ? encodeCursor("a", last.id) : null;
    const next = after === null ? null : new URL(`${url.origin}/api/1/groups`);
    next?.searchParams.set("after_cursor", after ?? "");
    return send(200, {
      status: V1_OK,
      pagination: {
        before_cursor: null,
        after_cursor: after,
        previous_link: null,
        next_link: next === null ? null : next.href,
      },
      data: slice.map((g) => ({ id: g.id, name: g.name, reference: null })),
    }, headers);
  };

  const route = (request: Request, url: URL, headers: Headers, v1: boolean): Response => {
    const path = url.pathname;
    if (request.method === "GET") {
      if (path === "/api/2/users") return listUsers(url, headers);
      if (path === "/api/2/roles") return listRoles(url, headers);
      const roleOne = /^\/api\/2\/roles\/(\d+)$/.exec(path);
      if (roleOne !== null) {
        const role = roles.get(Number(roleOne[1]));
        return role === undefined
          ? send(404, v2Error(404, "NotFound", "Role not found"), headers)
          : send(200, {
            id: role.id,
            name: role.name,
            apps: [],
            users: [...role.users],
            admins: [],
          }, headers);
      }
      const roleUsers = /^\/api\/2\/roles\/(\d+)\/users$/.exec(path);
      if (roleUsers !== null) return listRoleUsers(url, headers, Number(roleUsers[1]));
      if (path === "/api/1/groups") return listGroupsV1(url, headers);
    }
    return v1
      ? send(404, v1Error(404, "not found", "No Route Exists"), headers)
      : send(404, v2Error(404, "NotFound", "No Route Exists"), headers);
  };

  const answer = async (request: Request, url: URL, drop: () => void): Promise<Response | null> => {
    await realDelay(latencyMs);
    await gate.pass();
    const fault = faults.take(request.method, url.pathname + url.search);
    if (fault === "reset") {
      drop();
      return null;
    }
    if (url.pathname === "/auth/oauth2/v2/token") return await tokenEndpoint(request, false);
    if (url.pathname === "/auth/oauth2/token") return await tokenEndpoint(request, true);
    const v1 = !url.pathname.startsWith("/api/2/");
    const unauthorized = () =>
      v1
        ? send(401, v1Error(401, "Unauthorized", "Authentication Failure"), headersFor())
        : send(401, v2Error(401, "Unauthorized", "Authentication Failure"), headersFor());
    if (url.pathname === "/auth/rate_limit") {
      if (!authenticated(request) || scope === "Authentication Only") return unauthorized();
      const values = rateValues();
      return send(200, {
        status: V1_OK,
        data: {
          "X-RateLimit-Limit": values.limit,
          "X-RateLimit-Remaining": values.remaining,
          "X-RateLimit-Reset": values.reset,
        },
      }, headersFor());
    }
    if (!url.pathname.startsWith("/api/")) {
      return send(404, v1Error(404, "not found", "No Route Exists"));
    }
    if (!authenticated(request) || scope === "Authentication Only") return unauthorized();
    const w = windowNow();
    const spends = v1 || rateLimitScope === "all";
    if (fault === "429" || (spends && w.used >= rateLimit)) {
      const headers = headersFor();
      if (fault === "429") headers.set("x-ratelimit-remaining", "0");
      return v1
        ? send(429, v1Error(429, "Too Many Requests", "Rate limit exceeded"), headers)
        : send(429, v2Error(429, "TooManyRequests", "Rate limit exceeded"), headers);
    }
    if (spends) w.used++;
    const headers = headersFor();
    if (fault === "500" || fault === "503") {
      const status = Number(fault);
      if (status === 503 && options.retryAfterSeconds !== undefined) {
        headers.set("retry-after", String(options.retryAfterSeconds));
      }
      return v1
        ? send(status, v1Error(status, "server error", "Internal Server Error"), headers)
        : send(status, v2Error(status, "InternalServerError", "Internal Server Error"), headers);
    }
    const response = route(request, url, headers, v1);
    return await withBodyFault(fault, response);
  };

  const handle = (request: Request, url: URL, drop: () => void): Promise<Response> =>
    log.track(request, url, () => answer(request, url, drop));

  const server = serveIdp("onelogin", handle);
  const copy = <T>(value: T): T => structuredClone(value);
  const userOf = (id: number) => {
    const user = users.get(id);
    if (user === undefined) throw new Error(`fake onelogin: no user ${id}`);
    return user;
  };
  const roleOf = (id: number) => {
    const role = roles.get(id);
    if (role === undefined) throw new Error(`fake onelogin: no role ${id}`);
    return role;
  };

  return {
    apiUrl: server.url,
    clientId,
    clientSecret,
    requests: () => copy(log.entries),
    counters: () => copy(counters),
    remaining: () => rateValues().remaining,
    setRemaining: (calls) => {
      windowNow().used = Math.max(0, rateLimit - calls);
    },
    users: () => copy(byId(users.values())),
    roles: () => copy(byId(roles.values())),
    groups: () => copy(byId(groups.values())),
    addUser: (init) => {
      const user = makeUser(init);
      users.set(user.id, user);
      userOrder = null;
      return copy(user);
    },
    updateUser: (id, changes) => {
      const user = userOf(id);
      Object.assign(user, changes);
      user.updatedAt = now();
    },
    deleteUser: (id) => {
      userOf(id);
      users.delete(id);
      userOrder = null;
      for (const role of roles.values()) role.users = role.users.filter((u) => u !== id);
    },
    addRole: (init) => {
      const role = makeRole(init);
      roles.set(role.id, role);
      return copy(role);
    },
    deleteRole: (id) => {
      roleOf(id);
      roles.delete(id);
    },
    assignRole: (roleId, userId) => {
      const role = roleOf(roleId);
      userOf(userId);
      if (!role.users.includes(userId)) role.users.push(userId);
    },
    unassignRole: (roleId, userId) => {
      const role = roleOf(roleId);
      role.users = role.users.filter((u) => u !== userId);
    },
    expireTokens: () => {
      for (const token of tokens.keys()) tokens.set(token, -Infinity);
      current = null;
    },
    endEarly: (path) => {
      endEarly.push(path);
    },
    setOwnerDeleted: (deleted) => {
      ownerDeleted = deleted;
    },
    failNext: (count, kind, o = {}) => faults.failNext(count, kind, o),
    failAlways: (kind, o = {}) => faults.failAlways(kind, o),
    setLatency: (ms) => {
      latencyMs = ms;
    },
    hold: () => gate.hold(),
    release: () => gate.release(),
    held: () => gate.waiting,
    close: () => server.close(),
  };
}
