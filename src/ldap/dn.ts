/**
 * Distinguished names (RFC 4514): parsing, a canonical form for matching, and subtree tests.
 *
 * bwdc compared DNs as raw strings, so `CN=Foo, DC=x` and `cn=foo,dc=x` never
 * matched. roster compares {@link normalizeDn} forms everywhere instead: attribute types and
 * values lowercased, escapes decoded and re-encoded one way, spaces around separators dropped,
 * and the values of a multi-valued RDN sorted.
 * @module
 */

/** One `type=value` pair of an RDN, with the value unescaped. */
export interface DnAttribute {
  /** Attribute type as written (`CN`, `ou`, `2.5.4.3`). */
  type: string;
  /** Unescaped value. A `#hex` (BER) value is kept as written, `#` included. */
  value: string;
}

/** A relative distinguished name: one or more `type=value` pairs joined by `+`. */
export type Rdn = readonly DnAttribute[];

/** A DN that does not follow RFC 4514; `column` is the 1-based character of the problem. */
export class DnSyntaxError extends SyntaxError {
  /** 1-based character position in the DN where parsing failed. */
  readonly column: number;
  /** The problem, without the position. */
  readonly detail: string;
  /** `offset` is the 0-based index of the problem in the text. */
  constructor(detail: string, offset: number) {
    super(`${detail} at character ${offset + 1}`);
    this.name = "DnSyntaxError";
    this.column = offset + 1;
    this.detail = detail;
  }
}

const TYPE_DESCR = /^[A-Za-z][A-Za-z0-9-]*$/;
const TYPE_OID = /^(?:oid\.)?[0-9]+(?:\.[0-9]+)*$/i;
const HEX2 = /^[0-9A-Fa-f]{2}$/;
const SPECIALS = new Set([",", "+", '"', "\\", "<", ">", ";", "="]);
const utf8 = new TextDecoder("utf-8", { fatal: true });

function isSpace(ch: string | undefined): boolean {
  return ch === " ";
}

/**
 * Parses a DN into its RDNs, leftmost (most specific) first. The empty string is the root DN
 * and gives `[]`. Accepts RFC 4514 plus the RFC 2253/1779 leniencies that exports contain:
 * spaces around `,` `+` `=`, `;` as an RDN separator, and quoted values.
 * @throws {DnSyntaxError} when the text is not a DN.
 */
export function parseDn(dn: string): Rdn[] {
  const rdns: Rdn[] = [];
  let i = 0;
  const n = dn.length;
  const skipSpaces = () => {
    while (i < n && isSpace(dn[i])) i++;
  };
  skipSpaces();
  if (i === n) return rdns;
  let current: DnAttribute[] = [];
  for (;;) {
    // attribute type
    skipSpaces();
    const typeStart = i;
    while (i < n && dn[i] !== "=" && dn[i] !== "," && dn[i] !== "+" && dn[i] !== ";") i++;
    const type = dn.slice(typeStart, i).trim();
    if (i >= n || dn[i] !== "=") {
      throw new DnSyntaxError(
        type === "" ? "Expected an attribute type" : `Expected "=" after "${type}"`,
        i,
      );
    }
    if (!TYPE_DESCR.test(type) && !TYPE_OID.test(type)) {
      throw new DnSyntaxError(`Invalid attribute type "${type}"`, typeStart);
    }
    i++; // '='
    skipSpaces();
    const value = parseValue();
    current.push({ type, value });
    skipSpaces();
    if (i >= n) {
      rdns.push(current);
      return rdns;
    }
    const sep = dn[i];
    i++;
    if (sep === "+") continue;
    // ',' or ';'
    rdns.push(current);
    current = [];
    skipSpaces();
    if (i >= n) throw new DnSyntaxError("Expected an RDN after the separator", i);
  }

  function parseValue(): string {
    if (dn[i] === "#") {
      const start = i;
      i++;
      while (i < n && /[0-9A-Fa-f]/.test(dn[i] ?? "")) i++;
      const hex = dn.slice(start + 1, i);
      if (hex.length === 0 || hex.length % 2 !== 0) {
        throw new DnSyntaxError("Invalid #hex value", start);
      }
      return "#" + hex.toLowerCase();
    }
    if (dn[i] === '"') {
      const start = i;
      i++;
      let out = "";
      while (i < n && dn[i] !== '"') {
        if (dn[i] === "\\") {
          const next = dn[i + 1];
          if (next === undefined) throw new DnSyntaxError("Unfinished escape", i);
          out += next;
          i += 2;
        } else {
          out += dn[i];
          i++;
        }
      }
      if (i >= n) throw new DnSyntaxError("Unterminated quoted value", start);
      i++;
      return out;
    }
    const bytes: number[] = [];
    let out = "";
    let trailingSpaces = 0; // unescaped spaces at the end, dropped
    const flushBytes = (at: number) => {
      if (bytes.length === 0) return;
      try {
        out += utf8.decode(new Uint8Array(bytes));
      } catch {
        throw new DnSyntaxError("Hex escapes are not valid UTF-8", at);
      }
      bytes.length = 0;
    };
    while (i < n) {
      const ch = dn[i] ?? "";
      if (ch === "," || ch === "+" || ch === ";") break;
      if (ch === "\\") {
        const pair = dn.slice(i + 1, i + 3);
        if (HEX2.test(pair)) {
          bytes.push(parseInt(pair, 16));
          i += 3;
          trailingSpaces = 0;
          continue;
        }
        const next = dn[i + 1];
        if (next === undefined) throw new DnSyntaxError("Unfinished escape", i);
        flushBytes(i);
        out += next;
        i += 2;
        trailingSpaces = 0;
        continue;
      }
      if (ch === '"' || ch === "<" || ch === ">") {
        throw new DnSyntaxError(`Unescaped "${ch}" in a value`, i);
      }
      flushBytes(i);
      out += ch;
      trailingSpaces = isSpace(ch) ? trailingSpaces + 1 : 0;
      i++;
    }
    flushBytes(i);
    return trailingSpaces > 0 ? out.slice(0, out.length - trailingSpaces) : out;
  }
}

function escapeValue(value: string): string {
  if (value.startsWith("#") && /^#(?:[0-9a-f]{2})+$/.test(value)) return value; // BER form
  let out = "";
  for (let k = 0; k < value.length; k++) {
    const ch = value[k] ?? "";
    const code = ch.charCodeAt(0);
    if (SPECIALS.has(ch)) out += "\\" + ch;
    else if (code < 0x20 || code === 0x7f) out += "\\" + code.toString(16).padStart(2, "0");
    else if ((k === 0 && (ch === " " || ch === "#")) || (k === value.length - 1 && ch === " ")) {
      out += "\\" + ch;
    } else out += ch;
  }
  return out;
}

function canonicalType(type: string): string {
  return type.toLowerCase().replace(/^oid\./, "");
}

function canonicalRdn(rdn: Rdn): string {
  const parts = rdn.map((a) =>
    `${canonicalType(a.type)}=${escapeValue(a.value.normalize("NFC").toLowerCase())}`
  );
  parts.sort();
  return parts.join("+");
}

/**
 * The canonical form of each RDN of a DN, leftmost first; {@link normalizeDn} joins them
 * with `,`.
 * @throws {DnSyntaxError} when the text is not a DN.
 */
export function normalizeRdns(dn: string): string[] {
  return parseDn(dn).map(canonicalRdn);
}

/**
 * Returns the canonical form of a DN for matching: RFC 4514 escapes and hex escapes decoded and
 * re-encoded consistently, attribute types and values lowercased, spaces around separators
 * removed, multi-valued RDNs sorted. `CN=Foo Bar, OU=X,DC=Example ,DC=com` gives
 * `cn=foo bar,ou=x,dc=example,dc=com`.
 * @throws {DnSyntaxError} when the text is not a DN.
 */
export function normalizeDn(dn: string): string {
  if (!SLOW_PATH_CHARS.test(dn) && PLAIN_DN.test(dn) && !SPACE_AT_SEPARATOR.test(dn)) {
    return dn.toLowerCase(); // the usual DN: lowercasing is all its canonical form needs
  }
  if (!SLOW_PATH_CHARS.test(dn)) {
    const fast = normalizePlainDn(dn);
    if (fast !== undefined) return fast;
  }
  return normalizeRdns(dn).join(",");
}

/**
 * Characters that need the full RFC 4514 parser: escapes, quotes, multi-valued RDNs, `;`,
 * BER values, characters that would be escaped, and anything outside printable ASCII (which may
 * need Unicode normalisation).
 */
// deno-lint-ignore no-control-regex -- control characters must take the escaping path
const SLOW_PATH_CHARS = /[\\"+;#<>\u0000-\u001f\u007f-\uffff]/;

/** `type=value` pairs with descriptor types, joined by `,` (values may be empty). */
const PLAIN_DN = /^[A-Za-z][A-Za-z0-9-]*=[^,=]*(?:,[A-Za-z][A-Za-z0-9-]*=[^,=]*)*$/;

/** A space the canonical form drops: at either end, or next to a `,` or `=`. */
const SPACE_AT_SEPARATOR = /^ | $| ,|, | =|= /;

/**
 * The common case of {@link normalizeDn} without building RDN objects: `type=value` pairs
 * joined by `,`, with no character that needs escaping. Gives exactly what the full parser
 * gives, or undefined when the DN needs the full parser (or is invalid: the parser then says
 * why). Directories are mostly made of such DNs, and group member lists repeat them.
 */
function normalizePlainDn(dn: string): string | undefined {
  const parts = dn.split(",");
  const out: string[] = [];
  for (const part of parts) {
    const eq = part.indexOf("=");
    if (eq < 0 || part.indexOf("=", eq + 1) >= 0) return undefined;
    const type = part.slice(0, eq).trim();
    if (!TYPE_DESCR.test(type) && !TYPE_OID.test(type)) return undefined;
    out.push(`${canonicalType(type)}=${part.slice(eq + 1).trim().toLowerCase()}`);
  }
  return out.join(",");
}

/**
 * Whether `dn` is already in {@link normalizeDn} form, in the common plain case: RDNs of one
 * `type=value` each, joined by `,`, types of lowercase letters, digits and hyphens, values of
 * printable ASCII without capitals, without a character RFC 4514 escapes (`\ " + ; # < > =`)
 * and without a space at either end. True means `normalizeDn(dn) === dn`; false means only that
 * the full normalisation is needed to tell. One scan, nothing allocated: a directory's DNs and
 * member values are mostly of this form already, and each is checked once per read.
 */
export function isNormalizedDn(dn: string): boolean {
  const n = dn.length;
  let i = 0;
  for (;;) {
    // the type: [a-z][a-z0-9-]*
    let c = i < n ? dn.charCodeAt(i) : 0;
    if (c < 97 || c > 122) return false;
    i++;
    for (; i < n; i++) {
      c = dn.charCodeAt(i);
      if (!isNormalizedTypeCode(c)) break;
    }
    if (i >= n || c !== 61) return false; // "="
    i++;
    // the value: at least one character, none escaped or changed by normalisation
    const start = i;
    for (; i < n; i++) {
      c = dn.charCodeAt(i);
      if (c === 44) break; // ","
      if (!isNormalizedValueCode(c)) return false;
    }
    if (i === start || dn.charCodeAt(start) === 32 || dn.charCodeAt(i - 1) === 32) return false;
    if (i === n) return true;
    i++; // ","
  }
}

/**
 * Whether the character (or byte) code `c` may follow the first letter of an attribute type in
 * {@link isNormalizedDn} form: a lowercase letter, a digit or a hyphen (`[a-z0-9-]`).
 */
export function isNormalizedTypeCode(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45;
}

/**
 * Whether the character (or byte) code `c` may stand in a value in {@link isNormalizedDn} form:
 * printable ASCII (0x20 to 0x7e) other than a capital letter and the characters RFC 4514
 * escapes (`\ " + ; # < > =`). The `,` between RDNs is printable and is told apart by the caller.
 */
export function isNormalizedValueCode(c: number): boolean {
  return !(
    c < 0x20 || c > 0x7e || (c >= 65 && c <= 90) || c === 92 || c === 34 || c === 43 ||
    c === 59 || c === 35 || c === 60 || c === 62 || c === 61
  );
}

/** Whether a value looks like a DN: it contains `=` and parses as a DN with at least one RDN. */
export function isDnLike(value: string): boolean {
  if (!value.includes("=")) return false;
  try {
    return parseDn(value).length > 0;
  } catch {
    return false;
  }
}

/**
 * Subtree scope test: whether `dn` is `base` or lies below it, compared in canonical form.
 * The empty base (root DN) contains every DN. A DN that does not parse is within nothing.
 */
export function isDnWithin(dn: string, base: string): boolean {
  let d: string[];
  let b: string[];
  try {
    d = normalizeRdns(dn);
    b = normalizeRdns(base);
  } catch {
    return false;
  }
  if (b.length > d.length) return false;
  const offset = d.length - b.length;
  for (let k = 0; k < b.length; k++) {
    if (d[offset + k] !== b[k]) return false;
  }
  return true;
}
