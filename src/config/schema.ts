/**
 * The configuration schema: one zod schema for everything roster can be told.
 *
 * Field names follow the Bitwarden Directory Connector (bwdc) under `server.`, `directory.` and
 * `sync.`, so every setting has a dot path (`directory.ldap.hostname`, `sync.userFilter`).
 * Secrets (see {@link SECRET_KEYS}) are never part of the stored config: they live in the
 * state store and are read through `ProviderContext.secret`.
 * @module
 */

import { z } from "zod";

/** The directory types roster can read. */
export const DIRECTORY_TYPES = ["ldap", "entra", "google", "okta", "onelogin", "file"] as const;

/** One of {@link DIRECTORY_TYPES}. */
export type DirectoryType = typeof DIRECTORY_TYPES[number];

/**
 * Dot paths of secret settings. They are set with `--secret-env`, `--secret-file` or stdin,
 * stored in the state store, and shown as `********`.
 */
export const SECRET_KEYS = [
  "directory.ldap.password",
  "directory.entra.key",
  "directory.google.privateKey",
  "directory.okta.token",
  "directory.onelogin.clientSecret",
] as const;

/** One of {@link SECRET_KEYS}. */
export type SecretKey = typeof SECRET_KEYS[number];

const url = z.string().trim().min(1);
const path = z.string().trim().min(1);

/** `server.*`: where the Bitwarden (or Vaultwarden) server is. */
export const serverSchema = z.strictObject({
  /**
   * Base URL of a self-hosted server, or `https://vault.bitwarden.eu` (or `eu`) for the EU
   * cloud. Unset means the US cloud.
   */
  url: url.optional(),
  /** Explicit API URL; overrides `url`. */
  api: url.optional(),
  /** Explicit identity URL; overrides `url`. */
  identity: url.optional(),
  /** PEM file of extra CA certificates for a self-hosted server behind a private CA. */
  caFile: path.optional(),
  /**
   * Most GET requests roster starts against the Bitwarden API in any 60 seconds (organization
   * reads of `plan`, `sync`, `status`), 0 for no budget. Unset: 180 on Bitwarden's US and EU
   * clouds (their limit is 200 GETs a minute per client), no budget on a self-hosted server or
   * Vaultwarden, whose limits are their own.
   */
  maxRequestsPerMinute: z.number().int().min(0).max(1_000_000).optional(),
});

/** `directory.ldap.*`: LDAP and Active Directory (bwdc's field names). */
export const ldapSchema = z.strictObject({
  hostname: z.string().trim().min(1).optional(),
  port: z.number().int().min(1).max(65535).default(389),
  /** LDAPS (`ldaps://`), unless `startTls` is also set, which means StartTLS. */
  ssl: z.boolean().default(false),
  /** StartTLS on the plain port (on its own too; never a silent plaintext fallback). */
  startTls: z.boolean().default(false),
  sslAllowUnauthorized: z.boolean().default(false),
  sslCaPath: path.optional(),
  sslCertPath: path.optional(),
  sslKeyPath: path.optional(),
  tlsCaPath: path.optional(),
  rootPath: z.string().trim().min(1).optional(),
  username: z.string().trim().min(1).optional(),
  /** Active Directory mode: AD attribute defaults, objectGUID, deleted objects. */
  ad: z.boolean().default(false),
  pagedSearch: z.boolean().default(true),
  /** Entries per page for paged searches (RFC 2696). */
  pageSize: z.number().int().min(1).max(100000).default(500),
  /** Seconds to wait for a connection. */
  connectTimeout: z.number().int().min(1).max(3600).default(10),
  /** Seconds one search may take (bwdc's `timeLimit: 300`). */
  timeout: z.number().int().min(1).max(86400).default(300),
  /** Accepted for compatibility with bwdc; unused. */
  currentUser: z.boolean().default(false),
  /** Accepted for compatibility with bwdc; unused. */
  domain: z.string().trim().optional(),
});

/**
 * `directory.<type>.caFile`: a PEM file of extra CA certificates for a cloud directory reached
 * through a TLS-inspecting proxy or a private CA (as `server.caFile`).
 */
const caFile = path.optional();

/** `directory.entra.*`: Microsoft Entra ID (Microsoft Graph). The client secret is `key`. */
export const entraSchema = z.strictObject({
  /** The sign-in cloud; it also picks the Graph host (global, US Government, China). */
  identityAuthority: z.enum([
    "login.microsoftonline.com",
    "login.microsoftonline.us",
    "login.chinacloudapi.cn",
  ]).default("login.microsoftonline.com"),
  /** Tenant id (GUID) or a verified domain of the tenant. */
  tenant: z.string().trim().min(1).optional(),
  /** The app registration's application (client) id. */
  applicationId: z.string().trim().min(1).optional(),
  /**
   * PEM file holding the app's certificate and its private key: a signed client assertion is
   * used instead of the client secret `directory.entra.key`.
   */
  certificatePath: path.optional(),
  /** Token endpoint base that `/<tenant>/oauth2/v2.0/token` is appended to (tests, clouds). */
  authorityUrl: url.optional(),
  /** Graph root that `/v1.0/...` is appended to (tests, clouds). */
  graphUrl: url.optional(),
  caFile,
});

/** `directory.google.*`: Google Workspace (Admin SDK Directory API). */
export const googleSchema = z.strictObject({
  /** The service account's email (taken from a JSON key file when the key is one). */
  clientEmail: z.string().trim().min(1).optional(),
  /** Optional: restrict the read to this one domain of the account. */
  domain: z.string().trim().min(1).optional(),
  /** The admin user impersonated through domain-wide delegation. */
  adminUser: z.string().trim().min(1).optional(),
  /** The customer id; `my_customer` means the admin user's own account (every domain). */
  customer: z.string().trim().min(1).default("my_customer"),
  /** API root that `/admin/directory/v1/...` is appended to (tests). */
  apiUrl: url.optional(),
  /** The whole OAuth token endpoint (tests). */
  tokenUrl: url.optional(),
  caFile,
});

/** `directory.okta.*`: Okta. The API token is `token`. */
export const oktaSchema = z.strictObject({
  /** Org base URL that `/api/v1/...` is appended to, e.g. `https://acme.okta.com`. */
  orgUrl: url.optional(),
  /** Percentage (1–100) of each rate-limit bucket roster may spend in one window. */
  maxRateShare: z.number().int().min(1).max(100).default(50),
  caFile,
});

/** `directory.onelogin.*`: OneLogin. The client secret is `clientSecret`. */
export const oneloginSchema = z.strictObject({
  clientId: z.string().trim().min(1).optional(),
  /** Legacy region hosts (`api.<region>.onelogin.com`), used when no subdomain is set. */
  region: z.enum(["us", "eu"]).default("us"),
  /** The account's subdomain: `https://<subdomain>.onelogin.com`. */
  subdomain: z.string().trim().min(1).optional(),
  /** Base that `/auth/oauth2/v2/token` and `/api/2/...` are appended to (tests). */
  apiUrl: url.optional(),
  /** Wait for the hourly rate-limit reset instead of stopping with exit 6. */
  waitForRateLimit: z.boolean().default(false),
  caFile,
});

/** `directory.file.*`: a local LDIF, CSV or JSON export. */
export const fileSchema = z.strictObject({
  /** Path of the export. Relative paths are relative to the working directory. */
  path: path.optional(),
  /** File format; `auto` picks it from the extension (`.ldif`, `.csv`, `.json`). */
  format: z.enum(["auto", "ldif", "csv", "json"]).default("auto"),
  /** The export's base DN (LDIF), so that `sync.userPath`/`groupPath` apply as on a server. */
  rootPath: z.string().trim().min(1).optional(),
  /** Treat the LDIF as an Active Directory export (objectGUID, userAccountControl). */
  ad: z.boolean().default(false),
  /**
   * Character encoding of the export: `auto` reads UTF-8 (with or without a BOM) and UTF-16
   * with a BOM, and refuses anything else; name another encoding (e.g. `windows-1252`) to
   * decode it.
   */
  encoding: z.string().trim().min(1).default("auto"),
});

/** `directory.*`. */
export const directorySchema = z.strictObject({
  type: z.enum(DIRECTORY_TYPES).optional(),
  ldap: ldapSchema.default(() => ldapSchema.parse({})),
  entra: entraSchema.default(() => entraSchema.parse({})),
  google: googleSchema.default(() => googleSchema.parse({})),
  okta: oktaSchema.default(() => oktaSchema.parse({})),
  onelogin: oneloginSchema.default(() => oneloginSchema.parse({})),
  file: fileSchema.default(() => fileSchema.parse({})),
});

/** `sync.*`: what to sync and how (bwdc's field names, plus roster's safety settings). */
export const syncSchema = z.strictObject({
  users: z.boolean().default(true),
  groups: z.boolean().default(true),
  /** Minutes between automatic syncs (`sync --watch`); at least 5, as in bwdc. */
  interval: z.number().int().min(5).max(525600).default(5),
  removeDisabled: z.boolean().default(false),
  overwriteExisting: z.boolean().default(false),
  largeImport: z.boolean().default(false),
  inviteUsersAfterProvisioning: z.boolean().default(false),
  userFilter: z.string().trim().min(1).optional(),
  groupFilter: z.string().trim().min(1).optional(),
  userPath: z.string().trim().min(1).optional(),
  groupPath: z.string().trim().min(1).optional(),
  userObjectClass: z.string().trim().min(1).optional(),
  groupObjectClass: z.string().trim().min(1).optional(),
  userEmailAttribute: z.string().trim().min(1).optional(),
  groupNameAttribute: z.string().trim().min(1).optional(),
  memberAttribute: z.string().trim().min(1).optional(),
  useEmailPrefixSuffix: z.boolean().default(false),
  emailPrefixAttribute: z.string().trim().min(1).optional(),
  emailSuffix: z.string().trim().min(1).optional(),
  revisionDateAttribute: z.string().trim().min(1).optional(),
  creationDateAttribute: z.string().trim().min(1).optional(),
  /**
   * Deletion guard: refuse a sync that removes more than this many members from the
   * organization, unless the percentage below allows more. `0` turns this check off.
   */
  maxRemovals: z.number().int().min(0).default(10),
  /** Deletion guard: percentage of the organization's current members that may be removed. */
  maxRemovalsPercent: z.number().min(0).max(100).default(10),
  /**
   * Deletion guard: refuse a sync that takes more than this many members out of groups
   * (counted against what the last successful sync sent), unless the percentage below allows
   * more. `0` turns this check off.
   */
  maxMembershipRemovals: z.number().int().min(0).default(25),
  /** Deletion guard: percentage of the group memberships the last sync sent that may go. */
  maxMembershipRemovalsPercent: z.number().min(0).max(100).default(10),
  /**
   * Deletion guard: refuse a full sync in which more than this many groups the last sync sent
   * are gone from the directory, unless the percentage below allows more. (The import leaves
   * such groups in the organization, unsynced.) `0` turns this check off.
   */
  maxGroupDeletions: z.number().int().min(0).default(5),
  /** Deletion guard: percentage of the groups the last sync sent that may be gone. */
  maxGroupDeletionsPercent: z.number().min(0).max(100).default(10),
  /**
   * Deletion guard: refuse a full sync whose directory read has more than this many users
   * (or groups) fewer than the last complete read, unless the percentage below allows more.
   * `0` turns this check off.
   */
  maxShrink: z.number().int().min(0).default(10),
  /** Deletion guard: percentage of the last complete read's users (groups) that may be missing. */
  maxShrinkPercent: z.number().min(0).max(100).default(10),
});

/** The whole configuration file. */
export const configSchema = z.strictObject({
  server: serverSchema.default(() => serverSchema.parse({})),
  directory: directorySchema.default(() => directorySchema.parse({})),
  sync: syncSchema.default(() => syncSchema.parse({})),
});

/** The validated configuration, defaults applied. */
export type Config = z.infer<typeof configSchema>;

/** Returns the configuration with every default applied. */
export function defaultConfig(): Config {
  return configSchema.parse({});
}
