/**
 * A faithful fake of Google's OAuth2 token endpoint and the Admin SDK Directory API
 * (`/admin/directory/v1`) for tests and benchmarks, over real HTTP on 127.0.0.1 (port 0).
 *
 * What it reproduces:
 * - The JWT-bearer token exchange of a service account with domain-wide delegation: the RS256
 *   signature is verified against the service account's public key; `iss`, `sub` (the
 *   impersonated user), `scope` (checked against the scopes delegated to the client id), `aud`
 *   (Google's token URL, its legacy one, or this fake's own: Google's libraries always put the
 *   production URL there) and `iat`/`exp` (at most an hour apart, within a minute of skew) are
 *   checked, and failures use Google's `error`/`error_description` bodies.
 * - `users.list`, `groups.list` and `members.list` with Google's parameters and rules:
 *   `customer` (`my_customer` or the account's id) covers every domain of the account and
 *   `domain` narrows to one; when both are given, `domain` decides (Google does this, which is
 *   how a client that sends both silently loses the secondary domains). `showDeleted=true`
 *   lists only the deleted users. A subset of Google's search syntax in `query`; anything else
 *   is 400 "Invalid Input". `maxResults` ranges (users 1–500, default 100; groups and members
 *   1–200, default 200). Page tokens are signed, bound to the listing's parameters, and expire
 *   after 3 days; `nextPageToken` is absent on the last page. `fields=` partial responses with
 *   Google's selector syntax (`a,b/c,d(e,f)`); a malformed or unknown selection is 400.
 *   `directMembersCount` is a string. Members carry role, type (USER, GROUP, CUSTOMER,
 *   EXTERNAL) and status; `roles=` filters them and `includeDerivedMembership=true` adds the
 *   members of nested groups.
 * - A token whose `sub` is not an administrator gets 403 "Not Authorized to access this
 *   resource/api"; a token without the scope an endpoint needs gets 403
 *   `insufficientPermissions`.
 * - Quotas: a per-subject budget per fixed minute (default 2,400 requests) answering 403
 *   `userRateLimitExceeded` (domain `usageLimits`), and a concurrency cap for the account
 *   answering 429 `rateLimitExceeded` with `status: RESOURCE_EXHAUSTED`. Neither sends
 *   `Retry-After`, as Google does not.
 * - Injectable faults (500/503 `backendError`, connection resets, truncated bodies, throttling
 *   answers), for the next n matching requests or for good; latency per request; a request log
 *   and counters; an injectable clock for token expiry, quota windows and page-token age.
 *
 * `generateGoogleDirectory` builds large deterministic directories for benchmarks.
 * @module
 */

import { isRecord } from "../../src/guards.ts";
import { serveIdp } from "./_idp.ts";

/** The three read-only Directory API scopes a sync needs. */
export const GOOGLE_READONLY_SCOPES = [
  "https://www.googleapis.com/auth/admin.directory.user.readonly",
  "https://www.googleapis.com/auth/admin.directory.group.readonly",
  "https://www.googleapis.com/auth/admin.directory.group.member.readonly",
] as const;

/** The token URL Google's libraries put in `aud`, whatever URL they post to. */
export const GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token";

const SCOPE = "https://www.googleapis.com/auth/";
const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const PAGE_TOKEN_LIFETIME_MS = 3 * 24 * 3600 * 1000;

/** A member's type. */
export type MemberType = "USER" | "GROUP" | "CUSTOMER" | "EXTERNAL";
/** A member's role in a group. */
export type MemberRole = "OWNER" | "MANAGER" | "MEMBER";
/** A member's status. */
export type MemberStatus = "ACTIVE" | "SUSPENDED" | "ARCHIVED" | "UNDEFINED";

/** A user of the fake directory. Defaults: active, not admin, OU `/`. */
export interface FakeGoogleUser {
  /** Google's numeric id (a string). Default: generated. */
  id?: string;
  /** The primary email; null for the (rare) user without one. */
  primaryEmail: string | null;
  givenName?: string;
  familyName?: string;
  suspended?: boolean;
  archived?: boolean;
  /** Deleted recently: only listed with `showDeleted=true`. */
  deleted?: boolean;
  isAdmin?: boolean;
  orgUnitPath?: string;
  aliases?: string[];
}

/**
 * A member of a group. `key` names a user or group of the directory by email, alias or id: the
 * type, id, email and status then come from it. Anything else needs `type` (and is outside the
 * account unless `type` is CUSTOMER).
 */
export interface FakeGoogleMember {
  /** Email or id of a directory user or group, or the external address. */
  key?: string;
  /** Default: from the object `key` names; `USER` for an unknown key. */
  type?: MemberType;
  /** Default `MEMBER`. */
  role?: MemberRole;
  /** Default: from the user (`SUSPENDED`, `ARCHIVED`, `ACTIVE`); `ACTIVE` otherwise. */
  status?: MemberStatus;
  /** Default: the object's id, the customer id for CUSTOMER, or a generated id. */
  id?: string;
}

/** A group of the fake directory. */
export interface FakeGoogleGroup {
  id?: string;
  email: string;
  name: string;
  description?: string;
  aliases?: string[];
  members?: FakeGoogleMember[];
}

/** The fake's directory: one Workspace account. */
export interface FakeGoogleDirectory {
  /** The account's customer id. Default `C0fake00`. */
  customerId?: string;
  /** The account's domains; the first is the primary. Default: the domains of the emails. */
  domains?: string[];
  users: FakeGoogleUser[];
  groups: FakeGoogleGroup[];
}

/** A fault the fake can inject. */
export type GoogleFaultKind =
  /** 500 `backendError`. */
  | "500"
  /** 503 `backendError`. */
  | "503"
  /** The connection is closed before any answer. */
  | "reset"
  /** A 200 whose body stops halfway: the connection closes mid-body. */
  | "truncated"
  /** 403 `userRateLimitExceeded`. */
  | "userRateLimitExceeded"
  /** 403 `quotaExceeded`. */
  | "quotaExceeded"
  /** 429 `rateLimitExceeded`. */
  | "rateLimitExceeded";

/** Which requests a fault applies to. */
export interface GoogleFaultMatch {
  /** The path contains this string, or matches this expression. */
  path?: string | RegExp;
  /** Only this page of a listing (1 is the first page, the one without a page token). */
  page?: number;
  /**
   * Adds `Retry-After: <seconds>` to the fault's answer (Google's front ends send it on some
   * 503s), so a client that honours it retries without a long backoff.
   */
  retryAfterSeconds?: number;
}

/** One logged request. */
export interface GoogleRequest {
  method: string;
  /** Path as received, e.g. `/admin/directory/v1/groups/g%40x.com/members`. */
  path: string;
  /** The query parameters. */
  params: Record<string, string>;
  /** Status sent; 0 for a connection the fake dropped. */
  status: number;
  /** The `reason` of a Google error body (`userRateLimitExceeded`, …), when there is one. */
  reason?: string;
  /** The impersonated user of the bearer token, when it was valid. */
  subject?: string;
  /** Fake-clock time the request arrived (ms). */
  at: number;
}

/** Counters over the fake's life. */
export interface GoogleCounters {
  /** Every request, token requests included. */
  requests: number;
  /** Token-endpoint requests. */
  tokenRequests: number;
  /** Directory API requests. */
  apiRequests: number;
  /** 403 `userRateLimitExceeded`/`quotaExceeded` and 429 answers (injected ones included). */
  throttled: number;
  /** Injected faults served. */
  faults: number;
  /** The most Directory API requests handled at once. */
  peakConcurrency: number;
}

/** Options of {@link startFakeGoogle}. */
export interface FakeGoogleOptions {
  /** The directory. Default: {@link smallGoogleDirectory}. */
  directory?: FakeGoogleDirectory;
  /** The service account's email. Default `roster-sync@roster-test.iam.gserviceaccount.com`. */
  clientEmail?: string;
  /** The service account's client id (the one delegation is granted to). Default generated. */
  clientId?: string;
  /**
   * Scopes granted to the client id through domain-wide delegation; null when none is.
   * Default: {@link GOOGLE_READONLY_SCOPES}.
   */
  delegatedScopes?: readonly string[] | null;
  /** Requests per subject per fixed minute window. Default 2400. */
  userQuotaPerMinute?: number;
  /** Directory API requests handled at once before 429. Default 20; null for no cap. */
  maxConcurrent?: number | null;
  /** Latency added to every request, in milliseconds (real waiting). Default 0. */
  latencyMs?: number;
  /** Access-token lifetime in seconds. Default 3599. */
  tokenLifetimeSeconds?: number;
  /** Clock (ms since the epoch) for tokens, quota windows and page tokens. Default `Date.now`. */
  now?: () => number;
}

/** The service account a client uses against the fake. */
export interface FakeServiceAccount {
  clientEmail: string;
  clientId: string;
  /** PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). */
  privateKey: string;
  /** The whole JSON key file, as the Cloud console downloads it. */
  keyFile: string;
}

/** A running fake and its test hooks. */
export interface FakeGoogle {
  /** `http://127.0.0.1:<port>`: the API root (`/admin/directory/v1/...` is appended). */
  readonly url: string;
  /** The token endpoint, `<url>/token`. */
  readonly tokenUrl: string;
  readonly serviceAccount: FakeServiceAccount;
  /** The account's customer id. */
  readonly customerId: string;
  /** An administrator to impersonate (the first admin of the directory). */
  readonly adminUser: string;
  /** Requests so far, in order. */
  requests(): GoogleRequest[];
  counters(): GoogleCounters;
  /** The next `n` matching requests (Infinity: every one) get `kind`. */
  failNext(n: number, kind: GoogleFaultKind, match?: GoogleFaultMatch): void;
  /** Removes every pending fault. */
  clearFaults(): void;
  /** Changes the latency of the next requests (ms). */
  setLatency(ms: number): void;
  /**
   * Holds every Directory API request in flight (after the concurrency check) until the
   * returned function is called: lets a test fill the concurrency cap without real waiting.
   */
  hold(): () => void;
  /** Issues an access token directly. */
  mintToken(options: { subject?: string; scopes?: readonly string[] }): string;
  /** Makes every issued access token expired. */
  expireTokens(): void;
  /** Adds a user (a mutation between pages, for instance); returns its id. */
  addUser(user: FakeGoogleUser): string;
  stop(): Promise<void>;
}

// ------------------------------------------------------------------------------------------
// Google's error bodies

interface GoogleErrorItem {
  message: string;
  domain: string;
  reason: string;
  location?: string;
  locationType?: string;
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=UTF-8", vary: "Origin" },
  });
}

function apiError(
  code: number,
  message: string,
  item: Partial<GoogleErrorItem> & { reason: string },
  status?: string,
): Response {
  const error: Record<string, unknown> = {
    code,
    message,
    errors: [{ message: item.message ?? message, domain: item.domain ?? "global", ...item }],
  };
  if (status !== undefined) error["status"] = status;
  return json(code, { error });
}

const badRequest = () => apiError(400, "Bad Request", { reason: "badRequest" });
const invalidInput = () => apiError(400, "Invalid Input", { reason: "invalid" });
const forbidden = () =>
  apiError(403, "Not Authorized to access this resource/api", { reason: "forbidden" });
const notFound = (what: string) =>
  apiError(404, `Resource Not Found: ${what}`, { reason: "notFound" });
const backendError = (code: 500 | 503) =>
  apiError(code, code === 500 ? "Backend Error" : "The service is currently unavailable.", {
    reason: "backendError",
  }, code === 500 ? "INTERNAL" : "UNAVAILABLE");
const userRateLimit = () =>
  apiError(
    403,
    "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'admin.googleapis.com'.",
    { reason: "userRateLimitExceeded", domain: "usageLimits" },
    "PERMISSION_DENIED",
  );
const quotaExceeded = () =>
  apiError(403, "Quota exceeded for the current request", {
    reason: "quotaExceeded",
    domain: "usageLimits",
  }, "PERMISSION_DENIED");
const rateLimited = () =>
  apiError(429, "Rate Limit Exceeded", {
    reason: "rateLimitExceeded",
    domain: "usageLimits",
  }, "RESOURCE_EXHAUSTED");
const outOfRange = (value: string, max: number) =>
  apiError(400, `Invalid value '${value}'. Values must be within the range: [1, ${max}]`, {
    reason: "invalid",
    location: "maxResults",
    locationType: "parameter",
  });

const oauthError = (status: number, error: string, description: string) =>
  json(status, { error, error_description: description });

// ------------------------------------------------------------------------------------------
// JWT

function base64UrlDecode(text: string): Uint8Array<ArrayBuffer> {
  const base64 = text.replaceAll("-", "+").replaceAll("_", "/");
  const padded = base64 + "=".repeat((4 - base64.length % 4) % 4);
  const binary = atob(padded);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function base64UrlEncode(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function pem(label: string, der: ArrayBuffer): string {
  const base64 = base64UrlEncode(new Uint8Array(der)).replaceAll("-", "+").replaceAll("_", "/");
  const padded = base64 + "=".repeat((4 - base64.length % 4) % 4);
  const lines = padded.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

function pemBody(text: string): Uint8Array<ArrayBuffer> {
  const body = text.replace(/-----(BEGIN|END) [A-Z ]+-----/g, "").replace(/\s+/g, "");
  const binary = atob(body);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

const RS256 = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as const;

/** Makes an RSA key pair for a service account: the private key as PKCS#8 PEM. */
export async function makeServiceAccountKey(): Promise<
  { privateKey: string; publicKey: CryptoKey }
> {
  const pair = await crypto.subtle.generateKey(
    { ...RS256, modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) },
    true,
    ["sign", "verify"],
  );
  const der = await crypto.subtle.exportKey("pkcs8", pair.privateKey);
  return { privateKey: pem("PRIVATE KEY", der), publicKey: pair.publicKey };
}

/**
 * Signs a JWT with RS256 (for tests that build their own assertion). `header` defaults to
 * `{"alg":"RS256","typ":"JWT"}`.
 */
export async function signJwt(
  claims: Record<string, unknown>,
  privateKeyPem: string,
  options: { header?: Record<string, unknown> } = {},
): Promise<string> {
  const key = await crypto.subtle.importKey("pkcs8", pemBody(privateKeyPem), RS256, false, [
    "sign",
  ]);
  const encoder = new TextEncoder();
  const head = base64UrlEncode(
    encoder.encode(JSON.stringify(options.header ?? { alg: "RS256", typ: "JWT" })),
  );
  const body = base64UrlEncode(encoder.encode(JSON.stringify(claims)));
  const signature = await crypto.subtle.sign(RS256, key, encoder.encode(`${head}.${body}`));
  return `${head}.${body}.${base64UrlEncode(new Uint8Array(signature))}`;
}

// ------------------------------------------------------------------------------------------
// fields= partial responses

/** A parsed field selection: null selects the whole value. */
type Selection = Map<string, Selection | null>;

class FieldsSyntaxError extends Error {}

function mergeSelection(target: Selection, path: string[], sub: Selection | null): void {
  const [head, ...rest] = path;
  if (head === undefined) return;
  if (rest.length === 0) {
    const existing = target.get(head);
    if (existing === null || sub === null) target.set(head, null);
    else if (existing === undefined) target.set(head, sub);
    else for (const [k, v] of sub) mergeSelection(existing, [k], v);
    return;
  }
  let child = target.get(head);
  if (child === null) return; // already whole
  if (child === undefined) {
    child = new Map();
    target.set(head, child);
  }
  mergeSelection(child, rest, sub);
}

/** Parses Google's `fields` syntax: `a,b/c,d(e,f/g)`, `*` for every field. */
function parseFields(text: string): Selection {
  let pos = 0;
  const name = (): string => {
    const match = /^(\*|[A-Za-z_][A-Za-z0-9_]*)/.exec(text.slice(pos));
    if (match === null) throw new FieldsSyntaxError();
    pos += match[0].length;
    return match[0];
  };
  const list = (): Selection => {
    const selection: Selection = new Map();
    for (;;) {
      const path = [name()];
      while (text[pos] === "/") {
        pos++;
        path.push(name());
      }
      let sub: Selection | null = null;
      if (text[pos] === "(") {
        pos++;
        sub = list();
        if (text[pos] !== ")") throw new FieldsSyntaxError();
        pos++;
      }
      mergeSelection(selection, path, sub);
      if (text[pos] !== ",") return selection;
      pos++;
    }
  };
  const selection = list();
  if (pos !== text.length) throw new FieldsSyntaxError();
  return selection;
}

/** The fields each resource has (a selection naming anything else is 400). */
const SCHEMA: Record<string, Record<string, string | null>> = {
  users: { kind: null, etag: null, nextPageToken: null, trigger_event: null, users: "user" },
  groups: { kind: null, etag: null, nextPageToken: null, groups: "group" },
  members: { kind: null, etag: null, nextPageToken: null, members: "member" },
  user: {
    kind: null,
    id: null,
    etag: null,
    primaryEmail: null,
    name: "name",
    isAdmin: null,
    isDelegatedAdmin: null,
    lastLoginTime: null,
    creationTime: null,
    deletionTime: null,
    agreedToTerms: null,
    suspended: null,
    suspensionReason: null,
    archived: null,
    changePasswordAtNextLogin: null,
    ipWhitelisted: null,
    emails: null,
    aliases: null,
    nonEditableAliases: null,
    customerId: null,
    orgUnitPath: null,
    isMailboxSetup: null,
    isEnrolledIn2Sv: null,
    isEnforcedIn2Sv: null,
    includeInGlobalAddressList: null,
    externalIds: null,
    thumbnailPhotoUrl: null,
  },
  name: { givenName: null, familyName: null, fullName: null, displayName: null },
  group: {
    kind: null,
    id: null,
    etag: null,
    email: null,
    name: null,
    description: null,
    directMembersCount: null,
    adminCreated: null,
    aliases: null,
    nonEditableAliases: null,
  },
  member: {
    kind: null,
    id: null,
    etag: null,
    email: null,
    role: null,
    type: null,
    status: null,
    delivery_settings: null,
  },
};

function checkSelection(selection: Selection, type: string): boolean {
  const schema = SCHEMA[type];
  if (schema === undefined) return true;
  for (const [key, sub] of selection) {
    if (key === "*") continue;
    if (!(key in schema)) return false;
    const childType = schema[key];
    if (sub !== null && (childType === null || childType === undefined)) return false;
    if (sub !== null && childType !== null && childType !== undefined) {
      if (!checkSelection(sub, childType)) return false;
    }
  }
  return true;
}

function project(value: unknown, selection: Selection | null): unknown {
  if (selection === null) return value;
  if (Array.isArray(value)) return value.map((item) => project(item, selection));
  if (!isRecord(value)) return value;
  if (selection.has("*")) {
    const all: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      all[key] = project(item, selection.get(key) ?? null);
    }
    return all;
  }
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const sub = selection.get(key);
    if (sub !== undefined) out[key] = project(item, sub);
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// Search syntax

interface Clause {
  field: string;
  op: ":" | "=";
  value: string;
}

/** Splits `a=b c:'d e'` into clauses; null when the syntax is wrong. */
function parseQuery(text: string): Clause[] | null {
  const clauses: Clause[] = [];
  let pos = 0;
  const source = text.trim();
  while (pos < source.length) {
    const match = /^([A-Za-z][A-Za-z0-9.]*)([:=])/.exec(source.slice(pos));
    if (match === null) return null;
    pos += match[0].length;
    let value: string;
    if (source[pos] === "'" || source[pos] === '"') {
      const quote = source[pos];
      const end = source.indexOf(quote ?? "'", pos + 1);
      if (end === -1) return null;
      value = source.slice(pos + 1, end);
      pos = end + 1;
    } else {
      const end = source.slice(pos).search(/\s/);
      value = end === -1 ? source.slice(pos) : source.slice(pos, pos + end);
      pos = end === -1 ? source.length : pos + end;
    }
    if (value === "") return null;
    const [field = "", op] = [match[1], match[2] === ":" ? ":" : "="] as const;
    clauses.push({ field, op, value });
    while (source[pos] === " ") pos++;
  }
  return clauses;
}

function textMatches(actual: string | undefined, clause: Clause): boolean {
  const have = (actual ?? "").toLowerCase();
  const want = clause.value.toLowerCase();
  if (clause.op === ":" && want.endsWith("*")) return have.startsWith(want.slice(0, -1));
  return have === want;
}

function boolValue(value: string): boolean | null {
  const v = value.toLowerCase();
  return v === "true" ? true : v === "false" ? false : null;
}

// ------------------------------------------------------------------------------------------
// Directory model

interface UserRecord {
  id: string;
  primaryEmail: string | null;
  givenName: string;
  familyName: string;
  suspended: boolean;
  archived: boolean;
  deleted: boolean;
  isAdmin: boolean;
  orgUnitPath: string;
  aliases: string[];
}

interface MemberRecord {
  id: string;
  email: string | undefined;
  role: MemberRole;
  type: MemberType;
  status: MemberStatus | undefined;
  /** The user or group record this member is, when it is in the account. */
  userId?: string;
  groupId?: string;
}

interface GroupRecord {
  id: string;
  email: string;
  name: string;
  description: string;
  aliases: string[];
  members: MemberRecord[];
}

function domainOf(email: string | null): string {
  return (email ?? "").slice((email ?? "").lastIndexOf("@") + 1).toLowerCase();
}

function numericId(seed: number): string {
  return String(100000000000000000000n + BigInt(seed));
}

/** A small directory: two domains, an admin, suspended/archived/deleted users, nesting. */
export function smallGoogleDirectory(): FakeGoogleDirectory {
  return {
    customerId: "C0fake00",
    domains: ["example.com", "example.org"],
    users: [
      { id: "100", primaryEmail: "admin@example.com", givenName: "Ada", isAdmin: true },
      { id: "101", primaryEmail: "alice@example.com", givenName: "Alice", orgUnitPath: "/Sales" },
      { id: "102", primaryEmail: "bob@example.com", givenName: "Bob", suspended: true },
      { id: "103", primaryEmail: "carol@example.org", givenName: "Carol", archived: true },
      { id: "104", primaryEmail: "dave@example.org", orgUnitPath: "/Sales/EMEA" },
      { id: "105", primaryEmail: "erin@example.com", deleted: true },
    ],
    groups: [
      {
        id: "g1",
        email: "sales@example.com",
        name: "Sales",
        members: [
          { key: "alice@example.com", role: "OWNER" },
          { key: "bob@example.com" },
          { key: "eng@example.org" },
          { key: "friend@gmail.com", type: "EXTERNAL" },
        ],
      },
      {
        id: "g2",
        email: "eng@example.org",
        name: "Engineering",
        members: [{ key: "dave@example.org", role: "MANAGER" }, { key: "carol@example.org" }],
      },
      { id: "g3", email: "all@example.com", name: "Everyone", members: [{ type: "CUSTOMER" }] },
    ],
  };
}

/** Options of {@link generateGoogleDirectory}. */
export interface GenerateOptions {
  users: number;
  groups: number;
  /** Fraction (0–1) of groups that contain another group. Default 0.1. */
  nestedFraction?: number;
  /** User members per group. Default 20 (capped at the user count). */
  membersPerGroup?: number;
  /** Fraction of users suspended. Default 0.02. */
  suspendedFraction?: number;
  /** Fraction of users deleted (listed only with showDeleted). Default 0.01. */
  deletedFraction?: number;
  /** Domains; users are spread over them. Default `["example.com"]`. */
  domains?: string[];
  /** PRNG seed. Default 1. */
  seed?: number;
}

/**
 * A deterministic large directory: user 0 is the admin `admin@<first domain>`; groups get
 * `membersPerGroup` users each, and `nestedFraction` of them also contain the next group
 * (never forming a cycle).
 */
export function generateGoogleDirectory(options: GenerateOptions): FakeGoogleDirectory {
  let state = options.seed ?? 1;
  const random = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const domains = options.domains ?? ["example.com"];
  const suspended = options.suspendedFraction ?? 0.02;
  const deleted = options.deletedFraction ?? 0.01;
  const users: FakeGoogleUser[] = [];
  for (let i = 0; i < options.users; i++) {
    const domain = domains[i % domains.length] ?? "example.com";
    const roll = random();
    users.push({
      id: numericId(i),
      primaryEmail: i === 0 ? `admin@${domain}` : `user${i}@${domain}`,
      givenName: `User${i}`,
      familyName: "Test",
      isAdmin: i === 0,
      ...(i > 0 && roll < deleted ? { deleted: true } : {}),
      ...(i > 0 && roll >= deleted && roll < deleted + suspended ? { suspended: true } : {}),
      orgUnitPath: i % 3 === 0 ? "/" : i % 3 === 1 ? "/Sales" : "/Engineering",
    });
  }
  const live = users.filter((u) => u.deleted !== true);
  const per = Math.min(options.membersPerGroup ?? 20, live.length);
  const nested = options.nestedFraction ?? 0.1;
  const groups: FakeGoogleGroup[] = [];
  for (let g = 0; g < options.groups; g++) {
    const members: FakeGoogleMember[] = [];
    const start = Math.floor(random() * live.length);
    for (let m = 0; m < per; m++) {
      const user = live[(start + m) % live.length];
      if (user !== undefined) members.push({ key: user.id ?? "" });
    }
    if (g + 1 < options.groups && random() < nested) members.push({ key: `group${g + 1}id` });
    groups.push({
      id: `group${g}id`,
      email: `group${g}@${domains[0] ?? "example.com"}`,
      name: `Group ${g}`,
      members,
    });
  }
  return { customerId: "C0gen000", domains, users, groups };
}

// ------------------------------------------------------------------------------------------
// The server

interface TokenRecord {
  subject: string | undefined;
  scopes: Set<string>;
  expiresAt: number;
}

interface Fault {
  kind: GoogleFaultKind;
  remaining: number;
  match: GoogleFaultMatch;
}

interface PageState {
  /** The listing's identity: route and the parameters that define the result. */
  listing: string;
  offset: number;
  /** The page number the token leads to (2 for the first token). */
  page: number;
}

/** One RSA key for every fake of the process: generating a 2048-bit key takes a while. */
let sharedKey: Promise<{ privateKey: string; publicKey: CryptoKey }> | undefined;

/** Starts the fake on 127.0.0.1 (port 0). Stop it with {@link FakeGoogle.stop}. */
export async function startFakeGoogle(options: FakeGoogleOptions = {}): Promise<FakeGoogle> {
  const now = options.now ?? Date.now;
  const directory = options.directory ?? smallGoogleDirectory();
  const customerId = directory.customerId ?? "C0fake00";
  const clientEmail = options.clientEmail ?? "roster-sync@roster-test.iam.gserviceaccount.com";
  const clientId = options.clientId ?? "117" + String(Math.floor(Math.random() * 1e15));
  const delegated = options.delegatedScopes === null
    ? null
    : new Set(options.delegatedScopes ?? GOOGLE_READONLY_SCOPES);
  const quota = options.userQuotaPerMinute ?? 2400;
  const maxConcurrent = options.maxConcurrent === undefined ? 20 : options.maxConcurrent;
  let latency = options.latencyMs ?? 0;
  const lifetime = options.tokenLifetimeSeconds ?? 3599;

  sharedKey ??= makeServiceAccountKey();
  const key = await sharedKey;
  const keyId = crypto.randomUUID().replaceAll("-", "");
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const hmacKey = await crypto.subtle.importKey(
    "raw",
    secret,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );

  // Directory.
  let nextId = 1;
  const users: UserRecord[] = [];
  const usersById = new Map<string, UserRecord>();
  const usersByEmail = new Map<string, UserRecord>();
  const addUser = (init: FakeGoogleUser): string => {
    const id = init.id ?? numericId(900000 + nextId++);
    const user: UserRecord = {
      id,
      primaryEmail: init.primaryEmail,
      givenName: init.givenName ?? (init.primaryEmail ?? "user").split("@")[0] ?? "user",
      familyName: init.familyName ?? "Test",
      suspended: init.suspended ?? false,
      archived: init.archived ?? false,
      deleted: init.deleted ?? false,
      isAdmin: init.isAdmin ?? false,
      orgUnitPath: init.orgUnitPath ?? "/",
      aliases: init.aliases ?? [],
    };
    users.push(user);
    usersById.set(id, user);
    if (user.primaryEmail !== null && !user.deleted) {
      usersByEmail.set(user.primaryEmail.toLowerCase(), user);
    }
    for (const alias of user.aliases) usersByEmail.set(alias.toLowerCase(), user);
    return id;
  };
  for (const init of directory.users) addUser(init);
  const domains = (directory.domains ?? [
    ...new Set(users.map((u) => domainOf(u.primaryEmail)).filter((d) => d !== "")),
  ]).map((d) => d.toLowerCase());

  const groups: GroupRecord[] = directory.groups.map((g) => ({
    id: g.id ?? `0${(nextId++).toString(36)}fakegroup`,
    email: g.email,
    name: g.name,
    description: g.description ?? "",
    aliases: g.aliases ?? [],
    members: [],
  }));
  const groupsByKey = new Map<string, GroupRecord>();
  for (const group of groups) {
    groupsByKey.set(group.id.toLowerCase(), group);
    groupsByKey.set(group.email.toLowerCase(), group);
    for (const alias of group.aliases) groupsByKey.set(alias.toLowerCase(), group);
  }
  directory.groups.forEach((init, index) => {
    const group = groups[index];
    if (group === undefined) return;
    for (const m of init.members ?? []) {
      const memberKey = (m.key ?? "").toLowerCase();
      const user = usersById.get(m.key ?? "") ?? usersByEmail.get(memberKey);
      const child = groupsByKey.get(memberKey);
      const role = m.role ?? "MEMBER";
      if (m.type === "CUSTOMER") {
        group.members.push({
          id: m.id ?? customerId,
          email: undefined,
          role,
          type: "CUSTOMER",
          status: m.status ?? "ACTIVE",
        });
      } else if (user !== undefined && m.type === undefined) {
        const status = user.suspended ? "SUSPENDED" : user.archived ? "ARCHIVED" : "ACTIVE";
        group.members.push({
          id: user.id,
          email: user.primaryEmail ?? undefined,
          role,
          type: "USER",
          status: m.status ?? status,
          userId: user.id,
        });
      } else if (child !== undefined && m.type === undefined) {
        group.members.push({
          id: child.id,
          email: child.email,
          role,
          type: "GROUP",
          status: m.status ?? "ACTIVE",
          groupId: child.id,
        });
      } else {
        if (m.key === undefined) throw new Error("fake google: a member needs a key or CUSTOMER");
        group.members.push({
          id: m.id ?? numericId(800000 + nextId++),
          email: m.key,
          role,
          type: m.type ?? "USER",
          status: m.status ?? (m.type === "GROUP" ? "ACTIVE" : undefined),
        });
      }
    }
  });

  // State.
  const tokens = new Map<string, TokenRecord>();
  const log: GoogleRequest[] = [];
  const faults: Fault[] = [];
  const quotaWindows = new Map<string, { start: number; count: number }>();
  const counters: GoogleCounters = {
    requests: 0,
    tokenRequests: 0,
    apiRequests: 0,
    throttled: 0,
    faults: 0,
    peakConcurrency: 0,
  };
  let inFlight = 0;
  let baseUrl = "";
  let held: Promise<void> | null = null;

  const issue = (subject: string | undefined, scopes: Iterable<string>): string => {
    const token = `ya29.fake-${crypto.randomUUID()}`;
    tokens.set(token, { subject, scopes: new Set(scopes), expiresAt: now() + lifetime * 1000 });
    return token;
  };

  // ---- token endpoint

  const tokenEndpoint = async (request: Request): Promise<Response> => {
    if (request.method !== "POST") return notFound("token");
    const form = new URLSearchParams(await request.text());
    const grant = form.get("grant_type");
    if (grant !== JWT_BEARER) {
      return oauthError(
        400,
        "unsupported_grant_type",
        `Invalid grant_type: ${grant ?? ""}`,
      );
    }
    const assertion = form.get("assertion");
    if (assertion === null || assertion === "") {
      return oauthError(400, "invalid_request", "Missing required parameter: assertion");
    }
    const parts = assertion.split(".");
    let header: unknown;
    let claims: unknown;
    try {
      header = JSON.parse(new TextDecoder().decode(base64UrlDecode(parts[0] ?? "")));
      claims = JSON.parse(new TextDecoder().decode(base64UrlDecode(parts[1] ?? "")));
    } catch {
      return oauthError(400, "invalid_grant", "Invalid JWT: Failed audience check.");
    }
    if (parts.length !== 3 || !isRecord(header) || !isRecord(claims)) {
      return oauthError(400, "invalid_grant", "Invalid JWT Signature.");
    }
    if (header["alg"] !== "RS256") {
      return oauthError(400, "invalid_grant", "Invalid JWT Signature.");
    }
    const iss = claims["iss"];
    if (typeof iss !== "string" || iss.toLowerCase() !== clientEmail.toLowerCase()) {
      return oauthError(400, "invalid_grant", "Invalid grant: account not found");
    }
    const signed = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
    let valid = false;
    try {
      valid = await crypto.subtle.verify(
        RS256,
        key.publicKey,
        base64UrlDecode(parts[2] ?? ""),
        signed,
      );
    } catch {
      valid = false;
    }
    if (!valid) return oauthError(400, "invalid_grant", "Invalid JWT Signature.");
    const aud = claims["aud"];
    if (
      aud !== GOOGLE_TOKEN_AUDIENCE && aud !== "https://accounts.google.com/o/oauth2/token" &&
      aud !== `${baseUrl}/token`
    ) {
      return oauthError(400, "invalid_grant", "Invalid JWT: Failed audience check.");
    }
    const iat = claims["iat"];
    const exp = claims["exp"];
    const seconds = now() / 1000;
    if (
      typeof iat !== "number" || typeof exp !== "number" || exp <= iat || exp - iat > 3600 ||
      iat > seconds + 60 || exp < seconds - 60
    ) {
      return oauthError(
        400,
        "invalid_grant",
        "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
      );
    }
    const scope = claims["scope"];
    if (typeof scope !== "string" || scope.trim() === "") {
      return oauthError(400, "invalid_scope", "Empty or missing scope not allowed.");
    }
    const scopes = scope.trim().split(/\s+/);
    const sub = claims["sub"];
    if (sub !== undefined) {
      if (typeof sub !== "string") {
        return oauthError(400, "invalid_grant", "Invalid email or User ID");
      }
      const user = usersByEmail.get(sub.toLowerCase()) ?? usersById.get(sub);
      if (user === undefined || user.deleted) {
        return oauthError(400, "invalid_grant", "Invalid email or User ID");
      }
      if (delegated === null || scopes.some((s) => !delegated.has(s))) {
        return oauthError(
          401,
          "unauthorized_client",
          "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
        );
      }
    }
    return json(200, {
      access_token: issue(typeof sub === "string" ? sub.toLowerCase() : undefined, scopes),
      expires_in: lifetime,
      token_type: "Bearer",
    });
  };

  // ---- API

  const checkQuota = (subject: string): boolean => {
    const t = now();
    let window = quotaWindows.get(subject);
    if (window === undefined || t >= window.start + 60_000) {
      window = { start: t - (t % 60_000), count: 0 };
      quotaWindows.set(subject, window);
    }
    window.count++;
    return window.count <= quota;
  };

  const signToken = async (state: PageState): Promise<string> => {
    const payload = new TextEncoder().encode(
      JSON.stringify({ l: state.listing, o: state.offset, p: state.page, t: now() }),
    );
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", hmacKey, payload));
    return `${base64UrlEncode(payload)}.${base64UrlEncode(mac.slice(0, 16))}`;
  };

  /** What a page token stands for; null when it is invalid for this listing or expired. */
  const readToken = async (
    token: string,
    listing: string,
  ): Promise<{ offset: number; page: number } | null> => {
    const [payloadText = "", macText = ""] = token.split(".");
    try {
      const payload = base64UrlDecode(payloadText);
      const mac = new Uint8Array(await crypto.subtle.sign("HMAC", hmacKey, payload.slice()));
      if (base64UrlEncode(mac.slice(0, 16)) !== macText) return null;
      const parsed: unknown = JSON.parse(new TextDecoder().decode(payload));
      if (!isRecord(parsed) || parsed["l"] !== listing) return null;
      const offset = parsed["o"];
      const pageNo = parsed["p"];
      const issued = parsed["t"];
      if (
        typeof offset !== "number" || typeof pageNo !== "number" || typeof issued !== "number"
      ) {
        return null;
      }
      if (now() - issued > PAGE_TOKEN_LIFETIME_MS) return null;
      return { offset, page: pageNo };
    } catch {
      return null;
    }
  };

  const etag = (seed: string) => `"fake${seed.length.toString(36)}/${seed.slice(0, 12)}"`;

  const userResource = (user: UserRecord): Record<string, unknown> => {
    const resource: Record<string, unknown> = {
      kind: "admin#directory#user",
      id: user.id,
      etag: etag(user.id),
      primaryEmail: user.primaryEmail ?? undefined,
      name: {
        givenName: user.givenName,
        familyName: user.familyName,
        fullName: `${user.givenName} ${user.familyName}`,
      },
      isAdmin: user.isAdmin,
      isDelegatedAdmin: false,
      lastLoginTime: "1970-01-01T00:00:00.000Z",
      creationTime: "2024-01-01T00:00:00.000Z",
      agreedToTerms: true,
      suspended: user.suspended,
      archived: user.archived,
      changePasswordAtNextLogin: false,
      ipWhitelisted: false,
      emails: user.primaryEmail === null ? [] : [{ address: user.primaryEmail, primary: true }],
      customerId,
      orgUnitPath: user.orgUnitPath,
      isMailboxSetup: true,
      isEnrolledIn2Sv: false,
      isEnforcedIn2Sv: false,
      includeInGlobalAddressList: true,
    };
    if (user.primaryEmail === null) delete resource["primaryEmail"];
    if (user.suspended) resource["suspensionReason"] = "ADMIN";
    if (user.aliases.length > 0) resource["aliases"] = user.aliases;
    if (user.deleted) resource["deletionTime"] = "2026-01-01T00:00:00.000Z";
    return resource;
  };

  const groupResource = (group: GroupRecord): Record<string, unknown> => {
    const resource: Record<string, unknown> = {
      kind: "admin#directory#group",
      id: group.id,
      etag: etag(group.id),
      email: group.email,
      name: group.name,
      description: group.description,
      directMembersCount: String(group.members.length),
      adminCreated: true,
    };
    if (group.aliases.length > 0) resource["aliases"] = group.aliases;
    return resource;
  };

  const memberResource = (member: MemberRecord): Record<string, unknown> => {
    const resource: Record<string, unknown> = {
      kind: "admin#directory#member",
      etag: etag(member.id),
      id: member.id,
      email: member.email,
      role: member.role,
      type: member.type,
      status: member.status,
    };
    if (member.email === undefined) delete resource["email"];
    if (member.status === undefined) delete resource["status"];
    if (member.type === "USER") resource["delivery_settings"] = "ALL_MAIL";
    return resource;
  };

  /** The scope rule: which domains a listing covers, or an error. */
  const scopeOf = (params: URLSearchParams): Response | { domain: string | null } => {
    const customer = params.get("customer");
    const domain = params.get("domain");
    if ((customer === null || customer === "") && (domain === null || domain === "")) {
      return badRequest();
    }
    if (
      customer !== null && customer !== "" && customer !== "my_customer" &&
      customer !== customerId
    ) {
      return forbidden();
    }
    if (domain !== null && domain !== "") {
      if (!domains.includes(domain.toLowerCase())) return forbidden();
      return { domain: domain.toLowerCase() };
    }
    return { domain: null };
  };

  const pageSize = (params: URLSearchParams, max: number, fallback: number) => {
    const raw = params.get("maxResults");
    if (raw === null) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < 1 || value > max) return outOfRange(raw, max);
    return value;
  };

  /** A short digest (FNV-1a) of the listing's route and defining parameters. */
  const listingKey = (route: string, params: URLSearchParams, names: string[]): string => {
    const text = JSON.stringify([route, ...names.map((n) => params.get(n) ?? "")]);
    let hash = 0x811c9dc5;
    for (let i = 0; i < text.length; i++) {
      hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
    }
    return hash.toString(36);
  };

  /** Pages `items`, projects them and answers. */
  const page = async <T>(
    params: URLSearchParams,
    listing: string,
    collection: "users" | "groups" | "members",
    items: T[],
    size: number,
    resource: (item: T) => Record<string, unknown>,
  ): Promise<Response> => {
    let offset = 0;
    let number = 1;
    const token = params.get("pageToken");
    if (token !== null && token !== "") {
      const read = await readToken(token, listing);
      if (read === null) return invalidInput();
      offset = read.offset;
      number = read.page;
    }
    const slice = items.slice(offset, offset + size).map(resource);
    const body: Record<string, unknown> = {
      kind: `admin#directory#${collection}`,
      etag: etag(listing),
    };
    if (slice.length > 0) body[collection] = slice;
    if (offset + size < items.length) {
      body["nextPageToken"] = await signToken({ listing, offset: offset + size, page: number + 1 });
    }
    const fields = params.get("fields");
    if (fields === null || fields === "") return json(200, body);
    let selection: Selection;
    try {
      selection = parseFields(fields);
    } catch {
      return apiError(400, `Invalid field selection ${fields}`, {
        reason: "invalidParameter",
        location: "fields",
        locationType: "parameter",
      });
    }
    if (!checkSelection(selection, collection)) {
      return apiError(400, `Invalid field selection ${fields}`, {
        reason: "invalidParameter",
        location: "fields",
        locationType: "parameter",
      });
    }
    return json(200, project(body, selection));
  };

  /** `orderBy=email` (with `sortOrder`) sorts by email; otherwise directory order. */
  const ordered = <T>(items: T[], params: URLSearchParams, email: (item: T) => string): T[] => {
    if (params.get("orderBy")?.toLowerCase() !== "email") return items;
    const sorted = [...items].sort((a, b) => email(a).localeCompare(email(b)));
    return params.get("sortOrder")?.toUpperCase() === "DESCENDING" ? sorted.reverse() : sorted;
  };

  /** Whether `orderBy` and `sortOrder` hold values Google accepts. */
  const badOrder = (params: URLSearchParams, keys: string[]): boolean => {
    const orderBy = params.get("orderBy");
    const sortOrder = params.get("sortOrder");
    return (orderBy !== null && !keys.includes(orderBy.toLowerCase())) ||
      (sortOrder !== null && !["ASCENDING", "DESCENDING"].includes(sortOrder.toUpperCase()));
  };

  const orgUnitMatches = (path: string, want: string) => {
    const base = want.replace(/\/+$/, "");
    return base === "" || path.toLowerCase() === base.toLowerCase() ||
      path.toLowerCase().startsWith(base.toLowerCase() + "/");
  };

  const userMatches = (user: UserRecord, clause: Clause): boolean | null => {
    const field = clause.field.toLowerCase();
    switch (field) {
      case "email":
        return textMatches(user.primaryEmail ?? undefined, clause) ||
          user.aliases.some((a) => textMatches(a, clause));
      case "givenname":
        return textMatches(user.givenName, clause);
      case "familyname":
        return textMatches(user.familyName, clause);
      case "name":
        return textMatches(`${user.givenName} ${user.familyName}`, clause) ||
          textMatches(user.givenName, clause) || textMatches(user.familyName, clause);
      case "orgunitpath":
        return orgUnitMatches(user.orgUnitPath, clause.value);
      case "issuspended": {
        const want = boolValue(clause.value);
        return want === null ? null : user.suspended === want;
      }
      case "isarchived": {
        const want = boolValue(clause.value);
        return want === null ? null : user.archived === want;
      }
      case "isadmin": {
        const want = boolValue(clause.value);
        return want === null ? null : user.isAdmin === want;
      }
      default:
        return null;
    }
  };

  const groupMatches = (group: GroupRecord, clause: Clause): boolean | null => {
    switch (clause.field.toLowerCase()) {
      case "email":
        return textMatches(group.email, clause);
      case "name":
        return textMatches(group.name, clause);
      case "memberkey": {
        const want = clause.value.toLowerCase();
        return group.members.some((m) =>
          m.id.toLowerCase() === want || (m.email ?? "").toLowerCase() === want
        );
      }
      default:
        return null;
    }
  };

  /** Applies a query; null when it uses something the search syntax does not have. */
  const search = <T>(
    items: T[],
    query: string | null,
    match: (item: T, clause: Clause) => boolean | null,
  ): T[] | null => {
    if (query === null || query.trim() === "") return items;
    const clauses = parseQuery(query);
    if (clauses === null || clauses.length === 0) return null;
    const probe = items[0];
    if (probe !== undefined && clauses.some((c) => match(probe, c) === null)) return null;
    if (probe === undefined) return items;
    return items.filter((item) => clauses.every((c) => match(item, c) === true));
  };

  const hasScope = (token: TokenRecord, ...names: string[]) =>
    names.some((n) => token.scopes.has(SCOPE + n));

  const insufficientScopes = () =>
    apiError(403, "Request had insufficient authentication scopes.", {
      message: "Insufficient Permission",
      reason: "insufficientPermissions",
    }, "PERMISSION_DENIED");

  const listUsers = (params: URLSearchParams): Promise<Response> | Response => {
    const scope = scopeOf(params);
    if (scope instanceof Response) return scope;
    const size = pageSize(params, 500, 100);
    if (size instanceof Response) return size;
    if (badOrder(params, ["email", "familyname", "givenname"])) return invalidInput();
    const showDeleted = params.get("showDeleted") === "true";
    const inScope = users.filter((u) =>
      u.deleted === showDeleted &&
      (scope.domain === null || domainOf(u.primaryEmail) === scope.domain)
    );
    const found = search(inScope, params.get("query"), userMatches);
    if (found === null) return invalidInput();
    const listing = listingKey("users", params, [
      "customer",
      "domain",
      "query",
      "showDeleted",
      "orderBy",
      "sortOrder",
      "projection",
      "viewType",
    ]);
    return page(
      params,
      listing,
      "users",
      ordered(found, params, (u) => u.primaryEmail ?? ""),
      size,
      userResource,
    );
  };

  const listGroups = (params: URLSearchParams): Promise<Response> | Response => {
    const scope = scopeOf(params);
    if (scope instanceof Response) return scope;
    const size = pageSize(params, 200, 200);
    if (size instanceof Response) return size;
    if (badOrder(params, ["email"])) return invalidInput();
    const inScope = groups.filter((g) =>
      scope.domain === null || domainOf(g.email) === scope.domain
    );
    const found = search(inScope, params.get("query"), groupMatches);
    if (found === null) return invalidInput();
    const listing = listingKey("groups", params, [
      "customer",
      "domain",
      "query",
      "orderBy",
      "sortOrder",
    ]);
    return page(
      params,
      listing,
      "groups",
      ordered(found, params, (g) => g.email),
      size,
      groupResource,
    );
  };

  const derivedMembers = (group: GroupRecord): MemberRecord[] => {
    const out: MemberRecord[] = [];
    const seen = new Set<string>();
    const visited = new Set<string>([group.id]);
    const walk = (g: GroupRecord) => {
      for (const member of g.members) {
        if (!seen.has(member.id)) {
          seen.add(member.id);
          out.push(member);
        }
        if (member.groupId !== undefined && !visited.has(member.groupId)) {
          visited.add(member.groupId);
          const child = groupsByKey.get(member.groupId.toLowerCase());
          if (child !== undefined) walk(child);
        }
      }
    };
    walk(group);
    return out;
  };

  const listMembers = (
    groupKey: string,
    params: URLSearchParams,
  ): Promise<Response> | Response => {
    const group = groupsByKey.get(groupKey.toLowerCase());
    if (group === undefined) return notFound("groupKey");
    const size = pageSize(params, 200, 200);
    if (size instanceof Response) return size;
    const derived = params.get("includeDerivedMembership") === "true";
    let members = derived ? derivedMembers(group) : group.members;
    const roles = params.get("roles");
    if (roles !== null && roles !== "") {
      const wanted = roles.toUpperCase().split(",").map((r) => r.trim());
      if (wanted.some((r) => r !== "OWNER" && r !== "MANAGER" && r !== "MEMBER")) {
        return invalidInput();
      }
      members = members.filter((m) => wanted.includes(m.role));
    }
    const listing = listingKey(`members:${group.id}`, params, [
      "roles",
      "includeDerivedMembership",
    ]);
    return page(params, listing, "members", members, size, memberResource);
  };

  const PREFIX = "/admin/directory/v1";

  const api = async (
    request: Request,
    url: URL,
    entry: GoogleRequest,
  ): Promise<Response> => {
    const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.get("authorization") ?? "")?.[1];
    if (bearer === undefined) {
      return apiError(
        401,
        "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        {
          message: "Login Required.",
          reason: "required",
          location: "Authorization",
          locationType: "header",
        },
        "UNAUTHENTICATED",
      );
    }
    const token = tokens.get(bearer);
    if (token === undefined || token.expiresAt <= now()) {
      return apiError(
        401,
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        {
          message: "Invalid Credentials",
          reason: "authError",
          location: "Authorization",
          locationType: "header",
        },
        "UNAUTHENTICATED",
      );
    }
    if (token.subject !== undefined) entry.subject = token.subject;
    const subjectKey = token.subject ?? `sa:${clientEmail}`;
    if (!checkQuota(subjectKey)) return userRateLimit();
    const admin = token.subject === undefined
      ? undefined
      : usersByEmail.get(token.subject) ?? usersById.get(token.subject);
    if (admin === undefined || !admin.isAdmin || admin.suspended || admin.deleted) {
      return forbidden();
    }
    if (request.method !== "GET") return notFound(url.pathname);
    const path = url.pathname.slice(PREFIX.length);
    const params = url.searchParams;
    if (path === "/users") {
      if (!hasScope(token, "admin.directory.user.readonly", "admin.directory.user")) {
        return insufficientScopes();
      }
      return await listUsers(params);
    }
    if (path === "/groups") {
      if (!hasScope(token, "admin.directory.group.readonly", "admin.directory.group")) {
        return insufficientScopes();
      }
      return await listGroups(params);
    }
    const members = /^\/groups\/([^/]+)\/members$/.exec(path);
    if (members !== null) {
      if (
        !hasScope(
          token,
          "admin.directory.group.member.readonly",
          "admin.directory.group.member",
          "admin.directory.group.readonly",
          "admin.directory.group",
        )
      ) {
        return insufficientScopes();
      }
      return await listMembers(decodeURIComponent(members[1] ?? ""), params);
    }
    return notFound(path);
  };

  /** Page number of a request within its listing (1 without a page token). */
  const pageNumber = (url: URL): number => {
    const token = url.searchParams.get("pageToken");
    if (token === null || token === "") return 1;
    const [payloadText = ""] = token.split(".");
    try {
      const parsed: unknown = JSON.parse(new TextDecoder().decode(base64UrlDecode(payloadText)));
      return isRecord(parsed) && typeof parsed["p"] === "number" ? parsed["p"] : 0;
    } catch {
      return 0;
    }
  };

  const takeFault = (url: URL): Fault | undefined => {
    for (const fault of faults) {
      if (fault.remaining <= 0) continue;
      const p = fault.match.path;
      if (
        p !== undefined &&
        !(typeof p === "string" ? url.pathname.includes(p) : p.test(url.pathname))
      ) {
        continue;
      }
      if (fault.match.page !== undefined && pageNumber(url) !== fault.match.page) continue;
      fault.remaining--;
      return fault;
    }
    return undefined;
  };

  const truncated = (response: Response, drop: () => void): Response => {
    let body = new Uint8Array(0);
    let sent = false;
    const stream = new ReadableStream<Uint8Array>({
      async start() {
        body = new Uint8Array(await response.arrayBuffer());
      },
      async pull(controller) {
        if (!sent) {
          sent = true;
          controller.enqueue(body.slice(0, Math.max(1, Math.floor(body.length / 2))));
          return;
        }
        // Let the status line, headers and first half reach the client, then cut.
        await new Promise((resolve) => setTimeout(resolve, 50));
        drop();
        controller.close();
      },
    });
    return new Response(stream, {
      status: 200,
      headers: { "content-type": "application/json; charset=UTF-8" },
    });
  };

  const handle = async (request: Request, url: URL, drop: () => void): Promise<Response> => {
    const params: Record<string, string> = {};
    for (const [k, v] of url.searchParams) params[k] = v;
    const entry: GoogleRequest = {
      method: request.method,
      path: url.pathname,
      params,
      status: 0,
      at: now(),
    };
    log.push(entry);
    counters.requests++;
    const isApi = url.pathname.startsWith(PREFIX + "/");
    if (isApi) counters.apiRequests++;
    else if (url.pathname === "/token") counters.tokenRequests++;
    if (latency > 0) await new Promise((resolve) => setTimeout(resolve, latency));

    const taken = takeFault(url);
    const fault = taken?.kind;
    let response: Response;
    if (fault !== undefined) counters.faults++;
    if (fault === "reset") {
      drop();
      return new Response(null, { status: 500 }); // never delivered
    } else if (fault === "500" || fault === "503") {
      response = backendError(fault === "500" ? 500 : 503);
    } else if (fault === "userRateLimitExceeded") {
      response = userRateLimit();
    } else if (fault === "quotaExceeded") {
      response = quotaExceeded();
    } else if (fault === "rateLimitExceeded") {
      response = rateLimited();
    } else if (url.pathname === "/token") {
      response = await tokenEndpoint(request);
    } else if (isApi) {
      response = await api(request, url, entry);
    } else {
      response = notFound(url.pathname);
    }
    if (taken?.match.retryAfterSeconds !== undefined) {
      response.headers.set("retry-after", String(taken.match.retryAfterSeconds));
    }
    entry.status = response.status;
    if (response.status >= 400) {
      const text = await response.clone().text();
      try {
        const parsed: unknown = JSON.parse(text);
        const reason = isRecord(parsed) && isRecord(parsed["error"]) &&
            Array.isArray(parsed["error"]["errors"]) && isRecord(parsed["error"]["errors"][0])
          ? parsed["error"]["errors"][0]["reason"]
          : undefined;
        if (typeof reason === "string") entry.reason = reason;
      } catch {
        // not JSON
      }
      if (
        response.status === 429 || entry.reason === "userRateLimitExceeded" ||
        entry.reason === "quotaExceeded"
      ) {
        counters.throttled++;
      }
    }
    if (fault === "truncated") {
      entry.status = 0;
      return truncated(response, drop);
    }
    return response;
  };

  const counted = async (request: Request, url: URL, drop: () => void): Promise<Response> => {
    const isApi = url.pathname.startsWith(PREFIX + "/");
    if (!isApi) return await handle(request, url, drop);
    inFlight++;
    counters.peakConcurrency = Math.max(counters.peakConcurrency, inFlight);
    try {
      if (maxConcurrent !== null && inFlight > maxConcurrent) {
        const params: Record<string, string> = {};
        for (const [k, v] of url.searchParams) params[k] = v;
        log.push({
          method: request.method,
          path: url.pathname,
          params,
          status: 429,
          reason: "rateLimitExceeded",
          at: now(),
        });
        counters.requests++;
        counters.apiRequests++;
        counters.throttled++;
        if (latency > 0) await new Promise((resolve) => setTimeout(resolve, latency));
        return rateLimited();
      }
      if (held !== null) await held;
      return await handle(request, url, drop);
    } finally {
      inFlight--;
    }
  };

  const server = serveIdp("google", counted);
  baseUrl = server.url;

  const admin = users.find((u) => u.isAdmin && !u.deleted && u.primaryEmail !== null);
  const keyFile = JSON.stringify(
    {
      type: "service_account",
      project_id: "roster-test",
      private_key_id: keyId,
      private_key: key.privateKey,
      client_email: clientEmail,
      client_id: clientId,
      auth_uri: "https://accounts.google.com/o/oauth2/auth",
      token_uri: GOOGLE_TOKEN_AUDIENCE,
      auth_provider_x509_cert_url: "https://www.googleapis.com/oauth2/v1/certs",
      client_x509_cert_url: `https://www.googleapis.com/robot/v1/metadata/x509/${
        encodeURIComponent(clientEmail)
      }`,
      universe_domain: "googleapis.com",
    },
    null,
    2,
  );

  return {
    url: baseUrl,
    tokenUrl: `${baseUrl}/token`,
    serviceAccount: { clientEmail, clientId, privateKey: key.privateKey, keyFile },
    customerId,
    adminUser: admin?.primaryEmail ?? "",
    requests: () => structuredClone(log),
    counters: () => ({ ...counters }),
    failNext: (n, kind, match = {}) => {
      faults.push({ kind, remaining: n, match });
    },
    clearFaults: () => {
      faults.length = 0;
    },
    setLatency: (ms) => {
      latency = ms;
    },
    hold: () => {
      let release = () => {};
      held = new Promise<void>((resolve) => {
        release = () => {
          held = null;
          resolve();
        };
      });
      return release;
    },
    mintToken: (o) => issue(o.subject?.toLowerCase(), o.scopes ?? GOOGLE_READONLY_SCOPES),
    expireTokens: () => {
      for (const token of tokens.values()) token.expiresAt = -Infinity;
    },
    addUser,
    stop: () => server.close(),
  };
}
