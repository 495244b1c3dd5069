/**
 * The Bitwarden / Vaultwarden organization API client: log in with the organization API key,
 * send `POST /public/organization/import`, and read members and groups for a dry-run diff.
 *
 * The transport is roster's HTTP layer (`../http/`): timeouts, keep-alive, `server.caFile`,
 * `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` (an `https://` request goes through the proxy as a
 * `CONNECT` tunnel) and the one retry policy; `./http.ts` holds the Bitwarden retry decision and
 * the Bitwarden wording of its failures.
 * @module
 */

import pLimit from "p-limit";
import type { ImportRequest } from "../engine/types.ts";
import {
  BitwardenAuthError,
  BitwardenRejectedError,
  BitwardenUnavailableError,
  SeatLimitError,
} from "../errors.ts";
import { VERSION } from "../version.ts";
import { type ApiKey, organizationIdOf, TokenManager, validateApiKey } from "./auth.ts";
import {
  allMessages,
  describeServerError,
  getIgnoreCase,
  parseErrorBody,
  type ServerError,
  withoutPeriod,
} from "./errors.ts";
import {
  DEFAULT_RETRY,
  type HttpResponse,
  HttpTransport,
  type LogFn,
  RequestBudget,
  type RetryMode,
} from "./http.ts";
import type { OrgGroup, OrgMember, OrgView } from "../engine/plan.ts";
import { isBitwardenCloud, resolveServerUrls, type ServerUrls } from "./urls.ts";
import { isRecord } from "../guards.ts";

export type { ApiKey, OrgGroup, OrgMember, OrgView, ServerUrls };
export { organizationIdOf, resolveServerUrls };

/** Options of {@link BitwardenClient}. */
export interface BitwardenClientOptions {
  /** Where the servers are ({@link resolveServerUrls}). */
  urls: ServerUrls;
  /** The organization API key. */
  apiKey: ApiKey;
  /** PEM file of extra CA certificates (`server.caFile`). */
  caFile?: string;
  /** A stable id of this installation, sent as `deviceIdentifier` (Vaultwarden needs it). */
  deviceIdentifier: string;
  /** Where progress and retry notices go. Default: nowhere. */
  log?: LogFn;
  /** The fetch to use. Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** Clock in ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** Waits `ms`. Default: a timer. Tests inject one that only advances their clock. */
  sleep?: (ms: number) => Promise<void>;
  /** Randomness for backoff jitter, in [0, 1). Default `Math.random`. */
  random?: () => number;
  /** Retry bounds (defaults: 6 attempts, 180 s, 1 s base delay). */
  retry?: { maxAttempts?: number; maxElapsedMs?: number; baseDelayMs?: number };
  /** Parallel GETs of `readOrganization` (default 4). */
  readConcurrency?: number;
  /**
   * GETs started in any 60 s (`server.maxRequestsPerMinute`); null for no budget. Default: 180
   * (under the cloud's limit of 200 per minute) when the URLs are Bitwarden's cloud, else null.
   */
  maxRequestsPerMinute?: number | null;
  /** Reads the proxy variables (tests). Default: the process environment. */
  env?: (name: string) => string | undefined;
  /**
   * Called while {@link BitwardenClient.readOrganization} runs, after every request, with what
   * was read so far (progress on stderr).
   */
  onProgress?: (progress: ReadProgress) => void;
  /** Per-attempt timeouts: token and reads (default 120 s), the import (default 30 min). */
  timeouts?: { requestMs?: number; importMs?: number };
  /** The User-Agent header (default `roster/<version>`). */
  userAgent?: string;
}

/** What an organization read has done so far. */
export interface ReadProgress {
  /** Members and groups read (a group counts when its members have been read). */
  objects: number;
  /** HTTP requests sent by this client (token included). */
  requests: number;
  /** Waits for the request budget or the server (`Retry-After`). */
  throttleWaits: number;
  /** True on the last call, when the read is over. */
  done?: boolean;
}

/** The GETs-per-minute budget of Bitwarden's US and EU clouds (their limit is 200). */
export const CLOUD_GETS_PER_MINUTE = 180;

const defaultSleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

type JsonObject = Record<string, unknown>;

const MEMBER_STATUSES = [-1, 0, 1, 2, 3] as const;
const MEMBER_TYPES = [0, 1, 2, 4] as const;

function isStatus(value: unknown): value is OrgMember["status"] {
  return MEMBER_STATUSES.some((s) => s === value);
}

function isType(value: unknown): value is OrgMember["type"] {
  return MEMBER_TYPES.some((t) => t === value);
}

function optionalString(value: unknown): string | null | undefined {
  if (value === null || value === undefined) return null;
  return typeof value === "string" ? (value === "" ? null : value) : undefined;
}

/** A Bitwarden organization API client. Create one per run; call {@link close} when done. */
export class BitwardenClient {
  /** The server URLs in use. */
  readonly urls: ServerUrls;
  /** The organization id from the API key's client id. */
  readonly organizationId: string;
  readonly #options: BitwardenClientOptions;
  readonly #transport: HttpTransport;
  readonly #tokens: TokenManager;
  readonly #budget: RequestBudget;
  readonly #headers: Record<string, string>;
  readonly #requestTimeoutMs: number;
  readonly #importTimeoutMs: number;
  #closed = false;

  /**
   * @throws {ConfigError} when the API key's client id is not `organization.<uuid>` or the
   *   secret is empty.
   */
  constructor(options: BitwardenClientOptions) {
    validateApiKey(options.apiKey);
    this.#options = options;
    this.urls = {
      api: options.urls.api.replace(/\/+$/, ""),
      identity: options.urls.identity.replace(/\/+$/, ""),
    };
    this.organizationId = organizationIdOf(options.apiKey.clientId);
    const now = options.now ?? Date.now;
    const sleep = options.sleep ?? defaultSleep;
    this.#headers = {
      "User-Agent": options.userAgent ?? `roster/${VERSION}`,
    };
    this.#requestTimeoutMs = options.timeouts?.requestMs ?? 120_000;
    this.#importTimeoutMs = options.timeouts?.importMs ?? 30 * 60_000;
    this.#transport = new HttpTransport({
      fetch: options.fetch ?? fetch,
      now,
      sleep,
      random: options.random ?? Math.random,
      log: options.log ?? (() => {}),
      retry: {
        ...DEFAULT_RETRY,
        ...(options.retry?.maxAttempts === undefined
          ? {}
          : { maxAttempts: Math.max(1, options.retry.maxAttempts) }),
        ...(options.retry?.maxElapsedMs === undefined
          ? {}
          : { maxElapsedMs: options.retry.maxElapsedMs }),
        ...(options.retry?.baseDelayMs === undefined
          ? {}
          : { baseDelayMs: options.retry.baseDelayMs }),
      },
      ...(options.caFile === undefined ? {} : { caFile: options.caFile }),
      ...(options.env === undefined ? {} : { env: options.env }),
    });
    this.#tokens = new TokenManager({
      transport: this.#transport,
      identityUrl: this.urls.identity,
      apiKey: options.apiKey,
      deviceIdentifier: options.deviceIdentifier,
      headers: this.#headers,
      now,
      timeoutMs: this.#requestTimeoutMs,
    });
    const perMinute = options.maxRequestsPerMinute === undefined
      ? (isBitwardenCloud(this.urls) ? CLOUD_GETS_PER_MINUTE : null)
      : options.maxRequestsPerMinute;
    this.#budget = new RequestBudget(perMinute, { now, sleep });
  }

  /**
   * Checks the API key by getting a fresh token.
   *
   * @returns the organization id and when the token expires (ms since the epoch)
   * @throws {BitwardenAuthError} when the key is refused; {@link BitwardenUnavailableError}
   *   when the identity server cannot be reached.
   */
  async login(): Promise<{ organizationId: string; expiresAt: number }> {
    const token = await this.#tokens.fresh();
    return { organizationId: this.organizationId, expiresAt: token.expiresAt };
  }

  /**
   * Sends one `POST /public/organization/import`. Resolves on any 2xx (the body is ignored).
   *
   * The import is not atomic: after an error, part of it may have been applied; sending the
   * same request again converges. It is retried only when it is certain or harmless (429,
   * connection refused, 502, 503), see `./http.ts`.
   *
   * @throws {SeatLimitError} when the organization has no seats for the new members.
   * @throws {BitwardenRejectedError} for validation and plan errors, with every field error
   *   named by the member or group it concerns.
   * @throws {BitwardenAuthError} when the key or token is refused.
   * @throws {BitwardenUnavailableError} when the server cannot be reached, keeps failing, or the
   *   outcome is unknown.
   */
  async importOrganization(request: ImportRequest): Promise<void> {
    const body = JSON.stringify({
      groups: (request.groups ?? []).map((group) => ({
        name: group.name,
        externalId: group.externalId,
        memberExternalIds: [...(group.memberExternalIds ?? [])],
      })),
      members: (request.members ?? []).map((member) => ({
        email: member.email,
        externalId: member.externalId,
        deleted: member.deleted === true,
      })),
      overwriteExisting: request.overwriteExisting === true,
      largeImport: request.largeImport === true,
      inviteUsersAfterProvisioning: request.inviteUsersAfterProvisioning === true,
    });
    const response = await this.#api("POST", "/public/organization/import", {
      body,
      mode: "import",
    });
    if (response.status >= 200 && response.status < 300) return;
    throw importError(response, request);
  }

  /**
   * Reads every member and group, and the members of every group that has an external id, for
   * a dry-run diff. Groups without an external id (never touched by the import) get
   * `memberIds: []` without a request, to spare the GET budget.
   *
   * GETs run at most `readConcurrency` at a time and at most `maxRequestsPerMinute` per minute.
   * `onProgress` is called after the lists and after every group's members.
   * With `memberships: false` only the member and group lists are read (two requests) and every
   * group's `memberIds` is null: enough for the removal guard, without one read per group.
   *
   * @returns null when the server has no read endpoints (404: Vaultwarden); the caller then has
   *   no organization view.
   */
  async readOrganization(options: { memberships?: boolean } = {}): Promise<OrgView | null> {
    const members = await this.listMembers();
    if (members === null) return null;
    const groupsResponse = await this.#read("/public/groups");
    if (groupsResponse === null) return null;
    const groups = parseList(groupsResponse, "GET /public/groups").map((item) =>
      toGroup(item, "GET /public/groups")
    );
    let objects = members.length + groups.filter((g) => g.externalId === null).length;
    this.#progress(objects);
    const limit = pLimit(Math.max(1, this.#options.readConcurrency ?? 4));
    const withMembers = await Promise.all(
      groups.map((group) =>
        limit(async (): Promise<OrgGroup | null> => {
          if (group.externalId === null) return group;
          if (options.memberships === false) {
            this.#progress(++objects);
            return { ...group, memberIds: null };
          }
          const path = `/public/groups/${encodeURIComponent(group.id)}/member-ids`;
          const response = await this.#read(path);
          this.#progress(++objects);
          if (response === null) return null; // deleted since the list was read
          return { ...group, memberIds: parseIdArray(response, `GET ${path}`) };
        })
      ),
    );
    this.#progress(objects, true);
    return { members, groups: withMembers.filter((g): g is OrgGroup => g !== null) };
  }

  /**
   * Reads every membership (`GET /public/members`): one request, for drift detection.
   *
   * @returns null when the server answers 404 (Vaultwarden has no read endpoints).
   */
  async listMembers(): Promise<OrgMember[] | null> {
    const response = await this.#read("/public/members");
    if (response === null) return null;
    return parseList(response, "GET /public/members").map((item) =>
      toMember(item, "GET /public/members")
    );
  }

  /** Counters: HTTP attempts (token included), retries, and 429 answers. */
  stats(): { requests: number; retries: number; rateLimited: number } {
    return this.#transport.stats();
  }

  /** Releases the HTTP connections this client made. The client is unusable afterwards. */
  close(): void {
    this.#closed = true;
    this.#transport.close();
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  #progress(objects: number, done = false): void {
    this.#options.onProgress?.({
      ...(done ? { done: true } : {}),
      objects,
      requests: this.#transport.stats().requests,
      throttleWaits: this.#transport.retryWaits() + this.#budget.waits,
    });
  }

  /** A GET that answers null on 404. */
  async #read(path: string): Promise<string | null> {
    const response = await this.#api("GET", path, { mode: "idempotent" });
    if (response.status === 404) {
      this.#options.log?.(
        "info",
        `GET ${path} answered ${
          describeServerError(parseErrorBody(404, response.body))
        }: the server has no organization read endpoints (Vaultwarden)`,
      );
      return null;
    }
    if (response.status >= 200 && response.status < 300) return response.body;
    throw new BitwardenUnavailableError(
      `Cannot read the organization from Bitwarden: GET ${path} answered ${
        describeServerError(parseErrorBody(response.status, response.body))
      }`,
      {
        hint: "Check server.url (or server.api), then run again",
        details: { status: response.status },
      },
    );
  }

  /** An authenticated API call: one fresh token and one retry on 401; 403 is an auth error. */
  async #api(
    method: "GET" | "POST",
    path: string,
    options: { body?: string; mode: RetryMode },
  ): Promise<HttpResponse> {
    const what = `${method} ${path}`;
    const send = (token: string) => {
      const headers: Record<string, string> = {
        ...this.#headers,
        "Accept": "application/json",
        "Authorization": `Bearer ${token}`,
      };
      if (options.body !== undefined) {
        headers["Content-Type"] = "application/json; charset=utf-8";
      }
      return this.#transport.send({
        method,
        url: `${this.urls.api}${path}`,
        headers,
        ...(options.body === undefined ? {} : { body: options.body }),
        mode: options.mode,
        what,
        timeoutMs: options.mode === "import" ? this.#importTimeoutMs : this.#requestTimeoutMs,
        ...(method === "GET" ? { beforeAttempt: () => this.#budget.acquire() } : {}),
        ...(options.mode === "import" ? { freshConnection: true } : {}),
      });
    };
    if (this.#closed) throw new BitwardenUnavailableError("The Bitwarden client is closed");
    let token = await this.#tokens.token();
    let response = await send(token.value);
    if (response.status === 401) {
      this.#options.log?.("info", `${what} answered 401 Unauthorized: getting a new token`);
      this.#tokens.invalidate(token.value);
      token = await this.#tokens.token();
      response = await send(token.value);
      if (response.status === 401) {
        throw new BitwardenAuthError(
          `Bitwarden refused the access token: ${what} answered 401 Unauthorized, also with a new token`,
          {
            hint:
              "Check that server.api and server.identity belong to the same server, and that the machine's clock is right",
            details: { status: 401 },
          },
        );
      }
    }
    if (response.status === 403) {
      const parsed = parseErrorBody(403, response.body);
      throw new BitwardenAuthError(
        `Bitwarden refused access: ${what} answered ${describeServerError(parsed)}`,
        {
          hint: parsed.html
            ? "A firewall, WAF or proxy in front of the server blocked the request"
            : "The token lacks the api.organization scope: use the organization API key (client id organization.<id>), not a personal one, and check that the organization has API access",
          details: { status: 403 },
        },
      );
    }
    return response;
  }
}

function unexpected(what: string, detail: string): BitwardenUnavailableError {
  return new BitwardenUnavailableError(`Bitwarden answered ${what} unexpectedly: ${detail}`, {
    hint: "Check server.url (or server.api): it must point at the Bitwarden API",
  });
}

function parseJson(body: string, what: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    const parsed = parseErrorBody(200, body);
    throw unexpected(what, `not JSON (${parsed.excerpt ?? "empty body"})`);
  }
}

function parseList(body: string, what: string): unknown[] {
  const parsed = parseJson(body, what);
  const data = isRecord(parsed) ? getIgnoreCase(parsed, "data") : undefined;
  if (!Array.isArray(data)) throw unexpected(what, "no data list");
  return data;
}

function parseIdArray(body: string, what: string): string[] {
  const parsed = parseJson(body, what);
  if (!Array.isArray(parsed) || !parsed.every((id) => typeof id === "string")) {
    throw unexpected(what, "not a list of ids");
  }
  return parsed.filter((id): id is string => typeof id === "string");
}

function toMember(item: unknown, what: string): OrgMember {
  if (!isRecord(item)) throw unexpected(what, "a member is not an object");
  const id = getIgnoreCase(item, "id");
  const email = getIgnoreCase(item, "email");
  const externalId = optionalString(getIgnoreCase(item, "externalId"));
  const status = getIgnoreCase(item, "status");
  const type = getIgnoreCase(item, "type");
  if (typeof id !== "string" || externalId === undefined) {
    throw unexpected(what, "a member has no id");
  }
  if (!isStatus(status) || !isType(type)) {
    throw unexpected(
      what,
      `member ${id} has status ${JSON.stringify(status)} and type ${JSON.stringify(type)}`,
    );
  }
  return { id, email: typeof email === "string" ? email : "", externalId, status, type };
}

function toGroup(item: unknown, what: string): OrgGroup {
  if (!isRecord(item)) throw unexpected(what, "a group is not an object");
  const id = getIgnoreCase(item, "id");
  const name = getIgnoreCase(item, "name");
  const externalId = optionalString(getIgnoreCase(item, "externalId"));
  if (typeof id !== "string" || externalId === undefined) {
    throw unexpected(what, "a group has no id");
  }
  return { id, name: typeof name === "string" ? name : "", externalId, memberIds: [] };
}

// ---------------------------------------------------------------------------------------------
// Import errors

/** Names the member or group a C# validation key (`Members[3].Email`) is about. */
export function subjectOfKey(key: string, request: ImportRequest): string {
  const match = /^\$?\.?(members|groups)\[(\d+)\](?:\.([A-Za-z]+))?/i.exec(key);
  if (match === null) {
    if (key === "" || key === "$") return "request body";
    return `field ${camel(key.replace(/^\$\.?/, ""))}`;
  }
  const [, list = "", indexText = "0", field] = match;
  const index = Number(indexText);
  const fieldText = field === undefined ? "" : `, field ${camel(field)}`;
  if (list.toLowerCase() === "members") {
    const member = request.members[index];
    if (member === undefined) return `member #${index + 1}${fieldText}`;
    const email = member.email === null ? "no email" : member.email;
    return `member ${email} (externalId ${member.externalId}${
      member.deleted ? ", deleted" : ""
    })${fieldText}`;
  }
  const group = request.groups[index];
  if (group === undefined) return `group #${index + 1}${fieldText}`;
  return `group "${group.name}" (externalId ${group.externalId})${fieldText}`;
}

function camel(name: string): string {
  return name.length === 0 ? name : name[0]?.toLowerCase() + name.slice(1);
}

function activeCount(request: ImportRequest): number {
  return request.members.filter((m) => !m.deleted).length;
}

function seatError(parsed: ServerError, request: ImportRequest): SeatLimitError | null {
  const messages = allMessages(parsed);
  const has = (pattern: RegExp) => messages.find((m) => pattern.test(m));
  const details = {
    status: parsed.status,
    serverMessages: messages,
    activeMembers: activeCount(request),
  };
  const listed = `the import lists ${activeCount(request)} active members`;
  if (has(/Plan does not allow additional seats/i) !== undefined) {
    return new SeatLimitError(
      `Bitwarden refused to invite new members: the plan does not allow additional seats (${listed})`,
      {
        hint:
          "Teams Starter organizations are capped at 10 members and cannot buy more seats. Keep the synced users within 10 (sync.userFilter, or remove members), or upgrade the organization to Teams or Enterprise. Bitwarden rolled back this import's invitations; its removals were applied",
        details,
      },
    );
  }
  if (has(/Cannot autoscale on self-hosted instance/i) !== undefined) {
    return new SeatLimitError(
      `Bitwarden refused to invite new members: the self-hosted organization has no free seats and cannot add seats by itself (${listed})`,
      {
        hint:
          "Add seats to the subscription in the cloud Admin Console and upload the new license file to the server, or remove members so the new ones fit",
        details,
      },
    );
  }
  const reached = has(/Seat limit has been reached/i);
  if (reached !== undefined) {
    return new SeatLimitError(
      `Bitwarden refused to invite new members: ${withoutPeriod(reached)} (${listed})`,
      {
        hint: /provider/i.test(reached)
          ? "Ask the organization's provider to add seats"
          : "Adding the new members would exceed the organization's seat limit (Admin Console → Billing → Subscription → Limit subscription): raise or remove the limit, or remove members",
        details,
      },
    );
  }
  const billing = has(
    /additional seats|payment method|No subscription found|active subscription|minimum of \d+ seats/i,
  );
  if (billing !== undefined) {
    return new SeatLimitError(
      `Bitwarden could not add seats for the new members: ${withoutPeriod(billing)}`,
      { hint: "Fix the organization's billing or subscription in the Admin Console", details },
    );
  }
  return null;
}

const PLAN_HINTS: [RegExp, string][] = [
  [
    /cannot import this much data at once/i,
    "Bitwarden's cloud accepts at most 2000 active members and 2000 groups per import: set sync.largeImport to true",
  ],
  [
    /cannot use directory syncing/i,
    "The organization's plan does not include directory sync (Teams or Enterprise is needed)",
  ],
  [
    /cannot use groups/i,
    "The organization's plan has no groups: set sync.groups to false. The member changes of this import were already applied",
  ],
  [
    /Remove and re-add users during next sync/i,
    "Some members that would be removed have no master password (SSO, trusted devices or Key Connector): set sync.overwriteExisting to false. The deletions of this import were already applied",
  ],
  [
    /at least one confirmed owner/i,
    "The organization needs a confirmed owner before members can be invited: confirm an owner in the Admin Console",
  ],
  [
    /Error sending invite/i,
    "Vaultwarden could not send an invitation email: check its SMTP settings. Members before the failing one were already added",
  ],
];

/** Maps a failed import response to an error. */
export function importError(response: HttpResponse, request: ImportRequest): Error {
  const { status } = response;
  const parsed = parseErrorBody(status, response.body);
  const seats = seatError(parsed, request);
  if (seats !== null) return seats;
  const details: Record<string, unknown> = {
    status,
    message: parsed.message,
    errors: parsed.fieldErrors.map((f) => ({
      key: f.key,
      subject: subjectOfKey(f.key, request),
      messages: f.messages,
    })),
  };
  if (status >= 500 && !(status === 500 && parsed.json)) {
    return new BitwardenUnavailableError(
      `Bitwarden import outcome unknown: the server answered ${describeServerError(parsed)}`,
      {
        hint:
          "The server may still be applying the import, or have applied part of it. Run the sync again in a few minutes: re-sending the same data converges",
        details,
      },
    );
  }
  const lines = parsed.fieldErrors.flatMap((field) =>
    field.messages.map((message) =>
      `\n  - ${subjectOfKey(field.key, request)}: ${withoutPeriod(message)}`
    )
  );
  const head = parsed.message ??
    (parsed.fieldErrors.length > 0 ? "invalid request" : describeServerError(parsed));
  const message = `Bitwarden rejected the import: ${withoutPeriod(head)}${lines.join("")}`;
  const text = allMessages(parsed).join(" ");
  let hint = PLAN_HINTS.find(([pattern]) => pattern.test(text))?.[1];
  if (hint === undefined) {
    if (status === 500) {
      hint =
        "The server failed on this data. Usual causes: two members with the same email or two groups with the same externalId in the request, or members that already share an externalId in the organization";
    } else if (status === 413) {
      hint = "The request is too large for the server: set sync.largeImport to true";
    } else if (status === 415 || status === 422) {
      hint =
        "The server could not read the request. Vaultwarden needs an email on every member, deleted ones included. Please report this";
    } else if (status === 404) {
      hint = "Check server.url (or server.api) and that the organization still exists";
    } else if (parsed.fieldErrors.length > 0) {
      hint =
        "Fix the listed users or groups in the directory, or filter them out with sync.userFilter/sync.groupFilter";
    }
  }
  return new BitwardenRejectedError(message, status, {
    ...(hint === undefined ? {} : { hint }),
    details,
  });
}
