/**
 * LDAP entries and how they map to roster's users and groups, shared by the live `ldap`
 * provider and the `file` provider (LDIF), so both read a directory with the same rules.
 *
 * Effective settings come from {@link ldapMappingSettings}: the explicit `sync.*` values, else
 * the AD or generic LDAP defaults, computed at read time (bwdc rewrote the stored
 * config on every save instead).
 * @module
 */

import type { Config } from "../config/schema.ts";
import { normalizeEmail } from "../engine/normalize.ts";
import type { DirectoryGroup, DirectoryUser, SkippedEntry } from "../engine/types.ts";
import { DirectoryDataError, SourceIncompleteError } from "../errors.ts";
import { excludedClasses, groupPrimaryGroupRefs, userPrimaryGroupRef } from "./ad.ts";
import { DnSyntaxError, isNormalizedDn, normalizeDn } from "./dn.ts";
import { objectClassesOf, splitOptionalUid } from "./filter.ts";

/** One directory entry: its DN and attributes (keys are lowercased attribute names). */
export interface LdapEntry {
  /** The entry's DN, as the directory gave it. */
  dn: string;
  /**
   * Attribute values by lowercased attribute name (options kept, e.g. `cn;lang-de`). Binary
   * values (AD `objectGUID`) are bytes; everything else is text.
   */
  attributes: ReadonlyMap<string, readonly (string | Uint8Array)[]>;
}

/** The effective LDAP mapping settings for one read: explicit `sync.*` values, else defaults. */
export interface LdapMappingSettings {
  /** Active Directory mode. */
  ad: boolean;
  /** objectClass of users (`person`). */
  userObjectClass: string;
  /** objectClass of groups (AD `group`, else `groupOfNames`). */
  groupObjectClass: string;
  /** Attribute holding the user's email (`mail`). */
  userEmailAttribute: string;
  /** Attribute holding the group's display name (AD `name`, else `cn`); cn is the fallback. */
  groupNameAttribute: string;
  /** Multi-valued attribute listing a group's members (`member`, `uniqueMember`, `memberUid`). */
  memberAttribute: string;
  /** Build `<prefix attribute><suffix>` for users without an email. */
  useEmailPrefixSuffix: boolean;
  /** Attribute used as the email prefix (AD `sAMAccountName`, else `uid`). */
  emailPrefixAttribute: string | undefined;
  /** Email suffix, e.g. `@example.com`. */
  emailSuffix: string | undefined;
  /** Attribute for incremental reads (AD `whenChanged`, else `modifyTimestamp`). */
  revisionDateAttribute: string | undefined;
  /** Search-base prefix for users, relative to the root DN. */
  userPath: string | undefined;
  /** Search-base prefix for groups, relative to the root DN. */
  groupPath: string | undefined;
  /** Extra LDAP filter ANDed to the user object-class filter. */
  userFilter: string | undefined;
  /** Extra LDAP filter ANDed to the group object-class filter. */
  groupFilter: string | undefined;
}

const AD_DEFAULTS = {
  userObjectClass: "person",
  groupObjectClass: "group",
  userEmailAttribute: "mail",
  groupNameAttribute: "name",
  memberAttribute: "member",
  emailPrefixAttribute: "sAMAccountName",
  revisionDateAttribute: "whenChanged",
  userPath: "CN=Users",
  groupPath: "CN=Users",
} as const;

const LDAP_DEFAULTS = {
  userObjectClass: "person",
  groupObjectClass: "groupOfNames",
  userEmailAttribute: "mail",
  groupNameAttribute: "cn",
  memberAttribute: "member",
  emailPrefixAttribute: "uid",
  revisionDateAttribute: "modifyTimestamp",
  userPath: undefined,
  groupPath: undefined,
} as const;

/**
 * Computes the effective mapping settings: each explicit `sync.*` value wins, else the AD
 * defaults (person / group / mail / name / member / sAMAccountName / whenChanged, paths
 * `CN=Users`) or the generic LDAP ones (person / groupOfNames / mail / cn / member / uid /
 * modifyTimestamp, no paths). Nothing is written back to the config.
 */
export function ldapMappingSettings(
  sync: Config["sync"],
  options: { ad: boolean },
): LdapMappingSettings {
  const d = options.ad ? AD_DEFAULTS : LDAP_DEFAULTS;
  return {
    ad: options.ad,
    userObjectClass: sync.userObjectClass ?? d.userObjectClass,
    groupObjectClass: sync.groupObjectClass ?? d.groupObjectClass,
    userEmailAttribute: sync.userEmailAttribute ?? d.userEmailAttribute,
    groupNameAttribute: sync.groupNameAttribute ?? d.groupNameAttribute,
    memberAttribute: sync.memberAttribute ?? d.memberAttribute,
    useEmailPrefixSuffix: sync.useEmailPrefixSuffix,
    emailPrefixAttribute: sync.emailPrefixAttribute ?? d.emailPrefixAttribute,
    emailSuffix: sync.emailSuffix,
    revisionDateAttribute: sync.revisionDateAttribute ?? d.revisionDateAttribute,
    userPath: sync.userPath ?? d.userPath,
    groupPath: sync.groupPath ?? d.groupPath,
    userFilter: sync.userFilter,
    groupFilter: sync.groupFilter,
  };
}

/**
 * The search base for a path: `${path},${rootPath}`, or whichever is set alone, or `""` (the
 * root DN) when neither is. Unlike bwdc, OUs in `rootPath` are kept.
 */
export function searchBase(rootPath: string | undefined, path: string | undefined): string {
  const root = rootPath?.trim() ?? "";
  const prefix = path?.trim() ?? "";
  if (prefix === "") return root;
  if (root === "") return prefix;
  return `${prefix},${root}`;
}

function objectClassFilter(
  cls: string,
  extra: string | undefined,
  exclude: readonly string[] = [],
): string {
  const extraText = extra?.trim() ?? "";
  const not = exclude.map((c) => `(!(objectClass=${escapeFilterValue(c)}))`).join("");
  return `(&(objectClass=${escapeFilterValue(cls)})${not}${extraText})`;
}

/** Escapes a value for an RFC 4515 filter (`( ) * \` and NUL). */
export function escapeFilterValue(value: string): string {
  return value.replace(/[()*\\\0]/g, (c) => "\\" + c.charCodeAt(0).toString(16).padStart(2, "0"));
}

/**
 * The user search filter: `(&(objectClass=<cls>)<userFilter>)`, the sub-filter verbatim. In AD
 * mode, when the class is a broad one (`person`, bwdc's default, `organizationalPerson`,
 * `user`, `top`), contacts and computers (which include managed service accounts) are left
 * out: `(&(objectClass=person)(!(objectClass=computer))(!(objectClass=contact))<userFilter>)`.
 * They are not accounts a person signs in with; bwdc read them (see `NON_ACCOUNT_CLASSES`).
 */
export function userSearchFilter(s: LdapMappingSettings): string {
  return objectClassFilter(
    s.userObjectClass,
    s.userFilter,
    s.ad ? excludedClasses(s.userObjectClass) : [],
  );
}

/**
 * The AD deleted-user filter: the user search filter without `sync.userFilter` (AD strips most
 * attributes from tombstones, so a filter on them would hide every deletion), plus
 * `(isDeleted=TRUE)`.
 */
export function deletedUserSearchFilter(s: LdapMappingSettings): string {
  return `(&${userSearchFilter({ ...s, userFilter: undefined })}(isDeleted=TRUE))`;
}

/** The group search filter: `(&(objectClass=<cls>)<groupFilter>)`, the sub-filter verbatim. */
export function groupSearchFilter(s: LdapMappingSettings): string {
  return objectClassFilter(s.groupObjectClass, s.groupFilter);
}

function uniqueCaseInsensitive(names: readonly (string | undefined)[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const name of names) {
    if (name === undefined) continue;
    const key = name.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(name);
  }
  return out;
}

/**
 * The attributes a user search needs (the DN is implicit): objectClass, the email attribute,
 * the prefix attribute when prefix/suffix is on, uid, the revision attribute, and in AD mode
 * objectGUID, userAccountControl, isDeleted, primaryGroupID and objectSid (for the primary
 * group).
 */
export function userAttributes(s: LdapMappingSettings): string[] {
  return uniqueCaseInsensitive([
    "objectClass",
    s.userEmailAttribute,
    s.useEmailPrefixSuffix ? s.emailPrefixAttribute : undefined,
    "uid",
    ...(s.ad
      ? ["objectGUID", "userAccountControl", "isDeleted", "primaryGroupID", "objectSid"]
      : []),
    s.revisionDateAttribute,
  ]);
}

/**
 * The attributes a group search needs: objectClass, the name attribute, cn, the member
 * attribute, and in AD mode objectGUID and objectSid (whose RID is the group's primary-group
 * id).
 */
export function groupAttributes(s: LdapMappingSettings): string[] {
  return uniqueCaseInsensitive([
    "objectClass",
    s.groupNameAttribute,
    "cn",
    s.memberAttribute,
    s.ad ? "objectGUID" : undefined,
    s.ad ? "objectSid" : undefined,
  ]);
}

/**
 * Formats an AD objectGUID as bwdc does: bytes 0-3, 4-5 and 6-7 reversed
 * (little-endian), the rest in order, lowercase hex, dashed. Bytes `00..0f` give
 * `03020100-0504-0706-0809-0a0b0c0d0e0f`.
 * @throws {RangeError} when the value is not 16 bytes.
 */
export function formatGuid(bytes: Uint8Array): string {
  if (bytes.length !== 16) {
    throw new RangeError(`An objectGUID has 16 bytes, not ${bytes.length}`);
  }
  const hex = (indexes: number[]) =>
    indexes.map((k) => (bytes[k] ?? 0).toString(16).padStart(2, "0")).join("");
  return [
    hex([3, 2, 1, 0]),
    hex([5, 4]),
    hex([7, 6]),
    hex([8, 9]),
    hex([10, 11, 12, 13, 14, 15]),
  ].join("-");
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const GUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function values(entry: LdapEntry, attribute: string): readonly (string | Uint8Array)[] {
  return entry.attributes.get(attribute.toLowerCase()) ?? [];
}

/** Where an entry came from, for errors: ` (LDIF line 12)` for an LDIF record, else nothing. */
function whereOf(entry: LdapEntry): string {
  return "line" in entry && typeof entry.line === "number" ? ` (LDIF line ${entry.line})` : "";
}

/**
 * A value as text. The directory sends text attributes as UTF-8 (RFC 4511 LDAPString, RFC
 * 4517 Directory String); a value that is not (an octet-string attribute, a server that does
 * not check, a base64 LDIF value) is refused rather than decoded with U+FFFD replacement
 * characters, which would then be sent to the server as part of a name or an email.
 * @throws {DirectoryDataError} naming the DN and the attribute.
 */
function text(entry: LdapEntry, attribute: string, value: string | Uint8Array): string {
  if (typeof value === "string") return value;
  try {
    return strictUtf8.decode(value);
  } catch {
    throw new DirectoryDataError(
      `Cannot read attribute ${attribute} of ${entry.dn}${
        whereOf(entry)
      }: the value is not valid UTF-8 text`,
      {
        hint: `Correct the value of ${attribute} on ${entry.dn} in the directory (text values ` +
          "are UTF-8), or map another attribute in the sync.* settings",
        details: { dn: entry.dn, attribute },
      },
    );
  }
}

/**
 * A name, email or DN (an externalId outside AD) that will be sent: refused when it holds
 * U+FFFD, the replacement character (ldapts decodes a DN that is not UTF-8 with it).
 */
function sendable(entry: LdapEntry, attribute: string, value: string): string {
  if (!value.includes("\uFFFD")) return value;
  const what = attribute === "DN" ? `the DN ${entry.dn}` : `attribute ${attribute} of ${entry.dn}`;
  throw new DirectoryDataError(
    `Cannot use ${what}${whereOf(entry)}: the value contains U+FFFD, the replacement ` +
      "character, so characters were already lost when it was written",
    {
      hint: attribute === "DN"
        ? `Rename ${entry.dn} in the directory (a DN that is not UTF-8 is read with U+FFFD)`
        : `Correct the value of ${attribute} on ${entry.dn} in the directory`,
      details: { dn: entry.dn, attribute },
    },
  );
}

function textValues(entry: LdapEntry, attribute: string): string[] {
  return values(entry, attribute).map((v) => text(entry, attribute, v));
}

function firstText(entry: LdapEntry, attribute: string | undefined): string | undefined {
  if (attribute === undefined) return undefined;
  for (const value of values(entry, attribute)) {
    const t = text(entry, attribute, value);
    if (t.trim() !== "") return t;
  }
  return undefined;
}

/**
 * The email of a user: the first value of a multi-valued email attribute that is a valid
 * address (the engine's test), else the first non-blank value, which the engine then reports
 * as invalid. bwdc took the first value whatever it held.
 */
function firstEmail(entry: LdapEntry, attribute: string): string | undefined {
  let first: string | undefined;
  for (const value of values(entry, attribute)) {
    const t = text(entry, attribute, value);
    if (t.trim() === "") continue;
    if (normalizeEmail(t).ok) return sendable(entry, attribute, t);
    first ??= t;
  }
  return first === undefined ? undefined : sendable(entry, attribute, first);
}

function guidOf(entry: LdapEntry): string | undefined {
  const value = values(entry, "objectGUID")[0];
  if (value === undefined) return undefined;
  if (typeof value !== "string") return value.length === 16 ? formatGuid(value) : undefined;
  return GUID_TEXT.test(value.trim()) ? value.trim().toLowerCase() : undefined;
}

/** Whether an AD `userAccountControl` value has the ACCOUNTDISABLE bit (2). */
function uacDisabled(entry: LdapEntry): boolean {
  const raw = firstText(entry, "userAccountControl");
  if (raw === undefined || !/^-?[0-9]+$/.test(raw.trim())) return false;
  return (BigInt(raw.trim()) & 2n) === 2n;
}

/**
 * Maps a user entry: `referenceId` = DN; `externalId` = formatted objectGUID (AD, when present)
 * else the DN as given; `email` = the first valid value of the email attribute (else its first
 * value), else prefix + suffix when `useEmailPrefixSuffix` is on (raw: the engine trims,
 * lowercases and validates); `disabled` = AD userAccountControl bit 2; `refs` = the normalised
 * DN, `uid:<lowercase uid>` per uid, and in AD mode the reference of the primary group
 * (`primaryGroupID`, see `userPrimaryGroupRef`).
 * @throws {DirectoryDataError} when a text value used is not UTF-8, or an email holds U+FFFD.
 */
export function entryToUser(
  entry: LdapEntry,
  s: LdapMappingSettings,
  options: {
    deleted?: boolean;
    pool?: RefPool;
    /**
     * The entry's DN in `normalizeDn` form, from `pool` when one is given, when the caller has
     * it: used as it is, the DN is not parsed again.
     */
    ref?: string;
  } = {},
): DirectoryUser {
  let email = firstEmail(entry, s.userEmailAttribute) ?? null;
  if (email === null && s.useEmailPrefixSuffix && s.emailSuffix !== undefined) {
    const prefix = firstText(entry, s.emailPrefixAttribute);
    if (prefix !== undefined && s.emailPrefixAttribute !== undefined) {
      email = sendable(entry, s.emailPrefixAttribute, prefix) + s.emailSuffix;
    }
  }
  const pool = options.pool;
  const refs = [options.ref ?? pooledDn(entry.dn, pool)];
  for (const uid of textValues(entry, "uid")) {
    const key = uid.trim().toLowerCase();
    if (key === "") continue;
    // One flat string (`+` would keep a pair of the prefix and the uid for the whole run).
    const ref = ["uid:", key].join("");
    if (refs.includes(ref)) continue;
    // Not pooled: a user's uid is its own, and only groups listing members by uid (memberUid)
    // name it again; those share one string among themselves (see `memberRef`). Pooling it
    // would cost a lookup and an insertion per user on every directory.
    refs.push(ref);
  }
  if (s.ad) {
    const primary = userPrimaryGroupRef(
      firstText(entry, "primaryGroupID"),
      values(entry, "objectSid")[0],
    );
    if (primary !== undefined) refs.push(pool?.intern(primary) ?? primary);
  }
  return {
    referenceId: entry.dn,
    externalId: (s.ad ? guidOf(entry) : undefined) ?? sendable(entry, "DN", entry.dn),
    email,
    disabled: s.ad && uacDisabled(entry),
    deleted: options.deleted ?? false,
    refs: exact(refs),
  };
}

/**
 * `list` without the spare room `push` leaves behind it (up to half its length plus 16 slots):
 * the reference lists of every user and group are kept for the whole run.
 */
function exact(list: string[]): string[] {
  return list.length > 1 ? list.slice() : list;
}

/**
 * Maps a group entry: `name` = the name attribute, else cn (no name gives a
 * {@link SkippedEntry}); `externalId` = formatted objectGUID (AD, when present) else the DN;
 * `memberRefs` = each member value that is DN-like, normalised, else `uid:<lowercase value>`
 * (so `memberUid` holding DNs matches by DN), de-duplicated in order; `uniqueMember` values are
 * RFC 4517 NameAndOptionalUID (`<DN>#'0101'B`) and match by their DN; `refs` = the normalised
 * DN. In AD mode the group's primary-group references (its objectSid, see
 * `groupPrimaryGroupRefs`) are added to both `memberRefs` and `refs`: users whose
 * `primaryGroupID` names the group resolve as its members, and a group that is nobody's
 * primary group resolves the reference to itself (self-membership adds nothing), so it is never
 * reported as unresolved.
 * @throws {SourceIncompleteError} when the member attribute holds only part of its values
 * (`member;range=0-1499` in an export, without the ranges up to `*`).
 * @throws {DirectoryDataError} when a name or member value is not UTF-8, or a name holds U+FFFD.
 */
export function entryToGroup(
  entry: LdapEntry,
  s: LdapMappingSettings,
  options: {
    pool?: RefPool;
    /**
     * The entry's DN in `normalizeDn` form, from `pool` when one is given, when the caller has
     * it: used as it is, the DN is not parsed again.
     */
    ref?: string;
  } = {},
): DirectoryGroup | SkippedEntry {
  const rawName = firstText(entry, s.groupNameAttribute);
  const cn = rawName === undefined ? firstText(entry, "cn") : undefined;
  const name = rawName !== undefined
    ? sendable(entry, s.groupNameAttribute, rawName).trim()
    : cn === undefined
    ? undefined
    : sendable(entry, "cn", cn).trim();
  if (name === undefined || name === "") {
    const attrs = s.groupNameAttribute.toLowerCase() === "cn"
      ? "cn"
      : `${s.groupNameAttribute} or cn`;
    return { referenceId: entry.dn, kind: "group", reason: `no group name (${attrs})` };
  }
  checkRangesComplete(entry, s.memberAttribute);
  const memberRefs: string[] = [];
  const seen = new Set<string>();
  const optionalUid = s.memberAttribute.toLowerCase() === "uniquemember";
  // With a pool that keeps an entry per DN text, a member DN is found with one lookup of its
  // text, and marked as listed by this group in that entry: no set operation per DN member.
  // (`seen` then holds the uid: references only, which never equal a DN.)
  const pool = options.pool;
  const mark = pool?.cachesDnText === true ? pool.nextMark() : 0;
  for (const item of values(entry, s.memberAttribute)) {
    const raw = typeof item === "string" ? item : text(entry, s.memberAttribute, item);
    const value = (optionalUid ? splitOptionalUid(raw.trim()).dn : raw).trim();
    if (value === "") continue;
    if (mark !== 0 && pool !== undefined) {
      const dn = memberDn(value, pool);
      if (dn !== undefined) {
        if (dn.mark === mark) continue;
        dn.mark = mark;
        memberRefs.push(dn.ref);
        continue;
      }
    }
    const ref = memberRef(value, pool);
    // One set operation per member (a group may list thousands): the size tells a repeat.
    const size = seen.size;
    seen.add(ref);
    if (seen.size === size) continue;
    memberRefs.push(ref);
  }
  const refs = [options.ref ?? pooledDn(entry.dn, options.pool)];
  if (s.ad) {
    const primary = groupPrimaryGroupRefs(
      values(entry, "objectSid")[0],
      firstText(entry, "primaryGroupToken"),
    );
    for (const ref of primary) {
      const pooled = options.pool?.intern(ref) ?? ref;
      if (!seen.has(pooled)) memberRefs.push(pooled);
      refs.push(pooled);
    }
  }
  return {
    referenceId: entry.dn,
    externalId: (s.ad ? guidOf(entry) : undefined) ?? sendable(entry, "DN", entry.dn),
    name,
    memberRefs: exact(memberRefs),
    refs: exact(refs),
  };
}

const RANGED = /^(.+);range=(\d+)-(\d+|\*)$/;

/**
 * Refuses an entry whose attribute holds only a range of its values. AD returns at most
 * MaxValRange (1,500 by default) values of an attribute per read, as `member;range=0-1499`; a
 * client must ask for the next range until one ends in `*`. The live reader does
 * (`member;range=1500-*` …), and the LDIF reader joins ranges an export holds when they run from
 * 0 to `*`; anything else is an incomplete export.
 * @throws {SourceIncompleteError} naming the entry, the attribute and the range held.
 */
function checkRangesComplete(entry: LdapEntry, attribute: string): void {
  const want = attribute.toLowerCase();
  for (const key of entry.attributes.keys()) {
    const m = RANGED.exec(key);
    if (m === null || m[1] !== want) continue;
    throw new SourceIncompleteError(
      `Group ${entry.dn}${whereOf(entry)} holds only values ${m[2]}-${m[3]} of ${attribute}: ` +
        "Active Directory sends large multi-valued attributes in ranges, and the export stopped " +
        "after this one",
      {
        hint: "Export with a tool that follows ranged retrieval to the last range " +
          "(ldifde does), or read the directory live (directory.type ldap), which follows the ranges",
        details: { dn: entry.dn, attribute, range: `${m[2]}-${m[3]}` },
      },
    );
  }
}

/**
 * Joins the ranged values of an entry's attributes (`member;range=0-1499`,
 * `member;range=1500-*`) under the plain name (`member`) when the ranges run without a gap from
 * 0 to `*`, in range order. Ranges with a gap, or without the last (`*`) range, are kept as
 * they are, and {@link entryToGroup} refuses them for the member attribute.
 */
export function joinRanges(
  attributes: Map<string, (string | Uint8Array)[]>,
): Map<string, (string | Uint8Array)[]> {
  let ranged: Map<string, { start: number; end: number; key: string }[]> | undefined;
  for (const key of attributes.keys()) {
    const m = RANGED.exec(key);
    if (m === null) continue;
    ranged ??= new Map();
    const base = m[1] ?? key;
    const list = ranged.get(base) ?? [];
    list.push({ start: Number(m[2]), end: m[3] === "*" ? Infinity : Number(m[3]), key });
    ranged.set(base, list);
  }
  if (ranged === undefined) return attributes;
  for (const [base, parts] of ranged) {
    parts.sort((a, b) => a.start - b.start);
    let next = 0;
    let complete = true;
    for (const part of parts) {
      if (part.start !== next) complete = false;
      next = part.end + 1;
    }
    if (!complete || next !== Infinity) continue;
    const joined = [...attributes.get(base) ?? []];
    for (const part of parts) {
      joined.push(...attributes.get(part.key) ?? []);
      attributes.delete(part.key);
    }
    attributes.set(base, joined);
  }
  return attributes;
}

/** The entry's normalised DN, from the pool when there is one. */
function pooledDn(dn: string, pool: RefPool | undefined): string {
  return pool === undefined ? normalizeDn(dn) : pool.intern(normalizeDn(dn));
}

/**
 * The pool's entry for a member value that is a DN (as {@link memberRef} tells), or undefined
 * when the value is not a DN. The pool must keep DN texts (`cachesDnText`).
 */
function memberDn(value: string, pool: RefPool): PooledDn | undefined {
  if (!value.includes("=")) return undefined;
  try {
    const dn = pool.dnEntry(value);
    return dn.ref === "" ? undefined : dn;
  } catch (error) {
    if (!(error instanceof DnSyntaxError)) throw error;
    return undefined;
  }
}

/**
 * The canonical reference of one member value: a DN (normalised) when it parses as one with at
 * least one RDN (the same test as `isDnLike`, parsing once), else `uid:<lowercase value>`.
 */
function memberRef(value: string, pool: RefPool | undefined): string {
  if (value.includes("=")) {
    try {
      const dn = pool === undefined ? normalizeDn(value) : pool.dn(value);
      if (dn !== "") return dn;
    } catch (error) {
      if (!(error instanceof DnSyntaxError)) throw error;
    }
  }
  const uid = "uid:" + value.toLowerCase();
  return pool?.intern(uid) ?? uid;
}

/**
 * A copy of a string that keeps nothing else alive. A slice of a string is a view of its parent
 * in V8: a value cut from a 64 KiB chunk of a file would keep the whole chunk in memory, and
 * the directory's text would end up in memory after all. Slices shorter than 13 characters are
 * copies already. Joining two parts builds one new flat string (`+` would build a pair of
 * views, and slicing that a view of a flattened copy: two objects per value).
 */
export function copyText(text: string): string {
  return text.length < 13 ? text : [text.slice(0, 1), text.slice(1)].join("");
}

/**
 * What a {@link RefPool} with `cacheDnText` keeps per DN: its pooled canonical form, and two
 * numbers its users keep per DN instead of in sets of their own (a set costs a hash-table
 * insertion per DN; the entry is already at hand once the DN text is looked up).
 */
export interface PooledDn {
  /** The DN in `normalizeDn` form: the pooled string. */
  readonly ref: string;
  /**
   * The member list the DN was last put in ({@link entryToGroup} takes a number from
   * {@link RefPool.nextMark} per group, and skips a DN already marked with it); 0: none.
   */
  mark: number;
  /**
   * The 1-based line of the LDIF record with this DN, set by the file provider, which refuses
   * a second record with the same DN; 0: none yet.
   */
  line: number;
}

/**
 * Shares one string per reference across a read: a user's normalised DN and the same DN in
 * every group that lists the user are then one string in memory, not one per membership (at a
 * million users with a few groups each, that is hundreds of megabytes); the `uid:` references
 * of groups are shared among the groups.
 */
export class RefPool {
  readonly #strings = new Map<string, string>();
  /**
   * With `cacheDnText`: each DN text looked up (canonical or not, and each DN's canonical
   * form) → the DN's entry.
   */
  readonly #dns: Map<string, PooledDn> | undefined;

  /** Whether strings are copied when they enter the pool (`copyNew`). */
  readonly #copy: boolean;

  /** The last number {@link nextMark} gave. */
  #mark = 0;

  /**
   * `cacheDnText` (default false): {@link dn} remembers each DN text it is given, with its
   * canonical form, so a DN written the same way again (a member listed in several groups) is
   * found with one lookup, neither parsed nor checked again; and each DN has a
   * {@link PooledDn} entry ({@link dnEntry}). The cache holds one entry per distinct DN text
   * for the life of the pool. `copyNew` (default false): a string entering the pool (or the
   * cache) is copied with {@link copyText} first, so the values looked up may be views of a
   * larger text (the LDIF reader's `views`).
   */
  constructor(options: { cacheDnText?: boolean; copyNew?: boolean } = {}) {
    this.#dns = options.cacheDnText === true ? new Map() : undefined;
    this.#copy = options.copyNew === true;
  }

  /** Whether the pool keeps DN texts and {@link PooledDn} entries (`cacheDnText`). */
  get cachesDnText(): boolean {
    return this.#dns !== undefined;
  }

  /** A number not given before by this pool, from 1 up: see {@link PooledDn.mark}. */
  nextMark(): number {
    return ++this.#mark;
  }

  /** The pooled string equal to `value` (`value` itself, or its copy, the first time). */
  intern(value: string): string {
    const known = this.#strings.get(value);
    if (known !== undefined) return known;
    // With `cacheDnText` the canonical DNs are pooled in the DN cache only (see `dnEntry`).
    const dn = this.#dns?.get(value);
    if (dn !== undefined && dn.ref === value) return dn.ref;
    const kept = this.#copy ? copyText(value) : value;
    this.#strings.set(kept, kept);
    return kept;
  }

  /**
   * The pooled `normalizeDn(text)`. A DN already canonical (`isNormalizedDn`) is pooled as it
   * is, without parsing.
   * @throws {DnSyntaxError} when the text is not a DN.
   */
  dn(text: string): string {
    if (this.#dns !== undefined) return this.dnEntry(text).ref;
    if (isNormalizedDn(text)) return this.intern(text);
    return this.intern(normalizeDn(text));
  }

  /**
   * The entry of the DN `text` names (see {@link PooledDn}): the same entry for every text of
   * one DN, its `ref` being the pooled `normalizeDn(text)`. Without `cacheDnText` a new entry
   * each time, whose numbers nothing else sees.
   * @throws {DnSyntaxError} when the text is not a DN.
   */
  dnEntry(text: string): PooledDn {
    const dns = this.#dns;
    if (dns === undefined) return { ref: this.dn(text), mark: 0, line: 0 };
    let entry = dns.get(text);
    if (entry !== undefined) return entry;
    // A DN already canonical (`isNormalizedDn`) is pooled as it is, without parsing.
    const canonical = isNormalizedDn(text) ? text : normalizeDn(text);
    if (canonical !== text) entry = dns.get(canonical);
    if (entry === undefined) {
      // A new DN: its canonical form is pooled here, in the DN cache only (one insertion into
      // one table), unless `intern` pooled it before.
      const ref = this.#strings.get(canonical) ?? (this.#copy ? copyText(canonical) : canonical);
      entry = { ref, mark: 0, line: 0 };
      dns.set(ref, entry);
    }
    if (canonical !== text) dns.set(this.#copy ? copyText(text) : text, entry);
    return entry;
  }
}

/**
 * Whether an entry is a user, a group or neither, by objectClass (case-insensitive, with the
 * superclasses of well-known classes, so `inetOrgPerson` is a `person`). User wins when both fit.
 */
export function classifyEntry(entry: LdapEntry, s: LdapMappingSettings): "user" | "group" | null {
  const classes = objectClassesOf(entry);
  if (classes.has(s.userObjectClass.toLowerCase())) return "user";
  if (classes.has(s.groupObjectClass.toLowerCase())) return "group";
  return null;
}
