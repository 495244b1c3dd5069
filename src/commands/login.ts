/**
 * `roster login`: check an organization API key against the server and keep it in the state
 * store. The secret never comes from the command line and is never printed.
 * @module
 */

import { Command, Option } from "commander";
import { UsageError } from "../errors.ts";
import { createClient, resolveApiKey, type StoredAuth } from "../sync/auth.ts";
import { type CliDeps, type CommandContext, commandContext, withState } from "./context.ts";

/** `login --output json`. */
export interface LoginDocument {
  object: "login";
  organizationId: string;
  clientId: string;
  server: { api: string; identity: string };
  /** Where the secret came from (`ROSTER_CLIENT_SECRET`, `--client-secret-file`, `stdin`, …). */
  secretFrom: string;
  /** Whether an earlier login was replaced. */
  replaced: boolean;
}

async function loginAction(
  context: CommandContext,
  options: { clientId?: string; clientSecretFile?: string },
): Promise<void> {
  const config = await context.loadConfig();
  const key = await resolveApiKey(context.io, options);
  const document = await withState(context, async (store): Promise<LoginDocument> => {
    const client = await createClient({ log: context.log, config }, { apiKey: key, store });
    try {
      const { organizationId } = await client.login();
      const previous = await store.getAuth();
      const auth: StoredAuth = {
        clientId: key.clientId,
        clientSecret: key.clientSecret,
        organizationId,
        apiUrl: client.urls.api,
        loggedInAt: context.now().toISOString(),
      };
      await store.setAuth(auth);
      return {
        object: "login",
        organizationId,
        clientId: key.clientId,
        server: { api: client.urls.api, identity: client.urls.identity },
        secretFrom: key.clientSecretFrom,
        replaced: previous !== undefined,
      };
    } finally {
      client.close();
    }
  });
  if (context.out.json) {
    context.out.printJson(document);
    return;
  }
  const { out } = context;
  out.printLines([
    `Logged in to organization ${document.organizationId}${
      document.replaced ? " (the previous API key was replaced)" : ""
    }`,
    ...out.table([
      ["api", document.server.api],
      ["identity", document.server.identity],
      ["client id", document.clientId],
      ["secret", `from ${document.secretFrom}, stored in ${context.paths.state}`],
    ]),
  ]);
}

/** Builds the `login` command. */
export function loginCommand(deps: CliDeps): Command {
  return new Command("login")
    .summary("check the organization API key and keep it for sync and plan")
    .description(
      "Check the organization API key (Admin Console → Settings → Organization info → View " +
        "API key) by getting a token from the server in server.*, and keep it in the state " +
        "store. The client id comes from --client-id, ROSTER_CLIENT_ID or BW_CLIENTID; the " +
        "secret from --client-secret-file, ROSTER_CLIENT_SECRET, BW_CLIENTSECRET, or stdin, " +
        "never from the command line. Logging in again replaces the stored key.",
    )
    .option("--client-id <id>", "the API key's client_id: organization.<organization id>")
    .option("--client-secret-file <file>", "a file whose first line is the client_secret")
    .addOption(new Option("--client-secret <secret>").hideHelp())
    .action(async (options: Record<string, unknown>, command: Command) => {
      if (options["clientSecret"] !== undefined) {
        throw new UsageError(
          "Refusing --client-secret: a secret on the command line shows in the process list and the shell history",
          {
            hint:
              "Use ROSTER_CLIENT_SECRET, --client-secret-file FILE, or stdin (roster login --client-id organization.<id> < secret.txt)",
          },
        );
      }
      const clientId = options["clientId"];
      const file = options["clientSecretFile"];
      await loginAction(commandContext(deps, command), {
        ...(typeof clientId === "string" ? { clientId } : {}),
        ...(typeof file === "string" ? { clientSecretFile: file } : {}),
      });
    })
    .addHelpText(
      "after",
      `
Examples:
  ROSTER_CLIENT_SECRET=… roster login --client-id organization.1c2d3e4f-…
  roster login --client-id organization.1c2d3e4f-… --client-secret-file /run/secrets/bw
  printf '%s\\n' "$SECRET" | roster login --client-id organization.1c2d3e4f-…
  BW_CLIENTID=… BW_CLIENTSECRET=… roster login      # bwdc's variables`,
    );
}
