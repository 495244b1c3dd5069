/**
 * Import request building for `POST /public/organization/import`, exactly as the Bitwarden
 * Directory Connector (bwdc) does it, so that the change hash stays compatible.
 * @module
 */

import { ConfigError } from "../errors.ts";
import type { ImportGroup, ImportMember, ImportRequest, SyncData } from "./types.ts";

/** Users or groups per request in a large import (bwdc's `batchSize`). */
export const BATCH_SIZE = 2000;

/** How the requests are built (the `sync.*` settings of the same names). */
export interface ImportOptions {
  /** Remove every linked member the request does not list. Incompatible with batches. */
  overwriteExisting: boolean;
  /** Split more than {@link BATCH_SIZE} users plus groups into batches. */
  largeImport: boolean;
  /** Send disabled users as removals (`deleted: true`). */
  removeDisabled: boolean;
  /** Invite new members at once (`false` stages them on servers that support it). */
  inviteUsersAfterProvisioning: boolean;
}

function toMembers(data: SyncData, removeDisabled: boolean): ImportMember[] {
  return data.users.map((u) => ({
    email: u.email,
    externalId: u.externalId,
    deleted: u.deleted || (removeDisabled && u.disabled),
  }));
}

function toGroups(data: SyncData): ImportGroup[] {
  return data.groups.map((g) => ({
    name: g.name,
    externalId: g.externalId,
    memberExternalIds: [...g.memberExternalIds],
  }));
}

/**
 * Builds the import requests: none when there is nothing to send and `overwriteExisting` is
 * off; one request unless `largeImport` is on and users plus groups exceed {@link BATCH_SIZE};
 * otherwise user chunks first, then group chunks.
 * @throws {ConfigError} when batches would be needed with `overwriteExisting` on.
 */
export function buildImportRequests(data: SyncData, options: ImportOptions): ImportRequest[] {
  const members = toMembers(data, options.removeDisabled);
  const groups = toGroups(data);
  const invite = options.inviteUsersAfterProvisioning;
  if (options.largeImport && members.length + groups.length > BATCH_SIZE) {
    if (options.overwriteExisting) {
      throw new ConfigError(
        `Cannot combine sync.overwriteExisting with a large import: ${members.length} users and ${groups.length} groups are sent in batches of ${BATCH_SIZE}, and the server would remove every member a batch does not list, so each batch would remove the members of the others`,
        {
          hint:
            "Turn off sync.overwriteExisting (roster config sync.overwriteExisting false) or sync.largeImport",
          details: { users: members.length, groups: groups.length, batchSize: BATCH_SIZE },
        },
      );
    }
    const requests: ImportRequest[] = [];
    for (let i = 0; i < members.length; i += BATCH_SIZE) {
      requests.push({
        groups: [],
        members: members.slice(i, i + BATCH_SIZE),
        overwriteExisting: false,
        largeImport: true,
        inviteUsersAfterProvisioning: invite,
      });
    }
    for (let i = 0; i < groups.length; i += BATCH_SIZE) {
      requests.push({
        groups: groups.slice(i, i + BATCH_SIZE),
        members: [],
        overwriteExisting: false,
        largeImport: true,
        inviteUsersAfterProvisioning: invite,
      });
    }
    return requests;
  }
  if (members.length === 0 && groups.length === 0 && !options.overwriteExisting) return [];
  return [{
    groups,
    members,
    overwriteExisting: options.overwriteExisting,
    largeImport: false,
    inviteUsersAfterProvisioning: invite,
  }];
}
