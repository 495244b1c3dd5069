/**
 * Character encodings of directory exports (LDIF, CSV, JSON): detection, decoding, and errors
 * that name the line.
 *
 * `directory.file.encoding` is `auto` by default: UTF-8 with or without a byte order mark
 * (BOM), and UTF-16 (little- or big-endian) with a BOM. Any other encoding must be named
 * (`windows-1252`, `iso-8859-15`, `shift_jis`, … any label the WHATWG Encoding Standard knows,
 * which is what `TextDecoder` accepts). Bytes that are not valid in the encoding are never
 * replaced with U+FFFD: the file is refused with {@link DirectoryDataError} (exit 7) naming the
 * file, the line and the setting to change.
 * @module
 */

import { ConfigError, DirectoryDataError } from "../errors.ts";

/** The setting that names the encoding, for errors and hints. */
export const ENCODING_SETTING = "directory.file.encoding";

/** What {@link resolveEncoding} makes of a `directory.file.encoding` value. */
export type EncodingChoice =
  | { kind: "auto" }
  | { kind: "named"; encoding: string };

/**
 * Checks a `directory.file.encoding` value: `auto` (any case), or a label `TextDecoder`
 * accepts, returned with its canonical name (`latin1` gives `windows-1252`, as the WHATWG
 * Encoding Standard maps it).
 * @throws {ConfigError} naming `directory.file.encoding` for an unknown label.
 */
export function resolveEncoding(value: string): EncodingChoice {
  const label = value.trim();
  if (label.toLowerCase() === "auto") return { kind: "auto" };
  try {
    return { kind: "named", encoding: new TextDecoder(label).encoding };
  } catch {
    throw new ConfigError(`Unknown character encoding in ${ENCODING_SETTING}: "${label}"`, {
      hint: `Set ${ENCODING_SETTING} to auto (UTF-8, or UTF-16 with a byte order mark) or to an ` +
        "encoding name such as windows-1252, iso-8859-15 or utf-16le",
      details: { setting: ENCODING_SETTING, value: label },
    });
  }
}

/** Options of {@link utf8Stream}. */
export interface DecodeOptions {
  /** `directory.file.encoding`: `auto` (the default) or an encoding label. */
  encoding?: string;
  /** The file's name, for errors (e.g. its path). */
  source: string;
  /**
   * Also refuse U+FFFD, the replacement character, written in the file itself (default false):
   * it marks characters an earlier conversion lost. Right for CSV and JSON, whose every field is
   * data; the LDIF reader checks only the values it uses instead.
   */
  refuseReplacement?: boolean;
}

/** Options of {@link decodeText}: those of {@link utf8Stream}, and who counts the lines. */
export interface DecodeTextOptions extends DecodeOptions {
  /**
   * The number of line breaks (`\n`) in the text the caller has consumed so far, when the
   * caller counts lines itself (the LDIF reader does, as it splits the text into lines): the
   * decoder then asks for it instead of counting the lines of each chunk again. Only the line
   * numbers of errors use it. Valid because {@link decodeText} decodes a chunk only when the
   * next text is asked for, after the caller has consumed all the text yielded before.
   * Default: the decoder counts.
   */
  linesRead?: () => number;
}

/**
 * The byte offset of the first byte that does not belong to a well-formed UTF-8 sequence
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or -1. An incomplete
 * sequence at the very end counts as invalid only when `final` is true.
 */
export function firstInvalidUtf8(bytes: Uint8Array, final = true): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i] ?? 0;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min = 0x80;
    let max = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) min = 0xa0;
      if (b === 0xed) max = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) min = 0x90;
      if (b === 0xf4) max = 0x8f;
    } else return i;
    for (let k = 1; k <= need; k++) {
      if (i + k >= n) return final ? i : -1;
      const c = bytes[i + k] ?? 0;
      const lo = k === 1 ? min : 0x80;
      const hi = k === 1 ? max : 0xbf;
      if (c < lo || c > hi) return i;
    }
    i += need + 1;
  }
  return -1;
}

function countNewlines(bytes: Uint8Array, end: number): number {
  let count = 0;
  let at = bytes.indexOf(0x0a);
  while (at >= 0 && at < end) {
    count++;
    at = bytes.indexOf(0x0a, at + 1);
  }
  return count;
}

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The bytes as text when they are well-formed UTF-8 (the native decoder checks), else
 * undefined: the caller then scans for the offending byte.
 */
function utf8Text(bytes: Uint8Array): string | undefined {
  try {
    return fatalUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * The number of `\n` in a text, before `end` (default: in all of it): string search is far
 * faster than searching the bytes.
 */
function countNewlinesInText(text: string, end = text.length): number {
  let count = 0;
  let at = text.indexOf("\n");
  while (at >= 0 && at < end) {
    count++;
    at = text.indexOf("\n", at + 1);
  }
  return count;
}

function hexByte(bytes: Uint8Array, at: number): string {
  return "0x" + (bytes[at] ?? 0).toString(16).toUpperCase().padStart(2, "0");
}

const encoder = new TextEncoder();

/** The offset of the UTF-8 bytes of U+FFFD (EF BF BD), or -1. */
function indexOfReplacement(bytes: Uint8Array): number {
  let at = bytes.indexOf(0xef);
  while (at >= 0 && at + 2 < bytes.length) {
    if (bytes[at + 1] === 0xbf && bytes[at + 2] === 0xbd) return at;
    at = bytes.indexOf(0xef, at + 1);
  }
  return -1;
}

/**
 * The checks and decoding {@link utf8Stream} and {@link decodeText} share: fed the file's chunks
 * in order, it gives back the text of each chunk, or the UTF-8 bytes of it (`bytes` mode), and
 * throws on the first byte that is not valid in the encoding.
 */
function chunkDecoder(options: DecodeTextOptions, output: "text" | "bytes") {
  const choice = resolveEncoding(options.encoding ?? "auto");
  const source = options.source;
  const linesRead = options.linesRead;
  /** The line the chunk being checked starts on (counted here unless `linesRead` is given). */
  let line = 1;
  let started = false;
  let mode: "utf8" | "decode" = "utf8";
  let decoder: TextDecoder | undefined;
  let carry = new Uint8Array(0);
  const named = choice.kind === "named" ? choice.encoding : undefined;

  const fail = (at: number, detail: string, hint: string): never => {
    throw new DirectoryDataError(`Cannot read ${source} at line ${at}: ${detail}`, {
      hint,
      details: { path: source, line: at, setting: ENCODING_SETTING },
    });
  };
  const setHint = (encoding: string) =>
    `Save the file as UTF-8, or name its encoding: roster config set ${ENCODING_SETTING} ${encoding}`;

  const start = (bytes: Uint8Array): Uint8Array => {
    started = true;
    const b0 = bytes[0];
    const b1 = bytes[1];
    const utf8Bom = b0 === 0xef && b1 === 0xbb && bytes[2] === 0xbf;
    if (named !== undefined) {
      if (named === "utf-8") return utf8Bom ? bytes.subarray(3) : bytes;
      if (utf8Bom && !named.startsWith("utf-16")) {
        fail(
          1,
          `the file starts with a UTF-8 byte order mark but ${ENCODING_SETTING} is ${named}`,
          `The file is UTF-8: roster config set ${ENCODING_SETTING} auto`,
        );
      }
      mode = "decode";
      decoder = new TextDecoder(named, { fatal: false });
      return bytes;
    }
    if (utf8Bom) return bytes.subarray(3);
    if ((b0 === 0xff && b1 === 0xfe) || (b0 === 0xfe && b1 === 0xff)) {
      mode = "decode";
      decoder = new TextDecoder(b0 === 0xff ? "utf-16le" : "utf-16be", { fatal: false });
      return bytes;
    }
    return bytes;
  };

  /** The length of an incomplete sequence at the end of `bytes`, held back for the next chunk. */
  const incompleteTail = (bytes: Uint8Array): number => {
    for (let k = 1; k <= 3 && k <= bytes.length; k++) {
      const b = bytes[bytes.length - k] ?? 0;
      if (b < 0x80) return 0;
      if (b >= 0xc0) {
        const len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
        return len > k ? k : 0;
      }
    }
    return 0;
  };

  const checkUtf8 = (bytes: Uint8Array, final: boolean): Uint8Array | string => {
    const keep = final ? 0 : incompleteTail(bytes);
    const out = keep === 0 ? bytes : bytes.subarray(0, bytes.length - keep);
    // One native pass both checks and decodes the complete sequences; the held-back tail (at
    // most 3 bytes) is checked on its own, so an invalid one is reported with this chunk.
    let text = utf8Text(out);
    if (
      text !== undefined && keep > 0 && firstInvalidUtf8(bytes.subarray(out.length), false) >= 0
    ) {
      text = undefined;
    }
    const bad = text !== undefined ? -1 : firstInvalidUtf8(bytes, final);
    if (bad >= 0) {
      fail(
        line + countNewlines(bytes, bad),
        `byte ${hexByte(bytes, bad)} is not valid UTF-8, so the file is not UTF-8`,
        setHint("windows-1252"),
      );
    }
    const replacement = options.refuseReplacement === true ? indexOfReplacement(bytes) : -1;
    if (replacement >= 0) {
      fail(
        line + countNewlines(bytes, replacement),
        "the file contains U+FFFD, the replacement character, so characters were already lost " +
          "when it was written",
        "Export the file again from the directory, in UTF-8 (or name its encoding in " +
          `${ENCODING_SETTING})`,
      );
    }
    // In UTF-8 a 0x00 byte is always U+0000, and searching the text is far faster than
    // searching the bytes.
    const nul = named !== undefined
      ? -1
      : text !== undefined
      ? text.indexOf("\0")
      : bytes.indexOf(0);
    if (nul >= 0) {
      fail(
        line + (text !== undefined ? countNewlinesInText(text, nul) : countNewlines(bytes, nul)),
        "the file contains a NUL byte (it looks like UTF-16 without a byte order mark, or a " +
          "binary file)",
        `Save the file as UTF-8, or name its encoding: roster config set ${ENCODING_SETTING} ` +
          "utf-16le (or utf-16be)",
      );
    }
    carry = keep === 0 ? new Uint8Array(0) : bytes.slice(bytes.length - keep);
    // The held-back bytes are not newlines (they are part of a multi-byte sequence), so the
    // decoded text has the same newlines as `out`.
    if (linesRead === undefined) {
      line += text !== undefined ? countNewlinesInText(text) : countNewlines(out, out.length);
    }
    return output === "text" ? text ?? "" : out;
  };

  const decodeChunk = (bytes: Uint8Array, final: boolean): Uint8Array | string => {
    const text = (decoder ?? new TextDecoder()).decode(bytes, { stream: !final });
    const bad = text.indexOf("\uFFFD");
    if (bad >= 0) {
      fail(
        line + countNewlinesInText(text, bad),
        `a byte sequence is not valid ${named ?? decoder?.encoding ?? "text"}`,
        named === undefined
          ? `Save the file again as UTF-8 or UTF-16, or name its encoding: roster config set ` +
            `${ENCODING_SETTING} <encoding>`
          : `Check the file's encoding and set ${ENCODING_SETTING} to it (e.g. utf-8, ` +
            "windows-1252, iso-8859-15)",
      );
    }
    if (linesRead === undefined) line += countNewlinesInText(text);
    return output === "text" ? text : encoder.encode(text);
  };

  /** One chunk of the file (`final`: the end of the file, with an empty chunk). */
  return (chunk: Uint8Array, final: boolean): Uint8Array | string => {
    if (linesRead !== undefined) line = linesRead() + 1;
    let bytes = chunk;
    if (carry.length > 0) {
      const joined = new Uint8Array(carry.length + chunk.length);
      joined.set(carry);
      joined.set(chunk, carry.length);
      bytes = joined;
      carry = new Uint8Array(0);
    }
    if (!started) {
      if (bytes.length < 3 && !final) {
        carry = bytes.slice();
        return output === "text" ? "" : new Uint8Array(0);
      }
      bytes = start(bytes);
    }
    return mode === "utf8" ? checkUtf8(bytes, final) : decodeChunk(bytes, final);
  };
}

/**
 * Reads a file's bytes in its encoding and gives them back as UTF-8 without a BOM, checked, so
 * that the LDIF, CSV and JSON readers only ever see valid UTF-8.
 *
 * - `auto`: a UTF-8 BOM is dropped; a UTF-16LE/BE BOM switches to UTF-16; otherwise the bytes
 *   must be UTF-8. A NUL byte (UTF-16 without a BOM, or a binary file) is refused.
 * - a named encoding: decoded with `TextDecoder`; a UTF-8 BOM in front of a file named as a
 *   single-byte encoding is refused (the file is really UTF-8).
 *
 * UTF-8 input passes through unchanged (only checked); other encodings are decoded and
 * re-encoded chunk by chunk, so no file is held in memory.
 * @throws {ConfigError} for an unknown `encoding` label (before any byte is read).
 * @throws {DirectoryDataError} (exit 7) naming `source`, the 1-based line and
 * `directory.file.encoding` when a byte sequence is not valid in the encoding.
 */
export function utf8Stream(
  stream: ReadableStream<Uint8Array>,
  options: DecodeOptions,
): ReadableStream<Uint8Array> {
  const process = chunkDecoder(options, "bytes");
  return stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        const out = process(chunk, false);
        if (typeof out !== "string" && out.length > 0) controller.enqueue(out);
      },
      flush(controller) {
        const out = process(new Uint8Array(0), true);
        if (typeof out !== "string" && out.length > 0) controller.enqueue(out);
      },
    }),
  );
}

/**
 * Reads a file's bytes in its encoding and yields its text chunk by chunk, with the checks and
 * errors of {@link utf8Stream} (the same encodings, BOM handling and line numbers), but decoding
 * each chunk once: the UTF-8 check is the decoding. Like a `TextDecoder` reading the output of
 * {@link utf8Stream}, a U+FEFF left at the very start of the text (a second byte order mark) is
 * dropped too. Empty chunks are not yielded. Stopping early cancels `stream`. Each chunk is
 * read and decoded only when the next text is asked for. With `linesRead` the caller counts
 * the lines (see {@link DecodeTextOptions}).
 * @throws {ConfigError} for an unknown `encoding` label (before any byte is read).
 * @throws {DirectoryDataError} (exit 7) naming `source`, the 1-based line and
 * `directory.file.encoding` when a byte sequence is not valid in the encoding.
 */
export async function* decodeText(
  stream: ReadableStream<Uint8Array>,
  options: DecodeTextOptions,
): AsyncGenerator<string> {
  const process = chunkDecoder(options, "text");
  const reader = stream.getReader();
  let finished = false;
  let first = true;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      const out = done ? process(new Uint8Array(0), true) : process(value, false);
      if (done) finished = true;
      if (typeof out === "string" && out.length > 0) {
        const text = first && out.charCodeAt(0) === 0xfeff ? out.slice(1) : out;
        first = false;
        if (text.length > 0) yield text;
      }
      if (done) return;
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
