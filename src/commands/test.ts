/**
 * `roster test`: read the directory, run the engine, and print what a sync would send.
 * Nothing is sent and nothing is written except a run record in the history.
 * @module
 */

import { plural } from "../output/render.ts";
import { Command, Option } from "commander";
import { materializeTestReport, type TestReport, writeTestReportJson } from "../engine/mod.ts";
import { ExitCode, RosterError, UsageError } from "../errors.ts";
import { readAndReport } from "../sync/source.ts";
import {
  type CliDeps,
  type CommandContext,
  commandContext,
  readProgress,
  withState,
} from "./context.ts";

/** `test --format`. */
export type TestFormat = "roster" | "bwdc";

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
    `Test only: nothing was sent. A sync would send ${plural(s.groups, "group")} and ${
      plural(s.users, "user")
    }.`,
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
      const document = await readAndReport({
        store,
        config,
        log: (level, message) => context.log[level](message),
        dataDir: context.paths.dir,
        incremental: options.last,
        counted: (counts) => readCounts = counts,
        bwdc: options.format === "bwdc",
        ...readProgress(context, config),
      });
      if (document.kind === "bwdc") {
        context.out.printJson(document.value);
      } else if (context.out.json) {
        const report = document.value;
        context.out.printJsonText((write) => writeTestReportJson(report, write));
      } else {
        context.out.printLines(testReportLines(materializeTestReport(document.value), context));
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
        "enabled, disabled and deleted users, skipped objects with the reason, group " +
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
