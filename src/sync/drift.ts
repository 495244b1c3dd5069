/**
 * Drift detection: has the organization moved away from what the last import made of it?
 *
 * The change hash only says the directory did not change. Members removed or unlinked by hand
 * in the Admin Console would stay wrong until a `clear-cache`. So when the hash is unchanged,
 * `sync` reads the member list (one request) and resends when it drifted.
 *
 * Drift is what replaying the requests against the member list would still change: a member
 * the requests keep that is missing (it would be invited), a member the requests remove that
 * is present (it would be removed), an unlinked member the requests would link. Members the
 * server skips (their email belongs to another externalId) are not drift: resending never
 * changes them. Group membership is not checked (it would cost a request per group). Pure.
 * @module
 */

import { createHash } from "node:crypto";
import { type ImportRequest, type OrgMember, type PlanMember, planSync } from "../engine/mod.ts";

/**
 * A digest of the organization's linked members: each member's externalId, lowercase email and
 * status, order-independent. It changes when a member is removed, unlinked, re-linked, added
 * with an externalId, or revoked or restored by hand; it ignores members without an externalId
 * (roster never manages those). An incremental read that finds no directory change compares it
 * with the one stored after the last sync, to know whether a drift check is needed.
 */
export function orgFingerprint(members: readonly OrgMember[]): string {
  const lines = members
    .filter((m) => m.externalId !== null && m.externalId.trim() !== "")
    .map((m) => `${m.externalId}\u0000${m.email.toLowerCase()}\u0000${m.status}`)
    .sort();
  const hash = createHash("sha256");
  for (const line of lines) hash.update(line + "\n");
  return `${lines.length}:${hash.digest("base64")}`;
}

/** What drifted, each list sorted by email then externalId. */
export interface Drift {
  /** Whether anything drifted. */
  drifted: boolean;
  /** Members the requests keep that are not in the organization. */
  missing: PlanMember[];
  /** Members the requests remove that are still in the organization. */
  present: PlanMember[];
  /** Unlinked members the requests would link by email. */
  unlinked: PlanMember[];
}

/** Compares the requests with the organization's member list. */
export function detectDrift(requests: ImportRequest[], members: readonly OrgMember[]): Drift {
  const plan = planSync(requests, { members: [...members], groups: [] });
  const missing = plan.invite;
  const present = plan.remove.map(({ id, email, externalId }) => ({ id, email, externalId }));
  const unlinked = plan.link;
  return {
    drifted: missing.length + present.length + unlinked.length > 0,
    missing,
    present,
    unlinked,
  };
}

/** One line describing a drift, e.g. `2 missing (a@x, b@x), 1 unlinked (c@x)`. */
export function describeDrift(drift: Drift, options: { limit?: number } = {}): string {
  const limit = options.limit ?? 5;
  const part = (label: string, list: PlanMember[]): string | null => {
    if (list.length === 0) return null;
    const names = list.slice(0, limit).map((m) => m.email ?? m.externalId ?? "?");
    const more = list.length > limit ? `, and ${list.length - limit} more` : "";
    return `${list.length} ${label} (${names.join(", ")}${more})`;
  };
  return [
    part("missing", drift.missing),
    part("still present though removed", drift.present),
    part("unlinked", drift.unlinked),
  ].filter((p): p is string => p !== null).join(", ");
}
