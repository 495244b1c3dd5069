/**
 * Reading the Bitwarden Directory Connector's (bwdc) `data.json` into roster's terms: settings
 * under roster's dot paths, secrets, sync state and the organization login, plus every bwdc
 * value that is not carried over with the reason. Pure: no I/O, no clock.
 *
 * Two layouts exist:
 * - state version 5 and later (bwdc writes 8): flat top-level keys `environmentUrls`,
 *   `directoryType`, `directoryLdap` … `directoryOnelogin`, `sync`, `organizationId`,
 *   `lastUserSync`, `lastGroupSync`, `lastSyncHash`, `userDeltaToken`, `groupDeltaToken`;
 * - state versions 3 and 4: `global.environmentUrls`, and per account
 *   `<account>.directoryConfigurations.{ldap,azure,gsuite,okta,oneLogin}` and
 *   `<account>.directorySettings.{organizationId,directoryType,sync,lastUserSync,lastGroupSync,
 *   lastSyncHash,userDelta,groupDelta}`. bwdc migrates this layout to the flat one itself.
 *
 * Directory secrets are either in the config object in plain text (bwdc's
 * `BITWARDENCLI_CONNECTOR_PLAINTEXT_SECRETS=true` mode) or the placeholder `[STORED SECURELY]`
 * (the OS keychain, which roster cannot read).
 * @module
 */

import { join, win32 } from "node:path";
import { z } from "zod";
import { type DirectoryType, type SecretKey } from "../config/schema.ts";
import { coerceValue, findSetting, type SettingValue } from "../config/store.ts";
import { ConfigError, RosterError } from "../errors.ts";
import { isRecord } from "../guards.ts";

/** The placeholder bwdc writes into `data.json` where a secret is in the OS keychain. */
export const STORED_SECURELY = "[STORED SECURELY]";

/** The two layouts of `data.json`. */
export type BwdcLayout = "flat" | "legacy";

/** A roster setting taken from bwdc. */
export interface MigratedSetting {
  /** roster's dot path, e.g. `directory.ldap.hostname`. */
  key: string;
  value: SettingValue;
  /** The bwdc field it comes from, as a JSON path in `data.json`, e.g. `directoryLdap.port`. */
  from: string;
  /** True when bwdc's file has no value and this is bwdc's own default (which roster's differs from). */
  bwdcDefault: boolean;
}

/** Where a directory secret is. */
export type SecretSource = "plaintext" | "keychain" | "missing";

/** A directory secret (never printed). */
export interface MigratedSecret {
  key: SecretKey;
  from: string;
  source: SecretSource;
  /** The secret itself, only when `source` is `plaintext`. */
  value?: string;
  /** The environment variable the remaining `roster config set … --secret-env` names. */
  env: string;
}

/** A piece of sync state. */
export interface MigratedStateItem {
  /**
   * `lastUserSync` and `lastGroupSync` (ISO dates), `lastSyncHash` (the change hash), or
   * `providerState.usersDeltaLink` (the Entra ID users delta link).
   */
  item: "lastUserSync" | "lastGroupSync" | "lastSyncHash" | "providerState.usersDeltaLink";
  value: string;
  from: string;
}

/** The Bitwarden organization and its API key. */
export interface MigratedLogin {
  /** The organization id bwdc syncs to, if known. */
  organizationId: string | undefined;
  /** `organization.<id>`: the API key's client id, from the file or built from the id. */
  clientId: string | undefined;
  /** The API key's client secret, only when `data.json` holds it in plain text. */
  clientSecret: string | undefined;
}

/** A bwdc value that is not carried over. */
export interface NotMigrated {
  from: string;
  /** The value (secrets and tokens are shown as `********`). */
  value: SettingValue | null;
  reason: string;
}

/** Everything a migration would do. */
export interface BwdcMigration {
  layout: BwdcLayout;
  stateVersion: number;
  /** The directory type bwdc syncs from (undefined when none is set). */
  directoryType: DirectoryType | undefined;
  /** Settings in a stable order: server, directory, sync. */
  settings: MigratedSetting[];
  /**
   * The roster settings a migration owns: it sets them from bwdc or removes them (server URLs,
   * `directory.type`, the directory type's bwdc fields, every bwdc sync option), so that a
   * second run gives the same configuration.
   */
  owned: string[];
  secrets: MigratedSecret[];
  state: MigratedStateItem[];
  login: MigratedLogin;
  notMigrated: NotMigrated[];
}

const MASK = "********";
const BWDC_TYPES: readonly DirectoryType[] = ["ldap", "entra", "google", "okta", "onelogin"];

/** How one bwdc field maps. */
interface FieldRule {
  /** roster's dot path; undefined: not migrated, see `reason`. */
  key?: string;
  /** bwdc's default when the field is missing or null, set explicitly when given. */
  bwdcDefault?: SettingValue;
  /** Why a field is not migrated (with no `key`). */
  reason?: string;
  /** A secret: `key` is one of the secret keys. */
  secret?: { env: string };
}

/** The flat layout's name of each directory configuration. */
const FLAT_NAMES: Readonly<Record<DirectoryType, string>> = {
  ldap: "directoryLdap",
  entra: "directoryEntra",
  google: "directoryGsuite",
  okta: "directoryOkta",
  onelogin: "directoryOnelogin",
  file: "file",
};

const ID_REASON =
  "bwdc's keychain scoping id for the secret; roster keeps secrets by setting name in its state store";

const DIRECTORY_RULES: Readonly<Record<DirectoryType, Readonly<Record<string, FieldRule>>>> = {
  ldap: {
    hostname: { key: "directory.ldap.hostname" },
    port: { key: "directory.ldap.port", bwdcDefault: 389 },
    ssl: { key: "directory.ldap.ssl", bwdcDefault: false },
    startTls: { key: "directory.ldap.startTls", bwdcDefault: false },
    sslAllowUnauthorized: { key: "directory.ldap.sslAllowUnauthorized", bwdcDefault: false },
    sslCaPath: { key: "directory.ldap.sslCaPath" },
    sslCertPath: { key: "directory.ldap.sslCertPath" },
    sslKeyPath: { key: "directory.ldap.sslKeyPath" },
    tlsCaPath: { key: "directory.ldap.tlsCaPath" },
    rootPath: { key: "directory.ldap.rootPath" },
    username: { key: "directory.ldap.username" },
    password: { key: "directory.ldap.password", secret: { env: "LDAP_PASSWORD" } },
    ad: { key: "directory.ldap.ad", bwdcDefault: true },
    pagedSearch: { key: "directory.ldap.pagedSearch", bwdcDefault: true },
    currentUser: { key: "directory.ldap.currentUser", bwdcDefault: false },
    domain: { key: "directory.ldap.domain" },
    id: { reason: ID_REASON },
  },
  entra: {
    identityAuthority: { key: "directory.entra.identityAuthority" },
    tenant: { key: "directory.entra.tenant" },
    applicationId: { key: "directory.entra.applicationId" },
    key: { key: "directory.entra.key", secret: { env: "ENTRA_SECRET" } },
    id: { reason: ID_REASON },
  },
  google: {
    clientEmail: { key: "directory.google.clientEmail" },
    privateKey: { key: "directory.google.privateKey", secret: { env: "GOOGLE_PRIVATE_KEY" } },
    domain: { key: "directory.google.domain" },
    adminUser: { key: "directory.google.adminUser" },
    customer: { key: "directory.google.customer" },
    id: { reason: ID_REASON },
  },
  okta: {
    orgUrl: { key: "directory.okta.orgUrl" },
    token: { key: "directory.okta.token", secret: { env: "OKTA_TOKEN" } },
    id: { reason: ID_REASON },
  },
  onelogin: {
    clientId: { key: "directory.onelogin.clientId" },
    clientSecret: {
      key: "directory.onelogin.clientSecret",
      secret: { env: "ONELOGIN_SECRET" },
    },
    region: { key: "directory.onelogin.region", bwdcDefault: "us" },
    id: { reason: ID_REASON },
  },
  file: {},
};

/** bwdc sync options: all keep their name under `sync.`. */
const SYNC_FIELDS: readonly string[] = [
  "users",
  "groups",
  "interval",
  "removeDisabled",
  "overwriteExisting",
  "largeImport",
  "inviteUsersAfterProvisioning",
  "userFilter",
  "groupFilter",
  "userPath",
  "groupPath",
  "userObjectClass",
  "groupObjectClass",
  "userEmailAttribute",
  "groupNameAttribute",
  "memberAttribute",
  "useEmailPrefixSuffix",
  "emailPrefixAttribute",
  "emailSuffix",
  "revisionDateAttribute",
  "creationDateAttribute",
];

/** bwdc's defaults of boolean sync options (`syncConfiguration.ts`); roster's differ for some. */
const SYNC_DEFAULTS: Readonly<Record<string, SettingValue>> = {
  users: false,
  groups: false,
  removeDisabled: false,
  overwriteExisting: false,
  largeImport: false,
  useEmailPrefixSuffix: false,
};

/** Sync options bwdc reads only for some directory types. */
const SYNC_USED_BY: Readonly<Record<string, readonly DirectoryType[]>> = {
  userPath: ["ldap"],
  groupPath: ["ldap"],
  userObjectClass: ["ldap"],
  groupObjectClass: ["ldap"],
  userEmailAttribute: ["ldap"],
  groupNameAttribute: ["ldap"],
  memberAttribute: ["ldap"],
  emailPrefixAttribute: ["ldap"],
  revisionDateAttribute: ["ldap"],
  creationDateAttribute: ["ldap"],
  useEmailPrefixSuffix: ["ldap", "onelogin"],
  emailSuffix: ["ldap", "onelogin"],
};

// --- the two layouts ---

const section = z.record(z.string(), z.unknown());
const optionalText = z.string().nullish();
/** `directoryType`: bwdc stores a number; a numeric string is accepted too. */
const directoryTypeField = z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)])
  .nullish();

/** The flat layout of state version 5 and later. */
export const flatSchema = z.looseObject({
  stateVersion: z.number().int().min(5),
  environmentUrls: section.nullish(),
  directoryType: directoryTypeField,
  directoryLdap: section.nullish(),
  directoryEntra: section.nullish(),
  directoryAzure: section.nullish(),
  directoryGsuite: section.nullish(),
  directoryOkta: section.nullish(),
  directoryOnelogin: section.nullish(),
  sync: section.nullish(),
  organizationId: optionalText,
  lastUserSync: optionalText,
  lastGroupSync: optionalText,
  lastSyncHash: optionalText,
  userDeltaToken: optionalText,
  groupDeltaToken: optionalText,
  apiKeyClientId: optionalText,
  apiKeyClientSecret: optionalText,
});

/** One account of the legacy layout (state versions 3 and 4). */
export const legacyAccountSchema = z.looseObject({
  directoryConfigurations: z.looseObject({
    ldap: section.nullish(),
    entra: section.nullish(),
    azure: section.nullish(),
    gsuite: section.nullish(),
    okta: section.nullish(),
    oneLogin: section.nullish(),
  }).nullish(),
  directorySettings: z.looseObject({
    organizationId: optionalText,
    directoryType: directoryTypeField,
    sync: section.nullish(),
    userDelta: optionalText,
    groupDelta: optionalText,
    lastUserSync: optionalText,
    lastGroupSync: optionalText,
    lastSyncHash: optionalText,
  }).nullish(),
  profile: z.looseObject({ apiKeyClientId: optionalText }).nullish(),
  keys: z.looseObject({ apiKeyClientSecret: optionalText }).nullish(),
  apiKeyClientId: optionalText,
  apiKeyClientSecret: optionalText,
});

/** The legacy layout's top level (state versions 3 and 4). */
export const legacySchema = z.looseObject({
  stateVersion: z.number().int().min(3).max(4),
  global: z.looseObject({ environmentUrls: section.nullish() }).nullish(),
  activeUserId: optionalText,
  authenticatedAccounts: z.array(z.string()).nullish(),
});

/** A section of `data.json` with the JSON path it was found at. */
interface Located {
  path: string;
  value: Record<string, unknown>;
}

/** Both layouts, reduced to what the mapping needs. */
interface BwdcData {
  layout: BwdcLayout;
  stateVersion: number;
  environmentUrls: Located | undefined;
  directoryType: { path: string; value: number | undefined };
  configs: Partial<Record<DirectoryType, Located>>;
  sync: Located | undefined;
  /** Top-level values, each with its path. */
  values: Record<
    | "organizationId"
    | "lastUserSync"
    | "lastGroupSync"
    | "lastSyncHash"
    | "userDelta"
    | "groupDelta"
    | "apiKeyClientId"
    | "apiKeyClientSecret",
    { path: string; value: string | undefined }
  >;
}

function located(path: string, value: Record<string, unknown> | null | undefined) {
  return value === null || value === undefined ? undefined : { path, value };
}

function text(path: string, value: string | null | undefined) {
  return { path, value: value === null || value === undefined || value === "" ? undefined : value };
}

function invalidFile(file: string | undefined, detail: string, hint: string): ConfigError {
  return new ConfigError(
    `Cannot read the bwdc data file${file === undefined ? "" : ` ${file}`}: ${detail}`,
    { hint, details: file === undefined ? {} : { file } },
  );
}

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return "invalid content";
  const at = issue.path.map(String).join(".");
  return at === "" ? issue.message : `${at}: ${issue.message}`;
}

function readLayout(data: unknown, file: string | undefined): BwdcData {
  if (!isRecord(data)) {
    throw invalidFile(file, "it is not a JSON object", "Give the path of bwdc's data.json");
  }
  const version = data["stateVersion"];
  if (typeof version !== "number") {
    throw invalidFile(
      file,
      "it has no stateVersion",
      "Give the path of the data.json in bwdc's data directory, after bwdc has been configured",
    );
  }
  if (version < 3) {
    throw invalidFile(
      file,
      `state version ${version} is older than bwdc can migrate (3)`,
      "bwdc cannot migrate it either: configure roster with roster config set (roster config list --all shows every setting)",
    );
  }
  if (version >= 5) {
    const parsed = flatSchema.safeParse(data);
    if (!parsed.success) {
      throw invalidFile(
        file,
        `unexpected content for state version ${version}: ${firstIssue(parsed.error)}`,
        "Check that the file is bwdc's data.json",
      );
    }
    const flat = parsed.data;
    const entra = flat.directoryEntra ?? flat.directoryAzure;
    return {
      layout: "flat",
      stateVersion: version,
      environmentUrls: located("environmentUrls", flat.environmentUrls),
      directoryType: { path: "directoryType", value: flat.directoryType ?? undefined },
      configs: {
        ...defined("ldap", located("directoryLdap", flat.directoryLdap)),
        ...defined(
          "entra",
          located(
            flat.directoryEntra === undefined || flat.directoryEntra === null
              ? "directoryAzure"
              : "directoryEntra",
            entra,
          ),
        ),
        ...defined("google", located("directoryGsuite", flat.directoryGsuite)),
        ...defined("okta", located("directoryOkta", flat.directoryOkta)),
        ...defined("onelogin", located("directoryOnelogin", flat.directoryOnelogin)),
      },
      sync: located("sync", flat.sync),
      values: {
        organizationId: text("organizationId", flat.organizationId),
        lastUserSync: text("lastUserSync", flat.lastUserSync),
        lastGroupSync: text("lastGroupSync", flat.lastGroupSync),
        lastSyncHash: text("lastSyncHash", flat.lastSyncHash),
        userDelta: text("userDeltaToken", flat.userDeltaToken),
        groupDelta: text("groupDeltaToken", flat.groupDeltaToken),
        apiKeyClientId: text("apiKeyClientId", unquote(flat.apiKeyClientId)),
        apiKeyClientSecret: text("apiKeyClientSecret", unquote(flat.apiKeyClientSecret)),
      },
    };
  }
  const parsed = legacySchema.safeParse(data);
  if (!parsed.success) {
    throw invalidFile(
      file,
      `unexpected content for state version ${version}: ${firstIssue(parsed.error)}`,
      "Check that the file is bwdc's data.json",
    );
  }
  const accountId = findAccount(data, parsed.data.activeUserId ?? undefined, file);
  const accountParsed = legacyAccountSchema.safeParse(data[accountId]);
  if (!accountParsed.success) {
    throw invalidFile(
      file,
      `unexpected content in account ${accountId}: ${firstIssue(accountParsed.error)}`,
      "Check that the file is bwdc's data.json",
    );
  }
  const account = accountParsed.data;
  const configs = account.directoryConfigurations;
  const settings = account.directorySettings;
  const base = `${accountId}.directoryConfigurations`;
  const at = `${accountId}.directorySettings`;
  const entraName = configs?.entra === undefined || configs.entra === null ? "azure" : "entra";
  return {
    layout: "legacy",
    stateVersion: version,
    environmentUrls: located("global.environmentUrls", parsed.data.global?.environmentUrls),
    directoryType: { path: `${at}.directoryType`, value: settings?.directoryType ?? undefined },
    configs: {
      ...defined("ldap", located(`${base}.ldap`, configs?.ldap)),
      ...defined("entra", located(`${base}.${entraName}`, configs?.[entraName])),
      ...defined("google", located(`${base}.gsuite`, configs?.gsuite)),
      ...defined("okta", located(`${base}.okta`, configs?.okta)),
      ...defined("onelogin", located(`${base}.oneLogin`, configs?.oneLogin)),
    },
    sync: located(`${at}.sync`, settings?.sync),
    values: {
      organizationId: text(`${at}.organizationId`, settings?.organizationId),
      lastUserSync: text(`${at}.lastUserSync`, settings?.lastUserSync),
      lastGroupSync: text(`${at}.lastGroupSync`, settings?.lastGroupSync),
      lastSyncHash: text(`${at}.lastSyncHash`, settings?.lastSyncHash),
      userDelta: text(`${at}.userDelta`, settings?.userDelta),
      groupDelta: text(`${at}.groupDelta`, settings?.groupDelta),
      apiKeyClientId: account.profile?.apiKeyClientId
        ? text(`${accountId}.profile.apiKeyClientId`, account.profile.apiKeyClientId)
        : text(`${accountId}.apiKeyClientId`, account.apiKeyClientId),
      apiKeyClientSecret: account.keys?.apiKeyClientSecret
        ? text(`${accountId}.keys.apiKeyClientSecret`, account.keys.apiKeyClientSecret)
        : text(`${accountId}.apiKeyClientSecret`, account.apiKeyClientSecret),
    },
  };
}

function defined<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  if (value === undefined) return {};
  const out: Partial<Record<K, V>> = {};
  out[key] = value;
  return out;
}

/** bwdc's secure storage keeps `JSON.stringify(value)`; a quoted string is read back. */
function unquote(value: string | null | undefined): string | null | undefined {
  if (typeof value !== "string" || !value.startsWith('"') || !value.endsWith('"')) return value;
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === "string" ? parsed : value;
  } catch {
    return value;
  }
}

/** The legacy layout's account: `activeUserId`, else the only object with directory settings. */
function findAccount(
  data: Record<string, unknown>,
  active: string | undefined,
  file: string | undefined,
): string {
  if (active !== undefined && isRecord(data[active])) return active;
  const accounts = Object.entries(data)
    .filter(([, value]) =>
      isRecord(value) && ("directoryConfigurations" in value || "directorySettings" in value)
    )
    .map(([key]) => key);
  const only = accounts[0];
  if (only !== undefined && accounts.length === 1) return only;
  throw invalidFile(
    file,
    accounts.length === 0
      ? "no account with directoryConfigurations or directorySettings"
      : `several accounts (${accounts.join(", ")}) and no activeUserId`,
    "Open the file with a current bwdc once so that it migrates it, then run roster migrate bwdc again",
  );
}

// --- the mapping ---

function scalar(value: unknown): SettingValue | null {
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
    return value;
  }
  return null;
}

function shown(value: unknown): SettingValue | null {
  const plain = scalar(value);
  if (plain !== null || value === null || value === undefined) return plain;
  return JSON.stringify(value);
}

function isBlank(value: unknown): boolean {
  return value === null || value === undefined ||
    (typeof value === "string" && value.trim() === "");
}

/** The detail of a rejected value: roster's own message for the setting. */
function rejection(error: unknown): string {
  if (error instanceof RosterError) {
    return `roster would reject it: ${error.message}${
      error.hint === undefined ? "" : ` (${error.hint})`
    }`;
  }
  throw error;
}

class Builder {
  readonly settings: MigratedSetting[] = [];
  readonly owned: string[] = [];
  readonly secrets: MigratedSecret[] = [];
  readonly state: MigratedStateItem[] = [];
  readonly notMigrated: NotMigrated[] = [];

  skip(from: string, value: unknown, reason: string, secret = false): void {
    this.notMigrated.push({ from, value: secret && !isBlank(value) ? MASK : shown(value), reason });
  }

  /**
   * Sets `key` from a bwdc value: checked as `roster config set` would check it; a value roster
   * rejects is listed instead. Blank values leave the setting unset (bwdc treats them as unset).
   */
  set(key: string, from: string, value: unknown, bwdcDefault?: SettingValue): void {
    this.owned.push(key);
    let raw: unknown = value;
    let isDefault = false;
    if (isBlank(raw)) {
      if (bwdcDefault === undefined) return;
      raw = bwdcDefault;
      isDefault = true;
    }
    const plain = scalar(raw);
    if (plain === null) {
      this.skip(from, raw, `not a text, number or true/false value`);
      return;
    }
    const setting = findSetting(key);
    if (setting.kind === "boolean" && typeof plain !== "boolean") {
      // bwdc tests these for truth, so a stored text (even "false") would read as true.
      this.skip(from, plain, `not true or false; set ${key} with roster config set`);
      return;
    }
    try {
      const coerced = coerceValue(setting, String(plain));
      this.settings.push({ key, value: coerced, from, bwdcDefault: isDefault });
    } catch (error) {
      this.skip(from, plain, rejection(error));
    }
  }
}

function mapServer(builder: Builder, urls: Located | undefined): void {
  for (const key of ["server.url", "server.api", "server.identity"]) builder.owned.push(key);
  if (urls === undefined) return;
  for (const [field, value] of Object.entries(urls.value)) {
    const from = `${urls.path}.${field}`;
    switch (field) {
      case "base": {
        const base = typeof value === "string" ? value.trim().replace(/\/+$/, "") : value;
        if (isBlank(base)) break;
        if (
          typeof base === "string" &&
          ["bitwarden.com", "https://bitwarden.com", "https://vault.bitwarden.com"].includes(
            base.toLowerCase(),
          )
        ) {
          builder.skip(from, value, "the US cloud, roster's default: server.url stays unset");
          break;
        }
        builder.set("server.url", from, base);
        break;
      }
      case "api":
        builder.set("server.api", from, value);
        break;
      case "identity":
        builder.set("server.identity", from, value);
        break;
      default:
        if (!isBlank(value)) {
          builder.skip(
            from,
            value,
            "roster talks only to the API and identity servers; it has no setting for this URL",
          );
        }
    }
  }
}

function mapDirectory(
  builder: Builder,
  type: DirectoryType,
  config: Located | undefined,
): void {
  const rules = DIRECTORY_RULES[type];
  const fields = config?.value ?? {};
  for (const rule of Object.values(rules)) {
    if (rule.key !== undefined) builder.owned.push(rule.key);
  }
  const path = config?.path ?? FLAT_NAMES[type];
  const ssl = fields["ssl"] === true;
  for (const [field, rule] of Object.entries(rules)) {
    const value = fields[field];
    const from = `${path}.${field}`;
    if (rule.secret !== undefined && rule.key !== undefined) {
      mapSecret(builder, { key: rule.key, from, value, env: rule.secret.env, type });
      continue;
    }
    if (rule.key === undefined) {
      if (!isBlank(value)) builder.skip(from, value, rule.reason ?? "roster has no such setting");
      continue;
    }
    if (type === "ldap" && field === "startTls" && value === true && !ssl) {
      // bwdc uses StartTLS only when `ssl` is on too; roster would use it on its own.
      builder.skip(
        from,
        value,
        "bwdc ignores startTls while ssl is false, so it connected without TLS; roster would use StartTLS: set directory.ldap.startTls true once the server supports it",
      );
      builder.set(rule.key, from, false);
      continue;
    }
    builder.set(rule.key, from, value, rule.bwdcDefault);
  }
  for (const [field, value] of Object.entries(fields)) {
    if (field in rules || isBlank(value)) continue;
    builder.skip(`${path}.${field}`, value, "roster has no such setting");
  }
}

function mapSecret(
  builder: Builder,
  input: { key: string; from: string; value: unknown; env: string; type: DirectoryType },
): void {
  const key = secretKey(input.key);
  if (typeof input.value === "string" && input.value === STORED_SECURELY) {
    builder.secrets.push({ key, from: input.from, source: "keychain", env: input.env });
    return;
  }
  if (typeof input.value !== "string" || input.value.trim() === "") {
    if (!isBlank(input.value)) {
      builder.skip(input.from, input.value, "a secret must be a text", true);
    }
    builder.secrets.push({ key, from: input.from, source: "missing", env: input.env });
    return;
  }
  let value = input.value;
  if (input.type === "google") {
    // bwdc trims the start of the key; a key pasted from a JSON key file has `\n` escapes.
    value = value.trimStart();
    if (!value.includes("\n") && value.includes("\\n")) value = value.replaceAll("\\n", "\n");
  }
  builder.secrets.push({ key, from: input.from, source: "plaintext", value, env: input.env });
}

function secretKey(key: string): SecretKey {
  switch (key) {
    case "directory.ldap.password":
    case "directory.entra.key":
    case "directory.google.privateKey":
    case "directory.okta.token":
    case "directory.onelogin.clientSecret":
      return key;
  }
  throw new Error(`not a secret setting: ${key}`);
}

function mapSync(
  builder: Builder,
  sync: Located | undefined,
  context: { type: DirectoryType | undefined; stateVersion: number },
): void {
  const fields = sync?.value ?? {};
  const path = sync?.path ?? "sync";
  for (const field of SYNC_FIELDS) {
    const key = `sync.${field}`;
    const value = fields[field];
    const from = `${path}.${field}`;
    const usedBy = SYNC_USED_BY[field];
    if (usedBy !== undefined && context.type !== undefined && !usedBy.includes(context.type)) {
      builder.owned.push(key);
      if (!isBlank(value) && value !== false) {
        builder.skip(
          from,
          value,
          `bwdc uses it only for ${usedBy.join(" and ")}, not for ${context.type}`,
        );
      }
      continue;
    }
    if (field === "interval" && (value === null || (typeof value === "number" && value <= 0))) {
      builder.owned.push(key);
      builder.skip(
        from,
        value,
        "no schedule in bwdc; roster syncs on its own only under roster daemon, every sync.interval minutes (default 5)",
      );
      continue;
    }
    let fallback = SYNC_DEFAULTS[field];
    if (field === "inviteUsersAfterProvisioning") {
      // bwdc's move to state version 8 sets it to true on configurations that lack it; a
      // version 8 configuration without it sends false.
      fallback = context.stateVersion < 8;
    }
    builder.set(key, from, value, fallback);
  }
  for (const [field, value] of Object.entries(fields)) {
    if (SYNC_FIELDS.includes(field) || isBlank(value)) continue;
    builder.skip(`${path}.${field}`, value, "roster has no such sync option");
  }
}

function mapState(builder: Builder, data: BwdcData, type: DirectoryType | undefined): void {
  const { values } = data;
  for (const item of ["lastUserSync", "lastGroupSync"] as const) {
    const { path, value } = values[item];
    if (value === undefined) continue;
    const time = Date.parse(value);
    if (Number.isNaN(time)) {
      builder.skip(path, value, "not a date; the next sync reads the whole directory");
      continue;
    }
    builder.state.push({ item, value: new Date(time).toISOString(), from: path });
  }
  const hash = values.lastSyncHash;
  if (hash.value !== undefined) {
    builder.state.push({ item: "lastSyncHash", value: hash.value, from: hash.path });
  }
  const delta = values.userDelta;
  if (delta.value !== undefined) {
    if (type === "entra") {
      builder.state.push({
        item: "providerState.usersDeltaLink",
        value: delta.value,
        from: delta.path,
      });
    } else {
      builder.skip(delta.path, delta.value, "a delta link is used only for Entra ID");
    }
  }
  const groupDelta = values.groupDelta;
  if (groupDelta.value !== undefined) {
    builder.skip(groupDelta.path, groupDelta.value, "bwdc never reads the group delta link");
  }
}

function mapLogin(builder: Builder, data: BwdcData): MigratedLogin {
  const organizationId = data.values.organizationId.value;
  const clientId = data.values.apiKeyClientId.value;
  const clientSecret = data.values.apiKeyClientSecret.value;
  const expected = organizationId === undefined ? undefined : `organization.${organizationId}`;
  if (clientId !== undefined && expected !== undefined && clientId !== expected) {
    builder.skip(
      data.values.apiKeyClientId.path,
      clientId,
      `the API key is not for organization ${organizationId}; run roster login with that organization's key`,
    );
    return { organizationId, clientId: expected, clientSecret: undefined };
  }
  const id = clientId ?? expected;
  if (clientSecret !== undefined && id === undefined) {
    builder.skip(data.values.apiKeyClientSecret.path, clientSecret, "no client id for it", true);
  }
  return {
    organizationId: organizationId ?? (id?.startsWith("organization.") ? id.slice(13) : undefined),
    clientId: id,
    clientSecret: id === undefined ? undefined : clientSecret,
  };
}

/** Options of {@link mapBwdcData} and {@link parseBwdcData}. */
export interface BwdcParseOptions {
  /** The file's path, named in error messages. @default not named */
  file?: string;
}

/**
 * Maps a parsed bwdc `data.json` (either layout) to roster's settings, secrets, sync state and
 * login, listing every bwdc value it does not carry over with the reason.
 *
 * Rules, from bwdc's behaviour:
 * - `directoryType` 0–4 is `ldap`, `entra`, `google`, `okta`, `onelogin`; only that type's
 *   configuration is migrated (bwdc ignores the others, which are listed);
 * - a value missing from the file takes bwdc's default where roster's default differs
 *   (`sync.users`/`groups` false, `directory.ldap.ad` true, `inviteUsersAfterProvisioning`
 *   true below state version 8, else false); blank values stay unset;
 * - every value is checked as `roster config set` checks it; rejected ones are listed;
 * - `ldap.startTls` without `ldap.ssl` is off (bwdc ignores it);
 * - a null or non-positive `sync.interval` means no schedule, so roster's default stays;
 * - the US cloud (`https://bitwarden.com` or no base URL) leaves `server.url` unset;
 * - the user delta link becomes the provider state `usersDeltaLink` (Entra ID only);
 * - a Google private key with `\n` escapes and no line breaks gets its line breaks back.
 *
 * @throws {ConfigError} when `data` is not a bwdc `data.json` or its state version is below 3.
 */
export function mapBwdcData(data: unknown, options: BwdcParseOptions = {}): BwdcMigration {
  const layout = readLayout(data, options.file);
  const builder = new Builder();
  mapServer(builder, layout.environmentUrls);
  const typeNumber = layout.directoryType.value;
  const type = typeNumber === undefined ? undefined : BWDC_TYPES[typeNumber];
  builder.owned.push("directory.type");
  if (type === undefined) {
    builder.skip(
      layout.directoryType.path,
      typeNumber ?? null,
      typeNumber === undefined
        ? "no directory type in bwdc: set directory.type and its settings with roster config set"
        : "not a bwdc directory type (0 LDAP, 1 Entra ID, 2 Google Workspace, 3 Okta, 4 OneLogin)",
    );
  } else {
    builder.settings.push({
      key: "directory.type",
      value: type,
      from: layout.directoryType.path,
      bwdcDefault: false,
    });
    mapDirectory(builder, type, layout.configs[type]);
  }
  for (const other of BWDC_TYPES) {
    const config = layout.configs[other];
    if (other === type || config === undefined) continue;
    const filled = Object.entries(config.value).filter(([field, value]) =>
      field !== "id" && !isBlank(value) && value !== STORED_SECURELY
    );
    if (filled.length === 0) continue;
    builder.skip(
      config.path,
      null,
      `bwdc ignores it: the directory type is ${type ?? "not set"}, not ${other}`,
    );
  }
  mapSync(builder, layout.sync, { type, stateVersion: layout.stateVersion });
  mapState(builder, layout, type);
  const login = mapLogin(builder, layout);
  return {
    layout: layout.layout,
    stateVersion: layout.stateVersion,
    directoryType: type,
    settings: builder.settings,
    owned: [...new Set(builder.owned)],
    secrets: builder.secrets,
    state: builder.state,
    login,
    notMigrated: builder.notMigrated,
  };
}

/**
 * Parses the text of a bwdc `data.json` (UTF-8, an optional byte-order mark) and maps it with
 * {@link mapBwdcData}.
 *
 * @throws {ConfigError} when the text is not JSON or not a bwdc `data.json`.
 */
export function parseBwdcData(source: string, options: BwdcParseOptions = {}): BwdcMigration {
  let data: unknown;
  try {
    data = JSON.parse(source.replace(/^\uFEFF/, ""));
  } catch (error) {
    throw invalidFile(
      options.file,
      `it is not JSON (${error instanceof Error ? error.message : String(error)})`,
      "Give the path of bwdc's data.json; bwdc resets a corrupt file to {} on its next start",
    );
  }
  return mapBwdcData(data, options);
}

/** Options of {@link bwdcDataCandidates}. */
export interface BwdcCandidateOptions {
  /** `Deno.build.os`: `darwin`, `windows`, or anything else for Linux and the BSDs. */
  os: string;
  /** Reads an environment variable. */
  env: (name: string) => string | undefined;
}

/**
 * The places bwdc keeps `data.json`, in bwdc's own order: `BITWARDENCLI_CONNECTOR_APPDATA_DIR`,
 * then `BITWARDEN_CONNECTOR_APPDATA_DIR`, then per operating system `~/Library/Application
 * Support/Bitwarden Directory Connector` (macOS), `%APPDATA%\Bitwarden Directory Connector`
 * (Windows), `$XDG_CONFIG_HOME/Bitwarden Directory Connector`, and
 * `~/.config/Bitwarden Directory Connector`. bwdc's portable directory (next to its program)
 * cannot be known from here, so it is not listed. Returns absolute file paths; none may exist.
 */
export function bwdcDataCandidates(options: BwdcCandidateOptions): string[] {
  const { env } = options;
  const value = (name: string): string | undefined => {
    const found = env(name)?.trim();
    return found === undefined || found === "" ? undefined : found;
  };
  const pathJoin = options.os === "windows" ? win32.join : join;
  const dirs: string[] = [];
  for (const name of ["BITWARDENCLI_CONNECTOR_APPDATA_DIR", "BITWARDEN_CONNECTOR_APPDATA_DIR"]) {
    const dir = value(name);
    if (dir !== undefined) dirs.push(dir);
  }
  const app = "Bitwarden Directory Connector";
  const home = value("HOME") ?? value("USERPROFILE");
  if (options.os === "darwin" && home !== undefined) {
    dirs.push(pathJoin(home, "Library", "Application Support", app));
  }
  if (options.os === "windows") {
    const appData = value("APPDATA");
    if (appData !== undefined) dirs.push(pathJoin(appData, app));
  }
  const xdg = value("XDG_CONFIG_HOME");
  if (xdg !== undefined) dirs.push(pathJoin(xdg, app));
  if (home !== undefined) dirs.push(pathJoin(home, ".config", app));
  return [...new Set(dirs.map((dir) => pathJoin(dir, "data.json")))];
}
