/**
 * What Bitwarden's import endpoint (`POST /public/organization/import`) refuses, checked before
 * anything is sent, so that `test`, `plan` and `sync` all report the same objects:
 *
 * - a group name that is blank or longer than 100 characters (`[Required]`, `[StringLength(100)]`);
 * - a group or member externalId that is blank or longer than 300 characters (`[StringLength(300)]`);
 * - on Bitwarden's cloud without `largeImport`: more than 2000 non-deleted members, or more than
 *   2000 groups, in one request ("You cannot import this much data at once.").
 *
 * The server refuses the whole request (400) for any one of them, so one bad object stops the
 * sync. Lengths are in UTF-16 code units, as .NET counts them. Emails are checked earlier, when
 * they are normalised (`normalize.ts`): a user whose email the server would refuse is skipped.
 * Pure.
 * @module
 */

import type { CompactData } from "./compact.ts";
import type { ImportRequest } from "./types.ts";

/** Group names longer than this are refused by Bitwarden. */
export const MAX_GROUP_NAME = 100;
/** External ids longer than this are refused by Bitwarden. */
export const MAX_EXTERNAL_ID = 300;
/** Non-deleted members or groups per request the cloud accepts without `largeImport`. */
export const CLOUD_IMPORT_LIMIT = 2000;

/** Something the server would refuse, found before sending. */
export interface Refusal {
  /** Stable code. */
  code:
    | "too_many_members"
    | "too_many_groups"
    | "group_name_too_long"
    | "group_name_blank"
    | "external_id_too_long"
    | "external_id_blank"
    | "removal_guard";
  /** What it concerns: a group, a member, a request. */
  subject: string;
  /** In words, naming the object and the limit. */
  message: string;
}

function groupRefusals(group: { name: string; externalId: string }): Refusal[] {
  const refusals: Refusal[] = [];
  if (group.name.trim() === "") {
    refusals.push({
      code: "group_name_blank",
      subject: `group ${group.externalId}`,
      message: `group with externalId ${group.externalId} has a blank name; Bitwarden requires one`,
    });
  } else if (group.name.length > MAX_GROUP_NAME) {
    refusals.push({
      code: "group_name_too_long",
      subject: `group ${group.externalId}`,
      message:
        `group "${group.name}" (externalId ${group.externalId}) has a name of ${group.name.length} characters; Bitwarden accepts at most ${MAX_GROUP_NAME}`,
    });
  }
  if (group.externalId.trim() === "") {
    refusals.push({
      code: "external_id_blank",
      subject: `group ${group.name}`,
      message: `group "${group.name}" has a blank externalId; Bitwarden requires one`,
    });
  } else if (group.externalId.length > MAX_EXTERNAL_ID) {
    refusals.push({
      code: "external_id_too_long",
      subject: `group ${group.name}`,
      message:
        `group "${group.name}" has an externalId of ${group.externalId.length} characters; Bitwarden accepts at most ${MAX_EXTERNAL_ID}`,
    });
  }
  return refusals;
}

function memberRefusals(member: { email: string | null; externalId: string }): Refusal[] {
  const name = member.email ?? "(no email)";
  if (member.externalId.trim() === "") {
    return [{
      code: "external_id_blank",
      subject: `member ${name}`,
      message: `member ${name} has a blank externalId; Bitwarden requires one`,
    }];
  }
  if (member.externalId.length > MAX_EXTERNAL_ID) {
    return [{
      code: "external_id_too_long",
      subject: `member ${name}`,
      message:
        `member ${name} has an externalId of ${member.externalId.length} characters; Bitwarden accepts at most ${MAX_EXTERNAL_ID}`,
    }];
  }
  return [];
}

function sorted(refusals: Refusal[]): Refusal[] {
  return refusals.sort((a, b) =>
    a.code === b.code
      ? (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0)
      : a.code < b.code
      ? -1
      : 1
  );
}

/** Whether an externalId is refused: blank, or longer than {@link MAX_EXTERNAL_ID}. */
function refusedId(id: string): boolean {
  return id.length > MAX_EXTERNAL_ID || id.trim() === "";
}

/**
 * Every user and group of `data` the import would refuse (names and externalIds; the request
 * size limits depend on batching, see {@link preflight}). Sorted by code, then subject.
 */
export function compactRefusals(data: CompactData): Refusal[] {
  const refusals: Refusal[] = [];
  const { groups, users } = data;
  for (let g = 0; g < groups.name.length; g++) {
    const name = groups.name[g] ?? "";
    const externalId = groups.externalId[g] ?? "";
    if (name.length > MAX_GROUP_NAME || name.trim() === "" || refusedId(externalId)) {
      refusals.push(...groupRefusals({ name, externalId }));
    }
  }
  for (let i = 0; i < users.externalId.length; i++) {
    const externalId = users.externalId[i] ?? "";
    if (refusedId(externalId)) {
      refusals.push(...memberRefusals({ email: users.email[i] ?? null, externalId }));
    }
  }
  return sorted(refusals);
}

/**
 * Finds what the server would refuse in `requests`: every object {@link compactRefusals} names,
 * and on Bitwarden's cloud (`options.cloud`) a request without `largeImport` listing more than
 * {@link CLOUD_IMPORT_LIMIT} non-deleted members or groups. Sorted by code, then subject.
 */
export function preflight(
  requests: readonly ImportRequest[],
  options: { cloud: boolean },
): Refusal[] {
  const refusals: Refusal[] = [];
  requests.forEach((request, index) => {
    const where = requests.length === 1 ? "the request" : `request ${index + 1}`;
    if (options.cloud && !request.largeImport) {
      const active = request.members.filter((m) => !m.deleted).length;
      if (active > CLOUD_IMPORT_LIMIT) {
        refusals.push({
          code: "too_many_members",
          subject: where,
          message:
            `${where} lists ${active} non-deleted members; Bitwarden's cloud accepts at most ${CLOUD_IMPORT_LIMIT} without sync.largeImport`,
        });
      }
      if (request.groups.length > CLOUD_IMPORT_LIMIT) {
        refusals.push({
          code: "too_many_groups",
          subject: where,
          message:
            `${where} lists ${request.groups.length} groups; Bitwarden's cloud accepts at most ${CLOUD_IMPORT_LIMIT} without sync.largeImport`,
        });
      }
    }
    for (const group of request.groups) refusals.push(...groupRefusals(group));
    for (const member of request.members) refusals.push(...memberRefusals(member));
  });
  return sorted(refusals);
}
