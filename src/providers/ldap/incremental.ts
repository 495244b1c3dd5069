/**
 * The `ldap` provider's incremental check. roster never sends a partial directory, so an LDAP
 * incremental read is all or nothing: it first checks whether anything changed, with a
 * one-entry search for users whose revision attribute (`modifyTimestamp`, AD `whenChanged`) is
 * at or after `since.users`, the same for groups with `since.groups` (both minus
 * {@link INCREMENTAL_SKEW_MS} for clock skew), and a DN-only scan of both searches whose
 * order-independent digest is compared with the one stored in the provider state by the last
 * read (this catches additions, renames and removals, which leave no changed entry behind).
 * Membership changes update the group's revision attribute, so the group check catches them.
 * @module
 */

import { normalizeDn } from "../../ldap/dn.ts";
import { groupSearchFilter, searchBase, userSearchFilter } from "../../ldap/entry.ts";
import type { ReadOptions } from "../provider.ts";
import type { Session } from "./connection.ts";
import { searchError } from "./errors.ts";
import { type Client, searchOnce } from "./ldapts.ts";
import { search } from "./search.ts";
import type { ReadPlan, SearchSpec } from "./settings.ts";

/**
 * How far before the `since` times an incremental read looks for changed entries, to absorb
 * clock differences between roster's host and the directory server (5 minutes).
 */
export const INCREMENTAL_SKEW_MS = 5 * 60_000;

/** Keys of the provider state this provider stores between runs. */
export const LDAP_STATE_KEYS = {
  users: "ldap.usersDigest",
  groups: "ldap.groupsDigest",
  settings: "ldap.settings",
} as const;

function fnv(text: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** An order-independent digest of a set of DNs: count and two 32-bit hash sums. */
export class DnDigest {
  #count = 0;
  #a = 0;
  #b = 0;

  /** Adds a DN as the directory gave it. */
  add(dn: string): void {
    let key: string;
    try {
      key = normalizeDn(dn);
    } catch {
      key = dn.toLowerCase();
    }
    this.addNormalized(key);
  }

  /** Adds a DN already in {@link normalizeDn} form (saves parsing it twice). */
  addNormalized(key: string): void {
    // Both hashes of `fnv` (seeds 0x811c9dc5 and 0x2f1a7c35) in one pass over the key: this
    // runs for every user and group of a read.
    let a = 0x811c9dc5;
    let b = 0x2f1a7c35;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193) >>> 0;
      b = Math.imul(b ^ c, 0x01000193) >>> 0;
    }
    this.#count++;
    this.#a = (this.#a + a) >>> 0;
    this.#b = (this.#b + b) >>> 0;
  }

  toString(): string {
    return `${this.#count}:${this.#a.toString(16)}:${this.#b.toString(16)}`;
  }
}

/** A fingerprint of the settings that decide what a read returns. */
export function settingsFingerprint(plan: ReadPlan): string {
  const s = plan.settings;
  return String(
    fnv(
      JSON.stringify([
        plan.rootPath,
        plan.connection.host,
        plan.connection.port,
        s.ad,
        s.userObjectClass,
        s.groupObjectClass,
        s.userEmailAttribute,
        s.groupNameAttribute,
        s.memberAttribute,
        s.useEmailPrefixSuffix,
        s.emailPrefixAttribute ?? null,
        s.emailSuffix ?? null,
        s.userPath ?? null,
        s.groupPath ?? null,
        s.userFilter ?? null,
        s.groupFilter ?? null,
      ]),
      0x811c9dc5,
    ),
  );
}

/** `YYYYMMDDHHMMSSZ` (UTC, whole seconds), the generalized time both OpenLDAP and AD accept. */
export function generalizedTime(date: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(date.getUTCFullYear(), 4)}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}` +
    `${p(date.getUTCHours())}${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}Z`;
}

/** The outcome of {@link checkChanges}. */
export interface ChangeCheck {
  changed: boolean;
  reason: string;
}

async function scanDigest(client: Client, spec: SearchSpec, plan: ReadPlan): Promise<string> {
  const digest = new DnDigest();
  for await (
    const page of search(client, { ...spec, attributes: ["1.1"] }, { plan, referrals: [] })
  ) {
    for (const raw of page) digest.add(raw.dn);
  }
  return digest.toString();
}

async function anyChangedSince(
  client: Client,
  spec: SearchSpec,
  attribute: string,
  since: Date,
  plan: ReadPlan,
): Promise<boolean> {
  const time = generalizedTime(new Date(since.getTime() - INCREMENTAL_SKEW_MS));
  const probe: SearchSpec = {
    ...spec,
    what: `changed ${spec.what}`,
    filter: `(&${spec.filter}(${attribute}>=${time}))`,
    attributes: ["1.1"],
  };
  try {
    const result = await searchOnce(client, {
      base: probe.base,
      filter: probe.filter,
      attributes: probe.attributes,
      sizeLimit: 1,
      timeLimit: plan.connection.timeLimit,
    });
    return result.entries.length > 0;
  } catch (error) {
    throw searchError(error, probe, 0, plan);
  }
}

/** Whether anything changed since the last read, and why (or why it cannot tell). */
export async function checkChanges(
  session: Session,
  plan: ReadPlan,
  options: ReadOptions,
): Promise<ChangeCheck> {
  const s = plan.settings;
  const state = options.state ?? {};
  const attribute = s.revisionDateAttribute;
  if (attribute === undefined) {
    return { changed: true, reason: "no sync.revisionDateAttribute is set" };
  }
  if (state[LDAP_STATE_KEYS.settings] !== settingsFingerprint(plan)) {
    return { changed: true, reason: "no state from an earlier read with these settings" };
  }
  const sides: { side: "users" | "groups"; spec: SearchSpec; since: Date | undefined }[] = [];
  if (options.users) {
    sides.push({
      side: "users",
      since: options.since?.users,
      spec: {
        what: "users",
        base: searchBase(plan.rootPath, s.userPath),
        baseSetting: "sync.userPath",
        filter: userSearchFilter(s),
        attributes: ["1.1"],
      },
    });
  }
  if (options.groups) {
    sides.push({
      side: "groups",
      since: options.since?.groups,
      spec: {
        what: "groups",
        base: searchBase(plan.rootPath, s.groupPath),
        baseSetting: "sync.groupPath",
        filter: groupSearchFilter(s),
        attributes: ["1.1"],
      },
    });
  }
  for (const { side, since } of sides) {
    if (since === undefined) return { changed: true, reason: `no last ${side} sync time` };
    if (state[LDAP_STATE_KEYS[side]] === undefined) {
      return { changed: true, reason: `no ${side} digest from an earlier read` };
    }
  }
  const client = await session.open();
  try {
    for (const { side, spec, since } of sides) {
      if (since === undefined) continue;
      if (await anyChangedSince(client, spec, attribute, since, plan)) {
        return {
          changed: true,
          reason: `${side} changed since ${since.toISOString()} (${attribute})`,
        };
      }
    }
    for (const { side, spec } of sides) {
      if (await scanDigest(client, spec, plan) !== state[LDAP_STATE_KEYS[side]]) {
        return { changed: true, reason: `${side} were added, renamed or removed` };
      }
    }
    return { changed: false, reason: "no changes" };
  } finally {
    await session.close(client);
  }
}
