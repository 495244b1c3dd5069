/**
 * The logger: progress, notices and warnings on stderr, never on stdout.
 *
 * Levels: `quiet` prints errors only, `normal` adds information and warnings, `verbose` adds
 * debug lines (page-by-page progress, timings). Secrets are never passed to the logger.
 * @module
 */

import type { ProgressFactory } from "./progress.ts";
import { type Io, type Styles, styles } from "./render.ts";

/** How much the logger prints (`--quiet`, default, `--verbose`). */
export type LogLevel = "quiet" | "normal" | "verbose";

/** Writes log lines to stderr. */
export class Logger {
  /** The level chosen on the command line. */
  readonly level: LogLevel;
  /** Progress of long reads on stderr (`--progress`), when the command has one. */
  readonly progress: ProgressFactory | undefined;
  readonly #io: Io;
  readonly #style: Styles;

  constructor(
    io: Io,
    options: { level: LogLevel; color: boolean; progress?: ProgressFactory },
  ) {
    this.#io = io;
    this.level = options.level;
    this.progress = options.progress;
    this.#style = styles(options.color);
  }

  /** A debug line, shown with `--verbose` only. */
  debug(message: string): void {
    if (this.level === "verbose") this.#write(this.#style.dim(`debug: ${message}`));
  }

  /** An information line (progress), hidden by `--quiet`. */
  info(message: string): void {
    if (this.level !== "quiet") this.#write(message);
  }

  /** A warning, hidden by `--quiet`. */
  warn(message: string): void {
    if (this.level !== "quiet") this.#write(`${this.#style.yellow("warning:")} ${message}`);
  }

  /** An error line that is not the final error (that one is rendered by `main.ts`). */
  error(message: string): void {
    this.#write(`${this.#style.red("error:")} ${message}`);
  }

  #write(line: string): void {
    this.#io.writeErr(line + "\n");
  }
}
