/**
 * Everything roster prints on stdout: JSON documents, small tables, and the rendering of errors.
 *
 * Results go to stdout, logs and errors (in table mode) to stderr. Output goes through an
 * {@link Io}, so commands can run in-process in tests and in `scripts/demo.ts`.
 * @module
 */

import { ExitCode, type ExitCodeValue, RosterError } from "../errors.ts";
import { isRecord } from "../guards.ts";

/** The process streams and environment, injectable for in-process runs. */
export interface Io {
  /** Writes text to stdout, as is. */
  writeOut(text: string): void;
  /** Writes text to stderr, as is. */
  writeErr(text: string): void;
  /** Reads stdin to its end. */
  readStdin(): Promise<string>;
  /** Whether stdin is a terminal (a secret is then never read from it). */
  stdinIsTerminal(): boolean;
  /** Whether stdout is a terminal (colours are used only then). */
  stdoutIsTerminal(): boolean;
  /** Whether stderr is a terminal. */
  stderrIsTerminal(): boolean;
  /** Reads an environment variable. */
  env(name: string): string | undefined;
  /** The working directory relative paths are resolved against. */
  cwd(): string;
}

function writeAll(stream: { writeSync(p: Uint8Array): number }, text: string): void {
  let bytes = new TextEncoder().encode(text);
  try {
    while (bytes.length > 0) {
      const written = stream.writeSync(bytes);
      bytes = bytes.subarray(written);
    }
  } catch (error) {
    // The reader went away (`roster test | head`): the rest of the output is not wanted.
    if (!(error instanceof Deno.errors.BrokenPipe)) throw error;
  }
}

/** The real process: Deno's stdin, stdout, stderr and environment. */
export function denoIo(): Io {
  return {
    writeOut: (text) => writeAll(Deno.stdout, text),
    writeErr: (text) => writeAll(Deno.stderr, text),
    readStdin: () => new Response(Deno.stdin.readable).text(),
    stdinIsTerminal: () => Deno.stdin.isTerminal(),
    stdoutIsTerminal: () => Deno.stdout.isTerminal(),
    stderrIsTerminal: () => Deno.stderr.isTerminal(),
    env: (name) => Deno.env.get(name),
    cwd: () => Deno.cwd(),
  };
}

/** An {@link Io} that records what is written, for tests and in-process runs. */
export interface CapturedIo extends Io {
  /** Everything written to stdout so far. */
  readonly stdout: string;
  /** Everything written to stderr so far. */
  readonly stderr: string;
}

/** Options of {@link captureIo}. */
export interface CaptureIoOptions {
  /** What stdin holds; when absent, stdin is a terminal. */
  stdin?: string;
  /** The environment. @default {} */
  env?: Record<string, string>;
  /** The working directory. @default Deno.cwd() */
  cwd?: string;
}

/** Returns an {@link Io} that captures stdout and stderr in memory. */
export function captureIo(options: CaptureIoOptions = {}): CapturedIo {
  let stdout = "";
  let stderr = "";
  const env = options.env ?? {};
  return {
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    writeOut: (text) => {
      stdout += text;
    },
    writeErr: (text) => {
      stderr += text;
    },
    readStdin: () => Promise.resolve(options.stdin ?? ""),
    stdinIsTerminal: () => options.stdin === undefined,
    stdoutIsTerminal: () => false,
    stderrIsTerminal: () => false,
    env: (name) => env[name],
    cwd: () => options.cwd ?? Deno.cwd(),
  };
}

/** `--output`: human-readable tables, or stable JSON. */
export type OutputFormat = "table" | "json";

/** The values `--output` accepts. */
export const OUTPUT_FORMATS: readonly OutputFormat[] = ["table", "json"];

/**
 * Whether colours may be used on a stream: never with `--no-color` or `NO_COLOR` (any
 * non-empty value, see no-color.org) or `TERM=dumb` (a terminal without escape sequences),
 * and only on a terminal.
 */
export function colorAllowed(io: Io, options: { flag: boolean; terminal: boolean }): boolean {
  if (!options.flag) return false;
  const noColor = io.env("NO_COLOR");
  if (noColor !== undefined && noColor !== "") return false;
  if (io.env("TERM") === "dumb") return false;
  return options.terminal;
}

/** ANSI styles, applied only when colours are on. */
export interface Styles {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  green(text: string): string;
}

/** Returns {@link Styles} that colour when `enabled`, and return text as is otherwise. */
export function styles(enabled: boolean): Styles {
  const wrap = (open: number, close: number) => (text: string) =>
    enabled ? `\x1b[${open}m${text}\x1b[${close}m` : text;
  return {
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    red: wrap(31, 39),
    yellow: wrap(33, 39),
    green: wrap(32, 39),
  };
}

/** Serialises a value as roster's stable JSON: two-space indent and a final newline. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, null, 2) + "\n";
}

function hasToJson(value: unknown): value is { toJSON(key: string): unknown } {
  return typeof value === "object" && value !== null && "toJSON" in value &&
    typeof value.toJSON === "function";
}

/**
 * Writes the text of `JSON.stringify(value, null, 2)` to `write` in pieces, byte for byte, so
 * that a document of hundreds of thousands of users is never held as one string. Arrays and
 * objects are walked down to the depth of one record (a user, a group), which the native
 * serialiser then writes whole. A plain recursive walk: no generator per level.
 */
export function writeJsonPieces(
  value: unknown,
  write: (piece: string) => void,
  options: { indent?: string; key?: string } = {},
): void {
  const indent = options.indent ?? "";
  const v = hasToJson(value) ? value.toJSON(options.key ?? "") : value;
  if (indent.length >= 4 && (Array.isArray(v) || isRecord(v))) {
    // Deep enough to be one record (a user, a group): the native serialiser, re-indented.
    write((JSON.stringify(v, null, 2) ?? "null").replaceAll("\n", "\n" + indent));
    return;
  }
  if (Array.isArray(v)) {
    if (v.length === 0) {
      write("[]");
      return;
    }
    const inner = indent + "  ";
    const open = "\n" + inner;
    const next = ",\n" + inner;
    write("[");
    for (let i = 0; i < v.length; i++) {
      write(i === 0 ? open : next);
      const item: unknown = v[i];
      if (item === undefined || typeof item === "function" || typeof item === "symbol") {
        write("null");
      } else {
        writeJsonPieces(item, write, { indent: inner, key: String(i) });
      }
    }
    write("\n" + indent + "]");
    return;
  }
  if (isRecord(v)) {
    const inner = indent + "  ";
    let first = true;
    for (const [k, item] of Object.entries(v)) {
      if (item === undefined || typeof item === "function" || typeof item === "symbol") continue;
      write((first ? "{\n" : ",\n") + inner + JSON.stringify(k) + ": ");
      first = false;
      writeJsonPieces(item, write, { indent: inner, key: k });
    }
    write(first ? "{}" : "\n" + indent + "}");
    return;
  }
  write(JSON.stringify(v) ?? "null");
}

/** `1 member`, `2 members`; `many` for irregular plurals (`2 entries`). */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

/** Options of {@link formatTable}. */
export interface TableOptions {
  /** Column headings, printed first (in bold when colours are on). */
  headers?: readonly string[];
  /** Spaces before each line. @default 2 */
  indent?: number;
  /** Columns to right-align (numbers), by index. @default [] */
  alignRight?: readonly number[];
  /**
   * Lines longer than this put their last column on a continuation line, indented, so that
   * tables stay readable in an 80-column terminal. @default 80
   */
  maxWidth?: number;
  /** Styles for the headings. @default no colours */
  styles?: Styles;
}

/**
 * Lays rows out in aligned columns separated by two spaces. The last column is never padded.
 * Every row is printed: nothing is truncated or elided.
 *
 * @example
 * ```ts
 * import { formatTable } from "./render.ts";
 * formatTable([["alice", "1"]], { headers: ["NAME", "N"] });
 * // ["  NAME   N", "  alice  1"]
 * ```
 */
export function formatTable(
  rows: readonly (readonly string[])[],
  options: TableOptions = {},
): string[] {
  const indent = " ".repeat(options.indent ?? 2);
  const maxWidth = options.maxWidth ?? 80;
  const right = new Set(options.alignRight ?? []);
  const style = options.styles ?? styles(false);
  const all = options.headers === undefined ? rows : [options.headers, ...rows];
  const columns = Math.max(0, ...all.map((row) => row.length));
  const widths: number[] = [];
  for (let column = 0; column < columns; column++) {
    widths.push(Math.max(0, ...all.map((row) => [...(row[column] ?? "")].length)));
  }
  const lines: string[] = [];
  all.forEach((row, index) => {
    const isHeader = options.headers !== undefined && index === 0;
    const cells = row.map((cell, column) => {
      const last = column === row.length - 1;
      const pad = (widths[column] ?? 0) - [...cell].length;
      if (right.has(column)) return " ".repeat(pad) + cell;
      return last ? cell : cell + " ".repeat(pad);
    });
    let line = indent + cells.join("  ");
    if ([...line].length > maxWidth && cells.length > 1) {
      const head = indent + cells.slice(0, -1).join("  ").trimEnd();
      const tail = indent + "    " + (cells[cells.length - 1] ?? "").trim();
      lines.push(isHeader ? style.bold(head) : head);
      if (!isHeader) lines.push(tail);
      return;
    }
    line = line.trimEnd();
    lines.push(isHeader ? style.bold(line) : line);
  });
  return lines;
}

/** Writes command results to stdout, as tables/text or as JSON. */
export class Renderer {
  /** The output format chosen with `--output`. */
  readonly format: OutputFormat;
  /** Styles for stdout (no-ops unless colours are on). */
  readonly style: Styles;
  /** Whether `--quiet` was given: confirmations are not printed. */
  readonly quiet: boolean;
  readonly #io: Io;

  constructor(io: Io, options: { format: OutputFormat; color: boolean; quiet: boolean }) {
    this.#io = io;
    this.format = options.format;
    this.style = styles(options.color);
    this.quiet = options.quiet;
  }

  /** Whether JSON output was asked for. */
  get json(): boolean {
    return this.format === "json";
  }

  /**
   * Prints a JSON document (stable: two-space indent, final newline). Large documents are
   * written in pieces, never built as one string.
   */
  printJson(value: unknown): void {
    let pending = "";
    writeJsonPieces(value, (piece) => {
      pending += piece;
      if (pending.length >= 65536) {
        this.#io.writeOut(pending);
        pending = "";
      }
    });
    this.#io.writeOut(pending + "\n");
  }

  /**
   * Prints a JSON document that `emit` writes in pieces (each passed to its `write` as soon as
   * it is made, so large documents are never held whole), then a final newline.
   */
  printJsonText(emit: (write: (piece: string) => void) => void): void {
    emit((piece) => this.#io.writeOut(piece));
    this.#io.writeOut("\n");
  }

  /** Prints lines of text, each followed by a newline. */
  printLines(lines: readonly string[]): void {
    if (lines.length === 0) return;
    this.#io.writeOut(lines.join("\n") + "\n");
  }

  /**
   * Prints a confirmation (`Saved setting sync.interval`): as `{"object":"message",…}` in JSON
   * mode, as a line in table mode unless `--quiet`.
   */
  printMessage(message: string): void {
    if (this.json) {
      this.printJson({ object: "message", message });
    } else if (!this.quiet) {
      this.printLines([message]);
    }
  }

  /** Formats a table with this renderer's styles (see {@link formatTable}). */
  table(rows: readonly (readonly string[])[], options: TableOptions = {}): string[] {
    return formatTable(rows, { styles: this.style, ...options });
  }
}

/** Options of {@link renderError}. */
export interface RenderErrorOptions {
  /** `--output`: JSON errors go to stdout, table errors to stderr. */
  format: OutputFormat;
  /** Colours on stderr. */
  color: boolean;
  /** `--verbose`: print the cause and, for unexpected errors, the stack. */
  verbose: boolean;
}

/** The JSON shape of an error (`--output json`), printed on stdout. */
export interface ErrorDocument {
  object: "error";
  code: string;
  message: string;
  hint: string | null;
  details: Record<string, unknown> | null;
}

const REPORT_HINT =
  "This is a bug in roster: please report it with the command you ran and the output of the same command with --verbose";

/**
 * Prints an error and returns the exit status it maps to: a {@link RosterError}'s own exit
 * code, or 1 for anything else (an unexpected error, reported as a bug).
 */
export function renderError(error: unknown, io: Io, options: RenderErrorOptions): ExitCodeValue {
  const known = error instanceof RosterError;
  const detail = error instanceof Error ? error.message : String(error);
  const document: ErrorDocument = known
    ? {
      object: "error",
      code: error.code,
      message: error.message,
      hint: error.hint ?? null,
      details: error.details ?? null,
    }
    : {
      object: "error",
      code: "internal",
      message: `Unexpected error: ${detail}`,
      hint: REPORT_HINT,
      details: null,
    };
  const exitCode = known ? error.exitCode : ExitCode.Internal;
  if (options.format === "json") {
    io.writeOut(toJson(document));
  } else {
    const style = styles(options.color);
    const lines = [`${style.red("error:")} ${document.message}`];
    if (document.hint !== null) lines.push(`${style.dim("hint:")} ${document.hint}`);
    io.writeErr(lines.join("\n") + "\n");
  }
  if (options.verbose) {
    const extra: string[] = [];
    if (!known && error instanceof Error && error.stack !== undefined) extra.push(error.stack);
    let cause = error instanceof Error ? error.cause : undefined;
    while (cause !== undefined) {
      extra.push(
        `cause: ${cause instanceof Error ? (cause.stack ?? cause.message) : String(cause)}`,
      );
      cause = cause instanceof Error ? cause.cause : undefined;
    }
    if (extra.length > 0) io.writeErr(extra.join("\n") + "\n");
  }
  return exitCode;
}
