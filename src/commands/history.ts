/**
 * `roster history [--limit N]`: the last runs, newest first.
 * @module
 */

import { Command, InvalidArgumentError } from "commander";
import type { RunRecord } from "../state/store.ts";
import { type CliDeps, type CommandContext, commandContext, withState } from "./context.ts";

/** Formats a run as a table row: started, command, outcome, exit, read, sent, error. */
export function runRow(run: RunRecord): string[] {
  const seconds = (Date.parse(run.endedAt) - Date.parse(run.startedAt)) / 1000;
  return [
    run.startedAt,
    run.command,
    run.outcome,
    String(run.exitCode),
    `${run.read.users}u ${run.read.groups}g`,
    `${run.sent.users}u ${run.sent.groups}g`,
    `${Number.isFinite(seconds) ? seconds.toFixed(1) : "?"}s`,
    (run.error ?? "").split("\n")[0] ?? "",
  ];
}

/** Headers of {@link runRow}. */
export const RUN_HEADERS = [
  "STARTED",
  "COMMAND",
  "OUTCOME",
  "EXIT",
  "READ",
  "SENT",
  "TIME",
  "ERROR",
];

async function historyAction(context: CommandContext, limit: number): Promise<void> {
  const runs = await withState(context, (store) => store.listRuns(limit));
  if (context.out.json) {
    context.out.printJson({ object: "history", runs });
  } else if (runs.length === 0) {
    context.out.printLines(["No runs recorded yet"]);
  } else {
    context.out.printLines(
      context.out.table(runs.map(runRow), { headers: RUN_HEADERS, indent: 0, maxWidth: 120 }),
    );
  }
}

function parseLimit(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new InvalidArgumentError("expected a positive integer");
  }
  return Number(value);
}

/** Builds the `history` command. */
export function historyCommand(deps: CliDeps): Command {
  return new Command("history")
    .summary("list the last runs (test, sync) with their outcome and counts")
    .description(
      "List the last runs, newest first: command, outcome, exit status, users and groups read " +
        "and sent, duration and error. The last 200 runs are kept.",
    )
    .option("-n, --limit <n>", "how many runs to show", parseLimit, 20)
    .action(async (options: Record<string, unknown>, command: Command) => {
      const limit = typeof options["limit"] === "number" ? options["limit"] : 20;
      await historyAction(commandContext(deps, command), limit);
    })
    .addHelpText(
      "after",
      "\nExamples:\n  roster history\n  roster history --limit 5 --output json",
    );
}
