/**
 * The provider registry: one descriptor per `directory.type`, in one explicit table (no
 * discovery). Config validation (`src/config/store.ts`), `status`, `test`, `plan` and `sync`
 * ask the descriptor instead of knowing each source, so adding a source means its own folder
 * under `src/providers/`, its line in {@link SOURCES} and its settings in the config schema.
 *
 * A descriptor is written with {@link defineSource}, typed by the source's settings slice `S`
 * (e.g. `{ ldap: config.directory.ldap, sync: config.sync }`); the table holds the
 * slice-erased {@link SourceDescriptor}, whose methods take the whole config and slice it.
 * @module
 */

import type { Config, DirectoryType } from "../config/schema.ts";
import { DIRECTORY_TYPES } from "../config/schema.ts";
import { ConfigError } from "../errors.ts";
import { isRecord } from "../guards.ts";
import { createFileProvider, fileFormat, type FileSettings } from "./file/mod.ts";
import { checkedFilter } from "./file/ldif.ts";
import { resolveEncoding } from "../text/decode.ts";
import { entraSource } from "./entra/mod.ts";
import { googleSource } from "./google/mod.ts";
import { createLdapProvider, type LdapSettings, validateLdapFilters } from "./ldap/mod.ts";
import { oktaSource } from "./okta/mod.ts";
import { oneloginSource } from "./onelogin/mod.ts";
import type { DirectoryProvider, ProviderContext } from "./provider.ts";

/**
 * How a source's `sync.userFilter` / `sync.groupFilter` are interpreted:
 * - `provider`: the provider applies them itself (LDAP filters, RFC 4515: the `ldap` source
 *   sends them to the server, LDIF files evaluate them) and the engine applies none;
 * - `engine`: bwdc's set syntax (`include:a,b`, `exclude:a,b`), applied by the engine
 *   (`src/engine/filter.ts`) to names and emails; cloud sources may also accept bwdc's
 *   `…|native` suffix for a server-side part they apply themselves.
 */
export type FilterHandling = "provider" | "engine";

/** What a source declares; written once per source with {@link defineSource}. */
export interface SourceDefinition<S> {
  /** The `directory.type` it serves. */
  type: DirectoryType;
  /** Dot paths that must be set (secrets included) before the source can be read. */
  requiredSettings: readonly string[];
  /** Dot paths of its secret settings (also listed in the schema's `SECRET_KEYS`). */
  secretSettings: readonly string[];
  /**
   * Settings that are required only in some setups (e.g. Google's `clientEmail`, needed with a
   * bare PEM key but not with a JSON key file, which names its service account): the dot paths
   * missing for these settings and secrets. @default none
   */
  missingSettings?: (settings: S, secret: SecretReader) => Promise<readonly string[]>;
  /** Its settings slice of the validated config. */
  settings(config: Config): S;
  /** The provider factory; absent while the source is not supported yet. */
  create?: (context: ProviderContext<S>) => DirectoryProvider;
  /** How `sync.userFilter`/`groupFilter` are interpreted (may depend on settings, e.g. format). */
  filters(settings: S): FilterHandling;
  /** Checks the filters' syntax for this source; throws a `ConfigError` naming the setting. */
  validateFilters(settings: S): void;
  /**
   * Checks the source's other settings that are set (endpoint URLs, subdomain, encoding …) with
   * the same parsers a read uses, so that `config set` and `config validate` refuse what a run
   * would refuse; throws a `ConfigError` naming the setting. Unset settings are left to
   * `requiredSettings`/`missingSettings`. @default no check
   */
  validateSettings?: (settings: S) => void;
  /** What `status` shows as the source: host, file, tenant …; null when not configured. */
  describeTarget(settings: S): string | null;
  /**
   * The provider returns delta reads (`done.delta`): the pipeline then keeps the last complete
   * snapshot to merge them into (`src/state/snapshot.ts`). @default false
   */
  readsDeltas?: boolean;
}

/** Resolves a secret setting (undefined when unset). */
export type SecretReader = (key: string) => Promise<string | undefined>;

/** A descriptor as the rest of roster sees it: every method takes the whole config. */
export interface SourceDescriptor {
  readonly type: DirectoryType;
  readonly requiredSettings: readonly string[];
  readonly secretSettings: readonly string[];
  /**
   * Every required setting that is not set, in order: the `requiredSettings` that are absent,
   * then the source's conditional ones ({@link SourceDefinition.missingSettings}).
   */
  missingSettings(config: Config, secret: SecretReader): Promise<string[]>;
  /** Whether roster can read this source today. */
  readonly supported: boolean;
  /** See {@link SourceDefinition.readsDeltas}. */
  readonly readsDeltas: boolean;
  /** Builds the provider with its settings slice; throws a `ConfigError` when not supported. */
  create(config: Config, deps: ProviderDeps): DirectoryProvider;
  filters(config: Config): FilterHandling;
  validateFilters(config: Config): void;
  /** See {@link SourceDefinition.validateSettings}. */
  validateSettings(config: Config): void;
  describeTarget(config: Config): string | null;
}

/** What a provider needs besides its settings. */
export type ProviderDeps = Omit<ProviderContext<unknown>, "settings">;

/** Wraps a typed {@link SourceDefinition} into a {@link SourceDescriptor}. */
export function defineSource<S>(definition: SourceDefinition<S>): SourceDescriptor {
  const { create } = definition;
  return {
    type: definition.type,
    requiredSettings: definition.requiredSettings,
    secretSettings: definition.secretSettings,
    supported: create !== undefined,
    readsDeltas: definition.readsDeltas === true,
    async missingSettings(config, secret) {
      const missing: string[] = [];
      for (const key of definition.requiredSettings) {
        const present = definition.secretSettings.includes(key)
          ? (await secret(key)) !== undefined
          : settingValue(config, key) !== undefined;
        if (!present) missing.push(key);
      }
      const extra = await definition.missingSettings?.(definition.settings(config), secret);
      for (const key of extra ?? []) if (!missing.includes(key)) missing.push(key);
      return missing;
    },
    create(config, deps) {
      if (create === undefined) throw notSupported(definition.type);
      return create({ ...deps, settings: definition.settings(config) });
    },
    filters: (config) => definition.filters(definition.settings(config)),
    validateFilters: (config) => definition.validateFilters(definition.settings(config)),
    validateSettings: (config) => definition.validateSettings?.(definition.settings(config)),
    describeTarget: (config) => definition.describeTarget(definition.settings(config)),
  };
}

/** The value at a dot path of the config, when it is a scalar. */
function settingValue(config: Config, key: string): unknown {
  let node: unknown = config;
  for (const part of key.split(".")) node = isRecord(node) ? node[part] : undefined;
  return node;
}

const ldap = defineSource<LdapSettings>({
  type: "ldap",
  requiredSettings: [
    "directory.ldap.hostname",
    "directory.ldap.rootPath",
    "directory.ldap.username",
    "directory.ldap.password",
  ],
  secretSettings: ["directory.ldap.password"],
  settings: (config) => ({ ldap: config.directory.ldap, sync: config.sync }),
  create: createLdapProvider,
  filters: () => "provider",
  validateFilters: (settings) => validateLdapFilters(settings.sync),
  describeTarget: ({ ldap }) => {
    if (ldap.hostname === undefined) return null;
    const scheme = ldap.ssl && !ldap.startTls ? "ldaps" : "ldap";
    return `${scheme}://${ldap.hostname}:${ldap.port}${ldap.startTls ? " (StartTLS)" : ""}`;
  },
});

/** LDIF files apply LDAP filters themselves; CSV and JSON files leave bwdc's sets to the engine. */
function fileFilters(settings: FileSettings): FilterHandling {
  const { path, format } = settings.file;
  if (format !== "auto") return format === "ldif" ? "provider" : "engine";
  if (path === undefined) return "provider";
  return fileFormat(path, format) === "ldif" ? "provider" : "engine";
}

/**
 * Whether the filters' syntax is known yet: with `format auto` and no `directory.file.path`, the
 * file's extension (set later) decides between LDAP filters and bwdc's include/exclude lists.
 */
function fileFormatKnown(settings: FileSettings): boolean {
  return settings.file.format !== "auto" || settings.file.path !== undefined;
}

const file = defineSource<FileSettings>({
  type: "file",
  requiredSettings: ["directory.file.path"],
  secretSettings: [],
  settings: (config) => ({ file: config.directory.file, sync: config.sync }),
  create: createFileProvider,
  filters: fileFilters,
  validateFilters: (settings) => {
    if (!fileFormatKnown(settings) || fileFilters(settings) !== "provider") return;
    checkedFilter(settings.sync.userFilter, "sync.userFilter");
    checkedFilter(settings.sync.groupFilter, "sync.groupFilter");
  },
  validateSettings: (settings) => void resolveEncoding(settings.file.encoding),
  describeTarget: (settings) => settings.file.path ?? null,
});

/** Every directory type and its descriptor. */
export const SOURCES: Readonly<Record<DirectoryType, SourceDescriptor>> = {
  ldap,
  entra: defineSource(entraSource),
  google: defineSource(googleSource),
  okta: defineSource(oktaSource),
  onelogin: defineSource(oneloginSource),
  file,
};

/** The directory types roster can read today. */
export const SUPPORTED_TYPES: readonly DirectoryType[] = DIRECTORY_TYPES.filter((type) =>
  SOURCES[type].supported
);

function notSupported(type: DirectoryType): ConfigError {
  return new ConfigError(`Directory type ${type} is not supported yet`, {
    hint: `Supported today: ${SUPPORTED_TYPES.join(", ")}`,
    details: { key: "directory.type", value: type },
  });
}

/**
 * The descriptor of `config.directory.type`. Throws a {@link ConfigError} when no directory is
 * configured.
 */
export function sourceOf(config: Config): SourceDescriptor {
  const type = config.directory.type;
  if (type === undefined) {
    throw new ConfigError("No directory configured: directory.type is not set", {
      hint:
        "roster config set directory.type <ldap|entra|google|okta|onelogin|file>, then its settings",
      details: { key: "directory.type" },
    });
  }
  return SOURCES[type];
}
