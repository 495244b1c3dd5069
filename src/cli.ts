/**
 * The `roster` command line: global options, the commands, help, and the translation of
 * commander's parse errors into usage errors (exit 2).
 *
 * {@link run} returns the exit status of a normal outcome and throws on errors; `main.ts`
 * renders errors and exits.
 * @module
 */

import { Command, CommanderError, Option } from "commander";
import type { CliDeps } from "./commands/context.ts";
import { ExitCode, UsageError } from "./errors.ts";
import { denoIo, type Io, OUTPUT_FORMATS } from "./output/render.ts";
import { VERSION } from "./version.ts";

/** What each exit status means, for `--help` and the README. */
export const EXIT_CODE_HELP: readonly (readonly [number, string])[] = [
  [ExitCode.Ok, "success: synced, applied, or nothing to do"],
  [ExitCode.Internal, "unexpected error (a bug: please report it)"],
  [ExitCode.Usage, "bad usage or configuration"],
  [ExitCode.ChangesPending, "changes are pending (plan --detailed-exitcode)"],
  [
    ExitCode.RemovalGuard,
    "the deletion guard refused: removals, membership removals, vanished groups or a shrunk directory",
  ],
  [ExitCode.SourceIncomplete, "the directory read was incomplete: nothing was sent"],
  [ExitCode.DirectoryUnavailable, "the directory could not be read (connection, credentials, TLS)"],
  [ExitCode.DirectoryData, "the directory returned data roster cannot sync (duplicate emails, …)"],
  [ExitCode.BitwardenAuth, "Bitwarden refused the API key or token (not logged in, bad key)"],
  [ExitCode.BitwardenRejected, "Bitwarden rejected the import"],
  [ExitCode.SeatLimit, "the organization has no seats left for new members"],
  [ExitCode.BitwardenUnavailable, "Bitwarden could not be reached, or kept failing"],
  [ExitCode.Locked, "another roster run holds the lock on the data directory (or its state)"],
  [ExitCode.StateDamaged, "the state store (state.kv) is damaged: move it aside and log in again"],
  [ExitCode.Interrupted, "stopped by SIGINT or SIGTERM (recorded in the history, lock released)"],
];

const ROOT_HELP = `
Examples:
  roster config set directory.type file
  roster config set directory.file.path ./people.ldif
  roster test                          # what a sync would send (sends nothing)
  roster login --client-id organization.<id>   # secret from ROSTER_CLIENT_SECRET or stdin
  roster plan                          # what a sync would change in the organization
  roster sync                          # send it (lock, health gate, deletion guard)
  roster daemon --interval 10m         # sync every 10 minutes until stopped
  roster test --output json | jq .summary
  roster last-sync users
  roster status

Exit status:
${EXIT_CODE_HELP.map(([code, text]) => `  ${String(code).padStart(3)}  ${text}`).join("\n")}

Environment:
  ROSTER_DATA_DIR          data directory (like --data-dir)
  XDG_CONFIG_HOME          the default data directory is $XDG_CONFIG_HOME/roster (else ~/.config/roster)
  NO_COLOR                 no colours (like --no-color)
  ROSTER_CLIENT_ID, ROSTER_CLIENT_SECRET
                           the organization API key for login (also bwdc's BW_CLIENTID, BW_CLIENTSECRET)
  HTTPS_PROXY, HTTP_PROXY, NO_PROXY
                           proxy for HTTP requests (Bitwarden, cloud directories); loopback
                           hosts are direct unless NO_PROXY is set

Results go to stdout, logs and progress to stderr. Run roster <command> --help for details.`;

function applyToAll(command: Command, io: Io): void {
  command
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (text) => io.writeOut(text),
      writeErr: (text) => io.writeErr(text),
      outputError: () => {},
    });
  for (const sub of command.commands) applyToAll(sub, io);
}

/**
 * The commands in the order `--help` lists them, each with the module that defines it. The
 * modules are imported only when needed, so that `--version` and a command's own run do not
 * evaluate every other command's dependencies (configuration schemas, providers, Bitwarden
 * client) at start-up.
 */
const COMMANDS: readonly (readonly [string, (deps: CliDeps) => Promise<Command>])[] = [
  ["test", async (deps) => (await import("./commands/test.ts")).testCommand(deps)],
  ["config", async (deps) => (await import("./commands/config.ts")).configCommand(deps)],
  ["last-sync", async (deps) => (await import("./commands/last_sync.ts")).lastSyncCommand(deps)],
  [
    "clear-cache",
    async (deps) => (await import("./commands/clear_cache.ts")).clearCacheCommand(deps),
  ],
  ["status", async (deps) => (await import("./commands/status.ts")).statusCommand(deps)],
  ["history", async (deps) => (await import("./commands/history.ts")).historyCommand(deps)],
  ["login", async (deps) => (await import("./commands/login.ts")).loginCommand(deps)],
  ["logout", async (deps) => (await import("./commands/logout.ts")).logoutCommand(deps)],
  ["plan", async (deps) => (await import("./commands/plan.ts")).planCommand(deps)],
  ["sync", async (deps) => (await import("./commands/sync.ts")).syncCommand(deps)],
  ["daemon", async (deps) => (await import("./commands/sync.ts")).daemonCommand(deps)],
  ["migrate", async (deps) => (await import("./commands/migrate.ts")).migrateCommand(deps)],
];

/** The global options that take a value as the next argument. */
const GLOBAL_OPTIONS_WITH_VALUE = new Set(["--data-dir", "-o", "--output"]);

/**
 * The names of the commands `argv` needs: the command named by the first operand when it is
 * one; none for a bare `--version`; otherwise all of them (help, `help <command>`, a misspelt
 * command that commander suggests a fix for).
 */
export function commandsNeeded(argv: readonly string[]): string[] {
  const all = COMMANDS.map(([name]) => name);
  let operand: string | undefined;
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] ?? "";
    if (arg === "--") break;
    if (GLOBAL_OPTIONS_WITH_VALUE.has(arg)) {
      index++;
    } else if (!arg.startsWith("-")) {
      operand = arg;
      break;
    }
  }
  if (operand !== undefined) return all.includes(operand) ? [operand] : all;
  const version = argv.includes("-v") || argv.includes("--version");
  const help = argv.includes("-h") || argv.includes("--help");
  return version && !help ? [] : all;
}

/**
 * Builds the commander program with the commands `argv` needs (see {@link commandsNeeded});
 * with the default, all of them.
 */
export async function buildProgram(
  deps: CliDeps,
  options: { argv?: readonly string[] } = {},
): Promise<Command> {
  const needed = new Set(
    options.argv === undefined ? COMMANDS.map(([name]) => name) : commandsNeeded(options.argv),
  );
  const commands = await Promise.all(
    COMMANDS.filter(([name]) => needed.has(name)).map(([, load]) => load(deps)),
  );
  const program = new Command("roster")
    .description(
      "Sync users and groups from a company directory (LDAP, Active Directory, Microsoft " +
        "Entra ID, Google Workspace, Okta, OneLogin, LDIF/CSV/JSON exports) into a Bitwarden " +
        "or Vaultwarden organization. Replaces Bitwarden's Directory Connector (bwdc).",
    )
    .version(VERSION, "-v, --version", "print the version")
    .addOption(
      new Option(
        "--data-dir <dir>",
        "data directory (default: $ROSTER_DATA_DIR, else $XDG_CONFIG_HOME/roster, else ~/.config/roster)",
      ),
    )
    .addOption(
      new Option("-o, --output <format>", "result format").choices(OUTPUT_FORMATS).default(
        "table",
      ),
    )
    .option("-q, --quiet", "print results and errors only (no progress, warnings or confirmations)")
    .option("--verbose", "print debug progress, causes and stack traces")
    .option("--progress", "show progress of long reads on stderr even when it is not a terminal")
    .option("--no-color", "no colours (also NO_COLOR)")
    .helpOption("-h, --help", "show help")
    .addHelpText("after", ROOT_HELP);
  for (const command of commands) program.addCommand(command);
  applyToAll(program, deps.io);
  return program;
}

function usageFromCommander(error: CommanderError): UsageError {
  const [first = "", ...rest] = error.message.split("\n");
  let text = first.replace(/^error:\s*/, "").replace(/\.$/, "");
  if (error.code === "commander.excessArguments") {
    // The extra arguments are not repeated: one may be a secret typed in the wrong place
    // (`roster login <secret>`), and error output ends up in logs.
    text = text.replace(/^(.*got \d+)(?:: .*)?$/s, "$1");
    if (/for 'login'/.test(text)) {
      return new UsageError(`T${text.slice(1)} (the arguments are not shown)`, {
        hint:
          "roster login takes the client secret from ROSTER_CLIENT_SECRET (or BW_CLIENTSECRET), --client-secret-file FILE or stdin, never as an argument; if you typed the secret on the command line, rotate the organization's API key",
        details: { commanderCode: error.code },
      });
    }
    text = `${text} (the arguments are not shown)`;
  }
  const message = text.charAt(0).toUpperCase() + text.slice(1);
  const suggestion = rest.join(" ").trim().replace(/^\((.*)\)$/, "$1");
  return new UsageError(message, {
    hint: suggestion !== ""
      ? `${suggestion} Run roster --help for usage`
      : "Run roster --help, or roster <command> --help",
    details: { commanderCode: error.code },
  });
}

/** Options of {@link run}. */
export interface RunOptions {
  /** The clock. @default () => new Date() */
  now?: () => Date;
}

/**
 * Runs roster with `argv` (without the program name) and returns the exit status of a normal
 * outcome. Errors are thrown: {@link RosterError}s carry their exit status; commander's parse
 * errors become {@link UsageError} (exit 2). Help and `--version` return 0.
 */
export async function run(
  argv: readonly string[],
  io: Io = denoIo(),
  options: RunOptions = {},
): Promise<number> {
  const deps: CliDeps = { io, now: options.now ?? (() => new Date()), exitCode: ExitCode.Ok };
  const program = await buildProgram(deps, { argv });
  try {
    await program.parseAsync([...argv], { from: "user" });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    if (error.code === "commander.helpDisplayed" || error.code === "commander.version") {
      return ExitCode.Ok;
    }
    if (error.code === "commander.help") return ExitCode.Usage;
    throw usageFromCommander(error);
  }
  return deps.exitCode;
}
