/**
 * The `ldap` provider: OpenLDAP, Active Directory and any RFC 4511 server, read with ldapts.
 *
 * **Connection.** `directory.ldap.ssl` alone is LDAPS (`ldaps://`); `startTls` (alone, or with
 * `ssl` as in the seed tool) is StartTLS on the plain port, and a failed StartTLS is an error,
 * never a silent plaintext fallback; neither is plain `ldap://`. The CA file is `sslCaPath` or
 * `tlsCaPath`: either is accepted in both TLS modes (both files are trusted when both are set).
 * `sslCertPath` + `sslKeyPath` give a client certificate. Certificates are verified unless
 * `sslAllowUnauthorized` is on (logged as a warning). A missing or unreadable file is a
 * `ConfigError` naming the setting.
 *
 * **Reads.** The user and group searches run at the same time on two connections, paged (RFC
 * 2696, `directory.ldap.pageSize`) unless `pagedSearch` is off, and each LDAP page is mapped and
 * yielded at once, so raw entries are never held for the whole directory. Paging is roster's own
 * loop over the server's cookie, not ldapts' `searchPaginated`, which ends the search at a page
 * that comes back empty even when the server sent a cookie to continue (AD does). Only the
 * attributes the mapping needs are requested. Any size, time or admin limit, failed page or lost
 * connection throws `SourceIncompleteError`. In AD mode group members are read in ranges
 * (`member;range=0-1499`, then `member;range=1500-*` …; Samba only ranges when asked, AD always
 * for big groups), and every full AD read also lists `CN=Deleted Objects` of the user search
 * base's domain with the show-deleted control (a failure there is a warning notice).
 *
 * **Incremental reads.** roster never sends a partial directory. An incremental read first
 * checks whether anything changed: a one-entry search for users whose revision attribute
 * (`modifyTimestamp`, AD `whenChanged`) is at or after `since.users`, the same for groups with
 * `since.groups` (both minus {@link INCREMENTAL_SKEW_MS} for clock skew), and a DN-only scan of
 * both searches whose order-independent digest is compared with the one stored in the provider
 * state by the last read (this catches additions, renames and removals, which leave no changed
 * entry behind). Nothing changed: the read yields no users or groups and `done` says
 * `incremental: true`. Anything changed, or no usable state: it reads everything and `done` says
 * `incremental: false`. Membership changes update the group's revision attribute (OpenLDAP
 * `modifyTimestamp`, AD `whenChanged`), so they are caught by the group check.
 * @module
 */

import { Buffer } from "node:buffer";
import { isIP } from "node:net";
import type { ConnectionOptions } from "node:tls";
import {
  Ber,
  BerWriter,
  Client,
  Control,
  type Entry,
  MessageParser,
  PagedResultsControl,
  SearchResponse,
} from "ldapts";
import "../ldap/ldapts_speedups.ts";
import type { DirectoryGroup, DirectoryUser, SkippedEntry } from "../engine/types.ts";
import {
  ConfigError,
  DirectoryError,
  errorMessage,
  RosterError,
  SourceIncompleteError,
} from "../errors.ts";
import { normalizeDn } from "../ldap/dn.ts";
import {
  entryToGroup,
  entryToUser,
  groupAttributes,
  groupSearchFilter,
  type LdapEntry,
  type LdapMappingSettings,
  ldapMappingSettings,
  RefPool,
  searchBase,
  userAttributes,
  userSearchFilter,
} from "../ldap/entry.ts";
import { validateLdapFilter } from "../ldap/filter.ts";
import type { DirectoryPage, DirectoryProvider, ProviderContext, ReadOptions } from "./provider.ts";

/** The secret setting holding the bind password. */
export const LDAP_PASSWORD_KEY = "directory.ldap.password";

/** AD `LDAP_SERVER_SHOW_DELETED_OID`: lists tombstones in `CN=Deleted Objects`. */
export const SHOW_DELETED_OID = "1.2.840.113556.1.4.417";

/** RFC 2696 simple paged results control. */
export const PAGED_RESULTS_OID = "1.2.840.113556.1.4.319";

/**
 * Values of a multi-valued attribute asked for per read in AD mode (`member;range=0-1499`, then
 * `member;range=1500-*` …): AD's default MaxValRange. A server with a smaller limit answers with
 * a shorter range, which is followed the same way.
 */
export const AD_RANGE_STEP = 1500;

/**
 * How many pages in a row may come back empty with a continuation cookie (AD does this when a
 * page's time budget runs out before a match) before the search is given up as incomplete.
 */
export const MAX_EMPTY_PAGES = 10_000;

/**
 * How far before the `since` times an incremental read looks for changed entries, to absorb
 * clock differences between roster's host and the directory server (5 minutes).
 */
export const INCREMENTAL_SKEW_MS = 5 * 60_000;

/** Keys of the provider state this provider stores between runs. */
export const LDAP_STATE_KEYS = {
  users: "ldap.usersDigest",
  groups: "ldap.groupsDigest",
  settings: "ldap.settings",
} as const;

type TlsMode = "plain" | "starttls" | "ldaps";

interface Connection {
  url: string;
  host: string;
  port: number;
  mode: TlsMode;
  tls: ConnectionOptions | undefined;
  /** The CA setting to name in errors for this mode. */
  caSetting: string;
  username: string;
  password: string;
  timeoutMs: number;
  connectTimeoutMs: number;
  timeLimit: number;
}

interface ReadPlan {
  connection: Connection;
  settings: LdapMappingSettings;
  /** One string per DN or uid across the read (see `RefPool`). */
  pool: RefPool;
  rootPath: string;
  paged: boolean;
  pageSize: number;
  notices: DirectoryPage[];
}

interface SearchSpec {
  /** What is read, in words: `users`, `groups`, `deleted users`. */
  what: string;
  base: string;
  /** The setting that chose the base, for errors. */
  baseSetting: string;
  filter: string;
  attributes: string[];
  controls?: Control[];
}

/** Creates the `ldap` provider. */
export function createLdapProvider(context: ProviderContext): DirectoryProvider {
  return {
    name: "ldap",
    read: (options) => readDirectory(context, options),
  };
}

// ---------------------------------------------------------------------------------------------
// Settings

async function readFileSetting(setting: string, path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "the file does not exist"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : errorMessage(error);
    throw new ConfigError(`Cannot read ${setting}: ${path}: ${reason}`, {
      hint: `Set ${setting} to a readable PEM file, or unset it`,
      cause: error,
      details: { setting, path },
    });
  }
}

async function plan(context: ProviderContext): Promise<ReadPlan> {
  const ldap = context.config.directory.ldap;
  const sync = context.config.sync;
  const notices: DirectoryPage[] = [];
  const missing = (key: string, hint: string) =>
    new ConfigError(`LDAP setting missing: ${key}`, { hint, details: { setting: key } });

  const host = ldap.hostname?.trim();
  if (!host) {
    throw missing(
      "directory.ldap.hostname",
      "Set directory.ldap.hostname to the server's host name, e.g. ldap.example.com",
    );
  }
  if (host.includes("://") || host.includes("/")) {
    throw new ConfigError(`Invalid directory.ldap.hostname: ${host}`, {
      hint: "Give a host name or IP address only; the scheme comes from directory.ldap.ssl " +
        "and startTls, the port from directory.ldap.port",
      details: { setting: "directory.ldap.hostname" },
    });
  }
  const rootPath = ldap.rootPath?.trim();
  if (!rootPath) {
    throw missing(
      "directory.ldap.rootPath",
      "Set directory.ldap.rootPath to the base DN, e.g. dc=example,dc=com",
    );
  }
  const username = ldap.username?.trim();
  if (!username) {
    throw missing(
      "directory.ldap.username",
      "Set directory.ldap.username to the bind DN (AD: also user@domain)",
    );
  }
  const password = await context.secret(LDAP_PASSWORD_KEY);
  if (password === undefined || password === "") {
    throw missing(
      LDAP_PASSWORD_KEY,
      `Store the bind password as a secret: roster config set ${LDAP_PASSWORD_KEY} ` +
        "--secret-env VAR (or --secret-file FILE, or stdin)",
    );
  }
  if (sync.userFilter !== undefined) validateLdapFilter(sync.userFilter, "sync.userFilter");
  if (sync.groupFilter !== undefined) validateLdapFilter(sync.groupFilter, "sync.groupFilter");

  const mode: TlsMode = ldap.startTls ? "starttls" : ldap.ssl ? "ldaps" : "plain";
  const caSetting = mode === "ldaps"
    ? "directory.ldap.sslCaPath"
    : mode === "starttls"
    ? "directory.ldap.tlsCaPath"
    : "directory.ldap.sslCaPath";
  let tls: ConnectionOptions | undefined;
  if (mode === "plain") {
    const unused = (["sslCaPath", "tlsCaPath", "sslCertPath", "sslKeyPath"] as const)
      .filter((k) => ldap[k] !== undefined);
    if (unused.length > 0) {
      notices.push({
        kind: "notice",
        level: "warn",
        message: `TLS settings ignored: ${
          unused.map((k) => `directory.ldap.${k}`).join(", ")
        } (directory.ldap.ssl and startTls are off, so the connection is plain LDAP)`,
      });
    }
  } else {
    const cas: string[] = [];
    const caKeys = mode === "ldaps"
      ? (["sslCaPath", "tlsCaPath"] as const)
      : (["tlsCaPath", "sslCaPath"] as const);
    for (const key of caKeys) {
      const path = ldap[key];
      if (path !== undefined) cas.push(await readFileSetting(`directory.ldap.${key}`, path));
    }
    tls = { rejectUnauthorized: !ldap.sslAllowUnauthorized };
    if (cas.length > 0) tls.ca = cas;
    if ((ldap.sslCertPath === undefined) !== (ldap.sslKeyPath === undefined)) {
      const given = ldap.sslCertPath !== undefined ? "sslCertPath" : "sslKeyPath";
      const other = given === "sslCertPath" ? "sslKeyPath" : "sslCertPath";
      throw new ConfigError(
        `Client certificate incomplete: directory.ldap.${given} is set without ` +
          `directory.ldap.${other}`,
        {
          hint: `Set directory.ldap.${other} too, or unset directory.ldap.${given}`,
          details: { setting: `directory.ldap.${other}` },
        },
      );
    }
    if (ldap.sslCertPath !== undefined && ldap.sslKeyPath !== undefined) {
      tls.cert = await readFileSetting("directory.ldap.sslCertPath", ldap.sslCertPath);
      tls.key = await readFileSetting("directory.ldap.sslKeyPath", ldap.sslKeyPath);
    }
    if (isIP(host) === 0) tls.servername = host;
    if (mode === "starttls") tls.host = host;
    if (ldap.sslAllowUnauthorized) {
      context.log(
        "warn",
        "directory.ldap.sslAllowUnauthorized is on: the LDAP server's certificate is not " +
          "verified, so the connection can be intercepted",
      );
    }
  }
  const urlHost = host.includes(":") ? `[${host}]` : host;
  return {
    connection: {
      url: `${mode === "ldaps" ? "ldaps" : "ldap"}://${urlHost}:${ldap.port}`,
      host,
      port: ldap.port,
      mode,
      tls,
      caSetting,
      username,
      password,
      timeoutMs: ldap.timeout * 1000,
      connectTimeoutMs: ldap.connectTimeout * 1000,
      timeLimit: ldap.timeout,
    },
    settings: ldapMappingSettings(sync, { ad: ldap.ad }),
    pool: new RefPool(),
    rootPath,
    paged: ldap.pagedSearch,
    pageSize: ldap.pageSize,
    notices,
  };
}

// ---------------------------------------------------------------------------------------------
// Errors

const AD_BIND_REASONS: Record<string, string> = {
  "525": "user not found",
  "52e": "invalid credentials",
  "530": "logon not permitted at this time",
  "531": "logon not permitted at this workstation",
  "532": "password expired",
  "533": "account disabled",
  "701": "account expired",
  "773": "password must be reset",
  "775": "account locked out",
};

function codeOf(error: unknown): unknown {
  return error instanceof Error && "code" in error ? error.code : undefined;
}

function ldapResultCode(error: unknown): number | undefined {
  const code = codeOf(error);
  return typeof code === "number" && error instanceof Error && error.name.endsWith("Error")
    ? code
    : undefined;
}

function errorCode(error: unknown): string | undefined {
  const code = codeOf(error);
  return typeof code === "string" ? code : undefined;
}

/** The server's diagnostic text of an ldapts result error, without ldapts' ` Code: 0x..`. */
function diagnostic(error: unknown): string {
  return errorMessage(error).replace(/\s*Code: 0x[0-9a-f]+$/i, "").trim();
}

const UNTRUSTED_CODES = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
]);

const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "EADDRNOTAVAIL",
]);

function connectError(error: unknown, c: Connection, stage: string): RosterError {
  if (error instanceof RosterError) return error;
  const where = `${c.host}:${c.port}`;
  const code = errorCode(error);
  const message = errorMessage(error);
  const details = { host: c.host, port: c.port, tls: c.mode, stage };
  const resultCode = ldapResultCode(error);
  if (resultCode === 49) {
    const data = /data ([0-9a-f]{3})/i.exec(message)?.[1]?.toLowerCase();
    const reason = data !== undefined && AD_BIND_REASONS[data] !== undefined
      ? AD_BIND_REASONS[data]
      : "invalid credentials";
    return new DirectoryError(`LDAP bind failed for ${c.username}: ${reason}`, {
      code: "ldap_bind_failed",
      hint: `Check directory.ldap.username (a DN, or user@domain for AD) and the secret ` +
        `${LDAP_PASSWORD_KEY} (roster config set ${LDAP_PASSWORD_KEY} --secret-env VAR)`,
      cause: error,
      details: { ...details, resultCode, setting: "directory.ldap.username" },
    });
  }
  if (resultCode === 8 || resultCode === 13) {
    return new DirectoryError(
      `LDAP server ${where} refused the bind: it requires an encrypted connection`,
      {
        code: "ldap_tls_required",
        hint: "Turn on directory.ldap.startTls (StartTLS on this port) or directory.ldap.ssl " +
          "(LDAPS, usually port 636)",
        cause: error,
        details: { ...details, resultCode },
      },
    );
  }
  if (stage === "starttls" && resultCode !== undefined) {
    return new DirectoryError(
      `StartTLS failed on ${where}: the server refused it (${diagnostic(error) || resultCode})`,
      {
        code: "ldap_starttls_refused",
        hint: "Enable TLS on the server, or use LDAPS: set directory.ldap.ssl and unset " +
          "directory.ldap.startTls (port usually 636). roster never falls back to plaintext",
        cause: error,
        details: { ...details, resultCode },
      },
    );
  }
  if (
    code === "ERR_TLS_CERT_ALTNAME_INVALID" || /altname|NotValidForName/i.test(message)
  ) {
    return new DirectoryError(
      `TLS certificate of ${where} does not match the host name ${c.host}: ${message}`,
      {
        code: "ldap_tls_name_mismatch",
        hint: "Set directory.ldap.hostname to a name the certificate lists (its subject " +
          "alternative names), or fix the server certificate; directory.ldap.sslAllowUnauthorized " +
          "turns verification off (testing only)",
        cause: error,
        details,
      },
    );
  }
  if (
    (code !== undefined && UNTRUSTED_CODES.has(code)) ||
    /self.signed|unknown.?issuer|issuer certificate|verify the first certificate/i.test(message)
  ) {
    return new DirectoryError(`TLS certificate of ${where} is not trusted: ${message}`, {
      code: "ldap_tls_untrusted",
      hint: `Set ${c.caSetting} to the PEM file of the CA that signed the server certificate ` +
        "(directory.ldap.sslCaPath and tlsCaPath are both accepted); " +
        "directory.ldap.sslAllowUnauthorized turns verification off (testing only)",
      cause: error,
      details: { ...details, setting: c.caSetting },
    });
  }
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") {
    return new DirectoryError(`TLS certificate of ${where} is not valid now: ${message}`, {
      code: "ldap_tls_untrusted",
      hint: "Renew the server certificate; directory.ldap.sslAllowUnauthorized turns " +
        "verification off (testing only)",
      cause: error,
      details,
    });
  }
  if (
    (code !== undefined && UNREACHABLE_CODES.has(code)) || /Connection timeout/i.test(message)
  ) {
    const reason = code === "ECONNREFUSED"
      ? "connection refused"
      : code === "ENOTFOUND" || code === "EAI_AGAIN"
      ? "host name not found"
      : /timeout/i.test(message) || code === "ETIMEDOUT"
      ? `no answer within ${c.connectTimeoutMs / 1000} s`
      : message;
    return new DirectoryError(`Cannot connect to LDAP server ${where}: ${reason}`, {
      code: "ldap_unreachable",
      hint: "Check directory.ldap.hostname and directory.ldap.port, and that this host may " +
        "reach the server (firewall); directory.ldap.connectTimeout sets the wait",
      cause: error,
      details: { ...details, setting: "directory.ldap.hostname" },
    });
  }
  if (c.mode !== "plain" && (code === "ECONNRESET" || /TLS|SSL|secure/i.test(message))) {
    return new DirectoryError(`TLS handshake with ${where} failed: ${message}`, {
      code: "ldap_tls_handshake",
      hint: c.mode === "ldaps"
        ? `Is ${c.port} an LDAPS port (usually 636)? For StartTLS on the plain port, set ` +
          "directory.ldap.startTls instead of ssl"
        : "Check that the server offers StartTLS on this port",
      cause: error,
      details,
    });
  }
  if (/Connection closed|Operation timed out|Socket error/i.test(message)) {
    return new DirectoryError(`LDAP server ${where} closed the connection during ${stage}`, {
      code: "ldap_connection_lost",
      hint: c.mode === "plain"
        ? "Is this an LDAPS port? Set directory.ldap.ssl for ldaps://, or check the port"
        : "Check directory.ldap.port and the server's logs",
      cause: error,
      details,
    });
  }
  return new DirectoryError(`LDAP ${stage} with ${where} failed: ${message}`, {
    code: "ldap_failed",
    hint: "Check the directory.ldap settings and the server's logs",
    cause: error,
    details: { ...details, ...(resultCode === undefined ? {} : { resultCode }) },
  });
}

function searchError(
  error: unknown,
  spec: SearchSpec,
  read: number,
  plan: ReadPlan,
): RosterError {
  if (error instanceof RosterError) return error;
  const resultCode = ldapResultCode(error);
  const message = errorMessage(error);
  const details = {
    search: spec.what,
    base: spec.base,
    filter: spec.filter,
    entriesRead: read,
    paged: plan.paged,
    ...(resultCode === undefined ? {} : { resultCode }),
  };
  const head = `LDAP ${spec.what} search under ${spec.base || "the root DSE"} was incomplete`;
  const after = `after ${read} entries`;
  if (resultCode === 32) {
    return new DirectoryError(`LDAP ${spec.what} search base does not exist: ${spec.base}`, {
      code: "ldap_base_not_found",
      hint: `Check directory.ldap.rootPath and ${spec.baseSetting}`,
      cause: error,
      details: { ...details, setting: spec.baseSetting },
    });
  }
  if (resultCode === 4) {
    return new SourceIncompleteError(`${head}: size limit exceeded ${after}`, {
      hint: plan.paged
        ? `The server limits paged searches too: raise its size limit for ` +
          `${plan.connection.username} (OpenLDAP size.prtotal, AD MaxResultSetSize)`
        : "Turn on directory.ldap.pagedSearch (RFC 2696 paging), or raise the server's size " +
          `limit for ${plan.connection.username}`,
      cause: error,
      details,
    });
  }
  if (resultCode === 3 || /Operation timed out/i.test(message)) {
    return new SourceIncompleteError(`${head}: time limit exceeded ${after}`, {
      hint: "Raise directory.ldap.timeout (seconds) or the server's time limit, or narrow the " +
        "search with sync.userPath/groupPath and filters",
      cause: error,
      details,
    });
  }
  if (resultCode === 11) {
    return new SourceIncompleteError(`${head}: administrative limit exceeded ${after}`, {
      hint: "Lower directory.ldap.pageSize (AD MaxPageSize is 1000), or raise the server's " +
        "limits for the bind account",
      cause: error,
      details,
    });
  }
  if (/Connection closed|Socket error|ECONNRESET|EPIPE/i.test(message)) {
    return new SourceIncompleteError(`${head}: the connection was lost ${after}`, {
      hint: "Check the server and the network, then run again; nothing was sent",
      cause: error,
      details,
    });
  }
  return new SourceIncompleteError(`${head}: ${diagnostic(error) || message} ${after}`, {
    hint: "Check the server's logs and the bind account's rights, then run again",
    cause: error,
    details,
  });
}

// ---------------------------------------------------------------------------------------------
// Connections

class Session {
  readonly #clients = new Set<Client>();
  readonly #plan: ReadPlan;
  #closed = false;
  /** Rejects when the session is closed, so that connects in flight give up (ldapts would hang). */
  readonly #closing: Promise<never>;
  #markClosed: (reason: Error) => void = () => {};

  constructor(plan: ReadPlan) {
    this.#plan = plan;
    this.#closing = new Promise<never>((_, reject) => {
      this.#markClosed = reject;
    });
    this.#closing.catch(() => {});
  }

  /** Connects, upgrades with StartTLS when configured, and binds. */
  async open(): Promise<Client> {
    if (this.#closed) throw new Error("LDAP session already closed");
    const c = this.#plan.connection;
    const client = new Client({
      url: c.url,
      timeout: c.timeoutMs,
      connectTimeout: c.connectTimeoutMs,
      strictDN: false,
      ...(c.mode === "ldaps" && c.tls !== undefined ? { tlsOptions: c.tls } : {}),
    });
    this.#clients.add(client);
    let stage = "connect";
    try {
      if (c.mode === "starttls") {
        stage = "starttls";
        await Promise.race([client.startTLS({ ...c.tls }), this.#closing]);
      }
      stage = "bind";
      await Promise.race([client.bind(c.username, c.password), this.#closing]);
      return client;
    } catch (error) {
      await this.close(client);
      throw connectError(error, c, stage);
    }
  }

  async close(client: Client): Promise<void> {
    this.#clients.delete(client);
    try {
      await client.unbind();
    } catch {
      // The connection is being thrown away.
    }
  }

  async closeAll(): Promise<void> {
    if (!this.#closed) this.#markClosed(new Error("LDAP session closed"));
    this.#closed = true;
    await Promise.all([...this.#clients].map((client) => this.close(client)));
  }
}

function toLdapEntry(raw: Entry): LdapEntry {
  const attributes = new Map<string, (string | Uint8Array)[]>();
  for (const [key, value] of Object.entries(raw)) {
    if (key === "dn") continue;
    const list: (string | Uint8Array)[] = Array.isArray(value) ? value : [value];
    const name = key.toLowerCase();
    const existing = attributes.get(name);
    if (existing) existing.push(...list);
    else attributes.set(name, list);
  }
  return { dn: raw.dn, attributes };
}

const BUFFER_ATTRIBUTES = ["objectGUID", "objectguid", "OBJECTGUID", "objectSid"];

/**
 * The RFC 2696 paged-results request control, written by roster instead of ldapts'
 * `searchPaginated`: that one stops as soon as a page comes back with no entries, even when the
 * server sent a cookie to continue (AD does), which would silently cut the read short.
 */
class PageRequestControl extends Control {
  readonly #size: number;
  readonly #cookie: Uint8Array;

  constructor(size: number, cookie: Uint8Array) {
    super(PAGED_RESULTS_OID);
    this.#size = size;
    this.#cookie = cookie;
  }

  protected override writeControl(writer: BerWriter): void {
    const value = new BerWriter();
    value.startSequence();
    value.writeInt(this.#size);
    if (this.#cookie.length > 0) value.writeBuffer(Buffer.from(this.#cookie), Ber.OctetString);
    else value.writeString("");
    value.endSequence();
    writer.writeBuffer(value.buffer, Ber.OctetString);
  }
}

/** What the last search response on one connection said about paging. */
interface PageTap {
  /** A search response arrived since the last reset. */
  seen: boolean;
  /** Its paged-results cookie: empty at the end, undefined when it had no paged control. */
  cookie: Uint8Array | undefined;
}

const pageTaps = new WeakMap<Client, PageTap>();

/**
 * Listens to the search responses of one connection for their paged-results cookie, which
 * ldapts' `search()` does not return. ldapts (pinned in deno.json) parses every response with
 * its `MessageParser`; this adds a listener after its own, so the cookie is recorded before the
 * `search()` promise continues. Throws when ldapts no longer has that parser (a version change
 * that the tests catch), so a read is never cut short silently.
 */
function pageTap(client: Client): PageTap {
  const existing = pageTaps.get(client);
  if (existing !== undefined) return existing;
  const parser: unknown = Reflect.get(client, "messageParser");
  if (!(parser instanceof MessageParser)) {
    throw new Error(
      "ldapts has no messageParser: paged LDAP searches cannot read the server's cookie",
    );
  }
  const tap: PageTap = { seen: false, cookie: undefined };
  parser.on("message", (message) => {
    if (!(message instanceof SearchResponse)) return;
    const control = message.controls?.find((c) => c instanceof PagedResultsControl);
    tap.seen = true;
    tap.cookie = control instanceof PagedResultsControl
      ? new Uint8Array(control.value?.cookie ?? [])
      : undefined;
  });
  pageTaps.set(client, tap);
  return tap;
}

function resetTap(tap: PageTap): void {
  tap.seen = false;
  tap.cookie = undefined;
}

/**
 * Runs one search and yields its entries page by page. Paged searches (RFC 2696) send one
 * request per page and follow the server's cookie until it is empty, also through pages that
 * come back empty; unpaged ones come back whole and are split into pages of `pageSize`. Only
 * non-empty pages are yielded. One search at a time per connection.
 */
async function* search(
  client: Client,
  spec: SearchSpec,
  plan: ReadPlan,
  referrals: string[],
): AsyncGenerator<Entry[]> {
  const options = {
    scope: "sub" as const,
    filter: spec.filter,
    attributes: spec.attributes,
    explicitBufferAttributes: BUFFER_ATTRIBUTES,
    timeLimit: plan.connection.timeLimit,
  };
  let read = 0;
  let pages = 0;
  try {
    if (plan.paged) {
      const tap = pageTap(client);
      let cookie: Uint8Array = new Uint8Array(0);
      let emptyInARow = 0;
      for (;;) {
        resetTap(tap);
        const controls = [...spec.controls ?? [], new PageRequestControl(plan.pageSize, cookie)];
        const result = await client.search(spec.base, options, controls);
        pages++;
        if (!tap.seen) throw new Error("no search response was seen for a paged search");
        const next = tap.cookie;
        read += result.searchEntries.length;
        referrals.push(...result.searchReferences);
        if (result.searchEntries.length > 0) yield result.searchEntries;
        // No control: the server did not page and sent everything; an empty cookie: the end.
        if (next === undefined || next.length === 0) break;
        if (result.searchEntries.length === 0 && result.searchReferences.length === 0) {
          if (++emptyInARow >= MAX_EMPTY_PAGES) {
            throw new SourceIncompleteError(
              `LDAP ${spec.what} search under ${spec.base} was incomplete: the server sent ` +
                `${emptyInARow} empty pages in a row, each with a cookie to continue, after ` +
                `${read} entries`,
              {
                hint: "Check the server's logs; narrow the search with sync.userPath/groupPath " +
                  "and filters, or raise directory.ldap.pageSize",
                details: { search: spec.what, base: spec.base, entriesRead: read, pages },
              },
            );
          }
        } else {
          emptyInARow = 0;
        }
        cookie = next;
      }
    } else {
      const result = await client.search(spec.base, options, spec.controls);
      referrals.push(...result.searchReferences);
      const all = result.searchEntries;
      for (let i = 0; i < all.length; i += plan.pageSize) {
        const page = all.slice(i, i + plan.pageSize);
        read += page.length;
        yield page;
      }
    }
  } catch (error) {
    throw searchError(error, spec, read, plan);
  }
}

// ---------------------------------------------------------------------------------------------
// Digests (for incremental reads)

function fnv(text: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** An order-independent digest of a set of DNs: count and two 32-bit hash sums. */
class DnDigest {
  #count = 0;
  #a = 0;
  #b = 0;

  /** Adds a DN as the directory gave it. */
  add(dn: string): void {
    let key: string;
    try {
      key = normalizeDn(dn);
    } catch {
      key = dn.toLowerCase();
    }
    this.addNormalized(key);
  }

  /** Adds a DN already in {@link normalizeDn} form (saves parsing it twice). */
  addNormalized(key: string): void {
    this.#count++;
    this.#a = (this.#a + fnv(key, 0x811c9dc5)) >>> 0;
    this.#b = (this.#b + fnv(key, 0x2f1a7c35)) >>> 0;
  }

  toString(): string {
    return `${this.#count}:${this.#a.toString(16)}:${this.#b.toString(16)}`;
  }
}

function settingsFingerprint(plan: ReadPlan): string {
  const s = plan.settings;
  return String(
    fnv(
      JSON.stringify([
        plan.rootPath,
        plan.connection.host,
        plan.connection.port,
        s.ad,
        s.userObjectClass,
        s.groupObjectClass,
        s.userEmailAttribute,
        s.groupNameAttribute,
        s.memberAttribute,
        s.useEmailPrefixSuffix,
        s.emailPrefixAttribute ?? null,
        s.emailSuffix ?? null,
        s.userPath ?? null,
        s.groupPath ?? null,
        s.userFilter ?? null,
        s.groupFilter ?? null,
      ]),
      0x811c9dc5,
    ),
  );
}

/** `YYYYMMDDHHMMSSZ` (UTC, whole seconds), the generalized time both OpenLDAP and AD accept. */
export function generalizedTime(date: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(date.getUTCFullYear(), 4)}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}` +
    `${p(date.getUTCHours())}${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}Z`;
}

// ---------------------------------------------------------------------------------------------
// Streams

/** Merges async iterators, yielding whichever produces first; at most one pending item each. */
async function* merge<T>(sources: AsyncIterator<T>[]): AsyncGenerator<T> {
  const pending = new Map<number, Promise<{ index: number; step: IteratorResult<T> }>>();
  const pull = (index: number) => {
    const source = sources[index];
    if (source === undefined) return;
    pending.set(index, source.next().then((step) => ({ index, step })));
  };
  sources.forEach((_, index) => pull(index));
  try {
    while (pending.size > 0) {
      const { index, step } = await Promise.race(pending.values());
      pending.delete(index);
      if (step.done) continue;
      pull(index);
      yield step.value;
    }
  } finally {
    for (const promise of pending.values()) promise.catch(() => {});
  }
}

interface StreamContext {
  session: Session;
  plan: ReadPlan;
  referrals: string[];
  full: boolean;
  usersDigest: DnDigest;
  groupsDigest: DnDigest;
}

async function* userPages(ctx: StreamContext): AsyncGenerator<DirectoryPage> {
  const { plan, session } = ctx;
  const s = plan.settings;
  const client = await session.open();
  const spec: SearchSpec = {
    what: "users",
    base: searchBase(plan.rootPath, s.userPath),
    baseSetting: "sync.userPath",
    filter: userSearchFilter(s),
    attributes: userAttributes(s),
  };
  for await (const page of search(client, spec, plan, ctx.referrals)) {
    const users: DirectoryUser[] = [];
    for (const raw of page) {
      const user = entryToUser(toLdapEntry(raw), s, { pool: plan.pool });
      const key = user.refs?.[0];
      if (key === undefined) ctx.usersDigest.add(raw.dn);
      else ctx.usersDigest.addNormalized(key);
      users.push(user);
    }
    yield { kind: "users", users };
  }
  if (s.ad && ctx.full) yield* deletedUserPages(client, ctx);
  await session.close(client);
}

/** AD tombstones under `CN=Deleted Objects,<domain root>`; any failure is a warning notice. */
async function* deletedUserPages(
  client: Client,
  ctx: StreamContext,
): AsyncGenerator<DirectoryPage> {
  const { plan } = ctx;
  const s = plan.settings;
  // The domain of the user search base (its trailing DC= components): rootPath may stop above
  // the domain (DC=example,DC=com with userPath DC=corp) or go below it (an OU).
  const userBase = searchBase(plan.rootPath, s.userPath);
  const root = /(?:^|,)\s*(dc=.*)$/i.exec(userBase)?.[1] ?? plan.rootPath;
  const spec: SearchSpec = {
    what: "deleted users",
    base: `CN=Deleted Objects,${root}`,
    baseSetting: "directory.ldap.rootPath",
    // The object class only, not sync.userFilter (as the seed tool, and the file provider):
    // AD strips most attributes (mail, memberOf, …) from tombstones, so a filter on them would
    // hide every deletion. A tombstone of someone roster never synced removes nobody: the
    // server matches removals by externalId (objectGUID).
    filter: `(&${userSearchFilter({ ...s, userFilter: undefined })}(isDeleted=TRUE))`,
    attributes: userAttributes(s),
    controls: [new Control(SHOW_DELETED_OID, { critical: true })],
  };
  let count = 0;
  try {
    for await (const page of search(client, spec, plan, [])) {
      const users = page.map((raw) =>
        entryToUser(toLdapEntry(raw), s, { deleted: true, pool: plan.pool })
      );
      count += users.length;
      yield { kind: "users", users };
    }
  } catch (error) {
    yield {
      kind: "notice",
      level: "warn",
      message: `Cannot query deleted users in ${spec.base}: ${errorMessage(error)}; ` +
        (count > 0 ? `only ${count} were read, so ` : "") +
        "members deleted from Active Directory are not removed in this run (the bind " +
        "account needs the right to list Deleted Objects)",
    };
  }
}

async function* groupPages(ctx: StreamContext): AsyncGenerator<DirectoryPage> {
  const { plan, session } = ctx;
  const s = plan.settings;
  const client = await session.open();
  let rangeClient: Client | undefined;
  const openRangeClient = async () => rangeClient ??= await session.open();
  const spec: SearchSpec = {
    what: "groups",
    base: searchBase(plan.rootPath, s.groupPath),
    baseSetting: "sync.groupPath",
    filter: groupSearchFilter(s),
    attributes: requestedGroupAttributes(s),
  };
  try {
    for await (const page of search(client, spec, plan, ctx.referrals)) {
      const groups: DirectoryGroup[] = [];
      const skipped: SkippedEntry[] = [];
      for (const raw of page) {
        let entry = toLdapEntry(raw);
        if (s.ad || rangedKey(entry, s.memberAttribute) !== undefined) {
          entry = await completeRanges(entry, s.memberAttribute, plan, openRangeClient);
        }
        const mapped = entryToGroup(entry, s, { pool: plan.pool });
        const key = "memberRefs" in mapped ? mapped.refs?.[0] : undefined;
        if (key === undefined) ctx.groupsDigest.add(raw.dn);
        else ctx.groupsDigest.addNormalized(key);
        if ("memberRefs" in mapped) groups.push(mapped);
        else skipped.push(mapped);
      }
      yield { kind: "groups", groups };
      if (skipped.length > 0) yield { kind: "skipped", entries: skipped };
    }
  } finally {
    if (rangeClient !== undefined) await session.close(rangeClient);
  }
  await session.close(client);
}

/**
 * The attributes of the group search. In AD mode the member attribute is asked for as a range
 * (`member;range=0-1499`): AD answers a big group that way anyway, and Samba, which otherwise
 * sends every value at once, then pages values like AD, so the same code path runs on both.
 */
function requestedGroupAttributes(s: LdapMappingSettings): string[] {
  const want = s.memberAttribute.toLowerCase();
  return groupAttributes(s).map((a) =>
    s.ad && a.toLowerCase() === want ? `${a};range=0-${AD_RANGE_STEP - 1}` : a
  );
}

const RANGE = /^(.+);range=(\d+)-(\d+|\*)$/;

/**
 * The first ranged key of `attribute` that holds values (ldapts adds requested attributes the
 * server did not send as empty lists, e.g. `member;range=0-1499` for an empty group).
 */
function rangedKey(entry: LdapEntry, attribute: string): string | undefined {
  const want = attribute.toLowerCase();
  for (const [key, list] of entry.attributes) {
    const m = RANGE.exec(key);
    if (m !== null && m[1] === want && list.length > 0) return key;
  }
  return undefined;
}

/**
 * Collects every value of a ranged attribute under its plain name. AD returns at most
 * MaxValRange (1,500) values per read (`member;range=0-1499`); this fetches the rest
 * (`member;range=1500-*`, …) on a connection from `open`, opened only when needed. A range
 * ending in `*` is the last; so is an answer without the attribute (Samba omits it when the
 * previous range ended exactly at the last value). A group that vanishes midway throws
 * {@link SourceIncompleteError}.
 */
async function completeRanges(
  entry: LdapEntry,
  attribute: string,
  plan: ReadPlan,
  open: () => Promise<Client>,
): Promise<LdapEntry> {
  const want = attribute.toLowerCase();
  const attributes = new Map<string, readonly (string | Uint8Array)[]>();
  const values: (string | Uint8Array)[] = [...(entry.attributes.get(want) ?? [])];
  for (const [key, list] of entry.attributes) {
    const m = RANGE.exec(key);
    if (m === null || m[1] !== want) attributes.set(key, list);
  }
  let key = rangedKey(entry, attribute);
  let part: LdapEntry = entry;
  let guard = 0;
  while (key !== undefined) {
    const m = RANGE.exec(key);
    values.push(...(part.attributes.get(key) ?? []));
    if (m === null || m[3] === "*") break;
    if (++guard > 100_000) break;
    const next = Number(m[3]) + 1;
    const spec: SearchSpec = {
      what: `${attribute} values of group ${entry.dn}`,
      base: entry.dn,
      baseSetting: "sync.groupPath",
      filter: "(objectClass=*)",
      // Samba returns no entry at all when only a ranged attribute is asked for.
      attributes: ["objectClass", `${attribute};range=${next}-*`],
    };
    let result;
    try {
      const client = await open();
      result = await client.search(entry.dn, {
        scope: "base",
        filter: spec.filter,
        attributes: spec.attributes,
        timeLimit: plan.connection.timeLimit,
      });
    } catch (error) {
      throw searchError(error, spec, values.length, plan);
    }
    const fetched = result.searchEntries[0];
    if (fetched === undefined) {
      throw new SourceIncompleteError(
        `LDAP ranged read of ${attribute} of group ${entry.dn} was incomplete: the group ` +
          `vanished after ${values.length} values`,
        { hint: "Run again", details: { group: entry.dn, valuesRead: values.length } },
      );
    }
    part = toLdapEntry(fetched);
    key = rangedKey(part, attribute);
  }
  attributes.set(want, values);
  return { dn: entry.dn, attributes };
}

// ---------------------------------------------------------------------------------------------
// Incremental check

interface ChangeCheck {
  changed: boolean;
  reason: string;
}

async function scanDigest(client: Client, spec: SearchSpec, plan: ReadPlan): Promise<string> {
  const digest = new DnDigest();
  for await (const page of search(client, { ...spec, attributes: ["1.1"] }, plan, [])) {
    for (const raw of page) digest.add(raw.dn);
  }
  return digest.toString();
}

async function anyChangedSince(
  client: Client,
  spec: SearchSpec,
  attribute: string,
  since: Date,
  plan: ReadPlan,
): Promise<boolean> {
  const time = generalizedTime(new Date(since.getTime() - INCREMENTAL_SKEW_MS));
  const probe: SearchSpec = {
    ...spec,
    what: `changed ${spec.what}`,
    filter: `(&${spec.filter}(${attribute}>=${time}))`,
    attributes: ["1.1"],
  };
  try {
    const result = await client.search(probe.base, {
      scope: "sub",
      filter: probe.filter,
      attributes: probe.attributes,
      sizeLimit: 1,
      timeLimit: plan.connection.timeLimit,
    });
    return result.searchEntries.length > 0;
  } catch (error) {
    throw searchError(error, probe, 0, plan);
  }
}

async function checkChanges(
  session: Session,
  plan: ReadPlan,
  options: ReadOptions,
): Promise<ChangeCheck> {
  const s = plan.settings;
  const state = options.state ?? {};
  const attribute = s.revisionDateAttribute;
  if (attribute === undefined) {
    return { changed: true, reason: "no sync.revisionDateAttribute is set" };
  }
  if (state[LDAP_STATE_KEYS.settings] !== settingsFingerprint(plan)) {
    return { changed: true, reason: "no state from an earlier read with these settings" };
  }
  const sides: { side: "users" | "groups"; spec: SearchSpec; since: Date | undefined }[] = [];
  if (options.users) {
    sides.push({
      side: "users",
      since: options.since?.users,
      spec: {
        what: "users",
        base: searchBase(plan.rootPath, s.userPath),
        baseSetting: "sync.userPath",
        filter: userSearchFilter(s),
        attributes: ["1.1"],
      },
    });
  }
  if (options.groups) {
    sides.push({
      side: "groups",
      since: options.since?.groups,
      spec: {
        what: "groups",
        base: searchBase(plan.rootPath, s.groupPath),
        baseSetting: "sync.groupPath",
        filter: groupSearchFilter(s),
        attributes: ["1.1"],
      },
    });
  }
  for (const { side, since } of sides) {
    if (since === undefined) return { changed: true, reason: `no last ${side} sync time` };
    if (state[LDAP_STATE_KEYS[side]] === undefined) {
      return { changed: true, reason: `no ${side} digest from an earlier read` };
    }
  }
  const client = await session.open();
  try {
    for (const { side, spec, since } of sides) {
      if (since === undefined) continue;
      if (await anyChangedSince(client, spec, attribute, since, plan)) {
        return {
          changed: true,
          reason: `${side} changed since ${since.toISOString()} (${attribute})`,
        };
      }
    }
    for (const { side, spec } of sides) {
      if (await scanDigest(client, spec, plan) !== state[LDAP_STATE_KEYS[side]]) {
        return { changed: true, reason: `${side} were added, renamed or removed` };
      }
    }
    return { changed: false, reason: "no changes" };
  } finally {
    await session.close(client);
  }
}

// ---------------------------------------------------------------------------------------------
// The read

async function* readDirectory(
  context: ProviderContext,
  options: ReadOptions,
): AsyncGenerator<DirectoryPage> {
  const readPlan = await plan(context);
  yield* readPlan.notices;
  const session = new Session(readPlan);
  const onAbort = () => void session.closeAll();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const rethrow = (error: unknown): never => {
    if (options.signal?.aborted) throw options.signal.reason;
    throw error;
  };
  try {
    options.signal?.throwIfAborted();
    const fingerprint = settingsFingerprint(readPlan);
    if (options.mode === "incremental") {
      let check: ChangeCheck;
      try {
        check = await checkChanges(session, readPlan, options);
      } catch (error) {
        return rethrow(error);
      }
      if (!check.changed) {
        yield {
          kind: "notice",
          level: "info",
          message: "LDAP: no users or groups changed since the last sync",
        };
        const state: Record<string, string> = { [LDAP_STATE_KEYS.settings]: fingerprint };
        for (const side of ["users", "groups"] as const) {
          const value = options.state?.[LDAP_STATE_KEYS[side]];
          if (options[side] && value !== undefined) state[LDAP_STATE_KEYS[side]] = value;
        }
        yield { kind: "done", incremental: true, state };
        return;
      }
      yield {
        kind: "notice",
        level: "info",
        message: `LDAP: reading the whole directory (${check.reason})`,
      };
    }
    const ctx: StreamContext = {
      session,
      plan: readPlan,
      referrals: [],
      full: true,
      usersDigest: new DnDigest(),
      groupsDigest: new DnDigest(),
    };
    const sources: AsyncIterator<DirectoryPage>[] = [];
    if (options.users) sources.push(userPages(ctx));
    if (options.groups) sources.push(groupPages(ctx));
    try {
      for await (const page of merge(sources)) yield page;
    } catch (error) {
      await session.closeAll();
      for (const source of sources) source.return?.().catch(() => {});
      return rethrow(error);
    }
    if (ctx.referrals.length > 0) {
      const unique = [...new Set(ctx.referrals)];
      yield {
        kind: "notice",
        level: "info",
        message: `LDAP: ${unique.length} continuation reference(s) not followed: ` +
          unique.slice(0, 5).join(", ") + (unique.length > 5 ? ", …" : ""),
      };
    }
    const state: Record<string, string> = { [LDAP_STATE_KEYS.settings]: fingerprint };
    if (options.users) state[LDAP_STATE_KEYS.users] = ctx.usersDigest.toString();
    if (options.groups) state[LDAP_STATE_KEYS.groups] = ctx.groupsDigest.toString();
    yield { kind: "done", incremental: false, state };
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    await session.closeAll();
  }
}
