/**
 * A faithful fake Microsoft Graph (v1.0) and Microsoft identity platform (v2.0 token endpoint)
 * for tests and benchmarks, over real HTTP on 127.0.0.1.
 *
 * It plays one tenant in one cloud (global, US Government, China): the client-credentials token
 * endpoint with a client secret or a signed client assertion (RS256/PS256 JWT with `x5t` or
 * `x5t#S256`, checked against the app's certificate), AADSTS-shaped token errors, bearer checks,
 * application permissions (403 `Authorization_RequestDenied`), users, groups (listed, and one by
 * id: `/groups/{id}`), direct and
 * transitive members with `@odata.type`, the recycle bin, administrative units, `$select`
 * checking, `$top` limits, a minimal `$filter`, paging with absolute `@odata.nextLink`s carrying
 * opaque signed `$skiptoken`s bound to the query, `users/delta` and `groups/delta` rounds (an
 * empty first page, `members@delta` split across non-consecutive pages, `@removed`,
 * `$deltatoken=latest`, expiring delta links), `$batch` (20 requests, unique ids, `dependsOn`
 * with 424, shuffled responses, per-item status and `Retry-After`), resource-unit throttling per
 * app and tenant with `Retry-After` and the `x-ms-*` headers, and injected faults (503/504 with
 * or without `Retry-After`, 429, 403, dropped connections, truncated bodies, a page that keeps
 * failing, latency). A request log and counters let tests and benchmarks assert on traffic.
 *
 * Time (token expiry, throttle windows, delta and page-token lifetimes) comes from `now`, so a
 * test can share a virtual clock with the client and never wait.
 * @module
 */

import {
  constants,
  createHash,
  createHmac,
  randomUUID,
  verify,
  X509Certificate,
} from "node:crypto";
import type { FrontTls } from "./_front.ts";
import { serveIdp } from "./_idp.ts";

// ----------------------------------------------------------------------------------------------
// Public types

/** The cloud the fake plays; it decides the only token scope accepted. */
export type GraphCloud = "global" | "usgov" | "usgov-dod" | "china";

/** Each cloud's Graph root; the token scope is this plus `/.default`. */
export const GRAPH_CLOUD_HOSTS: Readonly<Record<GraphCloud, string>> = {
  global: "https://graph.microsoft.com",
  usgov: "https://graph.microsoft.us",
  "usgov-dod": "https://dod-graph.microsoft.us",
  china: "https://microsoftgraph.chinacloudapi.cn",
};

/** Microsoft Graph's application id, accepted as the resource in the scope too. */
export const GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000";

/** A user. Defaults: a random id, enabled, `Member`, no mail, display name from the UPN. */
export interface GraphUserInit {
  id?: string;
  userPrincipalName: string;
  mail?: string | null;
  displayName?: string | null;
  accountEnabled?: boolean;
  userType?: "Member" | "Guest";
  givenName?: string | null;
  surname?: string | null;
}

/** A soft-deleted user in the recycle bin. */
export interface GraphDeletedUserInit extends GraphUserInit {
  /** ISO time of the deletion. Default: the fake's start time. */
  deletedDateTime?: string;
}

/** A group; `members` are ids of users, groups, contacts, devices or service principals. */
export interface GraphGroupInit {
  id?: string;
  displayName: string | null;
  description?: string | null;
  mail?: string | null;
  mailEnabled?: boolean;
  securityEnabled?: boolean;
  groupTypes?: string[];
  members?: string[];
}

/** An organizational contact, a device or a service principal (non-user group members). */
export interface GraphOtherInit {
  id?: string;
  displayName: string;
  mail?: string | null;
}

/** An administrative unit; `members` are ids of users, groups or devices. */
export interface GraphAdministrativeUnitInit {
  id?: string;
  displayName: string;
  members?: string[];
}

/** The tenant's directory. */
export interface GraphTenantInit {
  /** Tenant id (GUID). Default: random. */
  tenantId?: string;
  /** Verified domains; any of them names the tenant at the token endpoint. Default `contoso.onmicrosoft.com`. */
  domains?: string[];
  users?: GraphUserInit[];
  deletedUsers?: GraphDeletedUserInit[];
  groups?: GraphGroupInit[];
  contacts?: GraphOtherInit[];
  devices?: GraphOtherInit[];
  servicePrincipals?: GraphOtherInit[];
  administrativeUnits?: GraphAdministrativeUnitInit[];
}

/** The app registration the client signs in as. */
export interface GraphAppInit {
  /** Application (client) id. Default: random. */
  clientId?: string;
  /** The client secret. Default: random (read it from `credentials`). */
  secret?: string;
  /** PEM certificate(s) whose private key may sign client assertions. */
  certificates?: string[];
  /**
   * Granted application permissions. Default
   * `["User.Read.All", "GroupMember.Read.All", "AdministrativeUnit.Read.All"]`.
   */
  permissions?: string[];
}

/** Resource-unit throttling per app and tenant (fixed windows). */
export interface GraphThrottleOptions {
  /**
   * Resource units per window. Default by tenant size: 3,500 (< 50 users), 5,000 (50–500),
   * 8,000 (> 500).
   */
  resourceUnits?: number;
  /** Window length in ms. Default 10,000. */
  windowMs?: number;
  /** How `Retry-After` is written on a 429: seconds with decimals, whole seconds, or absent. Default `fractional`. */
  retryAfter?: "fractional" | "integer" | "absent";
}

/** Options of {@link startFakeGraph}. */
export interface FakeGraphOptions {
  tenant?: GraphTenantInit;
  app?: GraphAppInit;
  /** The cloud played. Default `global`. */
  cloud?: GraphCloud;
  /** Access token lifetime in seconds. Default 3599. */
  tokenLifetimeSeconds?: number;
  /** Clock in ms. Default `Date.now`. */
  now?: () => number;
  /** Throttling; `false` turns it off. Default on, with the tenant-size quota. */
  throttle?: false | GraphThrottleOptions;
  /** Real delay added to every HTTP request, in ms (benchmarks). Default 0. */
  latencyMs?: number;
  /** Delta link lifetime in ms. Default 7 days. */
  deltaTokenLifetimeMs?: number;
  /** Status of the `syncStateNotFound` answer to an expired delta link. Default 400. */
  deltaExpiredStatus?: 400 | 410;
  /** Lifetime of a `$skiptoken` in ms; a replayed older nextLink fails. Default: forever. */
  nextLinkLifetimeMs?: number;
  /** Page size without `$top`. Default 100. */
  defaultPageSize?: number;
  /** Largest `$top`. Default 999. */
  maxPageSize?: number;
  /** Objects per delta page. Default 100. */
  deltaPageSize?: number;
  /** Members per `members@delta` slice; larger groups appear several times. Default 100. */
  deltaMembersPerSlice?: number;
  /** The first page of an initial delta round is empty (with a nextLink). Default true. */
  emptyFirstDeltaPage?: boolean;
  /** Seed of the `$batch` response order. Default 1. */
  batchSeed?: number;
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: FrontTls;
}

/** One logged request; inner `$batch` requests are logged too. `status` 0: dropped. */
export interface GraphRequest {
  method: string;
  /** Path and query, e.g. `/v1.0/users?$top=999`; inner batch requests get `/v1.0` prepended. */
  path: string;
  status: number;
  /** `now()` when it arrived. */
  at: number;
  /** The `id` of the inner request when it came inside a `$batch`. */
  batchItem?: string;
  /** Resource units charged. */
  resourceUnits: number;
}

/** Totals since start (or {@link FakeGraph.resetCounters}). */
export interface GraphCounters {
  /** HTTP requests (a `$batch` counts once). */
  requests: number;
  /** Requests inside `$batch` bodies. */
  batchItems: number;
  /** Token endpoint calls. */
  tokenRequests: number;
  /** 429 answers, outer and inner. */
  throttled: number;
  /** Resource units charged. */
  resourceUnits: number;
  /** Graph reads by route (`users`, `groups`, `members`, `transitiveMembers`, `deletedUsers`, `administrativeUnitMembers`, `usersDelta`, `groupsDelta`, `batch`, `other`), inner included. */
  byRoute: Record<string, number>;
}

/** Faults {@link FakeGraph.failNext} can inject. */
export type GraphFaultKind =
  /** 503 Service Unavailable (with `retryAfter` if given). */
  | "503"
  /** 504 Gateway Timeout. */
  | "504"
  /** 429 TooManyRequests (with `retryAfter` if given). */
  | "429"
  /** 403 Authorization_RequestDenied. */
  | "403"
  /** The connection closes before any answer (outer requests only). */
  | "drop"
  /** The answer's body is cut in half (outer requests only). */
  | "truncate";

/** Where a fault applies. */
export interface GraphFaultOptions {
  /** Only requests whose path and query contain this string or match this expression. */
  path?: string | RegExp;
  /** `Retry-After` value for 503 and 429. */
  retryAfter?: string;
}

/** A running fake and its hooks. */
export interface FakeGraph {
  /** The fake's origin, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** `directory.entra.authorityUrl` for this fake (the origin). */
  readonly authorityUrl: string;
  /** `directory.entra.graphUrl` for this fake (the origin). */
  readonly graphUrl: string;
  /** The token endpoint for the tenant id. */
  readonly tokenUrl: string;
  readonly tenantId: string;
  /** The first verified domain. */
  readonly domain: string;
  /** The scope the fake accepts, e.g. `https://graph.microsoft.com/.default`. */
  readonly scope: string;
  readonly credentials: { clientId: string; secret: string };
  /** Every request so far, in arrival order. */
  requests(): GraphRequest[];
  counters(): GraphCounters;
  resetCounters(): void;
  /** The most outer requests handled at once. */
  peakConcurrency(): number;
  /** The next `n` matching requests (Infinity: every one) fail with `kind`. */
  failNext(n: number, kind: GraphFaultKind, options?: GraphFaultOptions): void;
  clearFaults(): void;
  setLatency(ms: number): void;
  setThrottle(throttle: false | GraphThrottleOptions): void;
  setPermissions(permissions: string[]): void;
  /** Makes every issued access token expired. */
  expireTokens(): void;
  /** Makes every issued delta link expired. */
  expireDeltaLinks(): void;
  /** Issues an access token directly. */
  mintToken(): string;
  addUser(user: GraphUserInit): string;
  updateUser(id: string, changes: Partial<Omit<GraphUserInit, "id">>): void;
  /** Moves a user to the recycle bin (delta: `@removed` reason `changed`). */
  softDeleteUser(id: string): void;
  restoreUser(id: string): void;
  /** Deletes a live or recycled user for good (delta: reason `deleted`). */
  purgeUser(id: string): void;
  addGroup(group: GraphGroupInit): string;
  updateGroup(id: string, changes: Partial<Omit<GraphGroupInit, "id" | "members">>): void;
  deleteGroup(id: string): void;
  addMember(groupId: string, memberId: string): void;
  removeMember(groupId: string, memberId: string): void;
  /** Stops the server and closes every connection. */
  close(): Promise<void>;
}

// ----------------------------------------------------------------------------------------------
// Model

type ObjectType = "user" | "group" | "orgContact" | "device" | "servicePrincipal";

interface DirObject {
  type: ObjectType;
  id: string;
  ordinal: number;
  props: Record<string, unknown>;
  /** `seq` of the last change of its properties. */
  changed: number;
}

interface Membership {
  id: string;
  ordinal: number;
}

interface Tombstone {
  id: string;
  kind: "user" | "group";
  reason: "changed" | "deleted";
  seq: number;
}

interface MemberChange {
  groupId: string;
  memberId: string;
  type: ObjectType;
  added: boolean;
  seq: number;
}

interface GraphAnswer {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/**
 * `$select` of a query: the properties named (null without `$select`), or Graph's 400
 * `Request_BadRequest` for a property `typeName` does not have.
 */
function parseSelect(
  params: URLSearchParams,
  allowed: readonly string[],
  typeName: string,
  at: number,
): { select: string[] | null } | GraphAnswer {
  const selectText = params.get("$select");
  if (selectText === null) return { select: null };
  const select = selectText.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const unknown = select.find((s) => !allowed.includes(s));
  if (unknown === undefined) return { select };
  return graphError(
    400,
    "Request_BadRequest",
    `Could not find a property named '${unknown}' on type '${typeName}'.`,
    at,
  );
}

const USER_PROPS = [
  "id",
  "displayName",
  "mail",
  "userPrincipalName",
  "accountEnabled",
  "userType",
  "givenName",
  "surname",
  "jobTitle",
  "businessPhones",
  "mobilePhone",
  "officeLocation",
  "preferredLanguage",
  "onPremisesImmutableId",
  "createdDateTime",
  "deletedDateTime",
];
const USER_DEFAULT = [
  "businessPhones",
  "displayName",
  "givenName",
  "id",
  "jobTitle",
  "mail",
  "mobilePhone",
  "officeLocation",
  "preferredLanguage",
  "surname",
  "userPrincipalName",
];
const GROUP_PROPS = [
  "id",
  "displayName",
  "description",
  "mail",
  "mailEnabled",
  "mailNickname",
  "securityEnabled",
  "groupTypes",
  "onPremisesSyncEnabled",
  "createdDateTime",
  "deletedDateTime",
  "visibility",
];
const OTHER_PROPS = ["id", "displayName", "mail", "deletedDateTime"];
const MEMBER_PROPS = [...new Set([...USER_PROPS, ...GROUP_PROPS, ...OTHER_PROPS])];
const AU_PROPS = ["id", "displayName", "description", "visibility"];

const DEFAULT_PERMISSIONS = [
  "User.Read.All",
  "GroupMember.Read.All",
  "AdministrativeUnit.Read.All",
];
const READ_USERS = [
  "User.Read.All",
  "User.ReadWrite.All",
  "Directory.Read.All",
  "Directory.ReadWrite.All",
];
const READ_GROUPS = [
  "GroupMember.Read.All",
  "Group.Read.All",
  "Group.ReadWrite.All",
  "Directory.Read.All",
  "Directory.ReadWrite.All",
];
const READ_UNITS = ["AdministrativeUnit.Read.All", "Directory.Read.All", "Directory.ReadWrite.All"];

const ODATA_TYPE: Record<ObjectType, string> = {
  user: "#microsoft.graph.user",
  group: "#microsoft.graph.group",
  orgContact: "#microsoft.graph.orgContact",
  device: "#microsoft.graph.device",
  servicePrincipal: "#microsoft.graph.servicePrincipal",
};

const CAST_TYPE: Record<string, ObjectType> = {
  "microsoft.graph.user": "user",
  "microsoft.graph.group": "group",
  "microsoft.graph.orgContact": "orgContact",
  "microsoft.graph.device": "device",
  "microsoft.graph.servicePrincipal": "servicePrincipal",
};

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function b64url(data: Uint8Array | string): string {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

function fromB64url(text: string): Uint8Array {
  const padded = text.replaceAll("-", "+").replaceAll("_", "/") +
    "===".slice((text.length + 3) % 4);
  const binary = atob(padded);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function parseJsonSegment(segment: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(fromB64url(segment)));
    return isObject(value) ? value : null;
  } catch {
    return null;
  }
}

/** A Graph error answer (`{"error":{"code","message","innerError"}}`). */
function graphError(
  status: number,
  code: string,
  message: string,
  now: number,
  headers: Record<string, string> = {},
): GraphAnswer {
  const requestId = randomUUID();
  return {
    status,
    headers: { "content-type": "application/json", ...headers },
    body: {
      error: {
        code,
        message,
        innerError: {
          date: new Date(now).toISOString().slice(0, 19),
          "request-id": requestId,
          "client-request-id": requestId,
        },
      },
    },
  };
}

function formatSeconds(ms: number, style: "fractional" | "integer"): string {
  const seconds = Math.max(ms, 1) / 1000;
  return style === "integer" ? String(Math.ceil(seconds)) : String(Number(seconds.toFixed(3)));
}

// ----------------------------------------------------------------------------------------------
// The server

/**
 * Starts a fake Graph on 127.0.0.1 (port 0).
 *
 * @example
 * ```ts
 * const graph = await startFakeGraph({ tenant: { users: [{ userPrincipalName: "a@contoso.com" }] } });
 * try { … graph.counters().requests … } finally { await graph.close(); }
 * ```
 */
export function startFakeGraph(options: FakeGraphOptions = {}): Promise<FakeGraph> {
  const now = options.now ?? Date.now;
  const startedAt = now();
  const cloudHost = GRAPH_CLOUD_HOSTS[options.cloud ?? "global"];
  const scope = `${cloudHost}/.default`;
  const tenantInit = options.tenant ?? {};
  const tenantId = tenantInit.tenantId ?? randomUUID();
  const domains = tenantInit.domains ?? ["contoso.onmicrosoft.com"];
  const clientId = options.app?.clientId ?? randomUUID();
  const secret = options.app?.secret ?? b64url(crypto.getRandomValues(new Uint8Array(30)));
  const certificates = (options.app?.certificates ?? []).map((pem) => {
    const cert = new X509Certificate(pem);
    return {
      cert,
      x5t: b64url(createHash("sha1").update(cert.raw).digest()),
      x5tS256: b64url(createHash("sha256").update(cert.raw).digest()),
    };
  });
  let permissions = new Set(options.app?.permissions ?? DEFAULT_PERMISSIONS);
  const tokenLifetime = options.tokenLifetimeSeconds ?? 3599;
  let throttle: false | GraphThrottleOptions = options.throttle ?? {};
  let latencyMs = options.latencyMs ?? 0;
  const deltaLifetime = options.deltaTokenLifetimeMs ?? 7 * 24 * 3600 * 1000;
  const nextLinkLifetime = options.nextLinkLifetimeMs ?? Infinity;
  const defaultPageSize = options.defaultPageSize ?? 100;
  const maxPageSize = options.maxPageSize ?? 999;
  const deltaPageSize = options.deltaPageSize ?? 100;
  const deltaSlice = options.deltaMembersPerSlice ?? 100;
  const emptyFirstDeltaPage = options.emptyFirstDeltaPage ?? true;
  const hmacKey = crypto.getRandomValues(new Uint8Array(32));
  let batchSeed = options.batchSeed ?? 1;

  // ---- directory state
  let seq = 0;
  let ordinal = 0;
  const objects = new Map<string, DirObject>();
  const users: DirObject[] = [];
  const groups: DirObject[] = [];
  const recycled: DirObject[] = [];
  const members = new Map<string, Membership[]>();
  const memberIndex = new Map<string, Set<string>>();
  let initializing = true;
  const units = new Map<string, { props: Record<string, unknown>; members: Membership[] }>();
  const tombstones: Tombstone[] = [];
  const memberChanges: MemberChange[] = [];

  const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

  const created = iso(startedAt);
  const userProps = (init: GraphUserInit): Record<string, unknown> => ({
    displayName: init.displayName === undefined
      ? init.userPrincipalName.split("@")[0]
      : init.displayName,
    mail: init.mail ?? null,
    userPrincipalName: init.userPrincipalName,
    accountEnabled: init.accountEnabled ?? true,
    userType: init.userType ?? (init.userPrincipalName.includes("#EXT#") ? "Guest" : "Member"),
    givenName: init.givenName ?? null,
    surname: init.surname ?? null,
    jobTitle: null,
    businessPhones: [],
    mobilePhone: null,
    officeLocation: null,
    preferredLanguage: null,
    onPremisesImmutableId: null,
    createdDateTime: created,
    deletedDateTime: null,
  });

  const groupProps = (init: GraphGroupInit): Record<string, unknown> => ({
    displayName: init.displayName,
    description: init.description ?? null,
    mail: init.mail ?? null,
    mailEnabled: init.mailEnabled ?? false,
    mailNickname: (init.displayName ?? "group").replace(/\W/g, "").toLowerCase(),
    securityEnabled: init.securityEnabled ?? true,
    groupTypes: init.groupTypes ?? [],
    onPremisesSyncEnabled: null,
    createdDateTime: created,
    deletedDateTime: null,
    visibility: null,
  });

  const create = (type: ObjectType, id: string | undefined, props: Record<string, unknown>) => {
    const objectId = id ?? randomUUID();
    if (objects.has(objectId)) throw new Error(`fake graph: duplicate object id ${objectId}`);
    const object: DirObject = { type, id: objectId, ordinal: ++ordinal, props, changed: ++seq };
    objects.set(objectId, object);
    return object;
  };

  const addUser = (init: GraphUserInit) => {
    const user = create("user", init.id, userProps(init));
    users.push(user);
    return user.id;
  };
  const addGroup = (init: GraphGroupInit) => {
    const group = create("group", init.id, groupProps(init));
    groups.push(group);
    members.set(group.id, []);
    return group.id;
  };

  const removeFrom = (list: DirObject[], id: string) => {
    const index = list.findIndex((o) => o.id === id);
    if (index !== -1) list.splice(index, 1);
  };

  const addMember = (groupId: string, memberId: string) => {
    const list = members.get(groupId);
    const member = objects.get(memberId);
    if (list === undefined) throw new Error(`fake graph: no group ${groupId}`);
    if (member === undefined) throw new Error(`fake graph: no object ${memberId}`);
    const index = memberIndex.get(groupId) ?? new Set<string>();
    if (index.has(memberId)) return;
    index.add(memberId);
    memberIndex.set(groupId, index);
    list.push({ id: memberId, ordinal: ++ordinal });
    // The initial tenant needs no change log: every delta round starts after it.
    if (!initializing) {
      memberChanges.push({ groupId, memberId, type: member.type, added: true, seq: ++seq });
    }
  };
  const removeMember = (groupId: string, memberId: string) => {
    const list = members.get(groupId);
    if (list === undefined) throw new Error(`fake graph: no group ${groupId}`);
    if (memberIndex.get(groupId)?.delete(memberId) !== true) return;
    const index = list.findIndex((m) => m.id === memberId);
    if (index !== -1) list.splice(index, 1);
    const type = objects.get(memberId)?.type ?? "user";
    memberChanges.push({ groupId, memberId, type, added: false, seq: ++seq });
  };
  const dropFromAllGroups = (memberId: string) => {
    for (const groupId of members.keys()) removeMember(groupId, memberId);
    for (const unit of units.values()) {
      const index = unit.members.findIndex((m) => m.id === memberId);
      if (index !== -1) unit.members.splice(index, 1);
    }
  };

  for (const u of tenantInit.users ?? []) addUser(u);
  for (const u of tenantInit.deletedUsers ?? []) {
    const props = userProps(u);
    const user: DirObject = {
      type: "user",
      id: u.id ?? randomUUID(),
      ordinal: ++ordinal,
      props,
      changed: 0,
    };
    props.deletedDateTime = u.deletedDateTime ?? iso(startedAt);
    props.userPrincipalName = `${user.id.replaceAll("-", "")}${u.userPrincipalName}`;
    recycled.push(user);
  }
  for (const c of tenantInit.contacts ?? []) {
    create("orgContact", c.id, { displayName: c.displayName, mail: c.mail ?? null });
  }
  for (const d of tenantInit.devices ?? []) create("device", d.id, { displayName: d.displayName });
  for (const s of tenantInit.servicePrincipals ?? []) {
    create("servicePrincipal", s.id, { displayName: s.displayName });
  }
  for (const g of tenantInit.groups ?? []) addGroup(g);
  for (const g of tenantInit.groups ?? []) {
    const groupId = g.id ?? groups[(tenantInit.groups ?? []).indexOf(g)]?.id ?? "";
    for (const m of g.members ?? []) addMember(groupId, m);
  }
  for (const a of tenantInit.administrativeUnits ?? []) {
    const id = a.id ?? randomUUID();
    const list: Membership[] = [];
    for (const m of a.members ?? []) {
      if (!objects.has(m)) throw new Error(`fake graph: no object ${m}`);
      list.push({ id: m, ordinal: ++ordinal });
    }
    units.set(id, {
      props: { id, displayName: a.displayName, description: null, visibility: null },
      members: list,
    });
  }

  initializing = false;

  // ---- tokens
  const tokens = new Map<string, { expiresAt: number }>();
  const issue = () => {
    const token = `eyJ0eXAiOiJKV1Qi.${b64url(crypto.getRandomValues(new Uint8Array(24)))}`;
    tokens.set(token, { expiresAt: now() + tokenLifetime * 1000 });
    return token;
  };

  // ---- request log, counters, faults
  const log: GraphRequest[] = [];
  const emptyCounters = (): GraphCounters => ({
    requests: 0,
    batchItems: 0,
    tokenRequests: 0,
    throttled: 0,
    resourceUnits: 0,
    byRoute: {},
  });
  let counters = emptyCounters();
  let inFlight = 0;
  let peak = 0;
  const faults: { kind: GraphFaultKind; left: number; options: GraphFaultOptions }[] = [];
  const takeFault = (path: string, inner: boolean) => {
    const fault = faults.find((f) =>
      f.left > 0 && !(inner && (f.kind === "drop" || f.kind === "truncate")) &&
      (f.options.path === undefined ||
        (typeof f.options.path === "string"
          ? path.includes(f.options.path)
          : f.options.path.test(path)))
    );
    if (fault === undefined) return undefined;
    fault.left--;
    return fault;
  };
  const faultAnswer = (
    fault: { kind: GraphFaultKind; options: GraphFaultOptions },
  ): GraphAnswer | null => {
    const retry: Record<string, string> = fault.options.retryAfter === undefined
      ? {}
      : { "retry-after": fault.options.retryAfter };
    const at = now();
    switch (fault.kind) {
      case "503":
        return graphError(
          503,
          "serviceNotAvailable",
          "Service unavailable, please retry.",
          at,
          retry,
        );
      case "504":
        return graphError(504, "UnknownError", "Gateway timeout.", at);
      case "429":
        return graphError(429, "TooManyRequests", "Please retry again later.", at, retry);
      case "403":
        return graphError(
          403,
          "Authorization_RequestDenied",
          "Insufficient privileges to complete the operation.",
          at,
        );
      default:
        return null;
    }
  };

  // ---- throttling
  let window = { start: -Infinity, spent: 0 };
  const quota = (t: GraphThrottleOptions) =>
    t.resourceUnits ?? (users.length < 50 ? 3500 : users.length <= 500 ? 5000 : 8000);
  /** Charges `cost`; returns the 429 answer when over the quota, else the headers to add. */
  const charge = (
    cost: number,
  ): { ok: true; headers: Record<string, string> } | { ok: false; answer: GraphAnswer } => {
    if (throttle === false) return { ok: true, headers: { "x-ms-resource-unit": String(cost) } };
    const windowMs = throttle.windowMs ?? 10_000;
    const limit = quota(throttle);
    const at = now();
    if (at >= window.start + windowMs) window = { start: at, spent: 0 };
    if (window.spent + cost > limit) {
      const style = throttle.retryAfter ?? "fractional";
      const headers: Record<string, string> = {
        "x-ms-throttle-scope": `Tenant_Application/ReadOnly/${clientId}/${tenantId}`,
        "x-ms-throttle-information": "ResourceUnitLimitExceeded",
      };
      if (style !== "absent") {
        headers["retry-after"] = formatSeconds(window.start + windowMs - at, style);
      }
      return {
        ok: false,
        answer: graphError(429, "TooManyRequests", "Please retry again later.", at, headers),
      };
    }
    window.spent += cost;
    counters.resourceUnits += cost;
    const headers: Record<string, string> = { "x-ms-resource-unit": String(cost) };
    const used = window.spent / limit;
    if (used >= 0.8) headers["x-ms-throttle-limit-percentage"] = used.toFixed(1);
    return { ok: true, headers };
  };

  // ---- page tokens (signed, bound to the query)
  const sign = (payload: string) =>
    b64url(createHmac("sha256", hmacKey).update(payload).digest()).slice(0, 22);
  const makeSkiptoken = (query: string, after: string) => {
    const payload = b64url(JSON.stringify({ q: query, a: after, t: now() }));
    return `${payload}.${sign(payload)}`;
  };
  /** The position a skiptoken holds, or an error answer. */
  const readSkiptoken = (token: string, query: string): string | GraphAnswer => {
    const [payload = "", signature = ""] = token.split(".");
    const data = signature === sign(payload) ? parseJsonSegment(payload) : null;
    if (
      data === null || data.q !== query || typeof data.a !== "string" || typeof data.t !== "number"
    ) {
      return graphError(
        400,
        "Request_BadRequest",
        "Invalid page token: it does not belong to this query.",
        now(),
      );
    }
    if (now() - data.t > nextLinkLifetime) {
      return graphError(
        400,
        "Directory_ExpiredPageToken",
        "The specified page token value has expired and can no longer be included in your request.",
        now(),
      );
    }
    return data.a;
  };

  // ---- rendering
  const render = (object: DirObject, select: readonly string[] | null, withType: boolean) => {
    const out: Record<string, unknown> = {};
    if (withType) out["@odata.type"] = ODATA_TYPE[object.type];
    const hideUser = object.type === "user" && withType &&
      !READ_USERS.some((p) => permissions.has(p));
    const keys = select ??
      (object.type === "user" ? USER_DEFAULT : Object.keys(object.props).concat("id"));
    for (const key of keys) {
      if (key === "id") out.id = object.id;
      else if (key in object.props) out[key] = hideUser ? null : object.props[key];
      else if (select !== null && object.type === "user") out[key] = null;
    }
    if (!("id" in out)) out.id = object.id;
    return out;
  };

  // ---- queries
  interface Query {
    select: string[] | null;
    top: number;
    filter: ((o: DirObject) => boolean) | null;
    skiptoken: string | null;
    deltatoken: string | null;
    bound: string;
  }

  const parseQuery = (
    pathname: string,
    params: URLSearchParams,
    headers: Headers,
    allowed: readonly string[],
    typeName: string,
  ): Query | GraphAnswer => {
    const at = now();
    const selected = parseSelect(params, allowed, typeName, at);
    if ("status" in selected) return selected;
    const { select } = selected;
    let top = defaultPageSize;
    const topText = params.get("$top");
    if (topText !== null) {
      const n = Number(topText);
      if (!/^\d+$/.test(topText) || n < 1 || n > maxPageSize) {
        return graphError(
          400,
          "Request_BadRequest",
          `Invalid page size specified: '${topText}'. Must be between 1 and ${maxPageSize} inclusive.`,
          at,
        );
      }
      top = n;
    }
    let filter: Query["filter"] = null;
    const filterText = params.get("$filter");
    if (filterText !== null) {
      const eventual = (headers.get("consistencylevel") ?? "").toLowerCase() === "eventual" &&
        params.get("$count") === "true";
      const parsed = parseFilter(filterText, allowed, eventual, typeName);
      if (typeof parsed === "string") {
        return graphError(400, "Request_UnsupportedQuery", parsed, at);
      }
      filter = parsed;
    }
    for (const key of params.keys()) {
      if (
        key.startsWith("$") &&
        !["$select", "$top", "$filter", "$skiptoken", "$count", "$deltatoken"].includes(key)
      ) {
        return graphError(400, "Request_BadRequest", `Query option '${key}' is not allowed.`, at);
      }
    }
    const boundParams = new URLSearchParams(params);
    boundParams.delete("$skiptoken");
    boundParams.sort();
    return {
      select,
      top,
      filter,
      skiptoken: params.get("$skiptoken"),
      deltatoken: params.get("$deltatoken"),
      bound: `${pathname}?${boundParams}`,
    };
  };

  /** One page of an ordinal-ordered listing, with the absolute nextLink when more follow. */
  const listPage = (
    url: URL,
    query: Query,
    items: Source,
    withType: boolean,
    context: string,
  ): GraphAnswer => {
    let after = -1;
    if (query.skiptoken !== null) {
      const position = readSkiptoken(query.skiptoken, query.bound);
      if (typeof position !== "string") return position;
      after = Number(position);
    }
    let lo = 0;
    let hi = items.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (items.ordinalAt(mid) <= after) lo = mid + 1;
      else hi = mid;
    }
    const value: Record<string, unknown>[] = [];
    let last = after;
    let index = lo;
    for (; index < items.length && value.length < query.top; index++) {
      last = items.ordinalAt(index);
      const object = items.objectAt(index);
      if (object !== undefined && (query.filter === null || query.filter(object))) {
        value.push(render(object, query.select, withType));
      }
    }
    const body: Record<string, unknown> = {
      "@odata.context": `${origin}/v1.0/$metadata#${context}`,
    };
    if (index < items.length) {
      const kept = url.search.slice(1).split("&").filter((p) =>
        p !== "" && !p.startsWith("$skiptoken=") && !p.startsWith("%24skiptoken=")
      );
      kept.push(`$skiptoken=${makeSkiptoken(query.bound, String(last))}`);
      body["@odata.nextLink"] = `${origin}${url.pathname}?${kept.join("&")}`;
    }
    body.value = value;
    return { status: 200, headers: { "content-type": "application/json" }, body };
  };

  /** A listing in ordinal order; `objectAt` is undefined for an entry a cast leaves out. */
  interface Source {
    length: number;
    ordinalAt(index: number): number;
    objectAt(index: number): DirObject | undefined;
  }
  const asItems = (list: readonly DirObject[]): Source => ({
    length: list.length,
    ordinalAt: (i) => list[i]?.ordinal ?? 0,
    objectAt: (i) => list[i],
  });
  const memberItems = (list: readonly Membership[], cast: ObjectType | null): Source => ({
    length: list.length,
    ordinalAt: (i) => list[i]?.ordinal ?? 0,
    objectAt: (i) => {
      const object = objects.get(list[i]?.id ?? "");
      return object !== undefined && (cast === null || object.type === cast) ? object : undefined;
    },
  });
  /** Transitive members in breadth-first order (cycles visited once), positions as ordinals. */
  const transitive = (groupId: string, cast: ObjectType | null): Source => {
    const seen = new Set<string>([groupId]);
    const out: DirObject[] = [];
    const queue = [groupId];
    while (queue.length > 0) {
      const current = queue.shift() ?? "";
      for (const m of members.get(current) ?? []) {
        if (seen.has(m.id)) continue;
        seen.add(m.id);
        const object = objects.get(m.id);
        if (object === undefined) continue;
        if (cast === null || object.type === cast) out.push(object);
        if (object.type === "group") queue.push(object.id);
      }
    }
    return { length: out.length, ordinalAt: (i) => i + 1, objectAt: (i) => out[i] };
  };

  // ---- delta
  interface DeltaLink {
    kind: "users" | "groups";
    seq: number;
    select: string[] | null;
    ids: Set<string> | null;
    issuedAt: number;
    expired: boolean;
  }
  interface Round {
    kind: "users" | "groups";
    pages: Record<string, unknown>[][];
    nextToken: string;
    /** The delta link handed out with the last page (as of the round's start). */
    link: Omit<DeltaLink, "issuedAt" | "expired">;
    createdAt: number;
  }
  const deltaLinks = new Map<string, DeltaLink>();
  const rounds = new Map<string, Round>();

  const deltaItems = (link: Omit<DeltaLink, "issuedAt" | "expired">, initial: boolean) => {
    const items: Record<string, unknown>[] = [];
    const later: Record<string, unknown>[] = [];
    const wanted = (id: string) => link.ids === null || link.ids.has(id);
    const removed = new Map<string, Tombstone>();
    for (const t of tombstones) {
      if (
        t.kind === (link.kind === "users" ? "user" : "group") && t.seq > link.seq && wanted(t.id)
      ) removed.set(t.id, t);
    }
    if (link.kind === "users") {
      for (const user of users) {
        if (wanted(user.id) && (initial || user.changed > link.seq)) {
          items.push(render(user, link.select, false));
        }
      }
    } else {
      const withMembers = link.select === null ? false : link.select.includes("members");
      const props = link.select?.filter((s) => s !== "members") ?? null;
      const changes = new Map<string, Map<string, MemberChange>>();
      if (!initial) {
        for (const c of memberChanges) {
          if (c.seq <= link.seq || !wanted(c.groupId) || !objects.has(c.groupId)) continue;
          const perGroup = changes.get(c.groupId) ?? new Map<string, MemberChange>();
          perGroup.set(c.memberId, c);
          changes.set(c.groupId, perGroup);
        }
      }
      for (const group of groups) {
        if (!wanted(group.id)) continue;
        let entries: Record<string, unknown>[];
        if (initial) {
          entries = (members.get(group.id) ?? []).flatMap((m) => {
            const object = objects.get(m.id);
            return object === undefined
              ? []
              : [{ "@odata.type": ODATA_TYPE[object.type], id: m.id }];
          });
        } else {
          entries = [...(changes.get(group.id)?.values() ?? [])].map((c) =>
            c.added ? { "@odata.type": ODATA_TYPE[c.type], id: c.memberId } : {
              "@odata.type": ODATA_TYPE[c.type],
              id: c.memberId,
              "@removed": { reason: "deleted" },
            }
          );
        }
        const propsChanged = initial || group.changed > link.seq;
        const memberDelta = withMembers && entries.length > 0;
        if (!propsChanged && !memberDelta) continue;
        const base = propsChanged ? render(group, props, false) : { id: group.id };
        if (!memberDelta) {
          items.push(base);
          continue;
        }
        for (let i = 0; i < entries.length; i += deltaSlice) {
          const slice = { ...base, "members@delta": entries.slice(i, i + deltaSlice) };
          (i === 0 ? items : later).push(slice);
        }
      }
    }
    for (const t of removed.values()) {
      if (!objects.has(t.id)) items.push({ id: t.id, "@removed": { reason: t.reason } });
    }
    return [...items, ...later];
  };

  const startRound = (link: Omit<DeltaLink, "issuedAt" | "expired">, initial: boolean): string => {
    const items = deltaItems(link, initial);
    const pages: Record<string, unknown>[][] = [];
    if (initial && emptyFirstDeltaPage) pages.push([]);
    for (let i = 0; i < items.length; i += deltaPageSize) {
      pages.push(items.slice(i, i + deltaPageSize));
    }
    if (pages.length === 0) pages.push([]);
    const nextToken = b64url(crypto.getRandomValues(new Uint8Array(18)));
    const roundId = b64url(crypto.getRandomValues(new Uint8Array(12)));
    rounds.set(roundId, {
      kind: link.kind,
      pages,
      nextToken,
      link: { ...link, seq },
      createdAt: now(),
    });
    return roundId;
  };

  const roundPage = (roundId: string, index: number): GraphAnswer => {
    const round = rounds.get(roundId);
    const page = round?.pages[index];
    if (round === undefined || page === undefined) {
      return graphError(400, "Request_BadRequest", "Invalid page token.", now());
    }
    if (now() - round.createdAt > nextLinkLifetime) {
      return graphError(
        400,
        "Directory_ExpiredPageToken",
        "The specified page token value has expired and can no longer be included in your request.",
        now(),
      );
    }
    const path = `${origin}/v1.0/${round.kind}/delta`;
    const body: Record<string, unknown> = {
      "@odata.context": `${origin}/v1.0/$metadata#${round.kind}`,
    };
    if (index + 1 < round.pages.length) {
      const token = `${roundId}~${index + 1}`;
      body["@odata.nextLink"] = `${path}?$skiptoken=${token}.${sign(token)}`;
    } else {
      if (!deltaLinks.has(round.nextToken)) {
        deltaLinks.set(round.nextToken, { ...round.link, issuedAt: now(), expired: false });
      }
      body["@odata.deltaLink"] = `${path}?$deltatoken=${round.nextToken}`;
    }
    body.value = page;
    return { status: 200, headers: { "content-type": "application/json" }, body };
  };

  const delta = (kind: "users" | "groups", params: URLSearchParams): GraphAnswer => {
    const at = now();
    const skiptoken = params.get("$skiptoken");
    if (skiptoken !== null) {
      const [payload = "", signature = ""] = skiptoken.split(".");
      const [roundId = "", index = ""] = payload.split("~");
      if (signature !== sign(payload)) {
        return graphError(400, "Request_BadRequest", "Invalid page token.", at);
      }
      return roundPage(roundId, Number(index));
    }
    const deltatoken = params.get("$deltatoken");
    if (deltatoken !== null && deltatoken !== "latest") {
      const link = deltaLinks.get(deltatoken);
      if (
        link === undefined || link.kind !== kind || link.expired ||
        at - link.issuedAt > deltaLifetime
      ) {
        return graphError(
          options.deltaExpiredStatus ?? 400,
          "syncStateNotFound",
          "The sync state generation is not found. The delta token is expired and data must be synchronized again.",
          at,
        );
      }
      return roundPage(startRound(link, false), 0);
    }
    const allowed = kind === "users" ? USER_PROPS : [...GROUP_PROPS, "members"];
    const typeName = kind === "users" ? "microsoft.graph.user" : "microsoft.graph.group";
    for (const key of params.keys()) {
      if (key.startsWith("$") && !["$select", "$filter", "$deltatoken", "$expand"].includes(key)) {
        return graphError(
          400,
          "Request_UnsupportedQuery",
          `Unsupported query option '${key}' for delta.`,
          at,
        );
      }
    }
    const selected = parseSelect(params, allowed, typeName, at);
    if ("status" in selected) return selected;
    let { select } = selected;
    const expand = params.get("$expand");
    if (expand !== null) {
      if (kind !== "groups" || !/^members(\(.*\))?$/.test(expand)) {
        return graphError(
          400,
          "Request_UnsupportedQuery",
          `Unsupported $expand '${expand}' for delta.`,
          at,
        );
      }
      select = [...(select ?? GROUP_PROPS), "members"];
    }
    let ids: Set<string> | null = null;
    const filterText = params.get("$filter");
    if (filterText !== null) {
      const clauses = filterText.split(/\s+or\s+/i).map((c) =>
        /^id eq '([^']+)'$/i.exec(c.trim())?.[1]
      );
      if (clauses.some((c) => c === undefined) || clauses.length > 50) {
        return graphError(
          400,
          "Request_UnsupportedQuery",
          "Delta supports only $filter=id eq '<id>' clauses joined by 'or', at most 50.",
          at,
        );
      }
      ids = new Set(clauses.filter((c): c is string => c !== undefined));
    }
    const link = { kind, seq, select, ids };
    if (deltatoken === "latest") {
      const token = b64url(crypto.getRandomValues(new Uint8Array(18)));
      deltaLinks.set(token, { ...link, issuedAt: at, expired: false });
      return {
        status: 200,
        headers: { "content-type": "application/json" },
        body: {
          "@odata.context": `${origin}/v1.0/$metadata#${kind}`,
          "@odata.deltaLink": `${origin}/v1.0/${kind}/delta?$deltatoken=${token}`,
          value: [],
        },
      };
    }
    return roundPage(startRound(link, true), 0);
  };

  // ---- Graph routing
  const cost = (route: string, params: URLSearchParams) => {
    const base = route === "users"
      ? 2
      : route === "members"
      ? 3
      : route === "transitiveMembers"
      ? 5
      : 1;
    let c = base;
    if (params.has("$select")) c -= 1;
    if (params.has("$expand")) c += 1;
    const top = Number(params.get("$top") ?? "100");
    if (top < 20) c -= 1;
    return Math.max(1, c);
  };

  const requirePermission = (needed: readonly string[], what: string): GraphAnswer | null =>
    needed.some((p) => permissions.has(p)) ? null : graphError(
      403,
      "Authorization_RequestDenied",
      `Insufficient privileges to complete the operation. (${what} needs one of ${
        needed.join(", ")
      })`,
      now(),
    );

  /** Routes a GET under `/v1.0`; `path` is the part after `/v1.0`, with its query. */
  const graphGet = (
    pathAndQuery: string,
    headers: Headers,
  ): { route: string; answer: GraphAnswer; ru: number } => {
    const url = new URL(`${origin}/v1.0${pathAndQuery.startsWith("/") ? "" : "/"}${pathAndQuery}`);
    const params = url.searchParams;
    const parts = url.pathname.split("/").filter((p) => p !== "").slice(1).map(decodeURIComponent);
    const at = now();
    let route = "other";
    let handler: () => GraphAnswer;
    const notFound = (id: string) =>
      graphError(
        404,
        "Request_ResourceNotFound",
        `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
        at,
      );
    const castOf = (segment: string | undefined): ObjectType | null | undefined =>
      segment === undefined ? null : CAST_TYPE[segment];
    const listing = (
      allowed: readonly string[],
      typeName: string,
      needed: readonly string[],
      items: () => Source,
      withType: boolean,
      context: string,
    ) =>
    () => {
      const denied = requirePermission(needed, url.pathname);
      if (denied !== null) return denied;
      const query = parseQuery(url.pathname, params, headers, allowed, typeName);
      if ("status" in query) return query;
      return listPage(url, query, items(), withType, context);
    };
    const [a, b, c, d] = parts;
    if (a === "users" && b === "delta" && parts.length === 2) {
      route = "usersDelta";
      handler = () => requirePermission(READ_USERS, url.pathname) ?? delta("users", params);
    } else if (a === "groups" && b === "delta" && parts.length === 2) {
      route = "groupsDelta";
      handler = () => requirePermission(READ_GROUPS, url.pathname) ?? delta("groups", params);
    } else if (a === "users" && parts.length === 1) {
      route = "users";
      handler = listing(
        USER_PROPS,
        "microsoft.graph.user",
        READ_USERS,
        () => asItems(users),
        false,
        "users",
      );
    } else if (a === "groups" && parts.length === 1) {
      route = "groups";
      handler = listing(
        GROUP_PROPS,
        "microsoft.graph.group",
        READ_GROUPS,
        () => asItems(groups),
        false,
        "groups",
      );
    } else if (a === "groups" && b !== undefined && parts.length === 2) {
      route = "group";
      handler = () => {
        const denied = requirePermission(READ_GROUPS, url.pathname);
        if (denied !== null) return denied;
        const group = objects.get(b);
        if (group?.type !== "group") return notFound(b);
        const query = parseQuery(
          url.pathname,
          params,
          headers,
          GROUP_PROPS,
          "microsoft.graph.group",
        );
        if ("status" in query) return query;
        return {
          status: 200,
          headers: { "content-type": "application/json" },
          body: {
            "@odata.context": `${origin}/v1.0/$metadata#groups/$entity`,
            ...render(group, query.select, false),
          },
        };
      };
    } else if (
      a === "groups" && b !== undefined && (c === "members" || c === "transitiveMembers") &&
      parts.length <= 4
    ) {
      route = c;
      const cast = castOf(d);
      handler = () => {
        if (cast === undefined) {
          return graphError(400, "BadRequest", `Resource not found for the segment '${d}'.`, at);
        }
        if (objects.get(b)?.type !== "group") return notFound(b);
        const allowed = cast === "user"
          ? USER_PROPS
          : cast === "group"
          ? GROUP_PROPS
          : MEMBER_PROPS;
        return listing(
          allowed,
          cast === null ? "microsoft.graph.directoryObject" : `microsoft.graph.${cast}`,
          READ_GROUPS,
          () => c === "members" ? memberItems(members.get(b) ?? [], cast) : transitive(b, cast),
          true,
          "directoryObjects",
        )();
      };
    } else if (
      a === "directory" && b === "deletedItems" && c === "microsoft.graph.user" &&
      parts.length === 3
    ) {
      route = "deletedUsers";
      handler = listing(
        USER_PROPS,
        "microsoft.graph.user",
        READ_USERS,
        () => asItems(recycled),
        true,
        "users",
      );
    } else if (a === "directory" && b === "administrativeUnits" && parts.length === 2) {
      route = "administrativeUnits";
      handler = () => {
        const denied = requirePermission(READ_UNITS, url.pathname);
        if (denied !== null) return denied;
        const query = parseQuery(
          url.pathname,
          params,
          headers,
          AU_PROPS,
          "microsoft.graph.administrativeUnit",
        );
        if ("status" in query) return query;
        const value = [...units.values()].map((u) =>
          query.select === null
            ? u.props
            : Object.fromEntries(query.select.map((k) => [k, u.props[k] ?? null]))
        );
        return { status: 200, headers: { "content-type": "application/json" }, body: { value } };
      };
    } else if (
      a === "directory" && b === "administrativeUnits" && c !== undefined && d === "members" &&
      parts.length <= 5
    ) {
      route = "administrativeUnitMembers";
      const cast = castOf(parts[4]);
      handler = () => {
        if (cast === undefined) {
          return graphError(
            400,
            "BadRequest",
            `Resource not found for the segment '${parts[4]}'.`,
            at,
          );
        }
        const unit = units.get(c);
        if (unit === undefined) return notFound(c);
        return listing(
          MEMBER_PROPS,
          "microsoft.graph.directoryObject",
          READ_UNITS,
          () => memberItems(unit.members, cast),
          true,
          "directoryObjects",
        )();
      };
    } else {
      handler = () =>
        graphError(400, "BadRequest", `Resource not found for the segment '${a ?? ""}'.`, at);
    }
    counters.byRoute[route] = (counters.byRoute[route] ?? 0) + 1;
    const ru = cost(route, params);
    const charged = charge(ru);
    if (!charged.ok) return { route, answer: charged.answer, ru: 0 };
    const answer = handler();
    Object.assign(answer.headers, charged.headers);
    return { route, answer, ru };
  };

  // ---- auth
  const bearer = (request: Headers): GraphAnswer | null => {
    const header = request.get("authorization") ?? "";
    const at = now();
    if (!header.startsWith("Bearer ") || header.length <= 7) {
      return graphError(401, "InvalidAuthenticationToken", "Access token is empty.", at);
    }
    const record = tokens.get(header.slice(7));
    if (record === undefined) {
      return graphError(
        401,
        "InvalidAuthenticationToken",
        "Access token validation failure. Invalid audience.",
        at,
      );
    }
    if (at >= record.expiresAt) {
      return graphError(
        401,
        "InvalidAuthenticationToken",
        "Lifetime validation failed, the token is expired.",
        at,
      );
    }
    return null;
  };

  // ---- token endpoint
  const aadError = (status: number, error: string, code: number, message: string): Response => {
    const traceId = randomUUID();
    const correlationId = randomUUID();
    const timestamp = new Date(now()).toISOString().replace("T", " ").slice(0, 19) + "Z";
    return Response.json({
      error,
      error_description:
        `AADSTS${code}: ${message}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: traceId,
      correlation_id: correlationId,
      error_uri: `${origin}/error?code=${code}`,
    }, { status });
  };

  const checkAssertion = (assertion: string, audience: string): Response | null => {
    const malformed = () =>
      aadError(400, "invalid_request", 50027, "JWT token is invalid or malformed.");
    const parts = assertion.split(".");
    if (parts.length !== 3) return malformed();
    const [h = "", p = "", s = ""] = parts;
    const header = parseJsonSegment(h);
    const claims = parseJsonSegment(p);
    if (header === null || claims === null) return malformed();
    if (header.alg !== "RS256" && header.alg !== "PS256") {
      return aadError(
        400,
        "invalid_request",
        5002738,
        `Invalid JWT token. '${String(header.alg)}' is not a supported signature algorithm.`,
      );
    }
    const match = certificates.find((c) =>
      (typeof header["x5t#S256"] === "string" && header["x5t#S256"] === c.x5tS256) ||
      (typeof header.x5t === "string" && header.x5t === c.x5t)
    );
    if (match === undefined) {
      return aadError(
        401,
        "invalid_client",
        700027,
        `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${
          String(header.x5t ?? header["x5t#S256"])
        }']`,
      );
    }
    const data = new TextEncoder().encode(`${h}.${p}`);
    const signature = fromB64url(s);
    const valid = header.alg === "RS256"
      ? verify("RSA-SHA256", data, match.cert.publicKey, signature)
      : verify(
        "sha256",
        data,
        { key: match.cert.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
        signature,
      );
    if (!valid) {
      return aadError(
        401,
        "invalid_client",
        700027,
        "Client assertion failed signature validation.",
      );
    }
    if (claims.aud !== audience) {
      return aadError(
        401,
        "invalid_client",
        700212,
        `The audience claim of the client assertion must be '${audience}'.`,
      );
    }
    if (claims.iss !== clientId || claims.sub !== clientId) {
      return aadError(
        401,
        "invalid_client",
        700023,
        "The client assertion's iss and sub claims must both be the application id.",
      );
    }
    if (typeof claims.jti !== "string" || claims.jti === "") {
      return aadError(400, "invalid_request", 50027, "Invalid JWT token. No jti claim.");
    }
    const seconds = now() / 1000;
    if (
      typeof claims.exp !== "number" || claims.exp <= seconds ||
      (typeof claims.nbf === "number" && claims.nbf > seconds + 300)
    ) {
      return aadError(
        401,
        "invalid_client",
        700024,
        "Client assertion is not within its valid time range.",
      );
    }
    return null;
  };

  const tokenEndpoint = async (request: Request, tenant: string): Promise<Response> => {
    counters.tokenRequests++;
    if (
      !(request.headers.get("content-type") ?? "").startsWith("application/x-www-form-urlencoded")
    ) {
      return aadError(
        400,
        "invalid_request",
        900144,
        "The request body must contain the following parameter: 'grant_type'.",
      );
    }
    const form = new URLSearchParams(await request.text());
    if (tenant !== tenantId && !domains.some((d) => d.toLowerCase() === tenant.toLowerCase())) {
      return aadError(
        400,
        "invalid_request",
        90002,
        `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
      );
    }
    const grant = form.get("grant_type");
    if (grant === null) {
      return aadError(
        400,
        "invalid_request",
        900144,
        "The request body must contain the following parameter: 'grant_type'.",
      );
    }
    if (grant !== "client_credentials") {
      return aadError(
        400,
        "unsupported_grant_type",
        70003,
        "The app requested an unsupported grant type.",
      );
    }
    const id = form.get("client_id");
    if (id === null || id === "") {
      return aadError(
        400,
        "invalid_request",
        900144,
        "The request body must contain the following parameter: 'client_id'.",
      );
    }
    if (id !== clientId) {
      return aadError(
        400,
        "unauthorized_client",
        700016,
        `Application with identifier '${id}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      );
    }
    const requested = form.get("scope");
    if (requested === null || requested === "") {
      return aadError(
        400,
        "invalid_request",
        900144,
        "The request body must contain the following parameter: 'scope'.",
      );
    }
    if (!requested.endsWith("/.default") || requested.trim().includes(" ")) {
      return aadError(
        400,
        "invalid_scope",
        1002012,
        `The provided value for scope ${requested} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      );
    }
    const resource = requested.slice(0, -"/.default".length);
    if (resource !== cloudHost && resource !== GRAPH_APP_ID) {
      return aadError(
        400,
        "invalid_resource",
        500011,
        `The resource principal named ${resource} was not found in the tenant named ${tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
      );
    }
    const assertion = form.get("client_assertion");
    const clientSecret = form.get("client_secret");
    if (assertion !== null) {
      if (
        form.get("client_assertion_type") !==
          "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
      ) {
        return aadError(400, "invalid_request", 50027, "Invalid client_assertion_type.");
      }
      const failed = checkAssertion(assertion, `${origin}${new URL(request.url).pathname}`);
      if (failed !== null) return failed;
    } else if (clientSecret === null || clientSecret === "") {
      return aadError(
        401,
        "invalid_client",
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
      );
    } else if (clientSecret !== secret) {
      return aadError(
        401,
        "invalid_client",
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
      );
    }
    return Response.json({
      token_type: "Bearer",
      expires_in: tokenLifetime,
      ext_expires_in: tokenLifetime,
      access_token: issue(),
    });
  };

  // ---- $batch
  const shuffle = <T>(list: T[]): T[] => {
    const out = [...list];
    for (let i = out.length - 1; i > 0; i--) {
      batchSeed = (batchSeed * 1103515245 + 12345) % 2147483648;
      const j = batchSeed % (i + 1);
      const x = out[i];
      const y = out[j];
      if (x !== undefined && y !== undefined) {
        out[i] = y;
        out[j] = x;
      }
    }
    return out;
  };

  const batch = async (request: Request): Promise<GraphAnswer> => {
    const at = now();
    let body: unknown;
    try {
      body = await request.json();
    } catch {
      return graphError(400, "BadRequest", "Invalid batch payload format.", at);
    }
    const list = isObject(body) ? body.requests : undefined;
    if (!Array.isArray(list) || list.length === 0) {
      return graphError(400, "BadRequest", "Invalid batch payload format.", at);
    }
    if (list.length > 20) {
      return graphError(
        400,
        "BadRequest",
        "The number of batch requests exceeds the limit of 20.",
        at,
      );
    }
    const items: {
      id: string;
      method: string;
      url: string;
      dependsOn: string[];
      headers: Headers;
    }[] = [];
    const ids = new Set<string>();
    for (const item of list) {
      if (
        !isObject(item) || typeof item.id !== "string" || item.id === "" ||
        typeof item.method !== "string" ||
        typeof item.url !== "string"
      ) {
        return graphError(
          400,
          "BadRequest",
          "Invalid batch payload format: every request needs id, method and url.",
          at,
        );
      }
      if (ids.has(item.id.toLowerCase())) {
        return graphError(
          400,
          "BadRequest",
          `Batch request id '${item.id}' is duplicated; ids must be unique.`,
          at,
        );
      }
      ids.add(item.id.toLowerCase());
      const dependsOn = Array.isArray(item.dependsOn) ? item.dependsOn.map(String) : [];
      for (const dep of dependsOn) {
        if (!items.some((i) => i.id.toLowerCase() === dep.toLowerCase())) {
          return graphError(
            400,
            "BadRequest",
            `Request '${item.id}' depends on '${dep}', which is not an earlier request of the batch.`,
            at,
          );
        }
      }
      const headers = new Headers(request.headers);
      if (isObject(item.headers)) {
        for (const [k, v] of Object.entries(item.headers)) {
          if (typeof v === "string") headers.set(k, v);
        }
      }
      items.push({
        id: item.id,
        method: item.method.toUpperCase(),
        url: item.url,
        dependsOn,
        headers,
      });
    }
    const status = new Map<string, number>();
    const responses: Record<string, unknown>[] = [];
    for (const item of items) {
      counters.batchItems++;
      const path = `/v1.0${item.url.startsWith("/") ? "" : "/"}${item.url}`;
      const entry: GraphRequest = {
        method: item.method,
        path,
        status: 0,
        at: now(),
        batchItem: item.id,
        resourceUnits: 0,
      };
      log.push(entry);
      let answer: GraphAnswer;
      const failedDep = item.dependsOn.find((d) => (status.get(d.toLowerCase()) ?? 200) >= 400);
      const fault = failedDep === undefined ? takeFault(path, true) : undefined;
      if (failedDep !== undefined) {
        answer = graphError(424, "FailedDependency", `Request '${failedDep}' failed.`, now());
      } else if (/^https?:/i.test(item.url)) {
        answer = graphError(
          400,
          "BadRequest",
          "Batch request urls must be relative to the version root.",
          now(),
        );
      } else if (item.method !== "GET") {
        answer = graphError(
          405,
          "Request_BadRequest",
          `The fake serves GET only, not ${item.method}.`,
          now(),
        );
      } else if (item.url.replace(/^\//, "").startsWith("$batch")) {
        answer = graphError(400, "BadRequest", "Nested batch requests are not supported.", now());
      } else if (fault !== undefined) {
        answer = faultAnswer(fault) ?? graphError(500, "UnknownError", "fault", now());
      } else {
        const result = graphGet(item.url, item.headers);
        answer = result.answer;
        entry.resourceUnits = result.ru;
      }
      if (answer.status === 429) counters.throttled++;
      entry.status = answer.status;
      status.set(item.id.toLowerCase(), answer.status);
      responses.push({
        id: item.id,
        status: answer.status,
        headers: answer.headers,
        body: answer.body,
      });
    }
    counters.byRoute.batch = (counters.byRoute.batch ?? 0) + 1;
    return {
      status: 200,
      headers: { "content-type": "application/json" },
      body: { responses: shuffle(responses) },
    };
  };

  // ---- HTTP
  let origin = "";

  const toResponse = (answer: GraphAnswer, request: Request): Response => {
    const headers = new Headers(answer.headers);
    headers.set("request-id", randomUUID());
    headers.set("client-request-id", request.headers.get("client-request-id") ?? randomUUID());
    return new Response(JSON.stringify(answer.body), { status: answer.status, headers });
  };

  const handle = async (request: Request, url: URL, drop: () => void): Promise<Response> => {
    const path = `${url.pathname}${url.search}`;
    counters.requests++;
    const entry: GraphRequest = {
      method: request.method,
      path,
      status: 0,
      at: now(),
      resourceUnits: 0,
    };
    log.push(entry);
    if (latencyMs > 0) await delay(latencyMs);
    const fault = takeFault(path, false);
    if (fault?.kind === "drop") {
      drop();
      return new Response(null, { status: 500 }); // never delivered
    }
    let response: Response;
    const faulted = fault === undefined ? null : faultAnswer(fault);
    const token = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname);
    if (faulted !== null) {
      response = toResponse(faulted, request);
    } else if (token !== null && request.method === "POST") {
      response = await tokenEndpoint(request, decodeURIComponent(token[1] ?? ""));
    } else if (url.pathname.startsWith("/v1.0/")) {
      const denied = bearer(request.headers);
      if (denied !== null) {
        response = toResponse(denied, request);
      } else if (url.pathname === "/v1.0/$batch") {
        response = request.method === "POST"
          ? toResponse(await batch(request), request)
          : toResponse(graphError(405, "BadRequest", "$batch takes POST.", now()), request);
      } else if (request.method !== "GET") {
        response = toResponse(
          graphError(
            405,
            "Request_BadRequest",
            `The fake serves GET only, not ${request.method}.`,
            now(),
          ),
          request,
        );
      } else {
        const result = graphGet(path.slice("/v1.0".length), request.headers);
        entry.resourceUnits = result.ru;
        response = toResponse(result.answer, request);
      }
    } else {
      response = toResponse(
        graphError(404, "NotFound", `No route for ${url.pathname}.`, now()),
        request,
      );
    }
    if (response.status === 429) counters.throttled++;
    entry.status = response.status;
    if (fault?.kind === "truncate") {
      const text = await response.text();
      return new Response(text.slice(0, Math.floor(text.length / 2)), {
        status: response.status,
        headers: response.headers,
      });
    }
    return response;
  };

  const server = serveIdp("graph", async (request, url, drop) => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    try {
      return await handle(request, url, drop);
    } finally {
      inFlight--;
    }
  }, options.tls === undefined ? {} : { tls: options.tls });
  origin = server.url;

  const user = (id: string) => {
    const found = objects.get(id);
    if (found?.type !== "user") throw new Error(`fake graph: no live user ${id}`);
    return found;
  };

  return Promise.resolve(
    {
      url: origin,
      authorityUrl: origin,
      graphUrl: origin,
      tokenUrl: `${origin}/${tenantId}/oauth2/v2.0/token`,
      tenantId,
      domain: domains[0] ?? tenantId,
      scope,
      credentials: { clientId, secret },
      requests: () => structuredClone(log),
      counters: () => structuredClone(counters),
      resetCounters: () => {
        counters = emptyCounters();
        log.length = 0;
        peak = 0;
      },
      peakConcurrency: () => peak,
      failNext: (n, kind, o = {}) => {
        faults.push({ kind, left: n, options: o });
      },
      clearFaults: () => {
        faults.length = 0;
      },
      setLatency: (ms) => {
        latencyMs = ms;
      },
      setThrottle: (t) => {
        throttle = t;
        window = { start: -Infinity, spent: 0 };
      },
      setPermissions: (list) => {
        permissions = new Set(list);
      },
      expireTokens: () => {
        for (const t of tokens.values()) t.expiresAt = -Infinity;
      },
      expireDeltaLinks: () => {
        for (const link of deltaLinks.values()) link.expired = true;
      },
      mintToken: issue,
      addUser,
      updateUser: (id, changes) => {
        const u = user(id);
        Object.assign(u.props, changes);
        u.changed = ++seq;
      },
      softDeleteUser: (id) => {
        const u = user(id);
        dropFromAllGroups(id);
        objects.delete(id);
        removeFrom(users, id);
        u.props = {
          ...u.props,
          deletedDateTime: iso(now()),
          userPrincipalName: `${id.replaceAll("-", "")}${String(u.props.userPrincipalName)}`,
        };
        recycled.push(u);
        tombstones.push({ id, kind: "user", reason: "changed", seq: ++seq });
      },
      restoreUser: (id) => {
        const u = recycled.find((r) => r.id === id);
        if (u === undefined) throw new Error(`fake graph: no recycled user ${id}`);
        removeFrom(recycled, id);
        u.props = {
          ...u.props,
          deletedDateTime: null,
          userPrincipalName: String(u.props.userPrincipalName).slice(id.replaceAll("-", "").length),
        };
        u.changed = ++seq;
        objects.set(id, u);
        users.push(u);
        users.sort((x, y) => x.ordinal - y.ordinal);
      },
      purgeUser: (id) => {
        if (objects.get(id)?.type === "user") {
          dropFromAllGroups(id);
          objects.delete(id);
          removeFrom(users, id);
        } else if (recycled.some((r) => r.id === id)) {
          removeFrom(recycled, id);
        } else {
          throw new Error(`fake graph: no user ${id}`);
        }
        tombstones.push({ id, kind: "user", reason: "deleted", seq: ++seq });
      },
      addGroup: (init) => {
        const id = addGroup(init);
        for (const m of init.members ?? []) addMember(id, m);
        return id;
      },
      updateGroup: (id, changes) => {
        const g = objects.get(id);
        if (g?.type !== "group") throw new Error(`fake graph: no group ${id}`);
        Object.assign(g.props, changes);
        g.changed = ++seq;
      },
      deleteGroup: (id) => {
        if (objects.get(id)?.type !== "group") throw new Error(`fake graph: no group ${id}`);
        dropFromAllGroups(id);
        objects.delete(id);
        members.delete(id);
        memberIndex.delete(id);
        removeFrom(groups, id);
        tombstones.push({ id, kind: "group", reason: "deleted", seq: ++seq });
      },
      addMember,
      removeMember,
      close: () => server.close(),
    } satisfies FakeGraph,
  );
}

// ----------------------------------------------------------------------------------------------
// $filter (a minimal subset)

function parseFilter(
  text: string,
  allowed: readonly string[],
  eventual: boolean,
  typeName: string,
): ((o: DirObject) => boolean) | string {
  const tests: ((o: DirObject) => boolean)[] = [];
  const value = (o: DirObject, prop: string): unknown => prop === "id" ? o.id : o.props[prop];
  for (const clause of text.split(/\s+and\s+/i)) {
    const c = clause.trim();
    let m = /^(startswith|endswith)\((\w+),\s*'((?:[^']|'')*)'\)$/i.exec(c);
    if (m !== null) {
      const [, fn = "", prop = "", raw = ""] = m;
      if (!allowed.includes(prop)) {
        return `Property '${prop}' does not exist on type '${typeName}'.`;
      }
      if (fn.toLowerCase() === "endswith" && !eventual) {
        return "Operator 'endsWith' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header.";
      }
      const needle = raw.replaceAll("''", "'").toLowerCase();
      const starts = fn.toLowerCase() === "startswith";
      tests.push((o) => {
        const v = value(o, prop);
        return typeof v === "string" &&
          (starts ? v.toLowerCase().startsWith(needle) : v.toLowerCase().endsWith(needle));
      });
      continue;
    }
    m = /^(\w+)\s+(eq|ne)\s+(true|false|null|'(?:[^']|'')*')$/i.exec(c);
    if (m !== null) {
      const [, prop = "", op = "", raw = ""] = m;
      if (!allowed.includes(prop)) {
        return `Property '${prop}' does not exist on type '${typeName}'.`;
      }
      if (op.toLowerCase() === "ne" && !eventual) {
        return "Operator 'ne' is not supported because the required parameters might be missing. Try adding $count=true query parameter and ConsistencyLevel:eventual header.";
      }
      const expected: unknown = raw === "true"
        ? true
        : raw === "false"
        ? false
        : raw === "null"
        ? null
        : raw.slice(1, -1).replaceAll("''", "'");
      const eq = op.toLowerCase() === "eq";
      tests.push((o) => {
        const v = value(o, prop);
        const same = typeof v === "string" && typeof expected === "string"
          ? v.toLowerCase() === expected.toLowerCase()
          : (v ?? null) === expected;
        return eq ? same : !same;
      });
      continue;
    }
    return `Unsupported or invalid query filter clause specified: '${c}'.`;
  }
  return (o) => tests.every((t) => t(o));
}

// ----------------------------------------------------------------------------------------------
// Large tenants

/** Options of {@link generateTenant}. */
export interface GenerateTenantOptions {
  users: number;
  groups: number;
  /** Fraction of groups with a nested child group. Default 0.1. */
  nestedFraction?: number;
  /** Fraction of users that are guests (`#EXT#` UPN; half of them without mail). Default 0.02. */
  guestFraction?: number;
  /** Fraction of users that are disabled. Default 0.03. */
  disabledFraction?: number;
  /** Fraction of members without `mail` (the UPN is their address). Default 0.1. */
  noMailFraction?: number;
  /** Soft-deleted users in the recycle bin. Default 0. */
  deletedUsers?: number;
  /** Average direct user members per group. Default 20. */
  membersPerGroup?: number;
  /** This many groups (the first ones) get `hugeGroupSize` members. Default 0. */
  hugeGroups?: number;
  /** Default 5,000. */
  hugeGroupSize?: number;
  /** PRNG seed. Default 42. */
  seed?: number;
  /** Default `contoso.com`. */
  domain?: string;
}

/**
 * A deterministic large tenant for benchmarks: N users, M groups with random user members, a
 * fraction of groups nesting a later group (no cycles), guests, disabled users and users without
 * mail. Same options, same tenant.
 */
export function generateTenant(options: GenerateTenantOptions): GraphTenantInit {
  let state = (options.seed ?? 42) >>> 0;
  /** mulberry32: 32 random bits. */
  const bits = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
  const random = () => bits() / 4294967296;
  const hex8 = () => bits().toString(16).padStart(8, "0");
  const guid = () => {
    const [a, b, c, d] = [hex8(), hex8(), hex8(), hex8()];
    return `${a}-${b.slice(0, 4)}-4${b.slice(5)}-8${c.slice(1, 4)}-${c.slice(4)}${d}`;
  };
  const domain = options.domain ?? "contoso.com";
  const users: GraphUserInit[] = [];
  for (let i = 0; i < options.users; i++) {
    const r = random();
    if (r < (options.guestFraction ?? 0.02)) {
      users.push({
        id: guid(),
        userPrincipalName: `guest${i}_example.org#EXT#@contoso.onmicrosoft.com`,
        mail: random() < 0.5 ? `guest${i}@example.org` : null,
        userType: "Guest",
      });
      continue;
    }
    users.push({
      id: guid(),
      userPrincipalName: `user${i}@${domain}`,
      mail: random() < (options.noMailFraction ?? 0.1) ? null : `User${i}@${domain}`,
      accountEnabled: random() >= (options.disabledFraction ?? 0.03),
    });
  }
  const deletedUsers: GraphDeletedUserInit[] = [];
  for (let i = 0; i < (options.deletedUsers ?? 0); i++) {
    deletedUsers.push({
      id: guid(),
      userPrincipalName: `gone${i}@${domain}`,
      mail: `gone${i}@${domain}`,
    });
  }
  const groups: GraphGroupInit[] = [];
  const average = options.membersPerGroup ?? 20;
  const huge = options.hugeGroups ?? 0;
  for (let g = 0; g < options.groups; g++) {
    const size = g < huge ? options.hugeGroupSize ?? 5000 : Math.floor(random() * 2 * average) + 1;
    const chosen = new Set<string>();
    const limit = Math.min(size, users.length);
    while (chosen.size < limit) chosen.add(users[Math.floor(random() * users.length)]?.id ?? "");
    groups.push({ id: guid(), displayName: `Group ${g}`, members: [...chosen] });
  }
  const nested = options.nestedFraction ?? 0.1;
  for (let g = 0; g + 1 < groups.length; g++) {
    const group = groups[g];
    if (group === undefined || random() >= nested) continue;
    const child = groups[g + 1 + Math.floor(random() * (groups.length - g - 1))];
    if (child?.id !== undefined) group.members = [...(group.members ?? []), child.id];
  }
  return {
    tenantId: guid(),
    domains: [domain, "contoso.onmicrosoft.com"],
    users,
    deletedUsers,
    groups,
  };
}
