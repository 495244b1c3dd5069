/**
 * A faithful fake of the Okta Management API's user and group listings, for tests and the
 * benchmark. Real HTTP on 127.0.0.1 (port 0).
 *
 * What it reproduces, as Okta documents it:
 * - `Authorization: SSWS <token>` (or `Bearer <token>`): 401 E0000011 for a bad token, 403
 *   E0000006 for a token without the permission.
 * - `GET /api/v1/users`: `limit` default and maximum 200; `filter` (`status`, `lastUpdated`,
 *   `id`, `profile.login|email|firstName|lastName`; `eq`, and `gt|ge|lt|le` on dates;
 *   `and`/`or`; parentheses; case-sensitive), `search` (any profile attribute and `id`,
 *   `status`, `created`, `activated`, `statusChanged`, `lastUpdated`, `type.id`; `eq`, `sw`,
 *   `co`, `pr`, `gt|ge|lt|le`), `q` (a prefix of firstName, lastName or email; no paging,
 *   default limit 10). `ne` and `not` are rejected with 400 E0000001. Users whose status is
 *   DEPROVISIONED are left out unless a `filter` or `search` is present.
 * - `GET /api/v1/groups`: `limit` default and maximum 10000; `filter` (`id`, `type`,
 *   `lastUpdated`, `lastMembershipUpdated`), `search`, `q` (name prefix, no paging, default
 *   limit 300); `expand=stats` (`_embedded.stats.usersCount`). Types OKTA_GROUP, APP_GROUP,
 *   BUILT_IN. A membership change moves the group's `lastMembershipUpdated`, never its
 *   `lastUpdated`.
 * - `GET /api/v1/groups/{id}/users`: `limit` default and maximum 1000; 404 E0000007 for an
 *   unknown group. Full user objects.
 * - Paging: a bare JSON array; `Link` headers with absolute `rel="self"` and `rel="next"` URLs
 *   built from the request's host, no `next` on the last page; an opaque `after` cursor that
 *   resumes after the last id served (stable while the data changes) and that
 *   {@link FakeOkta.expireCursors} makes stale (400 E0000001).
 * - Rate limits: one fixed one-minute window per endpoint bucket (`users`, `groups`,
 *   `groupUsers`, `other`), aligned to the clock's minutes; `X-Rate-Limit-Limit`,
 *   `X-Rate-Limit-Remaining` and `X-Rate-Limit-Reset` (UTC epoch seconds) on every response,
 *   plus `Date` and `X-Okta-Request-Id`; 429 E0000047 when a bucket is spent. A concurrency
 *   cap: a request over it gets 429 whose headers report the concurrent values (limit = the
 *   cap, remaining 0, reset one second ahead, an estimate as Okta's is).
 *
 * Deno joins repeated `Link` headers into one comma-separated line (Okta sends separate lines);
 * a `fetch` client sees the same joined value either way.
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

/** An Okta user status. */
export type OktaStatus =
  | "ACTIVE"
  | "STAGED"
  | "PROVISIONED"
  | "RECOVERY"
  | "PASSWORD_EXPIRED"
  | "LOCKED_OUT"
  | "SUSPENDED"
  | "DEPROVISIONED";

/** Every {@link OktaStatus}. */
export const OKTA_STATUSES: readonly OktaStatus[] = [
  "ACTIVE",
  "STAGED",
  "PROVISIONED",
  "RECOVERY",
  "PASSWORD_EXPIRED",
  "LOCKED_OUT",
  "SUSPENDED",
  "DEPROVISIONED",
];

/** An Okta group type. */
export type OktaGroupType = "OKTA_GROUP" | "APP_GROUP" | "BUILT_IN";

/** A user as the fake stores it (times in ms since the epoch). */
export interface OktaUser {
  id: string;
  status: OktaStatus;
  created: number;
  lastUpdated: number;
  statusChanged: number | null;
  /** `profile.login`, `profile.email` (absent when undefined), names. */
  profile: { login: string; email?: string; firstName: string; lastName: string };
}

/** A group as the fake stores it (times in ms since the epoch). */
export interface OktaGroup {
  id: string;
  type: OktaGroupType;
  created: number;
  lastUpdated: number;
  lastMembershipUpdated: number;
  profile: { name: string; description: string | null };
  /** Member user ids, in the order they were added. */
  members: string[];
}

/** A user to create. Defaults: ACTIVE, login and email `user<n>@example.com`, times now. */
export interface OktaUserInit {
  id?: string;
  status?: OktaStatus;
  login?: string;
  /** `null` leaves `profile.email` out. Default: the login. */
  email?: string | null;
  firstName?: string;
  lastName?: string;
  /** ms since the epoch. */
  lastUpdated?: number;
}

/** A group to create. Defaults: OKTA_GROUP, no members, times now. */
export interface OktaGroupInit {
  id?: string;
  name: string;
  type?: OktaGroupType;
  description?: string | null;
  /** Member user ids. */
  members?: string[];
  lastUpdated?: number;
  lastMembershipUpdated?: number;
}

/** A rate-limit bucket of the fake. */
export type OktaBucket = "users" | "groups" | "groupUsers" | "other";

/** Per-minute limits per bucket. */
export type OktaRateLimits = Record<OktaBucket, number>;

/** Default per-minute limits (typical org values; real orgs differ, so read the headers). */
export const OKTA_DEFAULT_RATE_LIMITS: OktaRateLimits = {
  users: 600,
  groups: 500,
  groupUsers: 1000,
  other: 1000,
};

/** Options of {@link startFakeOkta}. */
export interface FakeOktaOptions {
  /** The API token that works. Default `okta-test-token`. */
  token?: string;
  /** A token that authenticates but lacks the permission (403 E0000006). Default `okta-no-permission`. */
  noPermissionToken?: string;
  users?: OktaUserInit[];
  groups?: OktaGroupInit[];
  /** Per-minute limits per bucket; missing ones take {@link OKTA_DEFAULT_RATE_LIMITS}. */
  rateLimits?: Partial<OktaRateLimits>;
  /** Requests handled at once before 429 (the org's concurrent limit). Default 75. */
  concurrencyLimit?: number;
  /** Real delay per response, in ms (the benchmark's network latency). Default 0. */
  latencyMs?: number;
  /** Clock in ms, for rate-limit windows, `Date` and timestamps. Default `Date.now`. */
  now?: () => number;
}

/** Counters for assertions. */
export interface OktaCounters {
  /** Every request received. */
  requests: number;
  /** 429s sent (bucket spent, concurrency, or injected). */
  rateLimited: number;
  /** 429s sent because of the concurrency cap. */
  concurrencyRejected: number;
  /** Requests per bucket. */
  byBucket: Record<OktaBucket, number>;
  /** The most requests in flight at once. */
  peakConcurrency: number;
}

/** A running fake Okta org and its test hooks. */
export interface FakeOkta {
  /** The org URL (`http://127.0.0.1:<port>`), the base `/api/v1/...` is appended to. */
  readonly orgUrl: string;
  /** The token that works. */
  readonly token: string;
  /** A token without the permission (403 E0000006). */
  readonly noPermissionToken: string;
  /** Requests so far, in order. */
  requests(): IdpRequest[];
  counters(): OktaCounters;
  /** Copies of the stored users and groups. */
  users(): OktaUser[];
  groups(): OktaGroup[];
  /** Adds a user (lastUpdated = now unless given). */
  addUser(init: OktaUserInit): OktaUser;
  /** Changes a user's status or profile; moves its lastUpdated (and statusChanged). */
  updateUser(
    id: string,
    changes: { status?: OktaStatus; email?: string | null; login?: string },
  ): void;
  /** Deletes a user (as Okta deletes a DEPROVISIONED one); its groups' lastMembershipUpdated move. */
  deleteUser(id: string): void;
  addGroup(init: OktaGroupInit): OktaGroup;
  /** Renames a group; moves its lastUpdated. */
  renameGroup(id: string, name: string): void;
  deleteGroup(id: string): void;
  /** Adds a member: moves lastMembershipUpdated only. */
  addMember(groupId: string, userId: string): void;
  /** Removes a member: moves lastMembershipUpdated only. */
  removeMember(groupId: string, userId: string): void;
  /** The next `count` matching requests fail with `kind`. */
  failNext(count: number, kind: IdpFaultKind, options?: IdpFaultOptions): void;
  /** Matching requests fail with `kind` until the returned function is called. */
  failAlways(kind: IdpFaultKind, options?: IdpFaultOptions): () => void;
  /** Changes the per-response latency (ms). */
  setLatency(ms: number): void;
  /** Makes every `after` cursor issued so far stale (400 E0000001). */
  expireCursors(): void;
  /** `search` answers from a snapshot of now until {@link FakeOkta.thawSearch} (eventual consistency). */
  freezeSearch(): void;
  thawSearch(): void;
  /** Keeps requests in flight (after the concurrency check) until {@link FakeOkta.release}. */
  hold(): void;
  release(): void;
  /** Requests waiting at the hold gate. */
  held(): number;
  close(): Promise<void>;
}

const USER_ID_PREFIX = "00u";
const GROUP_ID_PREFIX = "00g";

/** A 20-character Okta-style id that sorts in creation order. */
function oktaId(prefix: string, n: number): string {
  return prefix + n.toString(36).padStart(17, "0");
}

// ---------------------------------------------------------------------------------------------
// Filter and search expressions

type Expr =
  | { kind: "and" | "or"; left: Expr; right: Expr }
  | { kind: "cmp"; attr: string; op: string; value: string | null };

class ExpressionError extends Error {}

const OPERATORS = new Set(["eq", "ne", "gt", "ge", "lt", "le", "sw", "co", "pr"]);

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] ?? "";
    if (/\s/.test(c)) {
      i++;
    } else if (c === "(" || c === ")") {
      tokens.push(c);
      i++;
    } else if (c === '"') {
      let j = i + 1;
      let value = "";
      while (j < text.length && text[j] !== '"') {
        if (text[j] === "\\" && j + 1 < text.length) j++;
        value += text[j];
        j++;
      }
      if (j >= text.length) throw new ExpressionError("unterminated string");
      tokens.push(`"${value}`);
      i = j + 1;
    } else {
      let j = i;
      while (j < text.length && !/[\s()"]/.test(text[j] ?? "")) j++;
      tokens.push(text.slice(i, j));
      i = j;
    }
  }
  return tokens;
}

function parseExpression(text: string): Expr {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = () => tokens[pos];
  const next = () => {
    const token = tokens[pos++];
    if (token === undefined) throw new ExpressionError("unexpected end");
    return token;
  };
  const primary = (): Expr => {
    const token = next();
    if (token === "(") {
      const inner = orExpr();
      if (next() !== ")") throw new ExpressionError("missing )");
      return inner;
    }
    if (token.toLowerCase() === "not") throw new ExpressionError("not is not supported");
    if (token.startsWith('"') || token === ")") throw new ExpressionError("attribute expected");
    const op = next().toLowerCase();
    if (!OPERATORS.has(op)) throw new ExpressionError(`unknown operator ${op}`);
    if (op === "pr") return { kind: "cmp", attr: token, op, value: null };
    const value = next();
    if (!value.startsWith('"')) {
      if (value === "true" || value === "false" || /^-?\d+$/.test(value)) {
        return { kind: "cmp", attr: token, op, value };
      }
      throw new ExpressionError("quoted value expected");
    }
    return { kind: "cmp", attr: token, op, value: value.slice(1) };
  };
  const andExpr = (): Expr => {
    let left = primary();
    while (peek()?.toLowerCase() === "and") {
      pos++;
      left = { kind: "and", left, right: primary() };
    }
    return left;
  };
  const orExpr = (): Expr => {
    let left = andExpr();
    while (peek()?.toLowerCase() === "or") {
      pos++;
      left = { kind: "or", left, right: andExpr() };
    }
    return left;
  };
  const expr = orExpr();
  if (pos !== tokens.length) throw new ExpressionError(`unexpected ${tokens[pos]}`);
  return expr;
}

const DATE_ATTRS = new Set([
  "created",
  "activated",
  "statusChanged",
  "lastUpdated",
  "lastMembershipUpdated",
]);

/** Checks attributes and operators against what Okta allows for this parameter. */
function checkExpression(
  expr: Expr,
  mode: "filter" | "search",
  allowed: (attr: string) => boolean,
): void {
  if (expr.kind !== "cmp") {
    checkExpression(expr.left, mode, allowed);
    checkExpression(expr.right, mode, allowed);
    return;
  }
  if (expr.op === "ne") throw new ExpressionError("ne is not supported");
  if (!allowed(expr.attr)) throw new ExpressionError(`${expr.attr} cannot be used in ${mode}`);
  if (mode === "filter") {
    const ok = expr.op === "eq" ||
      (DATE_ATTRS.has(expr.attr) && ["gt", "ge", "lt", "le"].includes(expr.op));
    if (!ok) throw new ExpressionError(`${expr.op} is not supported in filter`);
  }
}

function evaluate(
  expr: Expr,
  get: (attr: string) => string | number | undefined,
  caseSensitive: boolean,
): boolean {
  if (expr.kind !== "cmp") {
    const left = evaluate(expr.left, get, caseSensitive);
    if (expr.kind === "and" ? !left : left) return left;
    return evaluate(expr.right, get, caseSensitive);
  }
  const actual = get(expr.attr);
  if (expr.op === "pr") return actual !== undefined;
  if (actual === undefined || expr.value === null) return false;
  if (typeof actual === "number") {
    const wanted = Date.parse(expr.value);
    if (Number.isNaN(wanted)) return false;
    switch (expr.op) {
      case "eq":
        return actual === wanted;
      case "gt":
        return actual > wanted;
      case "ge":
        return actual >= wanted;
      case "lt":
        return actual < wanted;
      case "le":
        return actual <= wanted;
      default:
        return false;
    }
  }
  const a = caseSensitive ? actual : actual.toLowerCase();
  const b = caseSensitive ? expr.value : expr.value.toLowerCase();
  switch (expr.op) {
    case "eq":
      return a === b;
    case "sw":
      return a.startsWith(b);
    case "co":
      return a.includes(b);
    case "gt":
      return a > b;
    case "ge":
      return a >= b;
    case "lt":
      return a < b;
    case "le":
      return a <= b;
    default:
      return false;
  }
}

const USER_FILTER_ATTRS = new Set([
  "status",
  "lastUpdated",
  "id",
  "profile.login",
  "profile.email",
  "profile.firstName",
  "profile.lastName",
]);
const USER_SEARCH_ATTRS = new Set([
  "id",
  "status",
  "created",
  "activated",
  "statusChanged",
  "lastUpdated",
  "type.id",
]);
const GROUP_FILTER_ATTRS = new Set(["id", "type", "lastUpdated", "lastMembershipUpdated"]);
const GROUP_SEARCH_ATTRS = new Set([
  "id",
  "type",
  "created",
  "lastUpdated",
  "lastMembershipUpdated",
]);

/** What `filter=` and `search=` may name on a listing, and how to read an attribute. */
interface ExpressionRules<T> {
  filterAttrs: ReadonlySet<string>;
  searchAttrs: ReadonlySet<string>;
  attr: (item: T, attr: string) => string | number | undefined;
}

/**
 * The items of `all` that pass `filter` and `search` (each null when absent), or the message of
 * the first expression Okta would refuse (400 E0000001). `search` also takes any `profile.*`.
 */
function matching<T>(
  all: T[],
  expressions: { filter: string | null; search: string | null },
  rules: ExpressionRules<T>,
): T[] | string {
  let items = all;
  try {
    for (const mode of ["filter", "search"] as const) {
      const text = expressions[mode];
      if (text === null) continue;
      const expr = parseExpression(text);
      checkExpression(
        expr,
        mode,
        (a) =>
          mode === "filter"
            ? rules.filterAttrs.has(a)
            : rules.searchAttrs.has(a) || a.startsWith("profile."),
      );
      items = items.filter((item) => evaluate(expr, (a) => rules.attr(item, a), mode === "filter"));
    }
  } catch (error) {
    if (error instanceof ExpressionError) return error.message;
    throw error;
  }
  return items;
}

function userAttr(user: OktaUser, attr: string): string | number | undefined {
  switch (attr) {
    case "id":
      return user.id;
    case "status":
      return user.status;
    case "created":
      return user.created;
    case "lastUpdated":
      return user.lastUpdated;
    case "statusChanged":
      return user.statusChanged ?? undefined;
    case "activated":
      return user.created;
    case "type.id":
      return "oty00000000000000000";
  }
  if (attr.startsWith("profile.")) {
    const key = attr.slice("profile.".length);
    const profile: Record<string, string | undefined> = { ...user.profile };
    return profile[key];
  }
  return undefined;
}

function groupAttr(group: OktaGroup, attr: string): string | number | undefined {
  switch (attr) {
    case "id":
      return group.id;
    case "type":
      return group.type;
    case "created":
      return group.created;
    case "lastUpdated":
      return group.lastUpdated;
    case "lastMembershipUpdated":
      return group.lastMembershipUpdated;
    case "profile.name":
      return group.profile.name;
    case "profile.description":
      return group.profile.description ?? undefined;
  }
  return undefined;
}

const USER_RULES: ExpressionRules<OktaUser> = {
  filterAttrs: USER_FILTER_ATTRS,
  searchAttrs: USER_SEARCH_ATTRS,
  attr: userAttr,
};

const GROUP_RULES: ExpressionRules<OktaGroup> = {
  filterAttrs: GROUP_FILTER_ATTRS,
  searchAttrs: GROUP_SEARCH_ATTRS,
  attr: groupAttr,
};

// ---------------------------------------------------------------------------------------------
// Generator

/** Options of {@link generateOktaOrg}. */
export interface OktaOrgSize {
  users: number;
  groups: number;
  /** Seed of the random group sizes. Default 1. */
  seed?: number;
  /** Add the BUILT_IN `Everyone` group with every user. Default false. */
  everyone?: boolean;
  /** Time of every object, ms. Default 2026-01-01T00:00:00Z. */
  at?: number;
}

/**
 * A deterministic org: `users` users with ids in creation order, statuses spread by index
 * (every 50th DEPROVISIONED, 40th SUSPENDED, 60th LOCKED_OUT, 70th STAGED, 80th PROVISIONED,
 * 90th PASSWORD_EXPIRED, 100th RECOVERY; first rule that matches wins) and every 200th without
 * `profile.email`; `groups` groups (every 10th APP_GROUP), every 100th group with
 * min(users, 1500) members, the others with 0 to 60 (seeded), each a contiguous run of users.
 */
export function generateOktaOrg(size: OktaOrgSize): {
  users: OktaUserInit[];
  groups: OktaGroupInit[];
} {
  const random = seededRandom(size.seed ?? 1);
  const at = size.at ?? Date.UTC(2026, 0, 1);
  const statusOf = (n: number): OktaStatus => {
    const rules: [number, OktaStatus][] = [
      [50, "DEPROVISIONED"],
      [40, "SUSPENDED"],
      [60, "LOCKED_OUT"],
      [70, "STAGED"],
      [80, "PROVISIONED"],
      [90, "PASSWORD_EXPIRED"],
      [100, "RECOVERY"],
    ];
    for (const [every, status] of rules) if (n % every === every - 1) return status;
    return "ACTIVE";
  };
  const users: OktaUserInit[] = [];
  for (let n = 0; n < size.users; n++) {
    const login = `user${n}@example.com`;
    users.push({
      id: oktaId(USER_ID_PREFIX, n + 1),
      status: statusOf(n),
      login,
      email: n % 200 === 199 ? null : login,
      firstName: `User`,
      lastName: `${n}`,
      lastUpdated: at,
    });
  }
  const groups: OktaGroupInit[] = [];
  for (let g = 0; g < size.groups; g++) {
    const count = Math.min(
      size.users,
      g % 100 === 0 ? 1500 : Math.floor(random() * random() * 61),
    );
    const start = Math.floor(random() * Math.max(1, size.users));
    const members: string[] = [];
    for (let k = 0; k < count; k++) {
      members.push(oktaId(USER_ID_PREFIX, ((start + k) % size.users) + 1));
    }
    groups.push({
      id: oktaId(GROUP_ID_PREFIX, g + 1),
      name: `Group ${g}`,
      type: g % 10 === 9 ? "APP_GROUP" : "OKTA_GROUP",
      members,
      lastUpdated: at,
      lastMembershipUpdated: at,
    });
  }
  if (size.everyone === true) {
    groups.push({
      id: oktaId(GROUP_ID_PREFIX, size.groups + 1),
      name: "Everyone",
      type: "BUILT_IN",
      description: "All users in your organization",
      members: users.map((u) => u.id ?? ""),
      lastUpdated: at,
      lastMembershipUpdated: at,
    });
  }
  return { users, groups };
}

// ---------------------------------------------------------------------------------------------
// Server

interface Window {
  start: number;
  count: number;
}

function errorBody(code: string, summary: string, causes: string[] = []) {
  return {
    errorCode: code,
    errorSummary: summary,
    errorLink: code,
    errorId: `oae${crypto.randomUUID().replaceAll("-", "").slice(0, 19)}`,
    errorCauses: causes.map((c) => ({ errorSummary: c })),
  };
}

/**
 * Starts a fake Okta org on 127.0.0.1.
 *
 * @example
 * ```ts
 * const okta = startFakeOkta({ ...generateOktaOrg({ users: 10, groups: 2 }) });
 * try { await fetch(`${okta.orgUrl}/api/v1/users`, { headers: { authorization: `SSWS ${okta.token}` } }); }
 * finally { await okta.close(); }
 * ```
 */
export function startFakeOkta(options: FakeOktaOptions = {}): FakeOkta {
  const now = options.now ?? Date.now;
  const token = options.token ?? "okta-test-token";
  const noPermissionToken = options.noPermissionToken ?? "okta-no-permission";
  const limits: OktaRateLimits = { ...OKTA_DEFAULT_RATE_LIMITS, ...options.rateLimits };
  const concurrencyLimit = options.concurrencyLimit ?? 75;
  let latencyMs = options.latencyMs ?? 0;
  const faults = new FaultSchedule();
  const gate = new HoldGate();
  const counters: OktaCounters = {
    requests: 0,
    rateLimited: 0,
    concurrencyRejected: 0,
    byBucket: { users: 0, groups: 0, groupUsers: 0, other: 0 },
    peakConcurrency: 0,
  };
  const log = new RequestLog(counters, {
    now,
    headers: ["x-okta-retry-count", "x-okta-retry-for", "content-type"],
  });
  const windows = new Map<OktaBucket, Window>();
  let cursorGeneration = 1;
  let userSeq = 0;
  let groupSeq = 0;
  let requestSeq = 0;
  const users = new Map<string, OktaUser>();
  const groups = new Map<string, OktaGroup>();
  let searchSnapshot: OktaUser[] | null = null;

  const makeUser = (init: OktaUserInit): OktaUser => {
    const n = ++userSeq;
    const t = now();
    const login = init.login ?? `user${n}@example.com`;
    const email = init.email === undefined ? login : init.email;
    return {
      id: init.id ?? oktaId(USER_ID_PREFIX, 1_000_000 + n),
      status: init.status ?? "ACTIVE",
      created: t,
      lastUpdated: init.lastUpdated ?? t,
      statusChanged: null,
      profile: {
        login,
        ...(email === null ? {} : { email }),
        firstName: init.firstName ?? "User",
        lastName: init.lastName ?? String(n),
      },
    };
  };
  const makeGroup = (init: OktaGroupInit): OktaGroup => {
    const n = ++groupSeq;
    const t = now();
    for (const member of init.members ?? []) {
      if (!users.has(member)) {
        throw new Error(`fake okta: group ${init.name} lists unknown ${member}`);
      }
    }
    return {
      id: init.id ?? oktaId(GROUP_ID_PREFIX, 1_000_000 + n),
      type: init.type ?? "OKTA_GROUP",
      created: t,
      lastUpdated: init.lastUpdated ?? t,
      lastMembershipUpdated: init.lastMembershipUpdated ?? init.lastUpdated ?? t,
      profile: { name: init.name, description: init.description ?? null },
      members: [...new Set(init.members ?? [])],
    };
  };
  for (const init of options.users ?? []) {
    const user = makeUser(init);
    users.set(user.id, user);
  }
  for (const init of options.groups ?? []) {
    const group = makeGroup(init);
    groups.set(group.id, group);
  }
  const sortedById = <T extends { id: string }>(items: Iterable<T>): T[] =>
    [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  // Listings in id order, cached until a user or group is added or deleted.
  let userOrder: OktaUser[] | null = null;
  let groupOrder: OktaGroup[] | null = null;
  const allUsers = () => userOrder ??= sortedById(users.values());
  const allGroups = () => groupOrder ??= sortedById(groups.values());

  // --- JSON shapes ----------------------------------------------------------------------------

  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  const userJson = (user: OktaUser, origin: string, omitCredentials: boolean) => ({
    id: user.id,
    status: user.status,
    created: iso(user.created),
    activated: user.status === "STAGED" ? null : iso(user.created),
    statusChanged: iso(user.statusChanged),
    lastLogin: null,
    lastUpdated: iso(user.lastUpdated),
    passwordChanged: null,
    type: { id: "oty00000000000000000" },
    profile: {
      firstName: user.profile.firstName,
      lastName: user.profile.lastName,
      mobilePhone: null,
      secondEmail: null,
      login: user.profile.login,
      ...(user.profile.email === undefined ? {} : { email: user.profile.email }),
    },
    ...(omitCredentials
      ? {}
      : { credentials: { password: {}, provider: { type: "OKTA", name: "OKTA" } } }),
    _links: { self: { href: `${origin}/api/v1/users/${user.id}` } },
  });
  const groupJson = (group: OktaGroup, origin: string, stats: boolean) => ({
    id: group.id,
    created: iso(group.created),
    lastUpdated: iso(group.lastUpdated),
    lastMembershipUpdated: iso(group.lastMembershipUpdated),
    objectClass: ["okta:user_group"],
    type: group.type,
    profile: { name: group.profile.name, description: group.profile.description },
    _links: {
      users: { href: `${origin}/api/v1/groups/${group.id}/users` },
      apps: { href: `${origin}/api/v1/groups/${group.id}/apps` },
    },
    ...(stats
      ? {
        _embedded: {
          stats: {
            usersCount: group.members.length,
            appsCount: 0,
            groupPushMappingsCount: 0,
            hasAdminPrivilege: false,
          },
        },
      }
      : {}),
  });

  // --- Cursors --------------------------------------------------------------------------------

  const encodeCursor = (lastId: string) =>
    btoa(`${cursorGeneration}.${lastId}`).replaceAll("=", "").replaceAll("+", "-").replaceAll(
      "/",
      "_",
    );
  /** The last id served, or null for a malformed or stale cursor. */
  const decodeCursor = (after: string): string | null => {
    try {
      const text = atob(after.replaceAll("-", "+").replaceAll("_", "/"));
      const dot = text.indexOf(".");
      if (dot === -1 || text.slice(0, dot) !== String(cursorGeneration)) return null;
      return text.slice(dot + 1);
    } catch {
      return null;
    }
  };

  // --- Responses ------------------------------------------------------------------------------

  const bucketOf = (path: string): OktaBucket => {
    if (path === "/api/v1/users") return "users";
    if (path === "/api/v1/groups") return "groups";
    if (/^\/api\/v1\/groups\/[^/]+\/users$/.test(path)) return "groupUsers";
    return "other";
  };
  const windowOf = (bucket: OktaBucket): Window => {
    const start = Math.floor(now() / 60_000) * 60_000;
    let window = windows.get(bucket);
    if (window === undefined || window.start !== start) {
      window = { start, count: 0 };
      windows.set(bucket, window);
    }
    return window;
  };
  const baseHeaders = (limit: number, remaining: number, resetSeconds: number) =>
    new Headers({
      "content-type": "application/json",
      date: new Date(now()).toUTCString(),
      "x-okta-request-id": `fake-${++requestSeq}`,
      "x-rate-limit-limit": String(limit),
      "x-rate-limit-remaining": String(Math.max(0, remaining)),
      "x-rate-limit-reset": String(resetSeconds),
    });
  const bucketHeaders = (bucket: OktaBucket) => {
    const window = windowOf(bucket);
    return baseHeaders(
      limits[bucket],
      limits[bucket] - window.count,
      Math.floor((window.start + 60_000) / 1000),
    );
  };
  const send = (status: number, body: unknown, headers: Headers) =>
    new Response(JSON.stringify(body), { status, headers });
  const rateLimitBody = () =>
    errorBody("E0000047", "API call exceeded rate limit due to too many requests.");
  const invalid = (headers: Headers, cause: string) =>
    send(400, errorBody("E0000001", "Api validation failed: filter", [cause]), headers);

  const page = <T extends { id: string }>(
    items: T[],
    url: URL,
    headers: Headers,
    limit: number,
    render: (item: T) => unknown,
  ): Response => {
    const after = url.searchParams.get("after");
    let start = 0;
    if (after !== null && after !== "") {
      const lastId = decodeCursor(after);
      if (lastId === null) return invalid(headers, "after: the cursor is invalid or expired");
      start = items.findIndex((item) => item.id > lastId);
      if (start === -1) start = items.length;
    }
    const slice = items.slice(start, start + limit);
    headers.append("link", `<${url.href}>; rel="self"`);
    if (start + limit < items.length && slice.length > 0) {
      const next = new URL(url.href);
      next.searchParams.set("after", encodeCursor(slice[slice.length - 1]?.id ?? ""));
      next.searchParams.set("limit", String(limit));
      headers.append("link", `<${next.href}>; rel="next"`);
    }
    return send(200, slice.map(render), headers);
  };

  const limitOf = (url: URL, fallback: number, max: number): number => {
    const raw = url.searchParams.get("limit");
    const parsed = raw === null ? NaN : Number.parseInt(raw, 10);
    if (Number.isNaN(parsed) || parsed < 1) return fallback;
    return Math.min(parsed, max);
  };
  const param = (url: URL, name: string): string | null => {
    const value = url.searchParams.get(name);
    return value === null || value.trim() === "" ? null : value;
  };

  const listUsers = (request: Request, url: URL, headers: Headers): Response => {
    const origin = url.origin;
    const omit = (request.headers.get("content-type") ?? "").includes("omitCredentials");
    const render = (user: OktaUser) => userJson(user, origin, omit);
    const q = param(url, "q");
    const filter = param(url, "filter");
    const search = param(url, "search");
    if (q !== null && filter === null && search === null) {
      const prefix = q.toLowerCase();
      const found = allUsers().filter((u) =>
        u.status !== "DEPROVISIONED" &&
        [u.profile.firstName, u.profile.lastName, u.profile.email ?? ""].some((v) =>
          v.toLowerCase().startsWith(prefix)
        )
      ).slice(0, limitOf(url, 10, 200));
      headers.append("link", `<${url.href}>; rel="self"`);
      return send(200, found.map(render), headers);
    }
    // A frozen search answers from its snapshot (search is eventually consistent).
    let all = search !== null && searchSnapshot !== null ? searchSnapshot : allUsers();
    const matched = matching(all, { filter, search }, USER_RULES);
    if (typeof matched === "string") return invalid(headers, matched);
    all = matched;
    if (filter === null && search === null) all = all.filter((u) => u.status !== "DEPROVISIONED");
    return page(all, url, headers, limitOf(url, 200, 200), render);
  };

  const listGroups = (url: URL, headers: Headers): Response => {
    const stats = (url.searchParams.get("expand") ?? "").split(",").includes("stats");
    const render = (group: OktaGroup) => groupJson(group, url.origin, stats);
    const q = param(url, "q");
    const filter = param(url, "filter");
    const search = param(url, "search");
    if (q !== null && filter === null && search === null) {
      const found = allGroups().filter((g) =>
        g.profile.name.toLowerCase().startsWith(q.toLowerCase())
      ).slice(0, limitOf(url, 300, 10_000));
      headers.append("link", `<${url.href}>; rel="self"`);
      return send(200, found.map(render), headers);
    }
    let all = allGroups();
    const matched = matching(all, { filter, search }, GROUP_RULES);
    if (typeof matched === "string") return invalid(headers, matched);
    all = matched;
    return page(all, url, headers, limitOf(url, 10_000, 10_000), render);
  };

  const listGroupUsers = (
    request: Request,
    url: URL,
    headers: Headers,
    groupId: string,
  ): Response => {
    const group = groups.get(groupId);
    if (group === undefined) {
      return send(
        404,
        errorBody("E0000007", `Not found: Resource not found: ${groupId} (UserGroup)`),
        headers,
      );
    }
    const omit = (request.headers.get("content-type") ?? "").includes("omitCredentials");
    const members = sortedById(
      group.members.map((id) => users.get(id)).filter((u): u is OktaUser => u !== undefined),
    );
    return page(
      members,
      url,
      headers,
      limitOf(url, 1000, 1000),
      (u) => userJson(u, url.origin, omit),
    );
  };

  const route = (request: Request, url: URL, headers: Headers): Response => {
    if (request.method !== "GET") {
      return send(
        405,
        errorBody("E0000022", "The endpoint does not support the provided HTTP method"),
        headers,
      );
    }
    if (url.pathname === "/api/v1/users") return listUsers(request, url, headers);
    if (url.pathname === "/api/v1/groups") return listGroups(url, headers);
    const members = /^\/api\/v1\/groups\/([^/]+)\/users$/.exec(url.pathname);
    if (members !== null) {
      return listGroupUsers(request, url, headers, decodeURIComponent(members[1] ?? ""));
    }
    return send(
      404,
      errorBody("E0000007", `Not found: Resource not found: ${url.pathname}`),
      headers,
    );
  };

  const handle = (request: Request, url: URL, drop: () => void): Promise<Response> =>
    log.track(request, url, () => {
      const bucket = bucketOf(url.pathname);
      counters.byBucket[bucket]++;
      return answer(request, url, drop, bucket);
    });

  const answer = async (
    request: Request,
    url: URL,
    drop: () => void,
    bucket: OktaBucket,
  ): Promise<Response | null> => {
    if (log.inFlight > concurrencyLimit) {
      counters.concurrencyRejected++;
      return send(
        429,
        rateLimitBody(),
        baseHeaders(concurrencyLimit, 0, Math.floor(now() / 1000) + 1),
      );
    }
    await realDelay(latencyMs);
    await gate.pass();
    const fault = faults.take(request.method, url.pathname + url.search);
    if (fault === "reset") {
      drop();
      return null;
    }
    const auth = /^(SSWS|Bearer)\s+(\S+)$/i.exec(request.headers.get("authorization") ?? "")?.[2];
    if (auth !== token && auth !== noPermissionToken) {
      return send(
        401,
        errorBody("E0000011", "Invalid token provided"),
        bucketHeaders(bucket),
      );
    }
    if (fault === "500" || fault === "503") {
      return send(
        Number(fault),
        errorBody("E0000009", "Internal Server Error"),
        bucketHeaders(bucket),
      );
    }
    const window = windowOf(bucket);
    if (fault === "429") {
      const headers = baseHeaders(limits[bucket], 0, Math.floor((window.start + 60_000) / 1000));
      return send(429, rateLimitBody(), headers);
    }
    if (window.count >= limits[bucket]) return send(429, rateLimitBody(), bucketHeaders(bucket));
    window.count++;
    const headers = bucketHeaders(bucket);
    if (auth === noPermissionToken) {
      return send(
        403,
        errorBody("E0000006", "You do not have permission to perform the requested action"),
        headers,
      );
    }
    const response = route(request, url, headers);
    return await withBodyFault(fault, response);
  };

  const server = serveIdp("okta", handle);
  const copy = <T>(value: T): T => structuredClone(value);
  const userOf = (id: string) => {
    const user = users.get(id);
    if (user === undefined) throw new Error(`fake okta: no user ${id}`);
    return user;
  };
  const groupOf = (id: string) => {
    const group = groups.get(id);
    if (group === undefined) throw new Error(`fake okta: no group ${id}`);
    return group;
  };

  return {
    orgUrl: server.url,
    token,
    noPermissionToken,
    requests: () => copy(log.entries),
    counters: () => copy(counters),
    users: () => copy(sortedById(users.values())),
    groups: () => copy(sortedById(groups.values())),
    addUser: (init) => {
      const user = makeUser(init);
      users.set(user.id, user);
      userOrder = null;
      return copy(user);
    },
    updateUser: (id, changes) => {
      const user = userOf(id);
      const t = now();
      if (changes.status !== undefined && changes.status !== user.status) {
        user.status = changes.status;
        user.statusChanged = t;
      }
      if (changes.login !== undefined) user.profile.login = changes.login;
      if (changes.email === null) delete user.profile.email;
      else if (changes.email !== undefined) user.profile.email = changes.email;
      user.lastUpdated = t;
    },
    deleteUser: (id) => {
      userOf(id);
      users.delete(id);
      userOrder = null;
      for (const group of groups.values()) {
        if (group.members.includes(id)) {
          group.members = group.members.filter((m) => m !== id);
          group.lastMembershipUpdated = now();
        }
      }
    },
    addGroup: (init) => {
      const group = makeGroup(init);
      groups.set(group.id, group);
      groupOrder = null;
      return copy(group);
    },
    renameGroup: (id, name) => {
      const group = groupOf(id);
      group.profile.name = name;
      group.lastUpdated = now();
    },
    deleteGroup: (id) => {
      groupOf(id);
      groups.delete(id);
      groupOrder = null;
    },
    addMember: (groupId, userId) => {
      const group = groupOf(groupId);
      userOf(userId);
      if (group.members.includes(userId)) return;
      group.members.push(userId);
      group.lastMembershipUpdated = now();
    },
    removeMember: (groupId, userId) => {
      const group = groupOf(groupId);
      if (!group.members.includes(userId)) return;
      group.members = group.members.filter((m) => m !== userId);
      group.lastMembershipUpdated = now();
    },
    failNext: (count, kind, o = {}) => faults.failNext(count, kind, o),
    failAlways: (kind, o = {}) => faults.failAlways(kind, o),
    setLatency: (ms) => {
      latencyMs = ms;
    },
    expireCursors: () => {
      cursorGeneration++;
    },
    freezeSearch: () => {
      searchSnapshot = copy(sortedById(users.values()));
    },
    thawSearch: () => {
      searchSnapshot = null;
    },
    hold: () => gate.hold(),
    release: () => gate.release(),
    held: () => gate.waiting,
    close: () => server.close(),
  };
}
