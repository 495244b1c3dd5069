/**
 * LDAP entries and how they map to roster's users and groups, shared by the live `ldap`
 * provider and the `file` provider (LDIF), so both read a directory with the same rules.
 *
 * Effective settings come from {@link ldapMappingSettings}: the explicit `sync.*` values, else
 * the AD or generic LDAP defaults, computed at read time (the seed tool rewrote the stored
 * config on every save instead).
 * @module
 */

import type { Config } from "../config/schema.ts";
import type { DirectoryGroup, DirectoryUser, SkippedEntry } from "../engine/types.ts";
import { DnSyntaxError, normalizeDn } from "./dn.ts";
import { objectClassesOf } from "./filter.ts";

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
 * root DN) when neither is. Unlike the seed tool, OUs in `rootPath` are kept.
 */
export function searchBase(rootPath: string | undefined, path: string | undefined): string {
  const root = rootPath?.trim() ?? "";
  const prefix = path?.trim() ?? "";
  if (prefix === "") return root;
  if (root === "") return prefix;
  return `${prefix},${root}`;
}

function objectClassFilter(cls: string, extra: string | undefined): string {
  const extraText = extra?.trim() ?? "";
  return `(&(objectClass=${escapeFilterValue(cls)})${extraText})`;
}

/** Escapes a value for an RFC 4515 filter (`( ) * \` and NUL). */
export function escapeFilterValue(value: string): string {
  return value.replace(/[()*\\\0]/g, (c) => "\\" + c.charCodeAt(0).toString(16).padStart(2, "0"));
}

/** The user search filter: `(&(objectClass=<cls>)<userFilter>)`, the sub-filter verbatim. */
export function userSearchFilter(s: LdapMappingSettings): string {
  return objectClassFilter(s.userObjectClass, s.userFilter);
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
 * objectGUID, userAccountControl and isDeleted.
 */
export function userAttributes(s: LdapMappingSettings): string[] {
  return uniqueCaseInsensitive([
    "objectClass",
    s.userEmailAttribute,
    s.useEmailPrefixSuffix ? s.emailPrefixAttribute : undefined,
    "uid",
    ...(s.ad ? ["objectGUID", "userAccountControl", "isDeleted"] : []),
    s.revisionDateAttribute,
  ]);
}

/**
 * The attributes a group search needs: objectClass, the name attribute, cn, the member
 * attribute, and objectGUID in AD mode.
 */
export function groupAttributes(s: LdapMappingSettings): string[] {
  return uniqueCaseInsensitive([
    "objectClass",
    s.groupNameAttribute,
    "cn",
    s.memberAttribute,
    s.ad ? "objectGUID" : undefined,
  ]);
}

/**
 * Formats an AD objectGUID as the seed tool does: bytes 0-3, 4-5 and 6-7 reversed
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

const decoder = new TextDecoder();
const GUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function values(entry: LdapEntry, attribute: string): readonly (string | Uint8Array)[] {
  return entry.attributes.get(attribute.toLowerCase()) ?? [];
}

function textValues(entry: LdapEntry, attribute: string): string[] {
  return values(entry, attribute).map((v) => typeof v === "string" ? v : decoder.decode(v));
}

function firstText(entry: LdapEntry, attribute: string | undefined): string | undefined {
  if (attribute === undefined) return undefined;
  for (const value of values(entry, attribute)) {
    const text = typeof value === "string" ? value : decoder.decode(value);
    if (text.trim() !== "") return text;
  }
  return undefined;
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
 * else the DN as given; `email` = first value of the email attribute, else prefix + suffix when
 * `useEmailPrefixSuffix` is on (raw: the engine trims, lowercases and validates); `disabled` =
 * AD userAccountControl bit 2; `refs` = the normalised DN and `uid:<lowercase uid>` per uid.
 */
export function entryToUser(
  entry: LdapEntry,
  s: LdapMappingSettings,
  options: { deleted?: boolean; pool?: RefPool } = {},
): DirectoryUser {
  let email = firstText(entry, s.userEmailAttribute) ?? null;
  if (email === null && s.useEmailPrefixSuffix && s.emailSuffix !== undefined) {
    const prefix = firstText(entry, s.emailPrefixAttribute);
    if (prefix !== undefined) email = prefix + s.emailSuffix;
  }
  const pool = options.pool;
  const dn = normalizeDn(entry.dn);
  const refs = [pool?.intern(dn) ?? dn];
  for (const uid of textValues(entry, "uid")) {
    const key = uid.trim().toLowerCase();
    if (key === "" || refs.includes("uid:" + key)) continue;
    const ref = "uid:" + key;
    refs.push(pool?.intern(ref) ?? ref);
  }
  return {
    referenceId: entry.dn,
    externalId: (s.ad ? guidOf(entry) : undefined) ?? entry.dn,
    email,
    disabled: s.ad && uacDisabled(entry),
    deleted: options.deleted ?? false,
    refs,
  };
}

/**
 * Maps a group entry: `name` = the name attribute, else cn (no name gives a
 * {@link SkippedEntry}); `externalId` = formatted objectGUID (AD, when present) else the DN;
 * `memberRefs` = each member value that is DN-like, normalised, else `uid:<lowercase value>`
 * (so `memberUid` holding DNs matches by DN), de-duplicated in order; `refs` = the normalised DN.
 */
export function entryToGroup(
  entry: LdapEntry,
  s: LdapMappingSettings,
  options: { pool?: RefPool } = {},
): DirectoryGroup | SkippedEntry {
  const name = (firstText(entry, s.groupNameAttribute) ?? firstText(entry, "cn"))?.trim();
  if (name === undefined || name === "") {
    const attrs = s.groupNameAttribute.toLowerCase() === "cn"
      ? "cn"
      : `${s.groupNameAttribute} or cn`;
    return { referenceId: entry.dn, kind: "group", reason: `no group name (${attrs})` };
  }
  const memberRefs: string[] = [];
  const seen = new Set<string>();
  for (const raw of textValues(entry, s.memberAttribute)) {
    const value = raw.trim();
    if (value === "") continue;
    const ref = memberRef(value, options.pool);
    if (seen.has(ref)) continue;
    seen.add(ref);
    memberRefs.push(ref);
  }
  return {
    referenceId: entry.dn,
    externalId: (s.ad ? guidOf(entry) : undefined) ?? entry.dn,
    name,
    memberRefs,
    refs: [options.pool?.intern(normalizeDn(entry.dn)) ?? normalizeDn(entry.dn)],
  };
}

/**
 * The canonical reference of one member value: a DN (normalised) when it parses as one with at
 * least one RDN (the same test as `isDnLike`, parsing once), else `uid:<lowercase value>`.
 */
function memberRef(value: string, pool: RefPool | undefined): string {
  if (value.includes("=")) {
    try {
      const dn = normalizeDn(value);
      if (dn !== "") return pool?.intern(dn) ?? dn;
    } catch (error) {
      if (!(error instanceof DnSyntaxError)) throw error;
    }
  }
  const uid = "uid:" + value.toLowerCase();
  return pool?.intern(uid) ?? uid;
}

/**
 * Shares one string per reference across a read: a user's normalised DN and the same DN in
 * every group that lists the user are then one string in memory, not one per membership (at a
 * million users with a few groups each, that is hundreds of megabytes).
 */
export class RefPool {
  readonly #strings = new Map<string, string>();

  /** The pooled string equal to `value` (`value` itself the first time). */
  intern(value: string): string {
    const known = this.#strings.get(value);
    if (known !== undefined) return known;
    this.#strings.set(value, value);
    return value;
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
