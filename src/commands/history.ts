/**
 * `roster history [--limit N]`: the last runs, newest first.
 * @module
 */

import { Command, InvalidArgumentError } from "commander";
import { RUN_HEADERS, runRow } from "../output/runs.ts";
import { type CliDeps, type CommandContext, commandContext, withState } from "./context.ts";

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
    .summary("list the last runs (test, plan, sync) with their outcome and counts")
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
