/**
 * LDAP search filters (RFC 4515): parse, validate and evaluate against an entry.
 *
 * The live `ldap` provider sends filters to the server; the `file` provider evaluates the same
 * filters here with {@link matchesFilter}, so an LDIF export is read with the same settings and
 * rules as the server it came from.
 * @module
 */

import { ConfigError } from "../errors.ts";
import { objectCategoryMatches } from "./ad.ts";
import { isDnLike, normalizeDn, parseDn } from "./dn.ts";
import type { LdapEntry } from "./entry.ts";

/** An assertion value: decoded text, and the raw bytes (for binary attributes like objectGUID). */
export interface AssertionValue {
  /** The value decoded as UTF-8 (invalid sequences replaced). */
  text: string;
  /** The value's bytes after `\xx` escapes are decoded. */
  bytes: Uint8Array;
}

/** A parsed RFC 4515 filter. Attribute names are kept as written. */
export type LdapFilter =
  | { type: "and"; filters: LdapFilter[] }
  | { type: "or"; filters: LdapFilter[] }
  | { type: "not"; filter: LdapFilter }
  | { type: "equality"; attribute: string; value: AssertionValue }
  | { type: "approx"; attribute: string; value: AssertionValue }
  | { type: "greaterOrEqual"; attribute: string; value: AssertionValue }
  | { type: "lessOrEqual"; attribute: string; value: AssertionValue }
  | { type: "present"; attribute: string }
  | {
    type: "substrings";
    attribute: string;
    initial: string | undefined;
    any: string[];
    final: string | undefined;
  }
  | {
    type: "extensible";
    attribute: string | undefined;
    matchingRule: string | undefined;
    dnAttributes: boolean;
    value: AssertionValue;
  };

/** A filter that does not follow RFC 4515; `column` is the 1-based character of the problem. */
export class LdapFilterSyntaxError extends SyntaxError {
  /** 1-based character position in the filter text where parsing failed. */
  readonly column: number;
  /** The problem, without the position. */
  readonly detail: string;
  /** `offset` is the 0-based index of the problem in the text. */
  constructor(detail: string, offset: number) {
    super(`${detail} at character ${offset + 1}`);
    this.name = "LdapFilterSyntaxError";
    this.column = offset + 1;
    this.detail = detail;
  }
}

const ATTR_DESCR = /^(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)*)(?:;[A-Za-z0-9-]+)*$/;
const RULE = /^(?:[A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)*)$/;
const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

/**
 * Parses an RFC 4515 filter such as `(&(objectClass=person)(!(mail=*)))`. The whole filter must
 * be wrapped in parentheses; spaces between filters in a list are tolerated. `(&)` is true and
 * `(|)` false (RFC 4526).
 * @throws {LdapFilterSyntaxError} with the position of the problem.
 */
export function parseLdapFilter(text: string): LdapFilter {
  let i = 0;
  const n = text.length;
  const skipSpaces = () => {
    while (i < n && /\s/.test(text[i] ?? "")) i++;
  };

  skipSpaces();
  if (i >= n) throw new LdapFilterSyntaxError("The filter is empty", 0);
  if (text[i] !== "(") {
    throw new LdapFilterSyntaxError('Expected "(" to start the filter', i);
  }
  const result = parseFilter();
  skipSpaces();
  if (i < n) {
    throw new LdapFilterSyntaxError(
      `Unexpected "${text[i]}" after the end of the filter`,
      i,
    );
  }
  return result;

  function parseFilter(): LdapFilter {
    if (text[i] !== "(") {
      throw new LdapFilterSyntaxError(
        i >= n ? 'Expected "(" but the filter ended' : `Expected "(" but found "${text[i]}"`,
        i,
      );
    }
    const open = i;
    i++;
    let filter: LdapFilter;
    const ch = text[i];
    if (ch === "&" || ch === "|") {
      i++;
      const filters: LdapFilter[] = [];
      skipSpaces();
      while (i < n && text[i] === "(") {
        filters.push(parseFilter());
        skipSpaces();
      }
      filter = ch === "&" ? { type: "and", filters } : { type: "or", filters };
    } else if (ch === "!") {
      i++;
      skipSpaces();
      filter = { type: "not", filter: parseFilter() };
      skipSpaces();
    } else {
      filter = parseItem();
    }
    if (i >= n) throw new LdapFilterSyntaxError('Missing ")" to close the filter', open);
    if (text[i] !== ")") {
      throw new LdapFilterSyntaxError(`Expected ")" but found "${text[i]}"`, i);
    }
    i++;
    return filter;
  }

  function parseItem(): LdapFilter {
    const start = i;
    while (i < n && !"=~<>:()".includes(text[i] ?? "")) i++;
    const attr = text.slice(start, i);
    if (i >= n || text[i] === ")" || text[i] === "(") {
      throw new LdapFilterSyntaxError(
        attr === "" ? "Expected an attribute name" : `Expected an operator after "${attr}"`,
        i,
      );
    }
    const op = text[i];
    if (op === ":") return parseExtensible(start, attr);
    if (attr === "") throw new LdapFilterSyntaxError("Expected an attribute name", start);
    if (!ATTR_DESCR.test(attr)) {
      throw new LdapFilterSyntaxError(`Invalid attribute name "${attr}"`, start);
    }
    if (op === "~" || op === ">" || op === "<") {
      if (text[i + 1] !== "=") {
        throw new LdapFilterSyntaxError(`Expected "=" after "${op}"`, i + 1);
      }
      i += 2;
      const value = parseValue(false).value;
      const type = op === "~" ? "approx" : op === ">" ? "greaterOrEqual" : "lessOrEqual";
      return { type, attribute: attr, value };
    }
    // '='
    i++;
    const parsed = parseValue(true);
    if (parsed.parts === undefined) {
      return { type: "equality", attribute: attr, value: parsed.value };
    }
    const parts = parsed.parts;
    if (parts.length === 2 && parts[0] === "" && parts[1] === "") {
      return { type: "present", attribute: attr };
    }
    const initial = parts[0] === "" ? undefined : parts[0];
    const final = parts[parts.length - 1] === "" ? undefined : parts[parts.length - 1];
    const any = parts.slice(1, -1);
    const emptyAny = any.findIndex((p) => p === "");
    if (emptyAny >= 0) {
      throw new LdapFilterSyntaxError('Two "*" in a row in a substring filter', i - 1);
    }
    return { type: "substrings", attribute: attr, initial, any, final };
  }

  function parseExtensible(start: number, attr: string): LdapFilter {
    // attr[:dn][:rule]:=value   or   [:dn]:rule:=value
    const segments: string[] = [];
    while (text[i] === ":") {
      i++;
      if (text[i] === "=") {
        i++;
        const value = parseValue(false).value;
        let dnAttributes = false;
        let matchingRule: string | undefined;
        for (const seg of segments) {
          if (seg.toLowerCase() === "dn" && !dnAttributes && matchingRule === undefined) {
            dnAttributes = true;
          } else if (matchingRule === undefined && RULE.test(seg)) matchingRule = seg;
          else throw new LdapFilterSyntaxError(`Invalid extensible match part ":${seg}"`, start);
        }
        if (attr !== "" && !ATTR_DESCR.test(attr)) {
          throw new LdapFilterSyntaxError(`Invalid attribute name "${attr}"`, start);
        }
        if (attr === "" && matchingRule === undefined) {
          throw new LdapFilterSyntaxError(
            "An extensible match without an attribute needs a matching rule",
            start,
          );
        }
        return {
          type: "extensible",
          attribute: attr === "" ? undefined : attr,
          matchingRule,
          dnAttributes,
          value,
        };
      }
      const segStart = i;
      while (i < n && !":=()".includes(text[i] ?? "")) i++;
      segments.push(text.slice(segStart, i));
    }
    throw new LdapFilterSyntaxError('Expected ":=" in an extensible match', i);
  }

  function parseValue(
    allowStar: boolean,
  ): { value: AssertionValue; parts: string[] | undefined } {
    const bytes: number[] = [];
    const parts: number[][] = [];
    let sawStar = false;
    while (i < n && text[i] !== ")") {
      const ch = text[i] ?? "";
      if (ch === "(") throw new LdapFilterSyntaxError('Unescaped "(" in a value (use \\28)', i);
      if (ch === "*") {
        if (!allowStar) throw new LdapFilterSyntaxError('Unescaped "*" in a value (use \\2a)', i);
        sawStar = true;
        parts.push(bytes.splice(0));
        i++;
        continue;
      }
      if (ch === "\\") {
        const pair = text.slice(i + 1, i + 3);
        if (!/^[0-9A-Fa-f]{2}$/.test(pair)) {
          throw new LdapFilterSyntaxError(
            "A backslash must be followed by two hex digits (\\28 for (, \\29 for ), \\2a for *, \\5c for \\)",
            i,
          );
        }
        bytes.push(parseInt(pair, 16));
        i += 3;
        continue;
      }
      const cp = text.codePointAt(i) ?? 0;
      const chars = String.fromCodePoint(cp);
      for (const b of textEncoder.encode(chars)) bytes.push(b);
      i += chars.length;
    }
    if (i >= n) throw new LdapFilterSyntaxError('Missing ")" after the value', i);
    const last = new Uint8Array(bytes);
    if (!sawStar) {
      return { value: { text: textDecoder.decode(last), bytes: last }, parts: undefined };
    }
    parts.push(bytes.splice(0));
    return {
      value: { text: "", bytes: new Uint8Array() },
      parts: parts.map((p) => textDecoder.decode(new Uint8Array(p))),
    };
  }
}

/**
 * Parses a configured filter, turning a syntax error into a {@link ConfigError} that names the
 * setting, e.g. `Invalid LDAP filter in sync.userFilter: Missing ")" … at character 12`.
 * @throws {ConfigError}
 */
export function validateLdapFilter(text: string, setting: string): void {
  try {
    parseLdapFilter(text);
  } catch (error) {
    if (!(error instanceof LdapFilterSyntaxError)) throw error;
    throw new ConfigError(`Invalid LDAP filter in ${setting}: ${error.message}`, {
      hint: `Fix ${setting}: an RFC 4515 filter is wrapped in parentheses, e.g. ` +
        `(&(department=Sales)(!(title=Intern))); write ( ) * \\ inside values as ` +
        `\\28 \\29 \\2a \\5c`,
      cause: error,
      details: { setting, filter: text, column: error.column },
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

const RULE_CASE_IGNORE = new Set([
  "2.5.13.2",
  "caseignorematch",
  "1.3.6.1.4.1.1466.109.114.2",
  "caseignoreia5match",
]);
const RULE_CASE_EXACT = new Set([
  "2.5.13.5",
  "caseexactmatch",
  "1.3.6.1.4.1.1466.109.114.1",
  "caseexactia5match",
]);
const RULE_DN = new Set(["2.5.13.1", "distinguishednamematch"]);
const RULE_INTEGER = new Set(["2.5.13.14", "integermatch"]);
const RULE_BIT_AND = new Set(["1.2.840.113556.1.4.803", "integerbitandmatch"]);
const RULE_BIT_OR = new Set(["1.2.840.113556.1.4.804", "integerbitormatch"]);

function isSupportedRule(rule: string | undefined): boolean {
  if (rule === undefined) return true;
  const r = rule.toLowerCase();
  return RULE_CASE_IGNORE.has(r) || RULE_CASE_EXACT.has(r) || RULE_DN.has(r) ||
    RULE_INTEGER.has(r) || RULE_BIT_AND.has(r) || RULE_BIT_OR.has(r);
}

/**
 * Matching rules in a filter that {@link matchesFilter} cannot evaluate locally (for example
 * `1.2.840.113556.1.4.1941`, LDAP_MATCHING_RULE_IN_CHAIN, which needs the server's graph).
 * Supported: caseIgnoreMatch, caseExactMatch, distinguishedNameMatch, integerMatch and the AD
 * bitwise rules `1.2.840.113556.1.4.803`/`804`.
 */
export function unsupportedMatchingRules(filter: LdapFilter): string[] {
  const found: string[] = [];
  const walk = (f: LdapFilter) => {
    if (f.type === "and" || f.type === "or") f.filters.forEach(walk);
    else if (f.type === "not") walk(f.filter);
    else if (f.type === "extensible" && !isSupportedRule(f.matchingRule)) {
      if (f.matchingRule !== undefined && !found.includes(f.matchingRule)) {
        found.push(f.matchingRule);
      }
    }
  };
  walk(filter);
  return found;
}

type Value = string | Uint8Array;

function fold(value: string): string {
  return value.normalize("NFC").trim().replace(/\s+/g, " ").toLowerCase();
}

function asText(value: Value): string {
  return typeof value === "string" ? value : textDecoder.decode(value);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) return false;
  return true;
}

function safeNormalizeDn(value: string): string | undefined {
  if (!isDnLike(value)) return undefined;
  try {
    return normalizeDn(value);
  } catch {
    return undefined;
  }
}

const assertionDnCache = new WeakMap<AssertionValue, string | null>();

function assertionDn(value: AssertionValue): string | undefined {
  let cached = assertionDnCache.get(value);
  if (cached === undefined) {
    cached = safeNormalizeDn(value.text) ?? null;
    assertionDnCache.set(value, cached);
  }
  return cached ?? undefined;
}

function valueEquals(value: Value, assertion: AssertionValue): boolean {
  if (typeof value !== "string") return bytesEqual(value, assertion.bytes);
  if (fold(value) === fold(assertion.text)) return true;
  const dn = assertionDn(assertion);
  return dn !== undefined && safeNormalizeDn(value) === dn;
}

/**
 * RFC 4517 uniqueMemberMatch on a NameAndOptionalUID value (`<DN>#'0101'B`): the DNs are
 * compared as DNs, and the UIDs only when the assertion has one.
 */
function uniqueMemberEquals(value: string, assertion: AssertionValue): boolean {
  const v = splitOptionalUid(value);
  const a = splitOptionalUid(assertion.text);
  const dn = safeNormalizeDn(a.dn);
  if (dn === undefined || safeNormalizeDn(v.dn) !== dn) return fold(value) === fold(assertion.text);
  return a.uid === undefined || a.uid === v.uid;
}

/**
 * Splits an RFC 4517 NameAndOptionalUID value (the syntax of `uniqueMember`) into its DN and
 * its optional UID bit string: `uid=ann,dc=example,dc=com#'0101'B` gives the DN and `0101`. A
 * value without the `#'…'B` suffix is the DN alone.
 */
export function splitOptionalUid(value: string): { dn: string; uid: string | undefined } {
  const m = /#'([01]*)'B$/.exec(value);
  if (m === null) return { dn: value, uid: undefined };
  return { dn: value.slice(0, m.index), uid: m[1] };
}

const INTEGER = /^-?[0-9]+$/;
const GENERALIZED_TIME =
  /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})?(\d{2})?(?:[.,](\d+))?(Z|[+-]\d{2}(?:\d{2})?)?$/;

function generalizedTime(value: string): number | undefined {
  const m = GENERALIZED_TIME.exec(value.trim());
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  let ms = Date.UTC(
    Number(y),
    Number(mo) - 1,
    Number(d),
    Number(h),
    Number(mi ?? "0"),
    Number(s ?? "0"),
  ) + (frac === undefined ? 0 : Math.round(Number("0." + frac) * 1000));
  if (zone !== undefined && zone !== "Z") {
    const sign = zone.startsWith("-") ? -1 : 1;
    const offset = Number(zone.slice(1, 3)) * 60 + Number(zone.slice(3, 5) || "0");
    ms -= sign * offset * 60_000;
  }
  return ms;
}

/** Orders an attribute value against an assertion: integers, then GeneralizedTime, then text. */
function compareOrdered(value: Value, assertion: AssertionValue): number {
  const v = asText(value).trim();
  const a = assertion.text.trim();
  if (INTEGER.test(v) && INTEGER.test(a)) {
    const bv = BigInt(v);
    const ba = BigInt(a);
    return bv < ba ? -1 : bv > ba ? 1 : 0;
  }
  const tv = generalizedTime(v);
  const ta = generalizedTime(a);
  if (tv !== undefined && ta !== undefined) return tv - ta;
  const fv = fold(v);
  const fa = fold(a);
  return fv < fa ? -1 : fv > fa ? 1 : 0;
}

function substringMatch(
  value: string,
  f: { initial: string | undefined; any: string[]; final: string | undefined },
): boolean {
  const v = fold(value);
  let pos = 0;
  if (f.initial !== undefined) {
    const init = fold(f.initial);
    if (!v.startsWith(init)) return false;
    pos = init.length;
  }
  for (const part of f.any) {
    const p = fold(part);
    const at = v.indexOf(p, pos);
    if (at < 0) return false;
    pos = at + p.length;
  }
  if (f.final !== undefined) {
    const fin = fold(f.final);
    if (v.length - fin.length < pos || !v.endsWith(fin)) return false;
  }
  return true;
}

function integerOf(value: string): bigint | undefined {
  const t = value.trim();
  return INTEGER.test(t) ? BigInt(t) : undefined;
}

function ruleMatches(rule: string | undefined, value: Value, assertion: AssertionValue): boolean {
  const r = rule?.toLowerCase();
  if (r === undefined || RULE_CASE_IGNORE.has(r)) return valueEquals(value, assertion);
  if (RULE_CASE_EXACT.has(r)) return asText(value).trim() === assertion.text.trim();
  if (RULE_DN.has(r)) {
    const a = assertionDn(assertion);
    return a !== undefined && safeNormalizeDn(asText(value)) === a;
  }
  const v = integerOf(asText(value));
  const a = integerOf(assertion.text);
  if (v === undefined || a === undefined) return false;
  if (RULE_INTEGER.has(r)) return v === a;
  if (RULE_BIT_AND.has(r)) return (v & a) === a;
  if (RULE_BIT_OR.has(r)) return (v & a) !== 0n;
  throw new Error(`Unsupported matching rule ${rule}`);
}

/**
 * Superclasses of common structural object classes (lowercase). A server matches
 * `(objectClass=person)` on an entry that lists only `inetOrgPerson`; so does
 * {@link matchesFilter}.
 */
const SUPERCLASSES: Readonly<Record<string, string>> = {
  inetorgperson: "organizationalperson",
  organizationalperson: "person",
  residentialperson: "person",
  user: "organizationalperson",
  contact: "organizationalperson",
  computer: "user",
  "msds-managedserviceaccount": "computer",
  "msds-groupmanagedserviceaccount": "computer",
  groupofuniquenames: "top",
  person: "top",
};

/**
 * The object classes of an entry, lowercased, with the superclasses of well-known classes
 * added (inetOrgPerson → organizationalPerson → person; AD user and computer likewise).
 */
export function objectClassesOf(entry: LdapEntry): Set<string> {
  const classes = new Set<string>();
  for (const raw of entry.attributes.get("objectclass") ?? []) {
    let cls: string | undefined = asText(raw).trim().toLowerCase();
    while (cls !== undefined && !classes.has(cls)) {
      classes.add(cls);
      cls = SUPERCLASSES[cls];
    }
  }
  return classes;
}

function valuesOf(entry: LdapEntry, attribute: string): readonly Value[] {
  const name = attribute.toLowerCase();
  if (name === "objectclass") return [...objectClassesOf(entry)];
  return entry.attributes.get(name) ?? [];
}

function dnValues(entry: LdapEntry, attribute: string | undefined): Value[] {
  try {
    const out: Value[] = [];
    for (const rdn of parseDn(entry.dn)) {
      for (const ava of rdn) {
        if (attribute === undefined || ava.type.toLowerCase() === attribute.toLowerCase()) {
          out.push(ava.value);
        }
      }
    }
    return out;
  } catch {
    return [];
  }
}

/**
 * The attribute types {@link matchesFilter} reads for `filter`: each attribute it names,
 * lowercased and without options (`cn;lang-de` gives `cn`), objectClass always included.
 * Undefined when it reads every attribute: an extensible match without an attribute type
 * (`(:caseExactMatch:=x)`). The entry's DN is read too, by `:dn:` matches.
 */
export function filterAttributes(filter: LdapFilter): string[] | undefined {
  const names = new Set<string>(["objectclass"]);
  let all = false;
  const walk = (f: LdapFilter): void => {
    switch (f.type) {
      case "and":
      case "or":
        f.filters.forEach(walk);
        return;
      case "not":
        walk(f.filter);
        return;
      case "extensible":
        if (f.attribute === undefined) all = true;
        else names.add(f.attribute.toLowerCase().split(";")[0] ?? "");
        return;
      default:
        names.add(f.attribute.toLowerCase().split(";")[0] ?? "");
    }
  };
  walk(filter);
  return all ? undefined : [...names];
}

/**
 * Evaluates a filter against an entry the way a directory server would: and/or/not, equality
 * and approximate match (case-insensitive, spaces folded; DN values compared as DNs;
 * `uniqueMember` by RFC 4517 uniqueMemberMatch; AD's `objectCategory` short names such as
 * `person` matched against the category DN as AD does), presence,
 * substrings, `>=`/`<=` (integers, GeneralizedTime, else text), and extensible matches with the
 * rules {@link unsupportedMatchingRules} does not list. A missing attribute never matches.
 * `(objectClass=*)` matches every entry, and objectClass values include the superclasses of
 * well-known classes (see {@link objectClassesOf}).
 * @throws {Error} on a matching rule that cannot be evaluated (check with
 * {@link unsupportedMatchingRules} first).
 */
export function matchesFilter(filter: LdapFilter, entry: LdapEntry): boolean {
  let matcher = matchers.get(filter);
  if (matcher === undefined) {
    matcher = compile(filter);
    matchers.set(filter, matcher);
  }
  return matcher(entry);
}

type Matcher = (entry: LdapEntry) => boolean;

/** Each filter's {@link Matcher}, made once: a filter is evaluated once or more per entry. */
const matchers = new WeakMap<LdapFilter, Matcher>();

/** The most results one objectClass matcher remembers (one per distinct objectClass value). */
const MAX_REMEMBERED_CLASSES = 10_000;

/**
 * A filter turned into a function that gives what {@link evaluate} gives, with what depends on
 * the filter alone (lower-cased attribute names, the folded assertion value and its DN form)
 * worked out once. Equality on objectClass checks each objectClass value's superclass chain,
 * and remembers the answer per value, instead of building the entry's class set.
 */
function compile(filter: LdapFilter): Matcher {
  switch (filter.type) {
    case "and": {
      const parts = filter.filters.map(compile);
      return (entry) => {
        for (const part of parts) if (!part(entry)) return false;
        return true;
      };
    }
    case "or": {
      const parts = filter.filters.map(compile);
      return (entry) => {
        for (const part of parts) if (part(entry)) return true;
        return false;
      };
    }
    case "not": {
      const inner = compile(filter.filter);
      return (entry) => !inner(entry);
    }
    case "present": {
      const name = filter.attribute.toLowerCase();
      if (name === "objectclass") return () => true;
      return (entry) => (entry.attributes.get(name)?.length ?? 0) > 0;
    }
    case "equality":
    case "approx": {
      const name = filter.attribute.toLowerCase();
      const value = filter.value;
      if (name === "objectcategory" || name === "uniquemember") {
        return (entry) => evaluate(filter, entry);
      }
      const folded = fold(value.text);
      const dn = assertionDn(value);
      const equals = (v: Value): boolean => {
        if (typeof v !== "string") return bytesEqual(v, value.bytes);
        if (fold(v) === folded) return true;
        return dn !== undefined && safeNormalizeDn(v) === dn;
      };
      if (name === "objectclass") return objectClassMatcher(equals);
      return (entry) => {
        const values = entry.attributes.get(name);
        if (values === undefined) return false;
        for (const v of values) if (equals(v)) return true;
        return false;
      };
    }
    default:
      return (entry) => evaluate(filter, entry);
  }
}

/**
 * Whether any of an entry's object classes, superclasses included (as
 * {@link objectClassesOf} lists them), passes `equals`; the answer is remembered per text value.
 */
function objectClassMatcher(equals: (value: Value) => boolean): Matcher {
  const remembered = new Map<string, boolean>();
  // The answer for the last objectClass array seen: the LDIF reader gives consecutive records
  // with the same object classes one shared array, so most entries are answered here. The
  // answer depends only on the values, and an entry's value arrays are never changed once read.
  let lastValues: readonly Value[] | undefined;
  let lastAnswer = false;
  const chainMatches = (raw: Value): boolean => {
    let cls: string | undefined = asText(raw).trim().toLowerCase();
    for (let step = 0; cls !== undefined && step < 64; step++) {
      if (equals(cls)) return true;
      cls = SUPERCLASSES[cls];
    }
    return false;
  };
  const answer = (values: readonly Value[]): boolean => {
    for (const raw of values) {
      if (typeof raw !== "string") {
        if (chainMatches(raw)) return true;
        continue;
      }
      let answer = remembered.get(raw);
      if (answer === undefined) {
        answer = chainMatches(raw);
        if (remembered.size < MAX_REMEMBERED_CLASSES) remembered.set(raw, answer);
      }
      if (answer) return true;
    }
    return false;
  };
  return (entry) => {
    const values = entry.attributes.get("objectclass");
    if (values === undefined) return false;
    if (values !== lastValues) {
      lastAnswer = answer(values);
      lastValues = values;
    }
    return lastAnswer;
  };
}

/** {@link matchesFilter} without the compiled form (its sub-filters go through it). */
function evaluate(filter: LdapFilter, entry: LdapEntry): boolean {
  switch (filter.type) {
    case "and":
      return filter.filters.every((f) => matchesFilter(f, entry));
    case "or":
      return filter.filters.some((f) => matchesFilter(f, entry));
    case "not":
      return !matchesFilter(filter.filter, entry);
    case "present":
      return filter.attribute.toLowerCase() === "objectclass" ||
        valuesOf(entry, filter.attribute).length > 0;
    case "equality":
    case "approx": {
      const name = filter.attribute.toLowerCase();
      const value = filter.value;
      if (name === "objectcategory" && assertionDn(value) === undefined) {
        return valuesOf(entry, name).some((v) => objectCategoryMatches(asText(v), value.text));
      }
      if (name === "uniquemember") {
        return valuesOf(entry, name).some((v) => uniqueMemberEquals(asText(v), value));
      }
      return valuesOf(entry, name).some((v) => valueEquals(v, value));
    }
    case "greaterOrEqual":
      return valuesOf(entry, filter.attribute).some((v) => compareOrdered(v, filter.value) >= 0);
    case "lessOrEqual":
      return valuesOf(entry, filter.attribute).some((v) => compareOrdered(v, filter.value) <= 0);
    case "substrings":
      return valuesOf(entry, filter.attribute).some((v) =>
        typeof v === "string" && substringMatch(v, filter)
      );
    case "extensible": {
      const values: Value[] = filter.attribute === undefined
        ? [...entry.attributes.values()].flat()
        : [...valuesOf(entry, filter.attribute)];
      if (filter.dnAttributes) values.push(...dnValues(entry, filter.attribute));
      return values.some((v) => ruleMatches(filter.matchingRule, v, filter.value));
    }
  }
}
