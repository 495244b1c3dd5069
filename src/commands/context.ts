/**
 * What every command gets: the streams, the renderer and logger configured from the global
 * options, the data directory, the clock, and the state store.
 * @module
 */

import type { Command } from "commander";
import { type DataPaths, dataPaths, ensureDataDir, resolveDataDir } from "../config/paths.ts";
import { loadConfig } from "../config/store.ts";
import type { Config } from "../config/schema.ts";
import { UsageError } from "../errors.ts";
import { Logger, type LogLevel } from "../output/log.ts";
import { ProgressFactory, type ProgressReporter } from "../output/progress.ts";
import {
  colorAllowed,
  type Io,
  OUTPUT_FORMATS,
  type OutputFormat,
  Renderer,
} from "../output/render.ts";
import { openStateStore, type StateStore } from "../state/store.ts";

/** The global options, valid before or after the subcommand. */
export interface GlobalOptions {
  /** `--data-dir`. */
  dataDir: string | undefined;
  /** `--output`. */
  output: OutputFormat;
  /** `--quiet`. */
  quiet: boolean;
  /** `--verbose`. */
  verbose: boolean;
  /** `--no-color` turns this off. */
  color: boolean;
  /** `--progress`: progress on stderr even when it is not a terminal. */
  progress: boolean;
}

/** What the CLI is run with: injectable for in-process runs. */
export interface CliDeps {
  io: Io;
  /** The clock. */
  now: () => Date;
  /** The exit status of a normal outcome (e.g. 3 for pending changes); starts at 0. */
  exitCode: number;
}

/** Everything a command action needs. */
export interface CommandContext {
  io: Io;
  globals: GlobalOptions;
  /** Results on stdout. */
  out: Renderer;
  /** Logs on stderr. */
  log: Logger;
  /** The data directory and its files. */
  paths: DataPaths;
  now: () => Date;
  /**
   * Creates the data directory (mode 0700) if needed and opens the state store. With
   * `ifDamaged: "empty"` (commands that can work without state: `status`, `config`, `test`) a
   * damaged state file gives an empty stand-in and a warning instead of a
   * `StateDamagedError`.
   */
  openState(options?: { ifDamaged?: "throw" | "empty" }): Promise<StateStore>;
  /** Loads and validates `config.json` (defaults applied). */
  loadConfig(): Promise<Config>;
  /** Sets the process exit status of a normal outcome. */
  setExitCode(code: number): void;
}

function isOutputFormat(value: unknown): value is OutputFormat {
  return OUTPUT_FORMATS.some((format) => format === value);
}

/** Reads the global options from a parsed commander command (and its parents). */
export function globalOptions(command: Command): GlobalOptions {
  const options = command.optsWithGlobals();
  const dataDir: unknown = options["dataDir"];
  const output: unknown = options["output"];
  return {
    dataDir: typeof dataDir === "string" ? dataDir : undefined,
    output: isOutputFormat(output) ? output : "table",
    quiet: options["quiet"] === true,
    verbose: options["verbose"] === true,
    color: options["color"] !== false,
    progress: options["progress"] === true,
  };
}

/**
 * Scans raw arguments for the global options, for when commander could not parse them (to
 * render a usage error in the format asked for). Stops at `--`.
 */
export function scanGlobalOptions(argv: readonly string[]): GlobalOptions {
  const globals: GlobalOptions = {
    dataDir: undefined,
    output: "table",
    quiet: false,
    verbose: false,
    color: true,
    progress: false,
  };
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index];
    if (arg === "--") break;
    if (arg === "--output" || arg === "-o") {
      const next = argv[index + 1];
      if (isOutputFormat(next)) globals.output = next;
      index++;
    } else if (arg?.startsWith("--output=")) {
      const value = arg.slice("--output=".length);
      if (isOutputFormat(value)) globals.output = value;
    } else if (arg === "--quiet" || arg === "-q") {
      globals.quiet = true;
    } else if (arg === "--verbose") {
      globals.verbose = true;
    } else if (arg === "--no-color") {
      globals.color = false;
    } else if (arg === "--progress") {
      globals.progress = true;
    }
  }
  return globals;
}

/** Builds the context of a command action from its commander command. */
export function commandContext(deps: CliDeps, command: Command): CommandContext {
  const globals = globalOptions(command);
  const progress = new ProgressFactory(deps.io, {
    quiet: globals.quiet,
    force: globals.progress,
    color: globals.color,
  });
  // Results and log lines first erase a progress line that is on screen.
  const io = progress.enabled ? progress.wrapIo(deps.io) : deps.io;
  if (globals.quiet && globals.verbose) {
    throw new UsageError("Conflicting options: --quiet and --verbose", {
      hint: "Use one of them",
    });
  }
  const out = new Renderer(io, {
    format: globals.output,
    color: colorAllowed(io, { flag: globals.color, terminal: io.stdoutIsTerminal() }),
    quiet: globals.quiet,
  });
  const level: LogLevel = globals.quiet ? "quiet" : globals.verbose ? "verbose" : "normal";
  const log = new Logger(io, {
    level,
    color: colorAllowed(io, { flag: globals.color, terminal: io.stderrIsTerminal() }),
    progress,
  });
  const paths = dataPaths(resolveDataDir(globals.dataDir, io));
  let warned = false;
  return {
    io,
    globals,
    out,
    log,
    paths,
    now: deps.now,
    async openState(options = {}) {
      const warning = await ensureDataDir(paths.dir);
      if (warning !== undefined && !warned) {
        warned = true;
        log.warn(warning);
      }
      const store = await openStateStore(paths.state, { ifDamaged: options.ifDamaged ?? "throw" });
      if (store.damaged !== undefined) {
        log.warn(
          `${store.damaged.message}. Running without it: secrets, login, sync times and history are not available, and nothing is recorded. ${
            store.damaged.hint ?? ""
          }`,
        );
      }
      return store;
    },
    async loadConfig() {
      return (await loadConfig(paths.config)).config;
    },
    setExitCode(code) {
      deps.exitCode = code;
    },
  };
}

/** Opens the state store of a context, runs `fn`, and always closes the store. */
export async function withState<T>(
  context: CommandContext,
  fn: (store: StateStore) => Promise<T>,
  options: { ifDamaged?: "throw" | "empty" } = {},
): Promise<T> {
  const store = await context.openState(options);
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}

/**
 * The directory read's progress reporter for `readSource`, as an options fragment: empty when
 * no progress is shown (`-q`, or stderr is not a terminal and `--progress` is not given).
 */
export function readProgress(
  context: CommandContext,
  config: Config,
): { progress?: ProgressReporter } {
  const display = context.log.progress;
  if (display?.enabled !== true) return {};
  const type = config.directory.type;
  return {
    progress: display.reader(
      type === undefined ? "Reading the directory" : `Reading the ${type} directory`,
    ),
  };
}
