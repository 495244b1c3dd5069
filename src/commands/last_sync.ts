/**
 * `roster last-sync [users|groups]`: when users and groups were last synced.
 * @module
 */

import { Command } from "commander";
import { UsageError } from "../errors.ts";
import { type CliDeps, type CommandContext, commandContext, withState } from "./context.ts";

/** `last-sync --output json`: ISO dates, null when never synced. */
export interface LastSyncDocument {
  object: "last-sync";
  users?: string | null;
  groups?: string | null;
}

async function lastSyncAction(context: CommandContext, which: string | undefined): Promise<void> {
  const object = which?.toLowerCase();
  if (object !== undefined && object !== "users" && object !== "groups") {
    throw new UsageError(`Unknown object: ${which}`, {
      hint: "Use roster last-sync users, roster last-sync groups, or roster last-sync",
    });
  }
  const times = await withState(context, (store) => store.getSyncTimes());
  const users = times.users?.toISOString() ?? null;
  const groups = times.groups?.toISOString() ?? null;
  if (context.out.json) {
    const document: LastSyncDocument = { object: "last-sync" };
    if (object !== "groups") document.users = users;
    if (object !== "users") document.groups = groups;
    context.out.printJson(document);
  } else if (object === undefined) {
    context.out.printLines(
      context.out.table([["users", users ?? "never"], ["groups", groups ?? "never"]], {
        indent: 0,
      }),
    );
  } else {
    context.out.printLines([(object === "users" ? users : groups) ?? "never"]);
  }
}

/** Builds the `last-sync` command. */
export function lastSyncCommand(deps: CliDeps): Command {
  return new Command("last-sync")
    .summary("print when users and groups were last synced")
    .description(
      "Print the time (ISO 8601, UTC) of the last successful sync of users or groups, or both. " +
        "Prints `never` (JSON: null) when they were never synced.",
    )
    .argument("[object]", "users or groups (default: both)")
    .action(async (object: string | undefined, _options: unknown, command: Command) => {
      await lastSyncAction(commandContext(deps, command), object);
    })
    .addHelpText("after", "\nExamples:\n  roster last-sync\n  roster last-sync users");
}
