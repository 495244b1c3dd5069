/**
 * `roster sync` and `roster daemon`: read the directory and send the import to Bitwarden, with
 * the safety checks of `src/sync/run.ts` (lock, source-health gate, change hash and drift,
 * deletion guard). `--watch` (and `daemon`) repeats it every `sync.interval` minutes.
 * @module
 */

import { Command, InvalidArgumentError, Option } from "commander";
import type { GuardVerdict, PlanSummary } from "../engine/mod.ts";
import { errorMessage, ExitCode, InterruptedError, RosterError, UsageError } from "../errors.ts";
import { Logger } from "../output/log.ts";
import { type Io, plural } from "../output/render.ts";
import type { StateStore } from "../state/store.ts";
import { createClient, requireAuth } from "../sync/auth.ts";
import { withLock } from "../sync/lock.ts";
import {
  outcomeOfError,
  planLine,
  syncOnce,
  type SyncOptions,
  type SyncProgress,
  type SyncResult,
  type SyncRunRecord,
} from "../sync/run.ts";
import { watch } from "../sync/watch.ts";
import { buildData, readSource } from "../sync/source.ts";
import { type CliDeps, type CommandContext, commandContext, readProgress } from "./context.ts";

/** The flags of `sync` and `daemon`. */
export interface SyncCommandOptions extends SyncOptions {
  /** Repeat until stopped. */
  watch: boolean;
  /** `--interval` in milliseconds; default `sync.interval` minutes. */
  intervalMs: number | undefined;
  /** `--max-runs`. */
  maxRuns: number | undefined;
}

/** `sync --output json`: one document per run (one line per run with `--watch`). */
export interface SyncDocument {
  object: "sync";
  outcome: "synced" | "no-change" | "refused" | "error";
  /** Why nothing was sent, or why it was sent. */
  reason: string;
  exitCode: number;
  organizationId: string | null;
  /** The API URL. */
  server: string | null;
  read: { users: number; groups: number; mode: "full" | "incremental" } | null;
  /** Requests the engine built. */
  requests: number;
  sent: SyncResult["sent"];
  /** Whether the organization could be read; null when it was not needed. */
  orgView: boolean | null;
  /** The plan's counts; null when nothing was planned. */
  plan: PlanSummary | null;
  /**
   * The deletion guard's verdict: member removals (`removals`, `limit`) and every check with
   * its count, limit and allowance.
   */
  guard: {
    allowed: boolean;
    removals: number;
    limit: number;
    checks: { kind: string; count: number; limit: number; allowed: boolean }[];
  } | null;
  drift: { missing: number; present: number; unlinked: number } | null;
  warnings: string[];
  error: { code: string; message: string; hint: string | null } | null;
  /** The run number with `--watch`. */
  run?: number;
}

/** The one-line summary of a run (the last line of the table output, and the watch log). */
export function summaryLine(result: SyncResult): string {
  if (result.outcome === "no-change") return `no change: ${result.reason}; nothing sent`;
  const s = result.sent;
  const p = result.plan?.summary;
  const effects = p === undefined
    ? ""
    : result.plan?.orgView === false
    ? ` (${plural(p.upsert, "member")} added or updated, ${plural(p.remove, "removal")}, ${
      plural(p.groupsUpsert, "group")
    } created or updated)`
    : ` (${p.invite} invited, ${p.link} linked, ${p.remove} removed; groups: ${p.groupsCreate} created, ${p.groupsRename} renamed, ${
      p.groupsUpdate + p.groupsUpsert
    } updated)`;
  return `synced: ${plural(s.members, "member")} (${s.deleted} deleted) and ${
    plural(s.groups, "group")
  } sent in ${plural(s.requests, "request")}, accepted by the server${effects}`;
}

function guardSummary(verdict: GuardVerdict): NonNullable<SyncDocument["guard"]> {
  const members = verdict.checks.find((c) => c.kind === "memberRemovals");
  return {
    allowed: verdict.allowed,
    removals: members?.count ?? 0,
    limit: members?.limit ?? 0,
    checks: verdict.checks.map((c) => ({
      kind: c.kind,
      count: c.count,
      limit: c.allowance ?? c.limit,
      allowed: c.allowed,
    })),
  };
}

function documentOf(
  result: SyncResult,
  extra: { organizationId: string | null; server: string | null },
): SyncDocument {
  return {
    object: "sync",
    outcome: result.outcome,
    reason: result.reason,
    exitCode: ExitCode.Ok,
    organizationId: extra.organizationId,
    server: extra.server,
    read: result.read,
    requests: result.requests,
    sent: result.sent,
    orgView: result.orgView,
    plan: result.plan?.summary ?? null,
    guard: result.guard === null ? null : guardSummary(result.guard),
    drift: result.drift === null ? null : {
      missing: result.drift.missing.length,
      present: result.drift.present.length,
      unlinked: result.drift.unlinked.length,
    },
    warnings: result.warnings,
    error: null,
  };
}

function errorDocument(
  error: unknown,
  progress: SyncProgress,
  extra: { organizationId: string | null; server: string | null },
): SyncDocument {
  const known = error instanceof RosterError;
  const batches = progress.batches ?? [];
  const accepted = batches.filter((b) => b.status === "accepted");
  return {
    object: "sync",
    outcome: outcomeOfError(error) === "refused" ? "refused" : "error",
    reason: errorMessage(error).split("\n")[0] ?? "",
    exitCode: known ? error.exitCode : ExitCode.Internal,
    organizationId: extra.organizationId,
    server: extra.server,
    read: progress.read ?? null,
    requests: progress.requests ?? 0,
    sent: {
      requests: accepted.length,
      members: accepted.reduce((n, b) => n + b.members, 0),
      deleted: accepted.reduce((n, b) => n + b.deleted, 0),
      groups: accepted.reduce((n, b) => n + b.groups, 0),
      batches,
    },
    orgView: null,
    plan: null,
    guard: null,
    drift: null,
    warnings: [],
    error: {
      code: known ? error.code : "internal",
      message: errorMessage(error),
      hint: known ? (error.hint ?? null) : null,
    },
  };
}

/** The table output of a finished run: what was sent, the server's answer, one summary line. */
function resultLines(result: SyncResult, server: string | null): string[] {
  const lines: string[] = [];
  if (result.plan !== null) {
    lines.push(`Plan: ${planLine(result.plan.summary, result.plan.orgView)}`);
  }
  if (result.sent.batches.length > 0) {
    lines.push(`Sent to ${server ?? "Bitwarden"}:`);
    result.sent.batches.forEach((b, i) => {
      lines.push(
        `  request ${i + 1} of ${result.sent.batches.length}: ${
          plural(b.members, "member")
        } (${b.deleted} deleted), ${plural(b.groups, "group")}: ${b.status}`,
      );
    });
  }
  const line = summaryLine(result);
  lines.push(line.charAt(0).toUpperCase() + line.slice(1));
  return lines;
}

/** A logger whose information lines become debug lines: the watch loop's runs stay quiet. */
class WatchLogger extends Logger {
  override info(message: string): void {
    this.debug(message);
  }
}

/** Runs one sync under the lock and records it in the history. */
async function runRecorded(
  context: CommandContext,
  options: SyncOptions,
  run: {
    command: string;
    onServer?: (org: string, server: string) => void;
    progress?: SyncProgress;
    /** Stop at SIGINT/SIGTERM: record the run, release the lock, exit 130. */
    interruptible?: boolean;
  },
): Promise<SyncResult> {
  const startedAt = context.now();
  const controller = new AbortController();
  const stopListening = run.interruptible === true ? listenForStop(controller) : () => {};
  const store: StateStore = await context.openState();
  const progress: SyncProgress = run.progress ?? {};
  let server: string | undefined;
  const finish = async (record: Partial<SyncRunRecord> & Pick<SyncRunRecord, "outcome">) => {
    const batches = progress.batches ?? [];
    const accepted = batches.filter((b) => b.status === "accepted");
    const full: SyncRunRecord = {
      id: crypto.randomUUID(),
      command: run.command,
      startedAt: startedAt.toISOString(),
      endedAt: context.now().toISOString(),
      exitCode: ExitCode.Ok,
      read: { users: progress.read?.users ?? 0, groups: progress.read?.groups ?? 0 },
      sent: {
        users: accepted.reduce((n, b) => n + b.members, 0),
        groups: accepted.reduce((n, b) => n + b.groups, 0),
      },
      ...(server === undefined ? {} : { server }),
      ...(progress.read === undefined ? {} : { readMode: progress.read.mode }),
      ...(progress.requests === undefined ? {} : { requests: progress.requests }),
      ...(batches.length === 0 ? {} : { batches }),
      ...record,
    };
    await store.addRun(full);
  };
  try {
    const result = await withLock(store, context.paths.dir, {
      command: run.command,
      now: context.now,
      signal: controller.signal,
      onTakeOver: (previous) =>
        context.log.warn(
          `Took over the lock left by ${previous.command} (pid ${previous.pid} on ${previous.host}): it expired at ${previous.expiresAt}, or its process is gone`,
        ),
    }, async (lock) => {
      const config = await context.loadConfig();
      const auth = await requireAuth(store);
      const client = await createClient({ log: context.log, config }, { apiKey: auth, store });
      server = client.urls.api;
      run.onServer?.(client.organizationId, client.urls.api);
      if (auth.apiUrl !== undefined && auth.apiUrl !== client.urls.api) {
        context.log.warn(
          `The API key was checked against ${auth.apiUrl} at login, but server.* now points at ${client.urls.api}`,
        );
      }
      try {
        return await untilAborted(
          syncOnce(
            {
              config,
              store,
              client,
              log: context.log,
              now: context.now,
              read: (incremental) =>
                readSource({
                  store,
                  config,
                  incremental,
                  log: (level, message) => context.log[level](message),
                  dataDir: context.paths.dir,
                  ...readProgress(context, config),
                }),
              build: (read) => buildData(config, read),
              lock,
            },
            options,
            progress,
          ),
          controller.signal,
        );
      } finally {
        client.close();
      }
    });
    await finish({
      outcome: result.outcome === "synced" ? "ok" : "no-change",
      answer: result.outcome === "synced"
        ? `accepted: ${plural(result.sent.requests, "request")} answered 2xx`
        : result.reason,
      ...(result.plan === null ? {} : { plan: result.plan.summary }),
    });
    return result;
  } catch (error) {
    const batches = progress.batches ?? [];
    const applied = batches.filter((b) => b.status === "accepted").length;
    await finish({
      outcome: outcomeOfError(error),
      exitCode: error instanceof RosterError ? error.exitCode : ExitCode.Internal,
      error: errorMessage(error),
      answer: batches.length === 0
        ? "nothing sent"
        : `${applied} of ${batches.length} requests accepted before the failure`,
    });
    throw error;
  } finally {
    stopListening();
    store.close();
  }
}

/**
 * Turns SIGINT and SIGTERM into an abort of `controller` with an {@link InterruptedError};
 * returns the function that stops listening.
 */
function listenForStop(controller: AbortController): () => void {
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT", "SIGBREAK"]
    : ["SIGINT", "SIGTERM"];
  const added: [Deno.Signal, () => void][] = [];
  for (const signal of signals) {
    const listener = () => {
      if (controller.signal.aborted) return;
      controller.abort(
        new InterruptedError(`Stopped by ${signal}: the run was interrupted`, {
          hint:
            "The lock was released and the run recorded in the history (roster history). Requests sent before the signal stay applied; nothing was recorded as synced, so the next sync sends everything again and converges",
        }),
      );
    };
    try {
      Deno.addSignalListener(signal, listener);
      added.push([signal, listener]);
    } catch {
      // The signal does not exist on this platform.
    }
  }
  return () => {
    for (const [signal, listener] of added) Deno.removeSignalListener(signal, listener);
  };
}

/** Settles as `work` does, or rejects with the abort reason as soon as `signal` aborts. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function writeJsonLine(io: Io, value: unknown): void {
  io.writeOut(JSON.stringify(value) + "\n");
}

async function syncAction(
  context: CommandContext,
  options: SyncCommandOptions,
  command: string,
): Promise<void> {
  if (!options.watch && (options.intervalMs !== undefined || options.maxRuns !== undefined)) {
    throw new UsageError("Options --interval and --max-runs need --watch", {
      hint: "Run roster sync --watch --interval 5m (or roster daemon)",
    });
  }
  if (options.watch) {
    await watchAction(context, options, command);
    return;
  }
  let ids = { organizationId: null as string | null, server: null as string | null };
  const result = await runRecorded(context, options, {
    command,
    interruptible: true,
    onServer: (organizationId, server) => {
      ids = { organizationId, server };
    },
  });
  if (context.out.json) context.out.printJson(documentOf(result, ids));
  else context.out.printLines(resultLines(result, ids.server));
}

function seconds(ms: number): string {
  return ms % 60_000 === 0 ? `${ms / 60_000} min` : `${ms / 1000} s`;
}

async function watchAction(
  context: CommandContext,
  options: SyncCommandOptions,
  command: string,
): Promise<void> {
  const config = await context.loadConfig();
  const intervalMs = options.intervalMs ?? config.sync.interval * 60_000;
  const runLog = new WatchLogger(context.io, {
    level: context.log.level,
    color: false,
  });
  const runContext: CommandContext = { ...context, log: runLog };
  const controller = new AbortController();
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT", "SIGBREAK"]
    : ["SIGINT", "SIGTERM"];
  const onSignal = () => {
    if (controller.signal.aborted) return;
    context.io.writeErr("Stopping: a signal was received (the current run finishes first)\n");
    controller.abort();
  };
  const added: Deno.Signal[] = [];
  for (const signal of signals) {
    try {
      Deno.addSignalListener(signal, onSignal);
      added.push(signal);
    } catch {
      // The signal does not exist on this platform.
    }
  }
  let lastExit: number = ExitCode.Ok;
  try {
    context.log.info(
      `Watching: a sync every ${seconds(intervalMs)}${
        options.maxRuns === undefined ? "" : `, ${plural(options.maxRuns, "run")} at most`
      }; Ctrl-C or SIGTERM stops`,
    );
    const result = await watch({
      intervalMs,
      ...(options.maxRuns === undefined ? {} : { maxRuns: options.maxRuns }),
      signal: controller.signal,
      log: (line) => context.io.writeErr(`${context.now().toISOString()} ${line}\n`),
      runOnce: async (runNumber) => {
        let ids = { organizationId: null as string | null, server: null as string | null };
        const progress: SyncProgress = {};
        try {
          const result = await runRecorded(runContext, options, {
            command,
            progress,
            onServer: (organizationId, server) => {
              ids = { organizationId, server };
            },
          });
          lastExit = ExitCode.Ok;
          if (context.out.json) {
            writeJsonLine(context.io, { ...documentOf(result, ids), run: runNumber });
          }
          return { ok: true, summary: summaryLine(result) };
        } catch (error) {
          lastExit = error instanceof RosterError ? error.exitCode : ExitCode.Internal;
          if (context.out.json) {
            writeJsonLine(context.io, { ...errorDocument(error, progress, ids), run: runNumber });
          }
          const hint = error instanceof RosterError && error.hint !== undefined
            ? ` (hint: ${error.hint})`
            : "";
          return {
            ok: false,
            summary: `failed, exit ${lastExit}: ${errorMessage(error).replaceAll("\n", " ")}${
              context.log.level === "verbose" ? hint : ""
            }`,
          };
        }
      },
    });
    context.log.info(
      `Stopped after ${plural(result.runs, "run")} (${result.failures} failed)${
        result.stoppedBy === "signal" ? " on a signal" : ""
      }`,
    );
    context.setExitCode(result.stoppedBy === "max-runs" ? lastExit : ExitCode.Ok);
  } finally {
    for (const signal of added) Deno.removeSignalListener(signal, onSignal);
  }
}

/** Parses `--interval`: `30s`, `5m`, `1h`, `500ms`, or bare minutes (`5`). At least 1 s. */
export function parseInterval(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$/i.exec(value);
  if (match === null) {
    throw new InvalidArgumentError("expected a duration such as 30s, 5m or 1h");
  }
  const amount = Number(match[1]);
  const unit = (match[2] ?? "m").toLowerCase();
  const factor = unit === "ms" ? 1 : unit === "s" ? 1000 : unit === "h" ? 3_600_000 : 60_000;
  const ms = Math.round(amount * factor);
  if (ms < 1000) throw new InvalidArgumentError("the interval must be at least 1s");
  return ms;
}

function parseCount(minimum: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < minimum) {
      throw new InvalidArgumentError(
        minimum === 0 ? "expected a whole number (0 or more)" : "expected a positive whole number",
      );
    }
    return Number(value);
  };
}

function readOptions(options: Record<string, unknown>, watchDefault: boolean): SyncCommandOptions {
  const number = (name: string) => {
    const value = options[name];
    return typeof value === "number" ? value : undefined;
  };
  return {
    force: options["force"] === true,
    allowRemovals: number("allowRemovals"),
    allowMembershipRemovals: number("allowMembershipRemovals"),
    allowGroupDeletions: number("allowGroupDeletions"),
    allowShrink: number("allowShrink"),
    allowEmpty: options["allowEmpty"] === true,
    watch: watchDefault || options["watch"] === true,
    intervalMs: number("interval"),
    maxRuns: number("maxRuns"),
  };
}

function addSyncOptions(command: Command, withWatch: boolean): Command {
  command
    .option("-f, --force", "read the whole directory and send even when nothing changed")
    .addOption(
      new Option(
        "--allow-removals <n>",
        "let the deletion guard pass up to N member removals for this run",
      ).argParser(parseCount(0)),
    )
    .addOption(
      new Option(
        "--allow-membership-removals <n>",
        "let the deletion guard pass up to N members taken out of groups for this run",
      ).argParser(parseCount(0)),
    )
    .addOption(
      new Option(
        "--allow-group-deletions <n>",
        "let the deletion guard pass up to N groups gone from the directory for this run",
      ).argParser(parseCount(0)),
    )
    .addOption(
      new Option(
        "--allow-shrink <n>",
        "let the deletion guard pass a directory read up to N users (groups) smaller than the last complete one",
      ).argParser(parseCount(0)),
    )
    .option(
      "--allow-empty",
      "accept a directory read that finds no users or groups where the last one found many",
    );
  if (withWatch) {
    command.option("-w, --watch", "keep running: sync every sync.interval minutes until stopped");
  }
  command
    .addOption(
      new Option(
        "--interval <duration>",
        "time between runs with --watch, e.g. 30s, 5m, 1h (default: sync.interval minutes)",
      ).argParser(parseInterval),
    )
    .addOption(
      new Option("--max-runs <n>", "stop after N runs (with --watch)").argParser(parseCount(1)),
    );
  return command;
}

const SAFETY_HELP = `
Safety:
  - one run at a time per data directory (a lock; a second run exits 12 naming the holder)
  - a partial directory read, or an empty one where the last had many users, sends nothing (exit 5)
  - unchanged directory and no drift in the organization's members: nothing is sent
  - the deletion guard refuses (exit 4, nothing sent, everything listed) a sync that would:
      remove more members than sync.maxRemovals (10) / sync.maxRemovalsPercent (10%),
      take more members out of groups than sync.maxMembershipRemovals (25) / ...Percent (10%),
      lose more groups than sync.maxGroupDeletions (5) / ...Percent (10%),
      follow a read smaller than the last complete one by more than sync.maxShrink (10) / ...Percent (10%);
    --allow-removals, --allow-membership-removals, --allow-group-deletions, --allow-shrink N let it
    through once (roster plan shows the same verdict)
  - the hash and sync times are saved only when every request was accepted`;

/** Builds the `sync` command. */
export function syncCommand(deps: CliDeps): Command {
  const command = new Command("sync")
    .summary("send the directory's users and groups to Bitwarden")
    .description(
      "Read the directory (only what changed since the last sync, unless --force) and send " +
        "the import to the Bitwarden organization roster is logged in to. Nothing is sent when " +
        "the read is incomplete, when nothing changed, or when the deletion guard refuses. " +
        "With --watch it keeps running and syncs every sync.interval minutes.",
    );
  addSyncOptions(command, true)
    .action(async (options: Record<string, unknown>, cmd: Command) => {
      const parsed = readOptions(options, false);
      await syncAction(commandContext(deps, cmd), parsed, parsed.watch ? "sync --watch" : "sync");
    })
    .addHelpText(
      "after",
      `${SAFETY_HELP}

Examples:
  roster sync
  roster sync --output json | jq .sent
  roster sync --allow-removals 25        # a planned mass offboarding, this run only
  roster sync --force                    # full read, and resend even if unchanged
  roster sync --watch --interval 10m     # as roster daemon, every 10 minutes`,
    );
  return command;
}

/** Builds the `daemon` command: `sync --watch`. */
export function daemonCommand(deps: CliDeps): Command {
  const command = new Command("daemon")
    .summary("sync every sync.interval minutes until stopped (sync --watch)")
    .description(
      "Run sync every sync.interval minutes (or --interval) until SIGINT or SIGTERM. A failed " +
        "run is logged and retried with backoff; the daemon never exits because the directory " +
        "or the server is down. One summary line per run goes to stderr (and one JSON line to " +
        "stdout with --output json).",
    );
  addSyncOptions(command, false)
    .action(async (options: Record<string, unknown>, cmd: Command) => {
      await syncAction(commandContext(deps, cmd), readOptions(options, true), "daemon");
    })
    .addHelpText(
      "after",
      `${SAFETY_HELP}

Examples:
  roster daemon
  roster daemon --interval 15m --output json >> /var/log/roster.jsonl`,
    );
  return command;
}
