/**
 * `roster status`: the configuration summary, login state, last sync times, the lock and the
 * last few runs, in one screen.
 * @module
 */

import { Command } from "commander";
import { resolveServerUrls } from "../bitwarden/urls.ts";
import { sourceOf, SOURCES } from "../providers/registry.ts";
import type { Config } from "../config/schema.ts";
import type { RunRecord, StateStore } from "../state/store.ts";
import { ConfigError } from "../errors.ts";
import { VERSION } from "../version.ts";
import { type CliDeps, type CommandContext, commandContext, withState } from "./context.ts";
import { RUN_HEADERS, runRow } from "../output/runs.ts";
import { holderIsDead } from "../sync/lock.ts";

/** How many runs `status` shows. */
export const STATUS_RUNS = 5;

/** `status --output json`. */
export interface StatusDocument {
  object: "status";
  version: string;
  dataDir: string;
  directory: {
    type: string | null;
    /** What is read: the file path, the LDAP URL, or the tenant/org. */
    source: string | null;
    /** Required settings (and secrets) that are not set. */
    missing: string[];
  };
  server: { url: string | null; api: string; identity: string };
  auth: { loggedIn: boolean; organizationId: string | null };
  lastSync: { users: string | null; groups: string | null };
  /** The state store: its file, and why it cannot be read (null when it can). */
  state: { path: string; damaged: string | null };
  lock: {
    pid: number;
    host: string;
    command: string;
    acquiredAt: string;
    expiresAt: string;
    expired: boolean;
    /** The holder's process is gone (same host, Linux): the next run takes the lock over. */
    holderGone: boolean;
  } | null;
  recentRuns: RunRecord[];
}

function directorySource(config: Config): string | null {
  return config.directory.type === undefined ? null : sourceOf(config).describeTarget(config);
}

/**
 * The directory's missing settings. A stored value that cannot be used (e.g. a Google secret that
 * is not a key) is shown as missing with a warning naming it, so `status` still reports the rest.
 */
async function missingSettings(
  context: CommandContext,
  config: Config,
  store: StateStore,
): Promise<string[]> {
  const type = config.directory.type;
  if (type === undefined) return [];
  try {
    return await SOURCES[type].missingSettings(config, (key) => store.getSecret(key));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    context.log.warn(error.hint === undefined ? error.message : `${error.message}: ${error.hint}`);
    const key = error.details?.["setting"] ?? error.details?.["key"];
    return typeof key === "string" ? [key] : [];
  }
}

async function statusAction(context: CommandContext): Promise<void> {
  const config = await context.loadConfig();
  const document = await withState(context, async (store): Promise<StatusDocument> => {
    const type = config.directory.type;
    const missing = await missingSettings(context, config, store);
    const urls = resolveServerUrls(config.server);
    const auth = await store.getAuth();
    const times = await store.getSyncTimes();
    const lock = await store.getLock();
    return {
      object: "status",
      version: VERSION,
      dataDir: context.paths.dir,
      directory: { type: type ?? null, source: directorySource(config), missing },
      server: { url: config.server.url ?? null, api: urls.api, identity: urls.identity },
      auth: { loggedIn: auth !== undefined, organizationId: auth?.organizationId ?? null },
      lastSync: {
        users: times.users?.toISOString() ?? null,
        groups: times.groups?.toISOString() ?? null,
      },
      state: { path: context.paths.state, damaged: store.damaged?.message ?? null },
      lock: lock === undefined ? null : {
        pid: lock.pid,
        host: lock.host,
        command: lock.command,
        acquiredAt: lock.acquiredAt,
        expiresAt: lock.expiresAt,
        expired: Date.parse(lock.expiresAt) <= context.now().getTime(),
        holderGone: await holderIsDead(lock),
      },
      recentRuns: await store.listRuns(STATUS_RUNS),
    };
  }, { ifDamaged: "empty" });
  if (context.out.json) {
    context.out.printJson(document);
    return;
  }
  const { out } = context;
  const d = document;
  const rows: string[][] = [
    ["version", d.version],
    ["data directory", d.dataDir],
    ["directory type", d.directory.type ?? "(not set)"],
    ["directory source", d.directory.source ?? "(not set)"],
  ];
  if (d.directory.missing.length > 0) {
    rows.push(["missing settings", d.directory.missing.join(", ")]);
  }
  rows.push(
    ["server", d.server.url ?? "(Bitwarden cloud, US)"],
    ["api", d.server.api],
    ["identity", d.server.identity],
    ["logged in", d.auth.loggedIn ? `yes (organization ${d.auth.organizationId ?? "?"})` : "no"],
    ["last user sync", d.lastSync.users ?? "never"],
    ["last group sync", d.lastSync.groups ?? "never"],
  );
  if (d.state.damaged !== null) {
    rows.push(["state", `DAMAGED: ${d.state.damaged}`]);
  }
  if (d.lock !== null) {
    rows.push([
      "lock",
      `${d.lock.command} (pid ${d.lock.pid} on ${d.lock.host}) until ${d.lock.expiresAt}${
        d.lock.holderGone
          ? " (its process is gone: the next run takes it over)"
          : d.lock.expired
          ? " (expired)"
          : ""
      }`,
    ]);
  }
  const lines = out.table(rows, { indent: 0 });
  lines.push("", out.style.bold(`Recent runs (${d.recentRuns.length})`));
  if (d.recentRuns.length === 0) lines.push("  (none)");
  else lines.push(...out.table(d.recentRuns.map(runRow), { headers: RUN_HEADERS, maxWidth: 120 }));
  out.printLines(lines);
}

/** Builds the `status` command. */
export function statusCommand(deps: CliDeps): Command {
  return new Command("status")
    .summary("show the configuration summary, login, last syncs and recent runs")
    .description(
      "Show what roster is set up to do: the directory type and source, missing settings, " +
        "the Bitwarden server URLs, whether roster is logged in, the last sync times, the lock " +
        `and the last ${STATUS_RUNS} runs.`,
    )
    .action(async (_options: unknown, command: Command) => {
      await statusAction(commandContext(deps, command));
    })
    .addHelpText("after", "\nExamples:\n  roster status\n  roster status --output json");
}
