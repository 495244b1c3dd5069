/**
 * A streaming LDIF reader (RFC 2849, content records only).
 *
 * It decodes the byte stream chunk by chunk and yields one entry per record, so an export of any
 * size is never held in memory as text. Supported: the `version: 1` line, comments, folded lines
 * (continuation lines start with one space), `attr:: base64` values, `dn::` base64 DNs, CRLF line
 * ends, and the `search:`/`result:` trailer that `ldapsearch` (without `-LLL`) prints; a
 * non-zero `result:` (e.g. `4 Size limit exceeded`) means the export is truncated and is refused.
 * Refused with a clear error: change records (`changetype:`, `control:`) and values read from
 * URLs (`attr:< file://…`).
 * @module
 */

import { DirectoryDataError, SourceIncompleteError } from "../errors.ts";
import { DnSyntaxError, normalizeDn } from "./dn.ts";
import { copyText as detach, joinRanges, type LdapEntry } from "./entry.ts";

/** An entry read from LDIF, with the line its record starts on. */
export interface LdifEntry extends LdapEntry {
  /** 1-based line number of the record's `dn:` line. */
  line: number;
  /** What {@link ReadLdifOptions.dnKey} made of the DN; absent without that option. */
  key?: string;
}

/** Options for {@link readLdif}. */
export interface ReadLdifOptions {
  /** Name of the input (e.g. the file path), used in error messages. */
  source?: string;
  /**
   * The attribute types to keep in `attributes` (case-insensitive, without options: `member`
   * keeps `member;range=0-1499` too). Default: every attribute. The lines of other attributes
   * are still checked (name, base64, change records) but their values are not kept, so a
   * reader that needs a few attributes does not pay for building the others.
   */
  attributes?: Iterable<string>;
  /**
   * The attribute types whose values may be given as views into the decoded text rather than
   * copies (case-insensitive, without options). A view keeps its whole chunk of text (64 KiB)
   * in memory while it lives: only for values the caller looks up and drops, or copies
   * (`copyText`) to keep. Default: none, every value is a copy.
   */
  views?: Iterable<string>;
  /**
   * Turns each record's DN into its {@link LdifEntry.key}, at the `dn:` line; a
   * `DnSyntaxError` it throws is reported as an invalid DN on that line. Default: the DN is
   * checked with `normalizeDn` and the entry has no key. The file provider passes its
   * `RefPool`'s `dn()`, so each DN is parsed once and its canonical form shared. It is given
   * a view of the DN text (see `views`): it must copy what it keeps. When the key equals the
   * DN, the key is the entry's `dn` too.
   */
  dnKey?: (dn: string) => string;
  /**
   * Set after each chunk of text to the number of line breaks read so far (`read`), for a
   * decoder that takes the count from the reader instead of counting again (`decodeText`'s
   * `linesRead`). Default: not kept.
   */
  lines?: { read: number };
}

/** An attribute description: a name or OID, then options, including AD's `range=0-1499`. */
const ATTRIBUTE_NAME =
  /^(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)*)(?:;(?:[A-Za-z0-9-]+|range=[0-9]+-(?:[0-9]+|\*)))*$/i;
/** Attributes whose base64 values are always kept as bytes: AD's binary identifiers. */
const BINARY_ATTRIBUTES = new Set(["objectguid", "objectsid"]);
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** What the parser needs to know about an attribute name, computed once per distinct name. */
interface NameInfo {
  /** The name exactly as written before the colon. */
  raw: string;
  /** The name as written, trimmed. */
  name: string;
  /** Lowercased: the key in the entry's attributes. */
  lower: string;
  /** Whether it passes {@link ATTRIBUTE_NAME}. */
  valid: boolean;
  /** Whether base64 values stay bytes (objectGUID, objectSid). */
  binary: boolean;
  /** Whether it carries a `;range=` option (the record then needs `joinRanges`). */
  ranged: boolean;
  /** Whether its values are kept ({@link ReadLdifOptions.attributes}). */
  keep: boolean;
  /** `dn`, `changetype` or `control`: the value is needed for the record's checks. */
  special: boolean;
  /** `objectclass`: its values repeat from record to record (see `shareClasses`). */
  classes: boolean;
  /** Its values are given as views of the text ({@link ReadLdifOptions.views}). */
  view: boolean;
}

/** Distinct names a file may introduce before the cache stops growing. */
const NAME_CACHE_LIMIT = 4096;

function nameInfo(
  text: string,
  keep: ReadonlySet<string> | undefined,
  views: ReadonlySet<string>,
): NameInfo {
  const raw = detach(text); // kept in the name cache for the whole read
  const name = raw.trim();
  const lower = name.toLowerCase();
  const base = lower.split(";")[0] ?? "";
  return {
    raw,
    name,
    lower,
    valid: ATTRIBUTE_NAME.test(name),
    binary: lower !== "dn" && BINARY_ATTRIBUTES.has(base),
    ranged: lower.includes(";range="),
    keep: keep === undefined || keep.has(base),
    special: lower === "dn" || lower === "changetype" || lower === "control",
    classes: lower === "objectclass",
    view: views.has(base),
  };
}

/** Whether the logical line `text` from `start` to `end` starts with the name and a colon. */
function nameAt(info: NameInfo, text: string, start: number, end: number): boolean {
  const colon = start + info.raw.length;
  return colon < end && text.charCodeAt(colon) === 58 && text.startsWith(info.raw, start);
}

interface Pending {
  dn: string;
  line: number;
  key: string | undefined;
  attributes: Map<string, (string | Uint8Array)[]>;
  ranged: boolean;
  /**
   * The attribute of the last value kept and its list: an attribute's lines usually follow
   * each other, and the next value then goes to the list without a lookup.
   */
  lastInfo: NameInfo | null;
  lastList: (string | Uint8Array)[] | null;
  /** The objectClass values (the list under `objectclass`), once there is one. */
  classes: (string | Uint8Array)[] | null;
}

/** The record parser: fed logical lines, collects finished entries in `out`. */
class LdifParser {
  out: LdifEntry[] = [];
  private record: Pending | null = null;
  private trailer = false;
  private seenContent = false;
  /** A `result:` trailer line was read. */
  result = false;
  /** Records read so far. */
  records = 0;
  private readonly where: string;
  private readonly names = new Map<string, NameInfo>();
  /** The names of the previous record in order: records of one export repeat them. */
  private previousNames: NameInfo[] = [];
  private currentNames: NameInfo[] = [];
  /** How many of `previousNames` and `currentNames` are in use (the arrays are reused). */
  private previousCount = 0;
  private currentCount = 0;
  /** The objectClass values of the last record that had any (see `shareClasses`). */
  private previousClasses: (string | Uint8Array)[] | undefined;

  private readonly keep: ReadonlySet<string> | undefined;
  private readonly views: ReadonlySet<string>;
  private readonly dnKey: ((dn: string) => string) | undefined;

  constructor(options: ReadLdifOptions) {
    this.where = options.source === undefined ? "" : ` in ${options.source}`;
    this.keep = options.attributes === undefined
      ? undefined
      : new Set([...options.attributes].map((name) => name.toLowerCase()));
    this.views = new Set([...options.views ?? []].map((name) => name.toLowerCase()));
    this.dnKey = options.dnKey;
  }

  private fail(line: number, detail: string, hint: string): never {
    throw new DirectoryDataError(`Invalid LDIF${this.where} at line ${line}: ${detail}`, {
      hint,
      details: { line, ...(this.where === "" ? {} : { source: this.where.slice(4) }) },
    });
  }

  private refuse(line: number, detail: string, hint: string): never {
    throw new DirectoryDataError(`Unsupported LDIF${this.where} at line ${line}: ${detail}`, {
      hint,
      details: { line, ...(this.where === "" ? {} : { source: this.where.slice(4) }) },
    });
  }

  private decodeBase64(line: number, name: string, text: string): Uint8Array {
    const compact = text.replace(/\s+/g, "");
    try {
      // atob() accepts a value missing its last characters; RFC 4648 base64 is padded to 4.
      if (compact.length % 4 !== 0) throw new Error("not padded");
      const binary = atob(compact);
      const bytes = new Uint8Array(binary.length);
      for (let k = 0; k < binary.length; k++) bytes[k] = binary.charCodeAt(k);
      return bytes;
    } catch {
      return this.fail(
        line,
        `the base64 value of ${name} is not valid base64`,
        "Re-export the directory; a value after `::` must be base64 (RFC 2849)",
      );
    }
  }

  private info(raw: string): NameInfo {
    let info = this.names.get(raw);
    if (info === undefined) {
      info = nameInfo(raw, this.keep, this.views);
      if (this.names.size < NAME_CACHE_LIMIT) this.names.set(info.raw, info);
    }
    return info;
  }

  /** Handles one logical (unfolded) line: `text` from `start` to `end`. */
  line(text: string, start: number, end: number, line: number): void {
    // The name at the same position in the previous record, else the name of the line before,
    // compared in place: records of one export repeat their attributes in order, a
    // multi-valued attribute's lines follow each other (a group's members), and then the colon
    // is not searched for and the name not looked up. (A name never holds a colon, so the
    // first colon is the one after it.)
    const at = this.currentCount;
    const same = at < this.previousCount ? this.previousNames[at] : undefined;
    let guess = same !== undefined && nameAt(same, text, start, end) ? same : undefined;
    if (guess === undefined && at > 0) {
      const before = this.currentNames[at - 1];
      if (before !== same && before !== undefined && nameAt(before, text, start, end)) {
        guess = before;
      }
    }
    let colon = guess === undefined ? -1 : start + guess.raw.length;
    let info: NameInfo;
    if (guess !== undefined) {
      info = guess;
    } else {
      colon = text.indexOf(":", start);
      if (colon <= start || colon >= end) {
        this.fail(
          line,
          `expected "attribute: value" but found "${text.slice(start, Math.min(end, start + 40))}"`,
          "Each LDIF line is `name: value`, `name:: base64`, a `#` comment, or a continuation " +
            "line starting with one space; records are separated by a blank line",
        );
      }
      info = this.info(text.slice(start, colon));
    }
    this.currentNames[at] = info;
    this.currentCount = at + 1;
    const name = info.name;
    const lower = info.lower;

    if (this.record === null && !this.trailer) {
      if (!this.seenContent && lower === "version") {
        this.seenContent = true;
        const rest = text.slice(colon + 1, end).trim();
        if (rest !== "1") {
          this.fail(line, `unknown LDIF version "${rest}"`, "Only `version: 1` exists");
        }
        return;
      }
      this.seenContent = true;
      if (lower === "ref") {
        const rest = text.slice(colon + 1, end);
        throw new SourceIncompleteError(
          `LDIF export${this.where} is incomplete: line ${line} is a continuation reference ` +
            `(ref: ${rest.trim()}), a part of the exported subtree held by another server`,
          {
            hint: "Export that subtree from the server holding it too (ldapsearch -C follows " +
              "referrals), or export from a server holding the whole subtree (for AD, a global " +
              "catalog)",
            details: { line, reference: rest.trim() },
          },
        );
      }
      if (lower === "search" || lower === "result") {
        this.trailer = true;
      } else if (lower !== "dn") {
        this.fail(
          line,
          `a record must start with "dn:" but starts with "${name}:"`,
          "Separate records with one blank line and start each with its `dn:` line",
        );
      }
    }

    if (this.trailer) {
      const rest = text.slice(colon + 1, end);
      if (lower === "result") {
        this.result = true;
        const code = rest.trim().split(/\s+/)[0] ?? "";
        if (code !== "0") {
          throw new SourceIncompleteError(
            `LDIF export${this.where} is incomplete: ldapsearch reported "result: ${rest.trim()}" ` +
              `at line ${line}`,
            {
              hint: "Re-run the export until it succeeds (e.g. raise the server's size limit or " +
                "use paged results: ldapsearch -E pr=500/noprompt)",
              details: { line },
            },
          );
        }
      }
      return;
    }

    // value (not built for an attribute that is not kept: nothing reads it)
    let value: string | Uint8Array = "";
    const needed = info.keep || info.special;
    const kind = colon + 1 < end ? text.charCodeAt(colon + 1) : -1;
    if (kind === 58) { // "::" base64
      const bytes = this.decodeBase64(line, name, text.slice(colon + 2, end));
      if (info.binary || !needed) value = bytes;
      else {
        try {
          value = strictUtf8.decode(bytes);
        } catch {
          if (lower === "dn") {
            this.fail(line, "the base64 DN is not valid UTF-8", "Re-export the directory");
          }
          value = bytes;
        }
      }
    } else if (kind === 60) { // ":<" URL
      this.refuse(
        line,
        `the value of ${name} is read from a URL (${text.slice(colon + 2, end).trim()})`,
        "Export with values inline (ldapsearch and ldifde do this by default); roster does not " +
          "read files or URLs named inside an LDIF",
      );
    } else if (needed) {
      let from = colon + 1;
      while (from < end && text.charCodeAt(from) === 32) from++;
      value = info.view || (this.record === null && this.dnKey !== undefined)
        ? text.slice(from, end) // a view: the DN's copy is made by dnKey, or below
        : info.classes
        ? this.classValue(text, from, end)
        : detach(text.slice(from, end));
    }

    if (this.record === null) {
      // the dn line
      let dn = typeof value === "string" ? value : "";
      let key: string | undefined;
      try {
        // normalizeDn: the same test as parseDn, with a fast path for plain DNs
        if (this.dnKey === undefined) normalizeDn(dn);
        else key = this.dnKey(dn);
      } catch (error) {
        const detail = error instanceof DnSyntaxError ? error.message : String(error);
        this.fail(line, `"${dn}" is not a valid DN: ${detail}`, "Fix or remove the record");
      }
      // With dnKey, `dn` may be a view of the text: the key (a copy) when equal, else a copy.
      if (this.dnKey !== undefined) dn = key === dn ? key : detach(dn);
      this.record = {
        dn,
        line,
        key,
        attributes: new Map(),
        ranged: false,
        lastInfo: null,
        lastList: null,
        classes: null,
      };
      return;
    }

    if (info.special && (lower === "changetype" || lower === "control")) {
      this.refuse(
        line,
        `the record for ${this.record.dn} is a change record (${name}: ${String(value)})`,
        "Give roster a content export of the directory (ldapsearch -LLL, ldifde -f), not a " +
          "change log or a file meant for ldapmodify",
      );
    }
    if (info.special && lower === "dn") {
      this.fail(
        line,
        `a second "dn:" line inside the record for ${this.record.dn}`,
        "Separate records with a blank line",
      );
    }
    if (!info.valid) {
      this.fail(
        line,
        `"${name}" is not a valid attribute name`,
        "Attribute names are letters, digits and hyphens, or an OID",
      );
    }
    if (!info.keep) return;
    const record = this.record;
    if (info === record.lastInfo && record.lastList !== null) {
      record.lastList.push(value);
      return;
    }
    let list = record.attributes.get(lower);
    if (list === undefined) {
      list = [value];
      record.attributes.set(lower, list);
      if (info.classes) record.classes = list;
    } else list.push(value);
    record.lastInfo = info;
    record.lastList = list;
    if (info.ranged) record.ranged = true;
  }

  /**
   * An objectClass value: the string of the last record with object classes at the same
   * position when the text is the same (compared in place: most records repeat their
   * predecessor's classes, and nothing is copied then), else a copy of the text.
   */
  private classValue(text: string, from: number, end: number): string {
    const index = this.record?.classes?.length ?? 0;
    const previous = this.previousClasses?.[index];
    if (
      typeof previous === "string" && previous.length === end - from &&
      text.startsWith(previous, from)
    ) return previous;
    return detach(text.slice(from, end));
  }

  /**
   * Gives a record whose objectClass values are those of the last record with object classes,
   * in the same order, that record's array. An export lists the same classes on most records,
   * and a filter's objectClass test then answers from its last result (see `matchesFilter`);
   * the arrays are never changed once the record is complete.
   */
  private shareClasses(record: Pending): void {
    const classes = record.classes;
    if (classes === null) return;
    const previous = this.previousClasses;
    if (previous !== undefined && previous.length === classes.length) {
      let same = true;
      for (let k = 0; k < classes.length && same; k++) same = classes[k] === previous[k];
      if (same) {
        record.attributes.set("objectclass", previous);
        return;
      }
    }
    this.previousClasses = classes;
  }

  /** Ends the current record (blank line or end of input). */
  endRecord(): void {
    if (this.currentCount > 0) {
      const previous = this.previousNames;
      this.previousNames = this.currentNames;
      this.previousCount = this.currentCount;
      this.currentNames = previous;
      this.currentCount = 0;
    }
    if (this.record !== null) {
      this.records++;
      this.shareClasses(this.record);
      const entry: LdifEntry = {
        dn: this.record.dn,
        line: this.record.line,
        attributes: this.record.ranged
          ? joinRanges(this.record.attributes)
          : this.record.attributes,
      };
      if (this.record.key !== undefined) entry.key = this.record.key;
      this.out.push(entry);
    }
    this.record = null;
    this.trailer = false;
  }
}

/**
 * Reads LDIF content records from a byte stream, yielding one {@link LdifEntry} per record in
 * file order. Attribute names are lowercased. `attr:: base64` values are decoded as UTF-8 text,
 * except objectGUID and objectSid (and any value that is not valid UTF-8), which stay bytes.
 * AD's ranged values (`member;range=0-1499`, …, `member;range=1500-*`) are joined under the
 * plain name when the ranges run from 0 to `*` (see `joinRanges`); the text itself must be
 * UTF-8 (the file provider decodes other encodings first, see `src/text/decode.ts`).
 * @throws {DirectoryDataError} naming the line for malformed or unsupported LDIF.
 * @throws {SourceIncompleteError} when the export is provably short: an `ldapsearch` trailer
 * reports a non-zero result, ldapsearch's `# extended LDIF` header has no `result:` trailer or
 * its `# numEntries` differs from the records read, a continuation reference (`ref:`) stands
 * for a subtree held elsewhere, or the input ends inside a line (every LDIF writer ends lines
 * with a line break; a cut file does not).
 */
export async function* readLdif(
  stream: ReadableStream<Uint8Array>,
  options: ReadLdifOptions = {},
): AsyncIterable<LdifEntry> {
  for await (const batch of readLdifBatches(decodeUtf8(stream), options)) yield* batch;
}

/** The text of a UTF-8 byte stream, chunk by chunk; stopping early cancels the stream. */
async function* decodeUtf8(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  const reader = stream.getReader();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      yield decoder.decode(value, { stream: true });
    }
    finished = true;
    yield decoder.decode();
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/**
 * {@link readLdif} on text already decoded (e.g. by `decodeText` in `src/text/decode.ts`,
 * which checks the file's encoding in the same pass), yielding the entries in batches: those
 * completed by each chunk of text, in file order (a chunk that completes none yields nothing).
 * The same rules and errors as {@link readLdif}.
 */
export async function* readLdifBatches(
  text: AsyncIterable<string>,
  options: ReadLdifOptions = {},
): AsyncGenerator<LdifEntry[]> {
  const parser = new LdifParser(options);
  let buffer = "";
  let lineNo = 0;
  // The pending logical line: `logical` from `logicalStart` to `logicalEnd` (a folded line is
  // joined into a string of its own).
  let logical: string | null = null;
  let logicalStart = 0;
  let logicalEnd = 0;
  let logicalLine = 0;
  let inComment = false;
  /** ldapsearch's `# extended LDIF` header: its `result:` trailer must follow. */
  let extended = false;
  let numEntries: number | undefined;
  const where = options.source === undefined ? "" : ` in ${options.source}`;

  const continuationWithoutLine = (): never => {
    throw new DirectoryDataError(
      `Invalid LDIF${
        options.source === undefined ? "" : ` in ${options.source}`
      } at line ${lineNo}: a continuation line (starting with a space) follows no line`,
      {
        hint: "Remove the leading space, or the blank line before it",
        details: { line: lineNo },
      },
    );
  };

  /** One physical line: `text` from `start` to `end` (the `\n`, or the text's end). */
  const physical = (text: string, start: number, end: number) => {
    lineNo++;
    if (end > start && text.charCodeAt(end - 1) === 13) end--;
    const first = end > start ? text.charCodeAt(start) : -1;
    if (first === 35) {
      // ldapsearch's header and count comments: the export's own completeness markers.
      const comment = text.slice(start, end);
      if (lineNo === 1 && /^# extended LDIF\s*$/.test(comment)) extended = true;
      const counted = /^# numEntries: (\d+)\s*$/.exec(comment);
      if (counted !== null) numEntries = Number(counted[1]);
    }
    if (first === 32) {
      if (inComment) return;
      if (logical === null) return continuationWithoutLine();
      logical = logical.slice(logicalStart, logicalEnd) + text.slice(start + 1, end);
      logicalStart = 0;
      logicalEnd = logical.length;
      return;
    }
    if (logical !== null) parser.line(logical, logicalStart, logicalEnd, logicalLine);
    logical = null;
    inComment = false;
    if (first === -1) parser.endRecord();
    else if (first === 35) inComment = true;
    else {
      logical = text;
      logicalStart = start;
      logicalEnd = end;
      logicalLine = lineNo;
    }
  };

  for await (const chunk of text) {
    // Lines are cut from the chunk itself, a flat string, not from the remainder of the last
    // chunk joined to it: only the line that crosses the boundary is joined on its own.
    let start = 0;
    let nl = chunk.indexOf("\n");
    if (buffer !== "") {
      if (nl < 0) {
        buffer += chunk;
        continue;
      }
      const crossing = buffer + chunk.slice(0, nl);
      buffer = "";
      physical(crossing, 0, crossing.length);
      start = nl + 1;
      nl = chunk.indexOf("\n", start);
    }
    while (nl >= 0) {
      physical(chunk, start, nl);
      start = nl + 1;
      nl = chunk.indexOf("\n", start);
    }
    buffer = start < chunk.length ? chunk.slice(start) : "";
    if (options.lines !== undefined) options.lines.read = lineNo;
    if (parser.out.length > 0) {
      const batch = parser.out;
      parser.out = [];
      yield batch;
    }
  }
  if (buffer.replace(/\r$/, "") !== "") {
    // Every LDIF writer ends each line with a line break: a file ending inside a line (a
    // value, a base64 value, a continuation) was cut short while being written or copied.
    throw new SourceIncompleteError(
      `LDIF export${where} is incomplete: it ends in the middle of line ${lineNo + 1} ` +
        `("${buffer.slice(0, 40)}"), without a line break`,
      {
        hint: "Export the directory again (the file was cut short); if the file is complete, " +
          "end its last line with a line break",
        details: { line: lineNo + 1 },
      },
    );
  }
  if (logical !== null) parser.line(logical, logicalStart, logicalEnd, logicalLine);
  parser.endRecord();
  if (extended && !parser.result) {
    throw new SourceIncompleteError(
      `LDIF export${where} is incomplete: it starts with ldapsearch's "# extended LDIF" ` +
        'header but has no "result:" trailer, so ldapsearch did not finish writing it',
      {
        hint: "Run the export again until ldapsearch ends with result: 0 Success",
        details: { line: lineNo },
      },
    );
  }
  if (numEntries !== undefined && numEntries !== parser.records) {
    throw new SourceIncompleteError(
      `LDIF export${where} is incomplete: ldapsearch counted ${numEntries} entries ` +
        `(# numEntries) but the file holds ${parser.records}`,
      { hint: "Run the export again", details: { records: parser.records, numEntries } },
    );
  }
  if (parser.out.length > 0) yield parser.out;
}
