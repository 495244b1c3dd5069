/**
 * The `ldap` provider's settings: the slice of the configuration it reads
 * ({@link LdapSettings}), their checks, and the {@link ReadPlan} they resolve to (connection,
 * TLS files, mapping settings, paging).
 *
 * **Connection.** `directory.ldap.ssl` alone is LDAPS (`ldaps://`); `startTls` (alone, or with
 * `ssl` as bwdc accepts) is StartTLS on the plain port, and a failed StartTLS is an error, never
 * a silent plaintext fallback; neither is plain `ldap://`. The CA file is `sslCaPath` or
 * `tlsCaPath`: either is accepted in both TLS modes (both files are trusted when both are set).
 * `sslCertPath` + `sslKeyPath` give a client certificate. Certificates are verified unless
 * `sslAllowUnauthorized` is on (logged as a warning). A missing or unreadable file is a
 * `ConfigError` naming the setting.
 * @module
 */

import { isIP } from "node:net";
import type { ConnectionOptions } from "node:tls";
import type { Config } from "../../config/schema.ts";
import { ConfigError, errorMessage } from "../../errors.ts";
import { type LdapMappingSettings, ldapMappingSettings, RefPool } from "../../ldap/entry.ts";
import { validateLdapFilter } from "../../ldap/filter.ts";
import type { DirectoryNotice, ProviderContext } from "../provider.ts";
import { DnTable } from "./decode.ts";

/** The settings the `ldap` provider reads: `directory.ldap` and `sync`. */
export interface LdapSettings {
  ldap: Config["directory"]["ldap"];
  sync: Config["sync"];
}

/**
 * Checks `sync.userFilter` and `sync.groupFilter` as RFC 4515 LDAP filters (the `ldap` and LDIF
 * sources apply them as the server would). Throws a `ConfigError` naming the setting.
 */
export function validateLdapFilters(sync: Config["sync"]): void {
  if (sync.userFilter !== undefined) validateLdapFilter(sync.userFilter, "sync.userFilter");
  if (sync.groupFilter !== undefined) validateLdapFilter(sync.groupFilter, "sync.groupFilter");
}

/** The secret setting holding the bind password. */
export const LDAP_PASSWORD_KEY = "directory.ldap.password";

/** How the connection is secured. */
export type TlsMode = "plain" | "starttls" | "ldaps";

/** Where and how to connect and bind. */
export interface Connection {
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

/** Everything one read needs, checked and resolved from the settings. */
export interface ReadPlan {
  connection: Connection;
  settings: LdapMappingSettings;
  /**
   * One string per normalised DN or uid reference across the read (see `RefPool`), for those
   * the mapping normalises: canonical DNs are shared through {@link dns} instead.
   */
  pool: RefPool;
  /**
   * One string per canonical DN across the read, found by its bytes as entries are decoded
   * (see `DnTable` in `decode.ts`): entry DNs and member values.
   */
  dns: DnTable;
  rootPath: string;
  paged: boolean;
  pageSize: number;
  notices: DirectoryNotice[];
  /** Called after every search request with the entries it returned (the read's progress). */
  onPage?: (entries: number) => void;
}

/** One search of a read. */
export interface SearchSpec {
  /** What is read, in words: `users`, `groups`, `deleted users`. */
  what: string;
  base: string;
  /** The setting that chose the base, for errors. */
  baseSetting: string;
  filter: string;
  attributes: string[];
  /** Ask with AD's show-deleted control (tombstones in `CN=Deleted Objects`). */
  showDeleted?: boolean;
  /** Intern canonical DNs while decoding (see `SearchRequest.dns` in `ldapts.ts`). */
  dns?: { table: DnTable; attribute?: string };
}

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

/**
 * Checks the settings and resolves them into a {@link ReadPlan}: host, base DN, bind DN and
 * password (the secret {@link LDAP_PASSWORD_KEY}), the TLS mode and its files, the filters.
 * Throws a `ConfigError` naming the setting for anything missing, contradictory or unreadable.
 */
export async function readPlan(context: ProviderContext<LdapSettings>): Promise<ReadPlan> {
  const ldap = context.settings.ldap;
  const sync = context.settings.sync;
  const notices: DirectoryNotice[] = [];
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
  validateLdapFilters(sync);

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
        code: "tlsSettingsIgnored",
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
    dns: new DnTable(),
    rootPath,
    paged: ldap.pagedSearch,
    pageSize: ldap.pageSize,
    notices,
  };
}
