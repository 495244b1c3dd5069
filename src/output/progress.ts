/**
 * Progress of long reads on stderr: objects read, requests sent, waits for rate limits.
 *
 * When it shows:
 * - never with `--quiet`;
 * - on a terminal stderr, by default: one line rewritten in place (`\r`), at most every 100 ms,
 *   erased when the read ends or before any other output is written through the wrapped
 *   {@link Io} (see {@link ProgressFactory.wrapIo});
 * - on a stderr that is not a terminal (a log file, CI), only with `--progress`: then a plain
 *   line at most every 5 seconds, and one when the read ends.
 * Colour (the dimmed label) follows the logger's rule, and is off with `NO_COLOR` or
 * `TERM=dumb`; with `TERM=dumb` the line is erased with spaces instead of an escape sequence.
 * @module
 */

import type { Io } from "./render.ts";

/** What a read has done so far. */
export interface ReadCounters {
  /** Objects read (users, groups, members, …). */
  objects: number;
  /** HTTP requests (or LDAP searches) sent. */
  requests: number;
  /** Waits for a rate limit or a server's `Retry-After`. */
  throttleWaits: number;
  /** True on the last call, when the read is over. */
  done?: boolean;
}

/** Receives the counters of one read. */
export type ProgressReporter = (counters: ReadCounters) => void;

/** Options of {@link ProgressFactory}. */
export interface ProgressOptions {
  /** `--quiet`: no progress at all. */
  quiet: boolean;
  /** `--progress`: show progress even when stderr is not a terminal. */
  force: boolean;
  /** `--no-color` turns colour off. @default true */
  color?: boolean;
  /** Clock in ms. @default `Date.now` */
  now?: () => number;
}

/**
 * Whether progress is shown: not with `--quiet`; on a terminal stderr; elsewhere only with
 * `--progress`.
 */
export function progressEnabled(
  io: Io,
  options: { quiet: boolean; force: boolean },
): boolean {
  if (options.quiet) return false;
  return options.force || io.stderrIsTerminal();
}

function plural(n: number, one: string, many: string): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
}

/** Makes progress reporters for a command and keeps their line out of other output's way. */
export class ProgressFactory {
  readonly #io: Io;
  readonly #enabled: boolean;
  readonly #terminal: boolean;
  readonly #dumb: boolean;
  readonly #color: boolean;
  readonly #now: () => number;
  /** Length of the line on screen (terminal mode), 0 when none. */
  #shown = 0;

  constructor(io: Io, options: ProgressOptions) {
    this.#io = io;
    this.#enabled = progressEnabled(io, options);
    this.#terminal = io.stderrIsTerminal();
    const term = io.env("TERM");
    this.#dumb = term === "dumb";
    const noColor = io.env("NO_COLOR");
    this.#color = options.color !== false && this.#terminal && !this.#dumb &&
      (noColor === undefined || noColor === "");
    this.#now = options.now ?? Date.now;
  }

  /** Whether reporters print anything. */
  get enabled(): boolean {
    return this.#enabled;
  }

  /**
   * A reporter for one read, printing `<label>: 1,200 objects, 14 requests, 2 throttle waits
   * (3 s)`.
   */
  reader(label: string): ProgressReporter {
    if (!this.#enabled) return () => {};
    const started = this.#now();
    let last = -Infinity;
    const interval = this.#terminal ? 100 : 5_000;
    return (counters) => {
      const now = this.#now();
      if (counters.done !== true && now - last < interval) return;
      last = now;
      const seconds = Math.round((now - started) / 1000);
      const parts = [
        plural(counters.objects, "object", "objects"),
        plural(counters.requests, "request", "requests"),
      ];
      if (counters.throttleWaits > 0) {
        parts.push(plural(counters.throttleWaits, "throttle wait", "throttle waits"));
      }
      const head = this.#color ? `\x1b[2m${label}:\x1b[22m` : `${label}:`;
      const text = `${head} ${parts.join(", ")} (${seconds} s)`;
      if (!this.#terminal) {
        this.#io.writeErr(`${text}\n`);
        return;
      }
      if (counters.done === true) {
        this.clear();
        return;
      }
      this.clear();
      this.#io.writeErr(text);
      this.#shown = text.length;
    };
  }

  /** The reporter of `plan`/`sync`'s organization reads. */
  organization(): ProgressReporter {
    return this.reader("Reading the organization");
  }

  /** Erases the progress line, if one is shown. */
  clear(): void {
    if (this.#shown === 0) return;
    this.#io.writeErr(this.#dumb ? `\r${" ".repeat(this.#shown)}\r` : "\r\x1b[2K");
    this.#shown = 0;
  }

  /** An {@link Io} that erases the progress line before writing to stdout or stderr. */
  wrapIo(io: Io): Io {
    return {
      ...io,
      writeOut: (text) => {
        this.clear();
        io.writeOut(text);
      },
      writeErr: (text) => {
        this.clear();
        io.writeErr(text);
      },
    };
  }
}
