/**
 * `roster test`: read the directory, run the engine, and print what a sync would send.
 * Nothing is sent and nothing is written except a run record in the history.
 * @module
 */

import { relieveMemory } from "../runtime/memory.ts";
import { Command, Option } from "commander";
import type { Config } from "../config/schema.ts";
import { validateConfig } from "../config/store.ts";
import {
  buildSyncData,
  type BwdcTestResponse,
  type SyncData,
  type TestReport,
  toBwdcTestResponse,
  toTestReport,
} from "../engine/mod.ts";
import { ExitCode, RosterError, UsageError } from "../errors.ts";
import { fileFormat } from "../providers/file.ts";
import { createProvider } from "../providers/registry.ts";
import type { StateStore } from "../state/store.ts";
import { readDirectory, type ReadResult } from "../sync/read.ts";
import { type CliDeps, type CommandContext, commandContext, withState } from "./context.ts";

/** `test --format`. */
export type TestFormat = "roster" | "bwdc";

/**
 * The include/exclude set filters, for sources whose filters the engine applies (CSV and JSON
 * files, cloud directories). LDAP and LDIF filters are applied by the provider.
 */
export function setFiltersFor(config: Config): { users?: string; groups?: string } | undefined {
  const type = config.directory.type;
  if (type === "ldap" || type === undefined) return undefined;
  if (type === "file") {
    const path = config.directory.file.path;
    if (path === undefined || fileFormat(path, config.directory.file.format) === "ldif") {
      return undefined;
    }
  }
  const filters: { users?: string; groups?: string } = {};
  if (config.sync.userFilter !== undefined) filters.users = config.sync.userFilter;
  if (config.sync.groupFilter !== undefined) filters.groups = config.sync.groupFilter;
  return filters;
}

/**
 * Validates the configuration and reads the directory (incrementally when asked and allowed):
 * the shared first step of `test`, `plan` and `sync`.
 */
export async function readSource(
  context: CommandContext,
  options: { store: StateStore; config: Config; incremental: boolean },
): Promise<ReadResult> {
  const { store, config } = options;
  await validateConfig(config, { secret: (key) => store.getSecret(key) });
  const provider = createProvider({
    config,
    secret: (key) => store.getSecret(key),
    log: (level, message) => context.log[level](message),
  });
  const incremental = options.incremental && !config.sync.overwriteExisting;
  const since = incremental ? await store.getSyncTimes() : undefined;
  const state = incremental ? await store.getProviderState() : undefined;
  return await readDirectory(provider, {
    users: config.sync.users || config.sync.groups,
    groups: config.sync.groups,
    mode: incremental ? "incremental" : "full",
    ...(since === undefined ? {} : {
      since: {
        ...(since.users === undefined ? {} : { users: since.users }),
        ...(since.groups === undefined ? {} : { groups: since.groups }),
      },
    }),
    ...(state === undefined ? {} : { state }),
    log: (level, message) => context.log[level](message),
  });
}

/** Runs the engine on what was read, with the `sync.*` options of `config`. */
export function buildData(config: Config, read: ReadResult): SyncData {
  const setFilters = setFiltersFor(config);
  return buildSyncData(read.snapshot, {
    syncUsers: config.sync.users,
    syncGroups: config.sync.groups,
    removeDisabled: config.sync.removeDisabled,
    ...(setFilters === undefined ? {} : { setFilters }),
    betweenStages: relieveMemory,
  });
}

/**
 * Reads the directory, runs the engine and builds the report. Only the report leaves, so the
 * snapshot and the engine's data can be freed (see `relieveMemory`) before the output is
 * written: a large directory's peak memory is then not the sum of every phase.
 */
async function readAndReport(
  context: CommandContext,
  options: {
    store: StateStore;
    config: Config;
    incremental: boolean;
    counted: (counts: { users: number; groups: number }) => void;
    bwdc: boolean;
  },
): Promise<{ kind: "bwdc"; value: BwdcTestResponse } | { kind: "report"; value: TestReport }> {
  const read = await readSource(context, options);
  options.counted({ users: read.counts.users, groups: read.counts.groups });
  const data = buildData(options.config, read);
  return options.bwdc
    ? { kind: "bwdc", value: toBwdcTestResponse(data) }
    : { kind: "report", value: toTestReport(data) };
}

/** Renders a {@link TestReport} as the four sections of `roster test`. */
export function testReportLines(
  report: TestReport,
  context: Pick<CommandContext, "out">,
): string[] {
  const { out } = context;
  const bold = out.style.bold;
  const lines: string[] = [];
  const section = (title: string, body: string[]): void => {
    if (lines.length > 0) lines.push("");
    lines.push(bold(title));
    lines.push(...(body.length > 0 ? body : ["  (none)"]));
  };
  const s = report.summary;
  section(
    `Groups: ${s.groups} (${s.memberships} memberships)`,
    report.groups.length === 0 ? [] : out.table(
      report.groups.map((group) => [group.name, String(group.memberExternalIds.length)]),
      { headers: ["NAME", "MEMBERS"], alignRight: [1] },
    ),
  );
  const users = (list: { email: string | null; externalId: string }[]) =>
    list.map((user) => `  ${user.email ?? `(no email) ${user.externalId}`}`);
  section(
    `Users: ${s.users} (${s.enabled} enabled, ${s.disabled} disabled, ${s.deleted} deleted)`,
    [
      `  Enabled (${s.enabled})`,
      ...users(report.users.enabled).map((line) => "  " + line),
      `  Disabled (${s.disabled})`,
      ...users(report.users.disabled).map((line) => "  " + line),
      `  Deleted (${s.deleted})`,
      ...users(report.users.deleted).map((line) => "  " + line),
    ],
  );
  section(
    `Skipped: ${s.skipped}`,
    report.skipped.length === 0 ? [] : out.table(
      report.skipped.map((entry) => [entry.kind, entry.referenceId, entry.reason]),
      { headers: ["KIND", "REFERENCE", "REASON"] },
    ),
  );
  section(
    `Unresolved members: ${s.unresolved}`,
    report.unresolved.length === 0 ? [] : out.table(
      report.unresolved.map((entry) => [entry.group, entry.memberRef]),
      { headers: ["GROUP", "MEMBER"] },
    ),
  );
  if (report.refusals.length > 0) {
    section(
      `Refused by Bitwarden's import: ${report.refusals.length} (a sync would send nothing)`,
      report.refusals.map((r) => `  - ${r.message}`),
    );
  }
  lines.push(
    "",
    `Test only: nothing was sent. A sync would send ${s.groups} groups and ${s.users} users.`,
  );
  return lines;
}

/** Options of the `test` action. */
export interface TestOptions {
  last: boolean;
  format: TestFormat;
}

async function testAction(context: CommandContext, options: TestOptions): Promise<void> {
  const startedAt = context.now();
  await withState(context, async (store) => {
    let readCounts = { users: 0, groups: 0 };
    try {
      const config = await context.loadConfig();
      const document = await readAndReport(context, {
        store,
        config,
        incremental: options.last,
        counted: (counts) => readCounts = counts,
        bwdc: options.format === "bwdc",
      });
      relieveMemory();
      if (document.kind === "bwdc" || context.out.json) {
        context.out.printJson(document.value);
      } else {
        context.out.printLines(testReportLines(document.value, context));
      }
      // Objects the import would refuse: exit 7, as sync would (the report is still printed).
      const refused = document.kind === "report" && document.value.refusals.length > 0;
      if (refused) context.setExitCode(ExitCode.DirectoryData);
      await store.addRun({
        id: crypto.randomUUID(),
        command: "test",
        startedAt: startedAt.toISOString(),
        endedAt: context.now().toISOString(),
        outcome: refused ? "refused" : "ok",
        exitCode: refused ? ExitCode.DirectoryData : ExitCode.Ok,
        read: readCounts,
        sent: { users: 0, groups: 0 },
      });
    } catch (error) {
      await store.addRun({
        id: crypto.randomUUID(),
        command: "test",
        startedAt: startedAt.toISOString(),
        endedAt: context.now().toISOString(),
        outcome: "error",
        exitCode: error instanceof RosterError ? error.exitCode : ExitCode.Internal,
        read: readCounts,
        sent: { users: 0, groups: 0 },
        error: error instanceof Error ? error.message : String(error),
      });
      throw error;
    }
  }, { ifDamaged: "empty" });
}

/** Builds the `test` command. */
export function testCommand(deps: CliDeps): Command {
  return new Command("test")
    .summary("read the directory and print what a sync would send (sends nothing)")
    .description(
      "Read the directory and print what a sync would send: groups with member counts, " +
        "enabled, disabled and deleted users, skipped objects with the reason, and group " +
        "members that match nothing, and every object Bitwarden's import would refuse (exit " +
        "7 then, as sync would). Nothing is sent and nothing is written except a run record " +
        "in the history.",
    )
    .option(
      "-l, --last",
      "incremental: only what changed since the last sync (as `bwdc test --last`)",
    )
    .addOption(
      new Option(
        "--format <format>",
        "JSON flavour: roster's report, or bwdc's exact test JSON (implies JSON)",
      )
        .choices(["roster", "bwdc"])
        .default("roster"),
    )
    .action(async (options: Record<string, unknown>, command: Command) => {
      const format = options["format"];
      if (format !== "roster" && format !== "bwdc") {
        throw new UsageError(`Invalid --format: ${String(format)}`, { hint: "Use roster or bwdc" });
      }
      await testAction(commandContext(deps, command), { last: options["last"] === true, format });
    })
    .addHelpText(
      "after",
      `
Examples:
  roster test
  roster test | less
  roster test --output json | jq .summary
  roster test --format bwdc        # bwdc's JSON, for existing scripts
  roster test --last               # only changes since the last sync`,
    );
}
