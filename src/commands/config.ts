/**
 * `roster config`: read and change settings by dot path, store secrets safely, validate.
 *
 * ```sh
 * roster config set directory.type ldap
 * roster config set directory.ldap.password --secret-env LDAP_PASSWORD
 * roster config get sync.interval
 * roster config list --output json
 * ```
 * @module
 */

import { Command, Option } from "commander";
import { isAbsolute, resolve } from "node:path";
import {
  coerceValue,
  configValue,
  describeAllowed,
  findSetting,
  getStored,
  parseConfig,
  readStoredConfig,
  saveConfig,
  setStored,
  type Setting,
  SETTINGS,
  type SettingValue,
  type StoredConfig,
  unsetStored,
  validateConfig,
} from "../config/store.ts";
import type { Config, DirectoryType } from "../config/schema.ts";
import { resolveServerUrls } from "../bitwarden/urls.ts";
import { checkServiceAccountKey } from "../providers/google/key.ts";
import { ConfigError, UsageError } from "../errors.ts";
import { type CliDeps, type CommandContext, commandContext, withState } from "./context.ts";
import type { StateStore } from "../state/store.ts";
import { isRecord } from "../guards.ts";

/** Settings holding file paths: relative values are saved as absolute paths. */
export const PATH_SETTINGS: ReadonlySet<string> = new Set([
  "server.caFile",
  "directory.ldap.sslCaPath",
  "directory.ldap.sslCertPath",
  "directory.ldap.sslKeyPath",
  "directory.ldap.tlsCaPath",
  "directory.file.path",
]);

/** How a secret is shown. */
export const MASK = "********";

/** Where a setting's value comes from. */
export type SettingSource = "set" | "default" | "unset";

/** `config get/set/unset --output json`. */
export interface SettingDocument {
  object: "setting";
  key: string;
  /** The effective value; secrets are masked; null when unset. */
  value: SettingValue | null;
  source: SettingSource;
}

interface ValueOptions {
  secretEnv?: string;
  secretFile?: string;
}

function valueOptions(raw: Record<string, unknown>): ValueOptions {
  const options: ValueOptions = {};
  const env = raw["secretEnv"];
  const file = raw["secretFile"];
  if (typeof env === "string") options.secretEnv = env;
  if (typeof file === "string") options.secretFile = file;
  return options;
}

const SECRET_HINT =
  "Use --secret-env VAR, --secret-file FILE, or pipe it on stdin (printf '%s' \"$SECRET\" | roster config set KEY)";

/** Reads the value of `config set` from the argument, an env var, a file, or stdin. */
async function readValue(
  context: CommandContext,
  setting: Setting,
  input: { value: string | undefined; options: ValueOptions },
): Promise<string> {
  const { value, options } = input;
  const sources = [value, options.secretEnv, options.secretFile].filter((v) => v !== undefined);
  if (sources.length > 1) {
    throw new UsageError(`Too many values for ${setting.key}: give one source`, {
      hint: "Give either a value, --secret-env VAR or --secret-file FILE",
    });
  }
  if (value !== undefined) {
    if (setting.secret) {
      throw new UsageError(
        `Refusing to read secret ${setting.key} from the command line: it would be visible in the process list and shell history`,
        { hint: SECRET_HINT.replace("KEY", setting.key), details: { key: setting.key } },
      );
    }
    return value;
  }
  let text: string;
  if (options.secretEnv !== undefined) {
    const found = context.io.env(options.secretEnv);
    if (found === undefined || found === "") {
      throw new ConfigError(
        `Cannot read ${setting.key}: environment variable ${options.secretEnv} is not set`,
        { hint: `Export ${options.secretEnv} first`, details: { key: setting.key } },
      );
    }
    text = found;
  } else if (options.secretFile !== undefined) {
    try {
      text = await Deno.readTextFile(options.secretFile);
    } catch (error) {
      throw new ConfigError(
        `Cannot read ${setting.key} from ${options.secretFile}: ${
          error instanceof Error ? error.message : String(error)
        }`,
        { hint: "Check the file path and its permissions", details: { key: setting.key } },
      );
    }
  } else if (!context.io.stdinIsTerminal()) {
    text = await context.io.readStdin();
  } else {
    throw new UsageError(`Missing value for ${setting.key}`, {
      hint: setting.secret
        ? SECRET_HINT.replace("KEY", setting.key)
        : `roster config set ${setting.key} <value> (${describeAllowed(setting)})`,
    });
  }
  if (setting.key === "directory.google.privateKey") {
    // A JSON key file is kept as it is (its \n escapes are JSON's); a PEM key keeps every
    // line, and a PEM pasted as one line with literal \n is unfolded.
    const trimmed = text.trim();
    return trimmed.startsWith("{") || trimmed.includes("\n")
      ? trimmed
      : trimmed.replaceAll("\\n", "\n");
  }
  return (text.split(/\r?\n/)[0] ?? "").trim();
}

async function settingDocument(
  setting: Setting,
  state: { stored: StoredConfig; config: Config; store: StateStore },
): Promise<SettingDocument> {
  if (setting.secret) {
    const set = (await state.store.getSecret(setting.key)) !== undefined;
    return {
      object: "setting",
      key: setting.key,
      value: set ? MASK : null,
      source: set ? "set" : "unset",
    };
  }
  const stored = getStored(state.stored, setting.key);
  if (stored !== undefined) {
    return { object: "setting", key: setting.key, value: stored, source: "set" };
  }
  const effective = configValue(state.config, setting.key);
  return effective === undefined
    ? { object: "setting", key: setting.key, value: null, source: "unset" }
    : { object: "setting", key: setting.key, value: effective, source: "default" };
}

function displayValue(document: SettingDocument): string {
  if (document.value === null) return "(not set)";
  return String(document.value);
}

function printSetting(context: CommandContext, document: SettingDocument, verb: string): void {
  if (context.out.json) {
    context.out.printJson(document);
  } else if (verb === "") {
    context.out.printLines([displayValue(document)]);
  } else if (!context.out.quiet) {
    const shown = document.source === "default"
      ? `${displayValue(document)} (default)`
      : displayValue(document);
    context.out.printLines([`${verb} ${document.key}: ${shown}`]);
  }
}

async function setAction(
  context: CommandContext,
  key: string,
  input: { value: string | undefined; options: ValueOptions },
): Promise<void> {
  const setting = findSetting(key);
  const raw = await readValue(context, setting, input);
  let value = coerceValue(setting, raw);
  if (typeof value === "string" && PATH_SETTINGS.has(setting.key) && !isAbsolute(value)) {
    // Saved absolute, so that a later run from another directory (cron) finds the same file.
    value = resolve(context.io.cwd(), value);
  }
  await withState(context, async (store) => {
    let stored = await readStoredConfig(context.paths.config);
    let config: Config;
    if (setting.secret) {
      config = parseConfig(stored, context.paths.config);
      if (typeof value !== "string") throw new ConfigError(`Invalid value for ${setting.key}`);
      // A secret that is neither a JSON key file nor a PEM private key is refused at once.
      if (setting.key === "directory.google.privateKey") checkServiceAccountKey(value);
      await store.setSecret(setting.key, value);
      context.log.debug(`Stored secret ${setting.key} in ${context.paths.state}`);
    } else {
      const before = getStored(stored, "directory.type");
      stored = setStored(stored, setting.key, value);
      if (setting.key.startsWith("server.")) {
        resolveServerUrls(parseConfig(stored, context.paths.config).server);
      }
      config = setting.key === "directory.type"
        ? await saveTypeChange(context.paths.config, stored, String(value))
        : await saveConfig(context.paths.config, stored);
      if (setting.key === "directory.type" && before !== undefined && before !== value) {
        await store.clearSyncTimes();
        context.log.info(
          "The directory type changed: the last sync times were cleared, so the next sync reads the whole directory",
        );
      }
    }
    printSetting(
      context,
      await settingDocument(setting, { stored, config, store }),
      "Saved setting",
    );
  }, { ifDamaged: "empty" });
}

const FILTER_KEYS = ["sync.userFilter", "sync.groupFilter"] as const;

/**
 * Saves a new `directory.type`; when a stored filter does not parse in the new source's syntax
 * (e.g. bwdc's `include:` list kept from a cloud source when switching to `ldap`), says that the
 * type was not changed and which filter to unset first.
 */
async function saveTypeChange(file: string, stored: StoredConfig, type: string): Promise<Config> {
  try {
    return await saveConfig(file, stored);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const filter = FILTER_KEYS.find((key) => error.message.includes(key));
    if (filter === undefined) throw error;
    throw new ConfigError(
      `Directory type not changed to ${type}: ${error.message.charAt(0).toLowerCase()}${
        error.message.slice(1)
      }`,
      {
        hint:
          `Remove the filter first with roster config unset ${filter}, then roster config set directory.type ${type}, and set the filter again in the ${type} syntax`,
        cause: error,
        details: { key: "directory.type", value: type, filter },
      },
    );
  }
}

async function getAction(context: CommandContext, key: string): Promise<void> {
  const setting = findSetting(key);
  await withState(context, async (store) => {
    const stored = await readStoredConfig(context.paths.config);
    const config = parseConfig(stored, context.paths.config);
    printSetting(context, await settingDocument(setting, { stored, config, store }), "");
  }, { ifDamaged: "empty" });
}

async function unsetAction(context: CommandContext, key: string): Promise<void> {
  await withState(context, async (store) => {
    let stored = await readStoredConfig(context.paths.config);
    let setting: Setting;
    try {
      setting = findSetting(key);
    } catch (error) {
      // An unknown key that is in the file (e.g. from an older version) can still be removed.
      if (getStored(stored, key) === undefined) throw error;
      await saveConfig(context.paths.config, unsetStored(stored, key));
      context.out.printMessage(`Removed unknown setting ${key}`);
      return;
    }
    let config: Config;
    if (setting.secret) {
      config = parseConfig(stored, context.paths.config);
      await store.deleteSecret(setting.key);
    } else {
      stored = unsetStored(stored, setting.key);
      config = await saveConfig(context.paths.config, stored);
    }
    printSetting(
      context,
      await settingDocument(setting, { stored, config, store }),
      "Removed setting",
    );
  }, { ifDamaged: "empty" });
}

/** Builds the whole configuration as nested JSON, secrets masked, unset values null. */
export function maskedConfig(documents: readonly SettingDocument[]): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const document of documents) {
    const parts = document.key.split(".");
    let node = root;
    for (const part of parts.slice(0, -1)) {
      const child = node[part];
      if (isRecord(child)) {
        node = child;
      } else {
        const created: Record<string, unknown> = {};
        node[part] = created;
        node = created;
      }
    }
    node[parts[parts.length - 1] ?? document.key] = document.value;
  }
  return root;
}

async function listAction(context: CommandContext, all: boolean): Promise<void> {
  await withState(context, async (store) => {
    const stored = await readStoredConfig(context.paths.config);
    const config = parseConfig(stored, context.paths.config);
    const documents: SettingDocument[] = [];
    for (const setting of SETTINGS) {
      documents.push(await settingDocument(setting, { stored, config, store }));
    }
    if (context.out.json) {
      context.out.printJson(maskedConfig(documents));
      return;
    }
    const type = config.directory.type;
    const shown = documents.filter((document) => {
      if (all || document.source === "set") return true;
      if (!document.key.startsWith("directory.")) return true;
      if (document.key === "directory.type") return true;
      return type !== undefined && document.key.startsWith(`directory.${type}.`);
    });
    const rows = shown.map((document) => [document.key, displayValue(document), document.source]);
    context.out.printLines([
      ...context.out.table(rows, { headers: ["SETTING", "VALUE", "SOURCE"], indent: 0 }),
      ...(all
        ? []
        : ["", "Settings of other directory types are hidden: roster config list --all"]),
    ]);
  }, { ifDamaged: "empty" });
}

async function validateAction(context: CommandContext): Promise<void> {
  await withState(context, async (store) => {
    const config = await context.loadConfig();
    const type = await validateConfig(config, { secret: (key) => store.getSecret(key) });
    const warnings: string[] = [];
    if (!config.sync.users && !config.sync.groups) {
      warnings.push("sync.users and sync.groups are both false: a sync would send nothing");
    }
    // Files a run reads: a missing one is a warning (it may be mounted or created later).
    const files: [string, string | undefined][] = [
      ["server.caFile", config.server.caFile],
      ["directory.file.path", type === "file" ? config.directory.file.path : undefined],
      ["directory.ldap.tlsCaPath", type === "ldap" ? config.directory.ldap.tlsCaPath : undefined],
      ["directory.ldap.sslCaPath", type === "ldap" ? config.directory.ldap.sslCaPath : undefined],
      ...cloudCaFile(config, type),
    ];
    for (const [key, path] of files) {
      if (path === undefined) continue;
      try {
        await Deno.stat(path);
      } catch {
        warnings.push(
          isAbsolute(path)
            ? `${key} ${path} does not exist`
            : `${key} ${path} does not exist (relative to ${context.io.cwd()})`,
        );
      }
    }
    for (const warning of warnings) context.log.warn(warning);
    if (context.out.json) {
      context.out.printJson({ object: "validation", valid: true, directoryType: type, warnings });
    } else if (!context.out.quiet) {
      context.out.printLines([`The configuration is complete for directory type ${type}`]);
    }
  }, { ifDamaged: "empty" });
}

/** `directory.<type>.caFile` of a cloud source, when it is set. */
function cloudCaFile(config: Config, type: DirectoryType): [string, string | undefined][] {
  switch (type) {
    case "entra":
    case "google":
    case "okta":
    case "onelogin":
      return [[`directory.${type}.caFile`, config.directory[type].caFile]];
    default:
      return [];
  }
}

function pathAction(context: CommandContext): void {
  if (context.out.json) {
    context.out.printJson({
      object: "paths",
      dataDir: context.paths.dir,
      config: context.paths.config,
      state: context.paths.state,
    });
  } else {
    context.out.printLines([context.paths.config]);
  }
}

function secretOptions(command: Command): Command {
  return command
    .addOption(new Option("--secret-env <var>", "read the value from this environment variable"))
    .addOption(new Option("--secret-file <file>", "read the value from the first line of a file"));
}

/** Builds the `config` command and its subcommands. */
export function configCommand(deps: CliDeps): Command {
  const config = new Command("config")
    .summary("show and change settings (dot paths), store secrets, validate")
    .description(
      "Show and change settings by dot path (server.*, directory.<type>.*, sync.*). " +
        "Secrets (directory.ldap.password, directory.entra.key, directory.google.privateKey, " +
        "directory.okta.token, directory.onelogin.clientSecret) are read from an environment " +
        "variable, a file or stdin, never from the command line, and are never shown. " +
        "bwdc's form `config <setting> [value]` (e.g. `config server URL`) also works.",
    )
    .argument("[setting]", "bwdc's form: the setting to set")
    .argument("[value]", "bwdc's form: its value");
  config
    .addOption(new Option("--secretenv <var>", "bwdc's form: like set --secret-env").hideHelp())
    .addOption(
      new Option("--secretfile <file>", "bwdc's form: like set --secret-file").hideHelp(),
    )
    .action(
      async (
        setting: string | undefined,
        value: string | undefined,
        options: Record<string, unknown>,
        command: Command,
      ) => {
        if (setting === undefined) {
          throw new UsageError("Missing config subcommand", {
            hint: "roster config --help lists set, get, unset, list, path and validate",
          });
        }
        const input: ValueOptions = {};
        if (typeof options["secretenv"] === "string") input.secretEnv = options["secretenv"];
        if (typeof options["secretfile"] === "string") input.secretFile = options["secretfile"];
        await setAction(commandContext(deps, command), setting, { value, options: input });
      },
    );
  config.addHelpText(
    "after",
    `
Examples:
  roster config set directory.type ldap
  roster config set directory.ldap.hostname ldap.example.com
  roster config set directory.ldap.password --secret-env LDAP_PASSWORD
  printf '%s' "$PW" | roster config set directory.ldap.password
  roster config set sync.removeDisabled true
  roster config get sync.interval
  roster config unset sync.userFilter
  roster config list --all
  roster config validate`,
  );

  secretOptions(
    config.command("set")
      .description(
        "Set a setting. Values are read as the setting's type (true/false, integers, allowed values). " +
          "Secrets need --secret-env, --secret-file or stdin.",
      )
      .argument("<key>", "dot path, e.g. directory.ldap.hostname")
      .argument("[value]", "the value (not allowed for secrets)"),
  ).action(
    async (
      key: string,
      value: string | undefined,
      options: Record<string, unknown>,
      command: Command,
    ) => {
      await setAction(commandContext(deps, command), key, {
        value,
        options: valueOptions(options),
      });
    },
  ).addHelpText(
    "after",
    `
Examples:
  roster config set server.url https://vault.example.com
  roster config set directory.file.path /srv/export/people.ldif
  roster config set sync.interval 15
  roster config set directory.okta.token --secret-file /run/secrets/okta`,
  );

  config.command("get")
    .description("Print a setting's value (secrets print ******** or (not set))")
    .argument("<key>", "dot path")
    .action(async (key: string, _options: unknown, command: Command) => {
      await getAction(commandContext(deps, command), key);
    })
    .addHelpText("after", "\nExample:\n  roster config get directory.ldap.hostname");

  config.command("unset")
    .description("Remove a setting (it falls back to its default) or a stored secret")
    .argument("<key>", "dot path")
    .action(async (key: string, _options: unknown, command: Command) => {
      await unsetAction(commandContext(deps, command), key);
    })
    .addHelpText("after", "\nExample:\n  roster config unset sync.groupFilter");

  config.command("list")
    .description(
      "List settings with their source (set, default, unset). JSON output gives the whole configuration, secrets masked",
    )
    .option("--all", "also list the settings of other directory types")
    .action(async (options: Record<string, unknown>, command: Command) => {
      await listAction(commandContext(deps, command), options["all"] === true);
    })
    .addHelpText("after", "\nExamples:\n  roster config list\n  roster config list --output json");

  config.command("path")
    .description("Print the path of config.json (JSON output: every data file)")
    .action((_options: unknown, command: Command) => {
      pathAction(commandContext(deps, command));
    });

  config.command("validate")
    .description(
      "Check the configuration is complete for the chosen directory type (exit 2 naming the missing settings otherwise)",
    )
    .action(async (_options: unknown, command: Command) => {
      await validateAction(commandContext(deps, command));
    });

  return config;
}
