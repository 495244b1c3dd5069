/**
 * `roster clear-cache`: forget the last sync times, the last change hash and provider deltas,
 * so that the next sync reads the whole directory and sends even an unchanged import.
 * @module
 */

import { Command } from "commander";
import { type CliDeps, type CommandContext, commandContext, withState } from "./context.ts";

async function clearCacheAction(context: CommandContext): Promise<void> {
  await withState(context, (store) => store.clearSyncCache());
  context.out.printMessage("The sync cache has been cleared");
}

/** Builds the `clear-cache` command. */
export function clearCacheCommand(deps: CliDeps): Command {
  return new Command("clear-cache")
    .summary("forget sync times, the change hash and deltas (keeps config, secrets, login)")
    .description(
      "Clear the sync cache: the last sync times, the hash of the last import and provider " +
        "deltas. The next sync reads the whole directory and sends its import even if nothing " +
        "changed. Settings, secrets, the Bitwarden login and the history are kept.",
    )
    .action(async (_options: unknown, command: Command) => {
      await clearCacheAction(commandContext(deps, command));
    });
}
