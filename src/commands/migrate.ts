/**
 * `roster migrate bwdc [PATH]`: configure roster from the Bitwarden Directory Connector's
 * (bwdc) `data.json`: settings, secrets kept in plain text, sync times, the change hash, the
 * Entra ID delta link and the organization login. The bwdc file is only read.
 * @module
 */

import { join, resolve } from "node:path";
import { Command } from "commander";
import { resolveServerUrls } from "../bitwarden/urls.ts";
import {
  getStored,
  orderStored,
  parseConfig,
  readStoredConfig,
  saveConfig,
  setStored,
  type SettingValue,
  type StoredConfig,
  unsetStored,
} from "../config/store.ts";
import { ConfigError, errorMessage } from "../errors.ts";
import {
  bwdcDataCandidates,
  type BwdcMigration,
  type MigratedSecret,
  type NotMigrated,
  parseBwdcData,
  type SecretSource,
} from "../migrate/bwdc.ts";
import type { StateStore } from "../state/store.ts";
import { withLock } from "../sync/lock.ts";
import { type CliDeps, type CommandContext, commandContext, withState } from "./context.ts";

/** What happens to a secret or the login: taken from the file, left to do, or already in roster. */
export type MigrateAction = "import" | "remaining" | "kept";

/** `migrate bwdc --output json`. */
export interface MigrateDocument {
  object: "migration";
  /** True with `--dry-run`: nothing was written. */
  dryRun: boolean;
  source: { file: string; layout: "flat" | "legacy"; stateVersion: number };
  dataDir: string;
  directoryType: string | null;
  /** The roster settings written. */
  settings: { key: string; value: SettingValue; from: string; bwdcDefault: boolean }[];
  /** Settings roster had that bwdc leaves unset, removed so roster matches bwdc. */
  removed: string[];
  secrets: { key: string; from: string; source: SecretSource; action: MigrateAction }[];
  state: { item: string; value: string; from: string }[];
  login: { organizationId: string | null; clientId: string | null; action: MigrateAction };
  notMigrated: NotMigrated[];
  /** The commands that still need to be run, in order. */
  remaining: string[];
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/**
 * bwdc's data file: `path` (a file, or a folder such as a portable bwdc's
 * `bitwarden-connector-appdata`, whose `data.json` is read), else the first of bwdc's places
 * that holds one.
 */
async function findDataFile(context: CommandContext, path: string | undefined): Promise<string> {
  if (path !== undefined) {
    const given = resolve(context.io.cwd(), path);
    const info = await Deno.stat(given).catch(() => null);
    return info?.isDirectory === true ? join(given, "data.json") : given;
  }
  const candidates = bwdcDataCandidates({ os: Deno.build.os, env: (name) => context.io.env(name) });
  for (const candidate of candidates) {
    if (await exists(candidate)) return candidate;
  }
  throw new ConfigError(
    `Cannot find bwdc's data.json: looked in ${
      candidates.length === 0 ? "no place (HOME is not set)" : candidates.join(", ")
    }`,
    {
      hint:
        "Pass its path or its folder: roster migrate bwdc /path/to/data.json (bwdc's data directory is BITWARDENCLI_CONNECTOR_APPDATA_DIR, or bitwarden-connector-appdata next to a portable bwdc)",
      details: { candidates },
    },
  );
}

async function readDataFile(file: string): Promise<string> {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(await Deno.readFile(file));
  } catch (error) {
    throw new ConfigError(`Cannot read the bwdc data file ${file}: ${errorMessage(error)}`, {
      hint: "Check the path and its permissions (bwdc writes it with mode 0600)",
      cause: error,
      details: { file },
    });
  }
}

/** The stored config after the migration: owned settings replaced, roster's own ones kept. */
function migratedConfig(
  before: StoredConfig,
  migration: BwdcMigration,
): { stored: StoredConfig; removed: string[] } {
  let stored = before;
  for (const key of migration.owned) stored = unsetStored(stored, key);
  for (const setting of migration.settings) stored = setStored(stored, setting.key, setting.value);
  const set = new Set(migration.settings.map((setting) => setting.key));
  const removed = migration.owned.filter((key) =>
    !set.has(key) && getStored(before, key) !== undefined
  );
  return { stored: orderStored(stored), removed };
}

function secretCommand(secret: MigratedSecret): string {
  return `roster config set ${secret.key} --secret-env ${secret.env}`;
}

function loginCommand(clientId: string | undefined): string {
  return `roster login --client-id ${clientId ?? "organization.<organization id>"}`;
}

async function applyState(store: StateStore, migration: BwdcMigration): Promise<void> {
  // Replace roster's sync state with bwdc's, so that a second run gives the same state.
  await store.clearSyncCache();
  await store.clearSyncTimes();
  const times: { users?: Date; groups?: Date } = {};
  for (const item of migration.state) {
    switch (item.item) {
      case "lastUserSync":
        times.users = new Date(item.value);
        break;
      case "lastGroupSync":
        times.groups = new Date(item.value);
        break;
      case "lastSyncHash":
        await store.setLastSyncHash(item.value);
        break;
      case "providerState.usersDeltaLink":
        await store.setProviderState({ usersDeltaLink: item.value });
        break;
    }
  }
  await store.setSyncTimes(times);
}

async function migrateAction(
  context: CommandContext,
  path: string | undefined,
  options: { dryRun: boolean },
): Promise<void> {
  const file = await findDataFile(context, path);
  const migration = parseBwdcData(await readDataFile(file), { file });
  const before = await readStoredConfig(context.paths.config);
  const { stored, removed } = migratedConfig(before, migration);
  resolveServerUrls(parseConfig(stored, context.paths.config).server);

  const secrets = migration.secrets.map((
    secret,
  ): { secret: MigratedSecret; action: MigrateAction } => ({
    secret,
    action: secret.source === "plaintext" ? "import" : "remaining",
  }));
  const login = migration.login;
  let loginAction: MigrateAction = login.clientId !== undefined && login.clientSecret !== undefined
    ? "import"
    : "remaining";

  if (!options.dryRun) {
    await withState(context, async (store) => {
      await withLock(
        store,
        context.paths.dir,
        { command: "migrate", now: context.now },
        async () => {
          await saveConfig(context.paths.config, stored);
          for (const entry of secrets) {
            const { secret } = entry;
            if (secret.source === "plaintext" && secret.value !== undefined) {
              await store.setSecret(secret.key, secret.value);
            } else if (await store.getSecret(secret.key) !== undefined) {
              entry.action = "kept";
            }
          }
          const auth = await store.getAuth();
          if (
            loginAction === "import" && login.clientId !== undefined &&
            login.clientSecret !== undefined && login.organizationId !== undefined
          ) {
            await store.setAuth({
              clientId: login.clientId,
              clientSecret: login.clientSecret,
              organizationId: login.organizationId,
            });
          } else if (
            auth !== undefined &&
            (login.organizationId === undefined || auth.organizationId === login.organizationId)
          ) {
            loginAction = "kept";
          } else {
            loginAction = "remaining";
          }
          await applyState(store, migration);
        },
      );
    });
  }

  const remaining = [
    ...secrets.filter((entry) => entry.action === "remaining").map((entry) =>
      secretCommand(entry.secret)
    ),
    ...(loginAction === "remaining" ? [loginCommand(login.clientId)] : []),
  ];
  const document: MigrateDocument = {
    object: "migration",
    dryRun: options.dryRun,
    source: { file, layout: migration.layout, stateVersion: migration.stateVersion },
    dataDir: context.paths.dir,
    directoryType: migration.directoryType ?? null,
    settings: migration.settings.map(({ key, value, from, bwdcDefault }) => ({
      key,
      value,
      from,
      bwdcDefault,
    })),
    removed,
    secrets: secrets.map(({ secret, action }) => ({
      key: secret.key,
      from: secret.from,
      source: secret.source,
      action,
    })),
    state: migration.state.map(({ item, value, from }) => ({ item, value, from })),
    login: {
      organizationId: login.organizationId ?? null,
      clientId: login.clientId ?? null,
      action: loginAction,
    },
    notMigrated: migration.notMigrated,
    remaining,
  };
  if (context.out.json) {
    context.out.printJson(document);
    return;
  }
  printTable(context, document);
}

const SECRET_TEXT: Readonly<Record<SecretSource, Readonly<Record<MigrateAction, string>>>> = {
  plaintext: {
    import: "imported from data.json (plain text)",
    remaining: "to set",
    kept: "already set in roster",
  },
  keychain: {
    import: "imported",
    remaining: "in bwdc's OS keychain: set it by hand",
    kept: "in bwdc's OS keychain; already set in roster",
  },
  missing: {
    import: "imported",
    remaining: "not in data.json: set it by hand",
    kept: "not in data.json; already set in roster",
  },
};

function printTable(context: CommandContext, document: MigrateDocument): void {
  const { out } = context;
  const lines: string[] = [
    document.dryRun
      ? `Dry run: nothing was written. Migrating ${document.source.file} would set:`
      : `Migrated ${document.source.file} into ${document.dataDir}:`,
    `  bwdc state version ${document.source.stateVersion} (${document.source.layout} layout), directory type ${
      document.directoryType ?? "not set"
    }`,
    "",
    `Settings (${document.settings.length}):`,
    ...out.table(
      document.settings.map((setting) => [
        setting.key,
        setting.bwdcDefault ? `${String(setting.value)} (bwdc default)` : String(setting.value),
      ]),
      { maxWidth: 200 },
    ),
  ];
  if (document.removed.length > 0) {
    lines.push("", "Removed (unset in bwdc):", ...document.removed.map((key) => `  ${key}`));
  }
  lines.push("", "Sync state:");
  lines.push(
    ...(document.state.length === 0
      ? ["  none: the next sync reads the whole directory and sends its import"]
      : out.table(document.state.map((item) => [item.item, item.value]), { maxWidth: 200 })),
  );
  lines.push("", "Secrets:");
  lines.push(
    ...out.table(
      document.secrets.map((secret) => [secret.key, SECRET_TEXT[secret.source][secret.action]]),
    ),
  );
  const { login } = document;
  lines.push(
    "",
    `Bitwarden login: organization ${login.organizationId ?? "unknown"}, ${
      login.action === "import"
        ? "API key imported from data.json (plain text)"
        : login.action === "kept"
        ? "already logged in"
        : "run roster login"
    }`,
  );
  if (document.notMigrated.length > 0) {
    lines.push(
      "",
      `Not migrated (${document.notMigrated.length}):`,
      ...document.notMigrated.flatMap((item) => [
        `  ${item.from}${item.value === null ? "" : ` = ${String(item.value)}`}`,
        `      ${item.reason}`,
      ]),
    );
  }
  if (document.remaining.length > 0) {
    lines.push("", "Still to do:", ...document.remaining.map((command) => `  ${command}`));
  } else {
    lines.push("", "Nothing left to do: roster test shows what a sync would send");
  }
  out.printLines(lines);
}

/** Builds the `migrate` command and its `bwdc` subcommand. */
export function migrateCommand(deps: CliDeps): Command {
  const bwdc = new Command("bwdc")
    .summary("configure roster from the Bitwarden Directory Connector's data.json")
    .description(
      "Read bwdc's data.json (state version 3 and later) and write roster's configuration from " +
        "it: the server URLs, the directory type and its settings, every sync option, the last " +
        "sync times, the change hash (so an unchanged directory sends nothing) and the Entra ID " +
        "delta link. Secrets and the organization API key are imported when data.json holds " +
        "them in plain text (BITWARDENCLI_CONNECTOR_PLAINTEXT_SECRETS=true); otherwise the " +
        "commands that remain are listed. Every bwdc value that is not carried over is listed " +
        "with the reason. The bwdc file is only read. Without PATH, bwdc's data directory is " +
        "found as bwdc finds it (BITWARDENCLI_CONNECTOR_APPDATA_DIR, then the per-OS default).",
    )
    .argument(
      "[path]",
      "bwdc's data.json, or the folder holding it (default: bwdc's data directory)",
    )
    .option("--dry-run", "print what would be set, write nothing")
    .action(
      async (path: string | undefined, options: Record<string, unknown>, command: Command) => {
        await migrateAction(commandContext(deps, command), path, {
          dryRun: options["dryRun"] === true,
        });
      },
    )
    .addHelpText(
      "after",
      `
Examples:
  roster migrate bwdc --dry-run        # bwdc's data.json from its default place; writes nothing
  roster migrate bwdc "$HOME/.config/Bitwarden Directory Connector/data.json"
  roster migrate bwdc ./data.json --output json | jq .remaining
  roster test                          # then check what a sync would send`,
    );
  return new Command("migrate")
    .summary("move to roster from another tool (bwdc)")
    .description("Configure roster from another directory sync tool's files.")
    .addCommand(bwdc);
}
