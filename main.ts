/**
 * roster's entry point: runs the CLI, renders errors, and exits. This is the only place that
 * calls `Deno.exit`.
 *
 * Exit status: a {@link RosterError}'s own code (see `src/errors.ts`), 1 for anything else.
 * @module
 */

import { run, type RunOptions } from "./src/cli.ts";
import { colorAllowed, denoIo, type Io, renderError } from "./src/output/render.ts";

/**
 * Runs roster and returns the process exit status: errors are rendered (table mode: message
 * and hint on stderr; JSON mode: an error document on stdout) and mapped to their exit code.
 */
export async function main(
  argv: readonly string[],
  io: Io = denoIo(),
  options: RunOptions = {},
): Promise<number> {
  try {
    return await run(argv, io, options);
  } catch (error) {
    const { scanGlobalOptions } = await import("./src/commands/context.ts");
    const globals = scanGlobalOptions(argv);
    return renderError(error, io, {
      format: globals.output,
      color: colorAllowed(io, { flag: globals.color, terminal: io.stderrIsTerminal() }),
      verbose: globals.verbose,
    });
  }
}

if (import.meta.main) {
  const code = await main(Deno.args);
  // Exit on the next turn of the event loop, not while this module is still evaluating: Deno
  // writes the V8 code cache of the main module only once its evaluation has finished, and
  // without that cache every run compiles the whole program again (the bundle's 2 MB: about
  // 35 ms of CPU at each start).
  setTimeout(() => Deno.exit(code), 0);
}
