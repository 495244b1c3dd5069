/**
 * The config store: `<dataDir>/config.json`, addressed by dot paths (`sync.interval`).
 *
 * The file holds only the settings that were set (defaults stay in the schema, so a new roster
 * version can improve them). It is written atomically (temporary file, fsync, rename) with mode
 * 0600. Secrets ({@link SECRET_KEYS}) are not in it: they live in the state store.
 * @module
 */

import { z } from "zod";
import { ConfigError } from "../errors.ts";
import { type Config, configSchema, type DirectoryType, SECRET_KEYS } from "./schema.ts";
import { isRecord } from "../guards.ts";
import { type SourceDescriptor, SOURCES } from "../providers/registry.ts";
import { parseDn } from "../ldap/dn.ts";
import { resolveServerUrls } from "../bitwarden/urls.ts";

/**
 * Checks the syntax of the settings that are set: the `server.*` URLs (parsed, and plain
 * `http://` only to a loopback host, see `resolveServerUrls`), `sync.userFilter`/`sync.groupFilter` in the
 * source's own syntax (its descriptor's `validateFilters`: RFC 4515 filters for `ldap` and LDIF
 * files, bwdc's `include:`/`exclude:` lists for CSV, JSON and the cloud sources), and
 * the source's other settings (its descriptor's `validateSettings`: endpoint URLs, the OneLogin
 * subdomain, the file encoding), and `directory.ldap.rootPath`, `directory.file.rootPath`,
 * `sync.userPath` and `sync.groupPath` as RFC 4514 DNs. Runs when a setting is saved and in `config validate`, so a typo fails at
 * once instead of at the next sync. `options.source` is the descriptor whose filters and settings
 * are checked (@default `SOURCES[config.directory.type]`; none when no type is set).
 * @throws {ConfigError} naming the setting, the value and the position of the error.
 */
export function validateSettingSyntax(
  config: Config,
  options: { source?: SourceDescriptor } = {},
): void {
  resolveServerUrls(config.server);
  const type = config.directory.type;
  const source = type === undefined ? undefined : options.source ?? SOURCES[type];
  // The filters in the source's own syntax (LDAP filters, or bwdc's include/exclude lists).
  source?.validateFilters(config);
  // The source's other settings, with the parsers a read uses (its descriptor's validateSettings).
  source?.validateSettings(config);
  const dns: [string, string | undefined][] = [
    ["directory.ldap.rootPath", type === "ldap" ? config.directory.ldap.rootPath : undefined],
    ["directory.file.rootPath", type === "file" ? config.directory.file.rootPath : undefined],
    ["sync.userPath", type === "ldap" ? config.sync.userPath : undefined],
    ["sync.groupPath", type === "ldap" ? config.sync.groupPath : undefined],
  ];
  for (const [key, value] of dns) {
    if (value === undefined) continue;
    try {
      parseDn(value);
    } catch (error) {
      throw new ConfigError(
        `Invalid DN in ${key}: ${JSON.stringify(value)}: ${
          error instanceof Error ? error.message : String(error)
        }`,
        {
          hint:
            `Fix ${key}: a DN is attribute=value pairs joined by commas, e.g. ou=people,dc=example,dc=com; write , + " \\ < > ; inside values with a backslash`,
          cause: error,
          details: { key, value },
        },
      );
    }
  }
}

/** The kind of value a setting holds, which decides how a command-line string is read. */
export type SettingKind = "string" | "integer" | "number" | "boolean" | "enum";

/** One setting of the schema, by its dot path. */
export interface Setting {
  /** Dot path, e.g. `directory.ldap.hostname`. */
  key: string;
  /** How a string value is coerced. */
  kind: SettingKind;
  /** Allowed values of an `enum` setting. */
  values: readonly string[];
  /** Smallest allowed number, if any. */
  min: number | undefined;
  /** Largest allowed number, if any. */
  max: number | undefined;
  /** A secret: set from env, file or stdin, stored in the state store, never shown. */
  secret: boolean;
  /** The default value, or undefined when the setting has none. */
  defaultValue: string | number | boolean | undefined;
  /** The leaf schema the coerced value must pass. */
  schema: z.core.$ZodType;
}

/** A stored value. */
export type SettingValue = string | number | boolean;

/** The content of `config.json`: nested objects holding only the settings that were set. */
export interface StoredConfig {
  [key: string]: StoredConfig | SettingValue;
}

const isSecretKey = (key: string): boolean => SECRET_KEYS.some((secret) => secret === key);

function collect(schema: z.core.$ZodType, path: string[], out: Setting[]): void {
  let current: z.core.$ZodType = schema;
  let defaultValue: unknown = undefined;
  for (;;) {
    if (current instanceof z.ZodDefault) {
      defaultValue = current.def.defaultValue;
      current = current.unwrap();
    } else if (current instanceof z.ZodOptional) {
      current = current.unwrap();
    } else {
      break;
    }
  }
  if (current instanceof z.ZodObject) {
    for (const [name, child] of Object.entries(current.shape)) {
      collect(child, [...path, name], out);
    }
    return;
  }
  const key = path.join(".");
  const base = {
    key,
    values: [] as string[],
    min: undefined,
    max: undefined,
    secret: false,
    defaultValue: typeof defaultValue === "string" || typeof defaultValue === "number" ||
        typeof defaultValue === "boolean"
      ? defaultValue
      : undefined,
    schema: current,
  };
  if (current instanceof z.ZodBoolean) {
    out.push({ ...base, kind: "boolean" });
  } else if (current instanceof z.ZodNumber) {
    const min = current.minValue;
    const max = current.maxValue;
    out.push({
      ...base,
      kind: current.isInt ? "integer" : "number",
      min: min === null || !Number.isFinite(min) || min <= Number.MIN_SAFE_INTEGER
        ? undefined
        : min,
      max: max === null || !Number.isFinite(max) || max >= Number.MAX_SAFE_INTEGER
        ? undefined
        : max,
    });
  } else if (current instanceof z.ZodEnum) {
    out.push({ ...base, kind: "enum", values: current.options.map(String) });
  } else {
    out.push({ ...base, kind: "string" });
  }
}

function buildSettings(): Setting[] {
  const settings: Setting[] = [];
  collect(configSchema, [], settings);
  for (const key of SECRET_KEYS) {
    const section = key.slice(0, key.lastIndexOf(".") + 1);
    let at = settings.length;
    for (let index = settings.length - 1; index >= 0; index--) {
      if (settings[index]?.key.startsWith(section)) {
        at = index + 1;
        break;
      }
    }
    settings.splice(at, 0, {
      key,
      kind: "string",
      values: [],
      min: undefined,
      max: undefined,
      secret: true,
      defaultValue: undefined,
      schema: z.string().min(1),
    });
  }
  return settings;
}

/** Every setting, in schema order (secrets at the end of their section). */
export const SETTINGS: readonly Setting[] = buildSettings();

/** bwdc's setting names (`bwdc config <setting>`), accepted as aliases. */
export const SETTING_ALIASES: Readonly<Record<string, string>> = {
  "server": "server.url",
  "directory": "directory.type",
  "ldap.password": "directory.ldap.password",
  "gsuite.key": "directory.google.privateKey",
  "entra.key": "directory.entra.key",
  "azure.key": "directory.entra.key",
  "okta.token": "directory.okta.token",
  "onelogin.secret": "directory.onelogin.clientSecret",
};

/** bwdc's numeric directory types (`bwdc config directory 0`). */
const SEED_DIRECTORY_TYPES = ["ldap", "entra", "google", "okta", "onelogin"];

/**
 * Finds a setting by dot path, case-insensitively (as bwdc does), or by one of the
 * bwdc's aliases. Throws a {@link ConfigError} listing close matches when it is unknown.
 */
export function findSetting(key: string): Setting {
  const wanted = key.trim().toLowerCase();
  const aliased = SETTING_ALIASES[wanted]?.toLowerCase() ?? wanted;
  const found = SETTINGS.find((setting) => setting.key.toLowerCase() === aliased);
  if (found !== undefined) return found;
  const close = closeMatches(wanted);
  throw new ConfigError(`Unknown setting: ${key}`, {
    hint: close.length > 0
      ? `Did you mean ${close.join(", ")}? roster config list --all shows every setting`
      : "roster config list --all shows every setting",
    details: { key, suggestions: close },
  });
}

/** Up to three settings whose dot path or last segment is close to `key`. */
export function closeMatches(key: string): string[] {
  const wanted = key.toLowerCase();
  const last = wanted.slice(wanted.lastIndexOf(".") + 1);
  const scored = SETTINGS.map((setting) => {
    const full = setting.key.toLowerCase();
    const leaf = full.slice(full.lastIndexOf(".") + 1);
    const score = Math.min(distance(wanted, full), distance(last, leaf) + 1);
    return { key: setting.key, score, contains: last.length >= 3 && full.includes(last) };
  });
  return scored
    .filter((entry) => entry.score <= Math.max(2, Math.floor(last.length / 3)) || entry.contains)
    .sort((a, b) => a.score - b.score || a.key.localeCompare(b.key))
    .slice(0, 3)
    .map((entry) => entry.key);
}

function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(
        Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost),
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** Describes what a setting accepts, e.g. `an integer from 5 to 525600`. */
export function describeAllowed(setting: Setting): string {
  const range = (noun: string): string => {
    if (setting.min !== undefined && setting.max !== undefined) {
      return `${noun} from ${setting.min} to ${setting.max}`;
    }
    if (setting.min !== undefined) return `${noun} of at least ${setting.min}`;
    if (setting.max !== undefined) return `${noun} of at most ${setting.max}`;
    return noun;
  };
  switch (setting.kind) {
    case "boolean":
      return "true or false";
    case "integer":
      return range("an integer");
    case "number":
      return range("a number");
    case "enum":
      return `one of ${setting.values.join(", ")}`;
    case "string":
      return "a non-empty value";
  }
}

function invalid(setting: Setting, value: string): ConfigError {
  const allowed = describeAllowed(setting);
  const example = setting.defaultValue ?? setting.values[0];
  return new ConfigError(
    `Invalid value for ${setting.key}: ${JSON.stringify(value)} is not ${allowed}`,
    {
      hint: example === undefined
        ? `Give ${allowed}, or remove the setting with roster config unset ${setting.key}`
        : `Give ${allowed}, e.g. roster config set ${setting.key} ${String(example)}`,
      details: { key: setting.key, value, allowed },
    },
  );
}

/**
 * Reads a command-line string as the setting's type: booleans `true`/`false` in any case,
 * integers, numbers and enum values (any case), then checks it against the schema (ranges,
 * non-empty). Throws a {@link ConfigError} naming the key, the value and what is allowed.
 */
export function coerceValue(setting: Setting, raw: string): SettingValue {
  let value: SettingValue;
  const text = raw.trim();
  switch (setting.kind) {
    case "boolean": {
      const lower = text.toLowerCase();
      if (lower !== "true" && lower !== "false") throw invalid(setting, raw);
      value = lower === "true";
      break;
    }
    case "integer":
      if (!/^[+-]?\d+$/.test(text)) throw invalid(setting, raw);
      value = Number(text);
      break;
    case "number":
      if (text === "" || !Number.isFinite(Number(text))) throw invalid(setting, raw);
      value = Number(text);
      break;
    case "enum": {
      const seed = setting.key === "directory.type" && /^[0-4]$/.test(text)
        ? SEED_DIRECTORY_TYPES[Number(text)]
        : undefined;
      const match = seed ??
        setting.values.find((option) => option.toLowerCase() === text.toLowerCase());
      if (match === undefined) throw invalid(setting, raw);
      value = match;
      break;
    }
    case "string":
      value = normaliseString(setting.key, text);
      break;
  }
  const parsed = z.safeParse(setting.schema, value);
  if (!parsed.success) throw invalid(setting, raw);
  return value;
}

function normaliseString(key: string, text: string): string {
  if (key !== "server.url" && key !== "server.api" && key !== "server.identity") return text;
  if (text === "" || text.toLowerCase() === "eu") return text.toLowerCase();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`;
  return withScheme.replace(/\/+$/, "");
}

/** Reads a value from the stored config by dot path. */
export function getStored(stored: StoredConfig, key: string): SettingValue | undefined {
  let node: StoredConfig | SettingValue | undefined = stored;
  for (const part of key.split(".")) {
    if (node === undefined || typeof node !== "object") return undefined;
    node = node[part];
  }
  return node === undefined || typeof node === "object" ? undefined : node;
}

/** Returns a copy of the stored config with `key` set to `value`. */
export function setStored(stored: StoredConfig, key: string, value: SettingValue): StoredConfig {
  const copy = structuredClone(stored);
  const parts = key.split(".");
  let node = copy;
  for (const part of parts.slice(0, -1)) {
    const child = node[part];
    if (child === undefined || typeof child !== "object") {
      const created: StoredConfig = {};
      node[part] = created;
      node = created;
    } else {
      node = child;
    }
  }
  node[parts[parts.length - 1] ?? key] = value;
  return copy;
}

/** Returns a copy of the stored config without `key` (empty sections are removed). */
export function unsetStored(stored: StoredConfig, key: string): StoredConfig {
  const copy = structuredClone(stored);
  const remove = (node: StoredConfig, parts: string[]): void => {
    const [head, ...rest] = parts;
    if (head === undefined) return;
    if (rest.length === 0) {
      delete node[head];
      return;
    }
    const child = node[head];
    if (child === undefined || typeof child !== "object") return;
    remove(child, rest);
    if (Object.keys(child).length === 0) delete node[head];
  };
  remove(copy, key.split("."));
  return copy;
}

/** Orders a stored config like the schema, so that the file is stable and readable. */
export function orderStored(stored: StoredConfig): StoredConfig {
  let ordered: StoredConfig = {};
  for (const setting of SETTINGS) {
    const value = getStored(stored, setting.key);
    if (value !== undefined) ordered = setStored(ordered, setting.key, value);
  }
  return ordered;
}

function toStored(value: Record<string, unknown>): StoredConfig {
  const out: StoredConfig = {};
  for (const [key, child] of Object.entries(value)) {
    if (isRecord(child)) out[key] = toStored(child);
    else if (typeof child === "string" || typeof child === "number" || typeof child === "boolean") {
      out[key] = child;
    }
  }
  return out;
}

/**
 * Validates a stored config and applies the defaults. Throws a {@link ConfigError} naming the
 * file and the offending key.
 */
export function parseConfig(stored: unknown, file: string): Config {
  if (isRecord(stored)) {
    for (const key of SECRET_KEYS) {
      const parts = key.split(".");
      let node: unknown = stored;
      for (const part of parts) node = isRecord(node) ? node[part] : undefined;
      if (node !== undefined) {
        throw new ConfigError(`Secret ${key} must not be stored in ${file}`, {
          hint:
            `Remove it from the file, then set it with roster config set ${key} --secret-env VAR`,
          details: { file, key },
        });
      }
    }
  }
  const result = configSchema.safeParse(stored);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path.map(String) ?? [];
  if (issue?.code === "unrecognized_keys") {
    const key = [...path, issue.keys[0] ?? ""].filter((part) => part !== "").join(".");
    throw new ConfigError(`Unknown setting ${key} in ${file}`, {
      hint: `Remove it with roster config unset ${key}`,
      details: { file, key },
    });
  }
  const key = path.join(".");
  const detail = describeBadValue(stored, key) ?? issue?.message ?? "invalid value";
  throw new ConfigError(`Invalid setting ${key === "" ? "(root)" : key} in ${file}: ${detail}`, {
    hint: key === ""
      ? `The file must hold a JSON object; fix it or move it away`
      : `Set it again with roster config set ${key} <value>, or roster config unset ${key}`,
    details: { file, key, problem: detail },
  });
}

/** `"ad" is not one of ldap, …` for a known setting with a scalar value; else null. */
function describeBadValue(stored: unknown, key: string): string | null {
  let node: unknown = stored;
  for (const part of key.split(".")) node = isRecord(node) ? node[part] : undefined;
  if (typeof node !== "string" && typeof node !== "number" && typeof node !== "boolean") {
    return null;
  }
  const setting = SETTINGS.find((candidate) => candidate.key === key);
  return setting === undefined
    ? null
    : `${JSON.stringify(node)} is not ${describeAllowed(setting)}`;
}

/**
 * Reads `config.json` without validating it: a missing file is an empty config; content that
 * is not a JSON object throws a {@link ConfigError} naming the file.
 */
export async function readStoredConfig(file: string): Promise<StoredConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return {};
    throw new ConfigError(`Cannot read the configuration file ${file}: ${String(error)}`, {
      hint: "Check the file's permissions",
      cause: error,
      details: { file },
    });
  }
  // A byte order mark (Windows editors write one) is not JSON: drop it.
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      `Cannot read the configuration file ${file}: ${
        error instanceof Error ? error.message : String(error)
      }`,
      {
        hint: "Fix the JSON, or move the file away and configure roster again",
        cause: error,
        details: { file },
      },
    );
  }
  if (!isRecord(parsed)) {
    throw new ConfigError(`Cannot read the configuration file ${file}: it is not a JSON object`, {
      hint: "Fix the JSON, or move the file away and configure roster again",
      details: { file },
    });
  }
  return toStored(parsed);
}

/** Reads and validates `config.json`, returning the stored settings and the full config. */
export async function loadConfig(
  file: string,
): Promise<{ stored: StoredConfig; config: Config }> {
  const stored = await readStoredConfig(file);
  return { stored, config: parseConfig(stored, file) };
}

/**
 * Validates and writes `config.json` atomically: a temporary file with mode 0600 in the same
 * directory, fsync, then rename over the old file. Nothing is written when validation fails.
 */
export async function saveConfig(file: string, stored: StoredConfig): Promise<Config> {
  const ordered = orderStored(stored);
  const config = parseConfig(ordered, file);
  validateSettingSyntax(config);
  const temporary = `${file}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const handle = await Deno.open(temporary, { write: true, createNew: true, mode: 0o600 });
  try {
    const bytes = new TextEncoder().encode(JSON.stringify(ordered, null, 2) + "\n");
    let offset = 0;
    while (offset < bytes.length) offset += await handle.write(bytes.subarray(offset));
    await handle.sync();
  } finally {
    handle.close();
  }
  try {
    if (Deno.build.os !== "windows") await Deno.chmod(temporary, 0o600);
    await Deno.rename(temporary, file);
  } catch (error) {
    await Deno.remove(temporary).catch(() => {});
    throw error;
  }
  return config;
}

/** Reads a setting's effective value from a validated config (undefined when unset). */
export function configValue(config: Config, key: string): SettingValue | undefined {
  let node: unknown = config;
  for (const part of key.split(".")) node = isRecord(node) ? node[part] : undefined;
  return typeof node === "string" || typeof node === "number" || typeof node === "boolean"
    ? node
    : undefined;
}

/** Whether a dot path names a secret setting. */
export function isSecret(key: string): boolean {
  return isSecretKey(key);
}

/** Options of {@link validateConfig}. */
export interface ValidateConfigOptions {
  /** Resolves a secret from the state store. */
  secret: (key: string) => Promise<string | undefined>;
  /** The source descriptor to check against. @default `SOURCES[config.directory.type]` */
  source?: SourceDescriptor;
}

/**
 * Checks that the configuration is complete for its directory type: the type is set, every
 * required setting (and secret) of its source's descriptor (`src/providers/registry.ts`) is
 * present, the filters parse as that source reads them, and no options contradict each other. Throws a
 * {@link ConfigError} naming every missing key; returns the directory type.
 */
export async function validateConfig(
  config: Config,
  options: ValidateConfigOptions,
): Promise<DirectoryType> {
  const type = config.directory.type;
  validateSettingSyntax(config, options);
  if (type === undefined) {
    throw new ConfigError("No directory configured: directory.type is not set", {
      hint:
        "roster config set directory.type <ldap|entra|google|okta|onelogin|file>, then its settings",
      details: { key: "directory.type" },
    });
  }
  const source = options.source ?? SOURCES[type];
  const missing = await source.missingSettings(config, options.secret);
  const first = missing[0];
  if (first !== undefined) {
    throw new ConfigError(
      `Directory configuration incomplete: ${missing.join(", ")} ${
        missing.length === 1 ? "is" : "are"
      } not set`,
      {
        // One command per missing setting, so that the hint covers them all.
        hint: missing.map((key) =>
          isSecret(key)
            ? `roster config set ${key} --secret-env VAR (or --secret-file FILE, or stdin)`
            : `roster config set ${key} <value>`
        ).join("; "),
        details: { directoryType: type, missing },
      },
    );
  }
  if (config.sync.overwriteExisting && config.sync.largeImport) {
    throw new ConfigError(
      "Conflicting settings: sync.overwriteExisting cannot be used with sync.largeImport",
      {
        hint: "roster config set sync.overwriteExisting false (or sync.largeImport false)",
        details: { keys: ["sync.overwriteExisting", "sync.largeImport"] },
      },
    );
  }
  return type;
}
