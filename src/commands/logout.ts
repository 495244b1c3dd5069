/**
 * `roster logout`: forget the organization API key. The sync state (times, hash, history) and
 * the device identifier are kept.
 * @module
 */

import { Command } from "commander";
import { type CliDeps, type CommandContext, commandContext, withState } from "./context.ts";

async function logoutAction(context: CommandContext): Promise<void> {
  const previous = await withState(context, async (store) => {
    const auth = await store.getAuth();
    if (auth !== undefined) await store.deleteAuth();
    return auth;
  });
  if (context.out.json) {
    context.out.printJson({
      object: "logout",
      loggedOut: previous !== undefined,
      organizationId: previous?.organizationId ?? null,
    });
    return;
  }
  context.out.printMessage(
    previous === undefined
      ? "Not logged in: there was no API key to forget"
      : `Logged out: forgot the API key of organization ${previous.organizationId} (the sync state is kept)`,
  );
}

/** Builds the `logout` command. */
export function logoutCommand(deps: CliDeps): Command {
  return new Command("logout")
    .summary("forget the organization API key (keeps the sync state)")
    .description(
      "Forget the stored organization API key. The sync times, the change hash and the " +
        "history are kept; sync and plan need roster login again.",
    )
    .action(async (_options: unknown, command: Command) => {
      await logoutAction(commandContext(deps, command));
    });
}
