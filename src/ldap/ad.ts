/**
 * Active Directory's object model, as roster reads it from a live AD and from AD exports alike:
 * security identifiers (objectSid), primary groups (primaryGroupID), objectCategory short names
 * in filters, and which object classes are accounts.
 * @module
 */

import { parseDn } from "./dn.ts";

/**
 * Formats a binary security identifier (MS-DTYP §2.4.2.2: revision byte, sub-authority count,
 * a 48-bit big-endian identifier authority, then 32-bit little-endian sub-authorities) as its
 * string form, e.g. `S-1-5-21-1111111111-2222222222-3333333333-1105`. A value that is already
 * text in that form (some export tools write it so) is returned upper-cased `S-…`.
 * Returns undefined for anything that is not a SID.
 */
export function formatSid(value: string | Uint8Array): string | undefined {
  if (typeof value === "string") {
    const text = value.trim();
    return /^S-1(?:-\d+){1,16}$/i.test(text) ? "S" + text.slice(1) : undefined;
  }
  const count = value[1] ?? 0;
  if (value[0] !== 1 || value.length !== 8 + 4 * count || count === 0) return undefined;
  let authority = 0;
  for (let k = 2; k < 8; k++) authority = authority * 256 + (value[k] ?? 0);
  const parts = ["S", "1", String(authority)];
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  for (let k = 0; k < count; k++) parts.push(String(view.getUint32(8 + 4 * k, true)));
  return parts.join("-");
}

/** The relative identifier (RID) of a SID: its last sub-authority, e.g. `1105`. */
export function sidRid(sid: string): string | undefined {
  const parts = sid.split("-");
  return parts.length > 3 ? parts[parts.length - 1] : undefined;
}

/** The domain part of a SID: everything before its RID. */
export function sidDomain(sid: string): string | undefined {
  const rid = sidRid(sid);
  return rid === undefined ? undefined : sid.slice(0, sid.length - rid.length - 1);
}

/** The RID of AD's default primary group, Domain Users. */
export const DOMAIN_USERS_RID = "513";

/**
 * The reference that ties users to their primary group. A user's primary group is not in the
 * group's `member` attribute: AD records it only on the user, as `primaryGroupID`, the RID of
 * the group (the last sub-authority of its objectSid, also its `primaryGroupToken`); new users
 * get 513, Domain Users. roster gives each user the reference of its primary group's SID (its
 * own objectSid's domain + primaryGroupID) and each group the reference of its own objectSid
 * among its members, so the engine resolves the membership like any other. When the user's
 * objectSid is not there (an export without it), the reference is by RID alone
 * (`primarygroup:rid:1105`), which every group offers too.
 */
export function primaryGroupRef(sidOrRid: { sid: string } | { rid: string }): string {
  return "sid" in sidOrRid ? `primarygroup:${sidOrRid.sid}` : `primarygroup:rid:${sidOrRid.rid}`;
}

/**
 * The primary-group references of a user: undefined without a usable `primaryGroupID`.
 * `objectSid` is the user's own SID (bytes or text).
 */
export function userPrimaryGroupRef(
  primaryGroupId: string | undefined,
  objectSid: string | Uint8Array | undefined,
): string | undefined {
  const rid = primaryGroupId?.trim();
  if (rid === undefined || !/^\d+$/.test(rid)) return undefined;
  const sid = objectSid === undefined ? undefined : formatSid(objectSid);
  const domain = sid === undefined ? undefined : sidDomain(sid);
  return domain === undefined
    ? primaryGroupRef({ rid: String(Number(rid)) })
    : primaryGroupRef({ sid: `${domain}-${Number(rid)}` });
}

/**
 * The references under which a group is its users' primary group: its SID, and its RID alone
 * (for users read without objectSid). From `objectSid`, else from `primaryGroupToken` (RID
 * only). Empty when neither is there.
 */
export function groupPrimaryGroupRefs(
  objectSid: string | Uint8Array | undefined,
  primaryGroupToken: string | undefined,
): string[] {
  const sid = objectSid === undefined ? undefined : formatSid(objectSid);
  const rid = (sid === undefined ? undefined : sidRid(sid)) ?? primaryGroupToken?.trim();
  const refs: string[] = [];
  if (sid !== undefined) refs.push(primaryGroupRef({ sid }));
  if (rid !== undefined && /^\d+$/.test(rid)) {
    refs.push(primaryGroupRef({ rid: String(Number(rid)) }));
  }
  return refs;
}

/**
 * AD classes whose `defaultObjectCategory` is another class's category (lowercase
 * lDAPDisplayName → the category's cn without hyphens, lowercase): users, contacts and
 * inetOrgPersons are all filed under `CN=Person`.
 */
const CATEGORY_OF: Readonly<Record<string, string>> = {
  person: "person",
  user: "person",
  contact: "person",
  inetorgperson: "person",
  organizationalperson: "person",
};

function squash(name: string): string {
  return name.toLowerCase().replace(/-/g, "");
}

/**
 * Whether an `objectCategory` value (a DN, `CN=Person,CN=Schema,CN=Configuration,…`) matches a
 * short name in a filter, as a live AD does for `(objectCategory=person)`: AD looks up the
 * class with that lDAPDisplayName and matches its `defaultObjectCategory`. Without AD's schema
 * roster uses that a class's schema cn is its lDAPDisplayName with hyphens
 * (`organizationalUnit` → `Organizational-Unit`, `msDS-ManagedServiceAccount` →
 * `ms-DS-Managed-Service-Account`), and that user, contact, inetOrgPerson and
 * organizationalPerson are filed under Person.
 */
export function objectCategoryMatches(value: string, shortName: string): boolean {
  let rdns;
  try {
    rdns = parseDn(value);
  } catch {
    return false;
  }
  const first = rdns[0]?.[0];
  if (first === undefined || first.type.toLowerCase() !== "cn") return false;
  const wanted = CATEGORY_OF[shortName.trim().toLowerCase()] ?? squash(shortName.trim());
  return squash(first.value) === wanted;
}

/**
 * AD object classes that are found under `person` but are not accounts a person signs in with:
 * contacts (address-book entries, no account at all) and computers (also the parent class of
 * managed and group managed service accounts). bwdc's `person` default matched them all.
 */
export const NON_ACCOUNT_CLASSES = ["computer", "contact"] as const;

/**
 * The classes the AD user search leaves out for a configured user object class: the
 * {@link NON_ACCOUNT_CLASSES}, when the class is one of the broad ones (`person`, bwdc's
 * default, `organizationalPerson`, `user`, `top`). A class named on purpose (`contact`,
 * `computer`, `msDS-ManagedServiceAccount`, `inetOrgPerson`) is taken literally.
 */
export function excludedClasses(userObjectClass: string): readonly string[] {
  const cls = userObjectClass.trim().toLowerCase();
  return ["person", "organizationalperson", "user", "top"].includes(cls) ? NON_ACCOUNT_CLASSES : [];
}
