/**
 * A faithful fake Bitwarden (or Vaultwarden) server for tests, written from the Public API and
 * identity contracts.
 *
 * It serves the identity token endpoint, the organization import and the Public API reads, with
 * the real server's validation, non-atomic import steps, seat rules, rate limits and error
 * shapes; a `"vaultwarden"` mode switches to Vaultwarden's differences (§5). Test hooks expose
 * the state, the events and the request log, expire tokens and inject faults (HTML 502/503/429,
 * JSON 500, connection resets, slow answers).
 *
 * Two deliberate choices where the contract summary and the code reading differ: duplicate
 * non-deleted emails give the 500 at the link step (after the removals, §2 step 3) and duplicate
 * group external ids at the group step (§2 step 5), as the server's code does.
 *
 * Everything listens on 127.0.0.1, port 0. Use `scripts/fake_bitwarden.ts` to run one by hand.
 * @module
 */

import { bindBitwarden, bindVaultwarden, type BoundImport } from "./_bitwarden_import.ts";
import { type Front, type FrontTls, startFront } from "./_front.ts";

/** Membership status: -1 revoked, 0 invited, 1 accepted, 2 confirmed, 3 staged. */
export type FakeStatus = -1 | 0 | 1 | 2 | 3;
/** Membership type: 0 owner, 1 admin, 2 user, 4 custom. */
export type FakeType = 0 | 1 | 2 | 4;

/** A membership as the fake stores it. */
export interface FakeMember {
  id: string;
  /** Null for invited and staged members (no account yet). */
  userId: string | null;
  name: string | null;
  email: string;
  status: FakeStatus;
  type: FakeType;
  externalId: string | null;
  /** False for SSO, trusted-device and Key Connector users. */
  hasMasterPassword: boolean;
}

/** A group as the fake stores it. */
export interface FakeGroup {
  id: string;
  name: string;
  externalId: string | null;
  /** Membership ids. */
  memberIds: string[];
}

/** An initial member. Defaults: confirmed (2) user (2), no externalId, with a master password. */
export interface FakeMemberInit {
  email: string;
  externalId?: string | null;
  status?: FakeStatus;
  type?: FakeType;
  hasMasterPassword?: boolean;
  name?: string | null;
  id?: string;
}

/** An initial group; members are named by email. */
export interface FakeGroupInit {
  name: string;
  externalId?: string | null;
  memberEmails?: string[];
  id?: string;
}

/** Organization settings. */
export interface FakeOrg {
  id: string;
  apiKey: string;
  enabled: boolean;
  /** The plan's API access (`UseApi`). */
  useApi: boolean;
  useDirectory: boolean;
  useGroups: boolean;
  /** Seats; null means unlimited. Teams Starter defaults to 10. */
  seats: number | null;
  /** Autoscale ceiling; null means none. */
  maxAutoscaleSeats: number | null;
  /** `teams-starter` cannot buy more seats (the AggregateException 400). */
  plan: "teams-starter" | "teams" | "enterprise";
  /** The `pm-34423-staged-status` feature flag: `inviteUsersAfterProvisioning:false` stages. */
  stagedStatus: boolean;
}

/** Rate limits (cloud numbers by default). Periods are 1 s and 60 s fixed windows. */
export interface FakeRateLimits {
  apiPostPerSecond: number;
  apiPostPerMinute: number;
  apiGetPerMinute: number;
  tokenPerMinute: number;
  identityPerSecond: number;
  identityPerMinute: number;
}

/** The cloud's documented rate limits. */
export const CLOUD_RATE_LIMITS: FakeRateLimits = {
  apiPostPerSecond: 5,
  apiPostPerMinute: 60,
  apiGetPerMinute: 200,
  tokenPerMinute: 10,
  identityPerSecond: 5,
  identityPerMinute: 60,
};

/** Options of {@link startFakeBitwarden}. */
export interface FakeOptions {
  /** Server flavour. Default `"bitwarden"`. */
  mode?: "bitwarden" | "vaultwarden";
  /** Self-hosted Bitwarden: no 2000 rule, no rate limits, no autoscaling. Default false. */
  selfHosted?: boolean;
  /** `"hosts"`: identity and API on two servers (cloud); `"prefix"`: `/identity` and `/api` on one. Default `"prefix"`. */
  layout?: "hosts" | "prefix";
  /** Organization settings; defaults: enabled, API, directory and groups on, unlimited seats. */
  org?: Partial<FakeOrg>;
  /** Initial members. Default: one confirmed owner `owner@example.com` without externalId. */
  members?: FakeMemberInit[];
  /** Initial groups. */
  groups?: FakeGroupInit[];
  /** Rate limiting (cloud Bitwarden only unless Vaultwarden's login limit): true for the cloud numbers. Default off. */
  rateLimits?: boolean | Partial<FakeRateLimits>;
  /** Token lifetime in seconds. Default 3600. */
  tokenLifetimeSeconds?: number;
  /** Clock (ms) for token expiry and rate-limit windows. Default `Date.now`. */
  now?: () => number;
  /** Vaultwarden settings: `ORG_GROUPS_ENABLED` (default false). */
  vaultwarden?: { groupsEnabled?: boolean };
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: FrontTls;
  /** Port of the server (prefix layout) or of the API server (hosts layout). Default: any. */
  port?: number;
  /** Port of the identity server in the hosts layout. Default: any. */
  identityPort?: number;
}

/** Something the import (or a hook) did, for exact assertions. */
export type FakeEvent =
  | { type: "member_invited"; email: string; externalId: string; status: FakeStatus }
  | { type: "member_removed"; email: string; externalId: string | null }
  | { type: "member_linked"; email: string; externalId: string }
  | { type: "member_revoked"; email: string }
  | { type: "member_restored"; email: string }
  | { type: "member_external_id_set"; email: string; externalId: string }
  | { type: "invites_rolled_back"; emails: string[] }
  | { type: "seats_added"; from: number; to: number }
  | { type: "group_created"; name: string; externalId: string }
  | { type: "group_renamed"; from: string; to: string; externalId: string }
  | { type: "group_members_set"; externalId: string; memberEmails: string[] };

/** One logged request. `status` is 0 for a connection the fake dropped. */
export interface FakeRequest {
  server: "api" | "identity";
  method: string;
  /** Path as received (with the `/api` or `/identity` prefix in the prefix layout). */
  path: string;
  status: number;
  at: number;
}

/** Faults a test can inject into the next requests. */
export type FaultKind =
  | "html502"
  | "html503"
  | "html504"
  | "html429"
  | "json500"
  | "reset"
  | "slow";

/** Options of a fault. */
export interface FaultOptions {
  /** Only requests whose path contains this (or matches it). */
  path?: string | RegExp;
  /** Only this method. */
  method?: string;
  /** For `"slow"`: the delay in ms (default 200). */
  ms?: number;
  /** For `"html429"`/`"html503"`: a `Retry-After` header value. */
  retryAfter?: string;
}

/** Snapshot of the organization. */
export interface FakeState {
  org: FakeOrg;
  members: FakeMember[];
  groups: FakeGroup[];
}

/** A running fake and its test hooks. */
export interface FakeBitwarden {
  /** Prefix layout: the server base (`<url>/api`, `<url>/identity`). Hosts layout: the API server. */
  readonly url: string;
  /** API base (append `/public/...`). */
  readonly apiUrl: string;
  /** Identity base (append `/connect/token`). */
  readonly identityUrl: string;
  /** `server.*` settings pointing at this fake: `{url}` (prefix) or `{api, identity}` (hosts). */
  readonly serverConfig: { url?: string; api?: string; identity?: string };
  /** The organization API key that works. */
  readonly credentials: { clientId: string; clientSecret: string };
  /** The organization id. */
  readonly organizationId: string;
  /** A deep copy of the org, members and groups. */
  state(): FakeState;
  /** Events so far, in order. */
  events(): FakeEvent[];
  /** Requests so far, in order. */
  requests(): FakeRequest[];
  /** The most requests that were being handled at once. */
  peakConcurrency(): number;
  /** Makes every issued token expired (the next API call gets a 401). */
  expireTokens(): void;
  /** Issues a token directly, e.g. with another scope to provoke a 403. */
  mintToken(options?: { scope?: string; lifetimeSeconds?: number }): string;
  /** The next `n` matching requests fail with `kind`. */
  failNext(n: number, kind: FaultKind, options?: FaultOptions): void;
  /** Changes organization settings. */
  updateOrg(changes: Partial<FakeOrg>): void;
  /** Adds a member directly (not through the import). */
  addMember(member: FakeMemberInit): FakeMember;
  /** Stops the servers and closes every connection. */
  close(): Promise<void>;
}

const NGINX_502 =
  "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
const CLOUDFLARE_503 =
  '<!DOCTYPE html>\n<html lang="en-US"><head><title>Service Temporarily Unavailable | bitwarden.com | Cloudflare</title></head><body><div id="cf-wrapper"><h1>Error 503</h1><p>The server is temporarily unable to service your request.</p></div></body></html>';
const CLOUDFLARE_429 =
  '<!DOCTYPE html>\n<html lang="en-US"><head><title>Access denied | api.bitwarden.com used Cloudflare to restrict access</title></head><body><h1>Error 1015</h1><p>You are being rate limited</p></body></html>';
const UNHANDLED = "An unhandled server error has occurred.";
const SYNC_FAILED =
  "Sync failed. To proceed, disable the 'Remove and re-add users during next sync' setting and try again.";

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

function empty(status: number, headers: Record<string, string> = {}): Response {
  return new Response(null, { status, headers });
}

function publicError(
  status: number,
  message: string,
  errors: Record<string, string[]> | null = null,
): Response {
  return json(status, { object: "error", message, errors });
}

function vwError(status: number, message: string): Response {
  return json(status, {
    message,
    validationErrors: { "": [message] },
    errorModel: { message, object: "error" },
    error: "",
    error_description: "",
    exceptionMessage: null,
    exceptionStackTrace: null,
    innerExceptionMessage: null,
    object: "error",
  });
}

const VW_REASONS: Record<number, [string, string]> = {
  400: [
    "Bad Request",
    "The request could not be understood by the server due to malformed syntax.",
  ],
  401: ["Unauthorized", "The request requires user authentication."],
  404: ["Not Found", "The requested resource could not be found."],
  422: [
    "Unprocessable Entity",
    "The request was well-formed but was unable to be followed due to semantic errors.",
  ],
};

/** Rocket's default catcher: JSON when the client prefers it, else HTML. */
function vwCatcher(status: number, request: Request): Response {
  const [reason, description] = VW_REASONS[status] ?? ["Error", "An error occurred."];
  if ((request.headers.get("accept") ?? "").includes("json")) {
    return json(status, { error: { code: status, reason, description } });
  }
  return new Response(
    `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${status} ${reason}</title></head><body><h1>${status}: ${reason}</h1><p>${description}</p><hr/><small>Rocket</small></body></html>`,
    { status, headers: { "content-type": "text/html; charset=utf-8" } },
  );
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function clone<T>(value: T): T {
  return structuredClone(value);
}

class FixedWindow {
  count = 0;
  start = -Infinity;
  constructor(readonly limit: number, readonly periodMs: number, readonly label: string) {}
  /** Counts a request; returns the seconds to wait when over the limit. */
  hit(now: number): number | null {
    if (now >= this.start + this.periodMs) {
      this.start = now;
      this.count = 0;
    }
    this.count++;
    if (this.count <= this.limit) return null;
    return Math.max(1, Math.ceil((this.start + this.periodMs - now) / 1000));
  }
}

class ImportFailure extends Error {
  constructor(readonly response: Response) {
    super("import failed");
  }
}

/**
 * Starts a fake Bitwarden (or Vaultwarden) server on 127.0.0.1.
 *
 * @example
 * ```ts
 * const fake = await startFakeBitwarden({ org: { plan: "teams-starter" } });
 * try { … fake.state().members … } finally { await fake.close(); }
 * ```
 */
export async function startFakeBitwarden(options: FakeOptions = {}): Promise<FakeBitwarden> {
  const mode = options.mode ?? "bitwarden";
  const vw = mode === "vaultwarden";
  const selfHosted = options.selfHosted ?? false;
  const layout = options.layout ?? "prefix";
  const now = options.now ?? Date.now;
  const lifetime = options.tokenLifetimeSeconds ?? 3600;
  const vwGroups = options.vaultwarden?.groupsEnabled ?? false;

  const orgPlan = options.org?.plan ?? "enterprise";
  const org: FakeOrg = {
    id: crypto.randomUUID(),
    apiKey: randomSecret(),
    enabled: true,
    useApi: true,
    useDirectory: true,
    useGroups: true,
    seats: orgPlan === "teams-starter" ? 10 : null,
    maxAutoscaleSeats: null,
    plan: orgPlan,
    stagedStatus: false,
    ...options.org,
  };

  let members: FakeMember[] = [];
  let groups: FakeGroup[] = [];
  const events: FakeEvent[] = [];
  const log: FakeRequest[] = [];
  const tokens = new Map<string, { expiresAt: number; scope: string }>();
  const faults: { kind: FaultKind; options: FaultOptions }[] = [];
  let inFlight = 0;
  let peak = 0;

  const makeMember = (init: FakeMemberInit): FakeMember => {
    const status = init.status ?? 2;
    const hasAccount = status === 1 || status === 2 || status === -1;
    return {
      id: init.id ?? crypto.randomUUID(),
      userId: hasAccount ? crypto.randomUUID() : null,
      name: init.name ?? (hasAccount ? init.email.split("@")[0] ?? null : null),
      email: init.email,
      status,
      type: init.type ?? 2,
      externalId: init.externalId ?? null,
      hasMasterPassword: init.hasMasterPassword ?? true,
    };
  };
  members = (options.members ?? [{ email: "owner@example.com", type: 0, status: 2 }]).map(
    makeMember,
  );
  groups = (options.groups ?? []).map((g) => ({
    id: g.id ?? crypto.randomUUID(),
    name: g.name,
    externalId: g.externalId ?? null,
    memberIds: (g.memberEmails ?? []).map((email) => {
      const member = members.find((m) => m.email.toLowerCase() === email.toLowerCase());
      if (member === undefined) throw new Error(`fake: group ${g.name} lists unknown ${email}`);
      return member.id;
    }),
  }));
  // Vaultwarden remembers a revoked member's status to restore it.
  const revokedFrom = new Map<string, FakeStatus>();

  // Rate limits.
  const limits: FakeRateLimits | null = options.rateLimits === undefined ||
      options.rateLimits === false || selfHosted
    ? null
    : { ...CLOUD_RATE_LIMITS, ...(options.rateLimits === true ? {} : options.rateLimits) };
  const windows = limits === null ? null : {
    apiPostSecond: new FixedWindow(limits.apiPostPerSecond, 1000, "1s"),
    apiPostMinute: new FixedWindow(limits.apiPostPerMinute, 60_000, "1m"),
    apiGetMinute: new FixedWindow(limits.apiGetPerMinute, 60_000, "1m"),
    tokenMinute: new FixedWindow(limits.tokenPerMinute, 60_000, "1m"),
    identitySecond: new FixedWindow(limits.identityPerSecond, 1000, "1s"),
    identityMinute: new FixedWindow(limits.identityPerMinute, 60_000, "1m"),
  };

  const rateLimited = (server: "api" | "identity", method: string, route: string) => {
    if (windows === null) return null;
    let rules: FixedWindow[];
    if (vw) {
      // Vaultwarden limits logins only (LOGIN_RATELIMIT_MAX_BURST=10 per 60 s).
      rules = server === "identity" && route === "/connect/token" ? [windows.tokenMinute] : [];
    } else if (server === "identity") {
      rules = route === "/connect/token" && method === "POST"
        ? [windows.identitySecond, windows.identityMinute, windows.tokenMinute]
        : [windows.identitySecond, windows.identityMinute];
    } else if (method === "GET") rules = [windows.apiGetMinute];
    else rules = [windows.apiPostSecond, windows.apiPostMinute];
    const t = now();
    for (const rule of rules) {
      const wait = rule.hit(t);
      if (wait === null) continue;
      if (vw) return vwError(429, "Too many login requests");
      return json(429, {
        object: "error",
        message: `Slow down! Too many requests. Try again in ${rule.label}.`,
        validationErrors: null,
        exceptionMessage: null,
        exceptionStackTrace: null,
        innerExceptionMessage: null,
      }, { "retry-after": String(wait) });
    }
    return null;
  };

  // ------------------------------------------------------------------------------------------
  // Identity

  const tokenEndpoint = async (request: Request): Promise<Response> => {
    if (request.method !== "POST") {
      return vw ? vwCatcher(404, request) : json(400, { error: "invalid_request" });
    }
    const type = request.headers.get("content-type") ?? "";
    if (!vw && !type.toLowerCase().startsWith("application/x-www-form-urlencoded")) {
      return json(400, { error: "invalid_request" });
    }
    const form = new URLSearchParams(await request.text());
    return vw ? vwToken(form) : bitwardenToken(form, request);
  };

  const issue = (scope: string, lifetimeSeconds = lifetime): string => {
    const token = `fake.${crypto.randomUUID()}`;
    tokens.set(token, { expiresAt: now() + lifetimeSeconds * 1000, scope });
    return token;
  };

  const tokenResponse = () =>
    json(200, {
      access_token: issue("api.organization"),
      expires_in: lifetime,
      token_type: "Bearer",
      scope: "api.organization",
    });

  const orgFromClientId = (clientId: string | null): boolean => {
    const match = /^organization\.([0-9a-f-]{36})$/i.exec(clientId ?? "");
    return match !== null && match[1]?.toLowerCase() === org.id;
  };

  const bitwardenToken = (form: URLSearchParams, request: Request): Response => {
    let clientId = form.get("client_id");
    let secret = form.get("client_secret");
    const basic = /^Basic\s+(.+)$/i.exec(request.headers.get("authorization") ?? "")?.[1];
    if (basic !== undefined) {
      const decoded = atob(basic);
      const colon = decoded.indexOf(":");
      clientId = decodeURIComponent(decoded.slice(0, colon));
      secret = decodeURIComponent(decoded.slice(colon + 1));
    }
    if (
      !orgFromClientId(clientId) || secret !== org.apiKey || !org.enabled || !org.useApi
    ) {
      return json(400, { error: "invalid_client" });
    }
    const grant = form.get("grant_type");
    if (grant === null || grant === "") return json(400, { error: "unsupported_grant_type" });
    if (grant !== "client_credentials") {
      return json(400, {
        error: ["password", "refresh_token", "authorization_code"].includes(grant)
          ? "unauthorized_client"
          : "unsupported_grant_type",
      });
    }
    const scope = form.get("scope");
    if (scope !== null && scope !== "" && scope !== "api.organization") {
      return json(400, { error: "invalid_scope" });
    }
    return tokenResponse();
  };

  const vwToken = (form: URLSearchParams): Response => {
    const fields = new Map<string, string>();
    for (const [key, value] of form) fields.set(key.toLowerCase().replaceAll("_", ""), value);
    const field = (name: string) => fields.get(name.replaceAll("_", "")) ?? "";
    if (field("grant_type") !== "client_credentials") {
      return vwError(
        400,
        field("grant_type") === "" ? "grant_type cannot be blank" : "Invalid type",
      );
    }
    for (const name of ["client_id", "client_secret", "scope"]) {
      if (field(name) === "") return vwError(400, `${name} cannot be blank`);
    }
    if (field("scope") !== "api.organization") return vwError(400, "Scope not supported");
    for (const name of ["device_identifier", "device_name", "device_type"]) {
      if (field(name) === "") return vwError(400, `${name} cannot be blank`);
    }
    const clientId = field("client_id");
    if (!clientId.startsWith("organization.")) return vwError(400, "Malformed client_id");
    if (!orgFromClientId(clientId) || !org.enabled) return vwError(400, "Invalid client_id");
    if (field("client_secret") !== org.apiKey) return vwError(400, "Incorrect client_secret");
    return tokenResponse();
  };

  // ------------------------------------------------------------------------------------------
  // API

  const authenticate = (request: Request, url: URL): Response | null => {
    const header = /^Bearer\s+(\S+)$/i.exec(request.headers.get("authorization") ?? "")?.[1];
    const value = header ?? (vw ? undefined : url.searchParams.get("access_token") ?? undefined);
    const token = value === undefined ? undefined : tokens.get(value);
    if (token === undefined || token.expiresAt <= now()) {
      if (vw) return vwCatcher(401, request);
      return empty(401, {
        "www-authenticate": token === undefined
          ? "Bearer"
          : 'Bearer error="invalid_token", error_description="The token expired"',
      });
    }
    if (token.scope !== "api.organization") return empty(403);
    return null;
  };

  const memberJson = (m: FakeMember) => ({
    object: "member",
    id: m.id,
    userId: m.userId,
    name: m.name,
    email: m.email,
    twoFactorEnabled: false,
    status: m.status,
    collections: [],
    resetPasswordEnrolled: false,
    ssoExternalId: null,
    type: m.type,
    externalId: m.externalId,
    permissions: null,
  });
  const groupJson = (g: FakeGroup) => ({
    object: "group",
    id: g.id,
    name: g.name,
    externalId: g.externalId,
    collections: [],
  });

  const api = async (request: Request, url: URL, route: string): Promise<Response> => {
    const isRead = route === "/public/members" || route === "/public/groups" ||
      /^\/public\/(members|groups)\/[^/]+(\/(member-ids|group-ids))?$/.test(route);
    const isImport = route === "/public/organization/import";
    if (!isRead && !isImport) return vw ? vwCatcher(404, request) : empty(404);
    if (vw && isRead) return vwCatcher(404, request);
    if (isRead && request.method !== "GET") return empty(405);
    if (isImport && request.method !== "POST") return vw ? vwCatcher(404, request) : empty(405);
    const denied = authenticate(request, url);
    if (denied !== null) return denied;
    if (isImport) return vw ? await vwImport(request) : await bitwardenImport(request);
    return read(route);
  };

  const read = (route: string): Response => {
    if (route === "/public/members") {
      return json(200, { object: "list", data: members.map(memberJson), continuationToken: null });
    }
    if (route === "/public/groups") {
      return json(200, { object: "list", data: groups.map(groupJson), continuationToken: null });
    }
    const [, , kind, id, sub] = route.split("/");
    if (kind === "members") {
      const member = members.find((m) => m.id === id);
      if (member === undefined) return empty(404);
      if (sub === "group-ids") {
        return json(200, groups.filter((g) => g.memberIds.includes(member.id)).map((g) => g.id));
      }
      if (sub !== undefined) return empty(404);
      return json(200, memberJson(member));
    }
    const group = groups.find((g) => g.id === id);
    if (group === undefined) return empty(404);
    if (sub === "member-ids") return json(200, [...group.memberIds]);
    if (sub !== undefined) return empty(404);
    return json(200, groupJson(group));
  };

  // ------------------------------------------------------------------------------------------
  // Import, Bitwarden

  const fail = (response: Response): never => {
    throw new ImportFailure(response);
  };

  const removeMember = (member: FakeMember) => {
    members = members.filter((m) => m !== member);
    for (const group of groups) group.memberIds = group.memberIds.filter((id) => id !== member.id);
    events.push({ type: "member_removed", email: member.email, externalId: member.externalId });
  };

  const linked = (m: FakeMember) => m.externalId !== null && m.externalId.trim() !== "";

  const bitwardenImport = async (request: Request): Promise<Response> => {
    const type = (request.headers.get("content-type") ?? "").toLowerCase();
    if (!/^application\/([a-z0-9.+-]*\+)?json\b/.test(type)) return empty(415);
    const text = await request.text();
    if (text.trim() === "") {
      return publicError(400, "The request's model state is invalid.", { "": ["Body is empty."] });
    }
    const bound = bindBitwarden(text);
    if (!bound.ok) {
      return publicError(
        400,
        "The request's model state is invalid.",
        Object.fromEntries(bound.errors),
      );
    }
    try {
      applyBitwarden(bound.value);
    } catch (error) {
      if (error instanceof ImportFailure) return error.response;
      throw error;
    }
    return new Response(null, { status: 200 });
  };

  const applyBitwarden = (model: BoundImport): void => {
    const unhandled = () => fail(publicError(500, UNHANDLED));
    if (model.groups === null || model.members === null) return unhandled();
    const requestGroups = model.groups;
    const requestMembers = model.members;
    if (
      !selfHosted && !model.largeImport &&
      (requestGroups.length > 2000 ||
        requestMembers.filter((m) => m !== null && !m.deleted).length >
          2000)
    ) {
      fail(publicError(400, "You cannot import this much data at once."));
    }
    const importGroups = requestGroups.map((g) => (g === null ? unhandled() : g));
    const importMembers = requestMembers.map((m) => (m === null ? unhandled() : m));
    if (importGroups.some((g) => g.memberExternalIds === null)) unhandled();
    if (!org.useDirectory) fail(publicError(400, "Organization cannot use directory syncing."));
    const existingIds = members.filter(linked).map((m) => m.externalId);
    if (new Set(existingIds).size !== existingIds.length) unhandled();

    const active = importMembers.filter((m) => !m.deleted).map((m) => ({
      email: m.email === null ? null : m.email.toLowerCase(),
      externalId: m.externalId ?? "",
    }));
    const activeIds = new Set(active.map((m) => m.externalId));

    // 1. Remove the deleted members (by externalId, non-owners, not also listed as active).
    const deletedIds = new Set(
      importMembers.filter((m) => m.deleted).map((m) => m.externalId ?? "").filter((id) =>
        !activeIds.has(id)
      ),
    );
    for (const member of [...members]) {
      if (linked(member) && deletedIds.has(member.externalId ?? "") && member.type !== 0) {
        removeMember(member);
      }
    }

    // 2. overwriteExisting: remove the unlisted linked non-owners.
    if (model.overwriteExisting === true) {
      const unlisted = members.filter((m) =>
        linked(m) && !activeIds.has(m.externalId ?? "") && m.type !== 0
      );
      if (unlisted.some((m) => !m.hasMasterPassword)) fail(publicError(400, SYNC_FAILED));
      for (const member of unlisted) removeMember(member);
    }

    // 3. Link members without externalId by email (ordinal on the stored email).
    const byEmail = new Map<string, string>();
    for (const m of active) {
      if (m.email === null || m.email.trim() === "") continue;
      if (byEmail.has(m.email)) unhandled(); // ToDictionary on duplicate emails
      byEmail.set(m.email, m.externalId);
    }
    for (const member of members) {
      if (linked(member)) continue;
      const externalId = byEmail.get(member.email);
      if (externalId === undefined) continue;
      member.externalId = externalId;
      events.push({ type: "member_linked", email: member.email, externalId });
    }

    // 4. Invite the new members.
    const mapped = new Set(members.filter(linked).map((m) => m.externalId));
    const known = new Set(members.map((m) => m.email.toLowerCase()));
    const toInvite: { email: string; externalId: string }[] = [];
    for (const m of active) {
      if (mapped.has(m.externalId) || m.email === null || m.email.trim() === "") continue;
      if (known.has(m.email)) continue; // SelectKnownEmailsAsync: silently skipped
      known.add(m.email);
      toInvite.push({ email: m.email, externalId: m.externalId });
    }
    if (toInvite.length > 0) {
      const staged = model.inviteUsersAfterProvisioning === false && org.stagedStatus;
      let seatsNeeded = 0;
      if (org.seats !== null && !staged) {
        const occupied = members.filter((m) => m.status >= 0 && m.status <= 2).length;
        seatsNeeded = toInvite.length - (org.seats - occupied);
        if (seatsNeeded > 0) {
          if (selfHosted) fail(publicError(400, "Cannot autoscale on self-hosted instance."));
          if (org.maxAutoscaleSeats !== null && org.seats + seatsNeeded > org.maxAutoscaleSeats) {
            fail(publicError(400, "Seat limit has been reached."));
          }
        }
      }
      if (!members.some((m) => m.type === 0 && m.status === 2)) {
        fail(publicError(400, "Organization must have at least one confirmed owner."));
      }
      const created = toInvite.map((m) =>
        makeMember({ email: m.email, externalId: m.externalId, status: staged ? 3 : 0 })
      );
      members.push(...created);
      if (seatsNeeded > 0 && org.seats !== null) {
        if (org.plan === "teams-starter") {
          members = members.filter((m) => !created.includes(m));
          events.push({ type: "invites_rolled_back", emails: created.map((m) => m.email) });
          fail(publicError(400, "Errors have occurred.", {
            "An error has occurred.": ["Plan does not allow additional seats."],
          }));
        }
        events.push({ type: "seats_added", from: org.seats, to: org.seats + seatsNeeded });
        org.seats += seatsNeeded;
      }
      for (const m of created) {
        events.push({
          type: "member_invited",
          email: m.email,
          externalId: m.externalId ?? "",
          status: m.status,
        });
      }
    }

    // 5. Groups.
    if (importGroups.length === 0) return;
    if (!org.useGroups) fail(publicError(400, "Organization cannot use groups."));
    const groupIds = importGroups.map((g) => g.externalId ?? "");
    if (new Set(groupIds).size !== groupIds.length) unhandled();
    for (const incoming of importGroups) {
      const externalId = incoming.externalId ?? "";
      const name = incoming.name ?? "";
      const wanted = new Set(incoming.memberExternalIds ?? []);
      const memberIds = members.filter((m) => linked(m) && wanted.has(m.externalId)).map((m) =>
        m.id
      );
      let group = groups.find((g) => g.externalId === externalId);
      if (group === undefined) {
        group = { id: crypto.randomUUID(), name, externalId, memberIds: [] };
        groups.push(group);
        events.push({ type: "group_created", name, externalId });
      } else if (group.name !== name) {
        events.push({ type: "group_renamed", from: group.name, to: name, externalId });
        group.name = name;
      }
      setGroupMembers(group, memberIds);
    }
  };

  const setGroupMembers = (group: FakeGroup, memberIds: string[]) => {
    const same = memberIds.length === group.memberIds.length &&
      memberIds.every((id) => group.memberIds.includes(id));
    if (same) return;
    group.memberIds = memberIds;
    events.push({
      type: "group_members_set",
      externalId: group.externalId ?? "",
      memberEmails: memberIds.map((id) => members.find((m) => m.id === id)?.email ?? id),
    });
  };

  // ------------------------------------------------------------------------------------------
  // Import, Vaultwarden

  const isLastConfirmedOwner = (member: FakeMember) =>
    member.type === 0 && member.status === 2 &&
    members.filter((m) => m.type === 0 && m.status === 2).length === 1;

  const vwImport = async (request: Request): Promise<Response> => {
    const model = bindVaultwarden(await request.text());
    if (model === 400 || model === 422) return vwCatcher(model, request);
    for (const incoming of model.members) {
      const email = incoming.email.toLowerCase();
      const member = members.find((m) => m.email.toLowerCase() === email);
      if (incoming.deleted) {
        if (member === undefined) continue;
        if (member.status !== -1 && !isLastConfirmedOwner(member)) {
          revokedFrom.set(member.id, member.status);
          member.status = -1;
          events.push({ type: "member_revoked", email: member.email });
        }
        setExternalId(member, incoming.externalId);
        continue;
      }
      if (member !== undefined) {
        if (member.status === -1) {
          member.status = revokedFrom.get(member.id) ?? 2;
          revokedFrom.delete(member.id);
          events.push({ type: "member_restored", email: member.email });
        }
        setExternalId(member, incoming.externalId);
        continue;
      }
      const created = makeMember({ email, externalId: incoming.externalId, status: 0 });
      members.push(created);
      events.push({ type: "member_invited", email, externalId: incoming.externalId, status: 0 });
    }
    if (vwGroups) {
      for (const incoming of model.groups) {
        let group = groups.find((g) => g.externalId === incoming.externalId);
        if (group === undefined) {
          group = {
            id: crypto.randomUUID(),
            name: incoming.name,
            externalId: incoming.externalId,
            memberIds: [],
          };
          groups.push(group);
          events.push({
            type: "group_created",
            name: incoming.name,
            externalId: incoming.externalId,
          });
        }
        const wanted = new Set(incoming.memberExternalIds);
        setGroupMembers(
          group,
          members.filter((m) => linked(m) && wanted.has(m.externalId ?? "")).map((m) => m.id),
        );
      }
    }
    if (model.overwriteExisting) {
      const listed = new Set(model.members.map((m) => m.externalId));
      for (const member of [...members]) {
        if (
          linked(member) && !listed.has(member.externalId ?? "") && !isLastConfirmedOwner(member)
        ) {
          removeMember(member);
        }
      }
    }
    return new Response(null, { status: 200 });
  };

  const setExternalId = (member: FakeMember, externalId: string) => {
    if (member.externalId === externalId) return;
    member.externalId = externalId;
    events.push({ type: "member_external_id_set", email: member.email, externalId });
  };

  // ------------------------------------------------------------------------------------------
  // Serving

  const fronts: { front: Front; server: "api" | "identity" | "both" }[] = [];

  const takeFault = (method: string, path: string) => {
    const index = faults.findIndex(({ options: o }) =>
      (o.method === undefined || o.method.toUpperCase() === method) &&
      (o.path === undefined ||
        (typeof o.path === "string" ? path.includes(o.path) : o.path.test(path)))
    );
    if (index === -1) return undefined;
    const [fault] = faults.splice(index, 1);
    return fault;
  };

  const handle = async (request: Request, info: Deno.ServeHandlerInfo): Promise<Response> => {
    const url = new URL(request.url);
    const innerPort = info.remoteAddr.transport === "tcp" ? info.remoteAddr.port : -1;
    const origin = fronts.find((f) => f.front.owns(innerPort));
    let server: "api" | "identity";
    let route: string;
    if (origin?.server === "both" || origin === undefined) {
      if (url.pathname.startsWith("/identity/") || url.pathname === "/identity") {
        server = "identity";
        route = url.pathname.slice("/identity".length);
      } else if (url.pathname.startsWith("/api/")) {
        server = "api";
        route = url.pathname.slice("/api".length);
      } else {
        server = "api";
        route = "/unknown" + url.pathname;
      }
    } else {
      server = origin.server;
      route = url.pathname;
    }
    const entry: FakeRequest = {
      server,
      method: request.method,
      path: url.pathname,
      status: 0,
      at: now(),
    };
    log.push(entry);
    const fault = takeFault(request.method, url.pathname);
    if (fault?.kind === "reset") {
      origin?.front.reset(innerPort);
      return empty(500); // never delivered
    }
    let response: Response;
    if (fault?.kind === "slow") await delay(fault.options.ms ?? 200);
    const retryAfter = fault?.options.retryAfter === undefined
      ? {}
      : { "retry-after": fault.options.retryAfter };
    if (fault?.kind === "html502") {
      response = new Response(NGINX_502, { status: 502, headers: { "content-type": "text/html" } });
    } else if (fault?.kind === "html504") {
      response = new Response(NGINX_502.replaceAll("502 Bad Gateway", "504 Gateway Time-out"), {
        status: 504,
        headers: { "content-type": "text/html" },
      });
    } else if (fault?.kind === "html503") {
      response = new Response(CLOUDFLARE_503, {
        status: 503,
        headers: { "content-type": "text/html; charset=UTF-8", ...retryAfter },
      });
    } else if (fault?.kind === "html429") {
      response = new Response(CLOUDFLARE_429, {
        status: 429,
        headers: { "content-type": "text/html; charset=UTF-8", ...retryAfter },
      });
    } else if (fault?.kind === "json500") {
      response = publicError(500, UNHANDLED);
    } else {
      response = rateLimited(server, request.method, route) ??
        (server === "identity"
          ? route === "/connect/token"
            ? await tokenEndpoint(request)
            : (vw ? vwCatcher(404, request) : empty(404))
          : await api(request, url, route));
    }
    entry.status = response.status;
    return response;
  };

  const counted = async (request: Request, info: Deno.ServeHandlerInfo): Promise<Response> => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    try {
      return await handle(request, info);
    } finally {
      inFlight--;
    }
  };

  const abort = new AbortController();
  const inner = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: abort.signal,
    onListen: () => {},
    onError: (error) => {
      // A bug in the fake: answer it, so the test that hit it fails visibly.
      return new Response(`fake bitwarden bug: ${String(error)}`, { status: 500 });
    },
  }, counted);
  const scheme = options.tls === undefined ? "http" : "https";
  const frontOf = (server: "api" | "identity" | "both", port: number | undefined) => {
    const front = startFront({
      innerPort: inner.addr.port,
      ...(port === undefined ? {} : { port }),
      ...(options.tls === undefined ? {} : { tls: options.tls }),
    });
    fronts.push({ front, server });
    return `${scheme}://127.0.0.1:${front.port}`;
  };

  let url: string;
  let apiUrl: string;
  let identityUrl: string;
  let serverConfig: FakeBitwarden["serverConfig"];
  if (layout === "hosts") {
    apiUrl = frontOf("api", options.port);
    identityUrl = frontOf("identity", options.identityPort);
    url = apiUrl;
    serverConfig = { api: apiUrl, identity: identityUrl };
  } else {
    url = frontOf("both", options.port);
    apiUrl = `${url}/api`;
    identityUrl = `${url}/identity`;
    serverConfig = { url };
  }
  return await Promise.resolve({
    url,
    apiUrl,
    identityUrl,
    serverConfig,
    credentials: { clientId: `organization.${org.id}`, clientSecret: org.apiKey },
    organizationId: org.id,
    state: () => clone({ org, members, groups }),
    events: () => clone(events),
    requests: () => clone(log),
    peakConcurrency: () => peak,
    expireTokens: () => {
      for (const token of tokens.values()) token.expiresAt = -Infinity;
    },
    mintToken: (o = {}) => issue(o.scope ?? "api.organization", o.lifetimeSeconds ?? lifetime),
    failNext: (n, kind, o = {}) => {
      for (let i = 0; i < n; i++) faults.push({ kind, options: o });
    },
    updateOrg: (changes) => {
      Object.assign(org, changes);
    },
    addMember: (init) => {
      const member = makeMember(init);
      members.push(member);
      return clone(member);
    },
    close: async () => {
      await Promise.all(fronts.map((f) => f.front.close()));
      abort.abort();
      await inner.finished;
    },
  });
}

function randomSecret(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(30));
  return [...bytes].map((b) => alphabet[b % alphabet.length]).join("");
}
