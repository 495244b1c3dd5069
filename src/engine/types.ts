/**
 * The data model shared by providers and the engine.
 *
 * Providers turn their directory into {@link DirectoryUser} and {@link DirectoryGroup} records;
 * the engine turns those into what a sync sends. Nothing here does I/O.
 * @module
 */

/** A user as a directory provider reports it, before normalisation. */
export interface DirectoryUser {
  /** Where the user came from: a DN, or the provider's native id. Shown in reports. */
  referenceId: string;
  /** The id sent to Bitwarden (`externalId`): DN, objectGUID, or the provider's id. */
  externalId: string;
  /** The raw email as read (not yet trimmed or lowercased), or null when there is none. */
  email: string | null;
  /** The account is disabled (AD userAccountControl bit 2, suspended, …). */
  disabled: boolean;
  /** The account is deleted (AD Deleted Objects, Okta DEPROVISIONED, …). */
  deleted: boolean;
  /**
   * Keys by which groups may reference this user in {@link DirectoryGroup.memberRefs}.
   * Providers produce them already canonical (e.g. LDAP: normalised lowercase DN, and
   * `uid:<lowercase uid>`). When absent, the user is referenced by `referenceId` only.
   */
  refs?: readonly string[];
}

/** A group as a directory provider reports it. */
export interface DirectoryGroup {
  /** Where the group came from: a DN, or the provider's native id. */
  referenceId: string;
  /** The id sent to Bitwarden. */
  externalId: string;
  /** Display name sent to Bitwarden. */
  name: string;
  /**
   * Member references, in directory order: each matches a user's `refs` (a user member) or a
   * group's `refs` (a nested group). Anything else is reported as unresolved, never guessed.
   */
  memberRefs: readonly string[];
  /** Keys by which other groups reference this group; defaults to `[referenceId]`. */
  refs?: readonly string[];
}

/** An object the directory returned that will not be synced, and why. */
export interface SkippedEntry {
  /** DN or native id of the object. */
  referenceId: string;
  /** What kind of object it is. */
  kind: "user" | "group";
  /** Why it is skipped, in words an admin understands (e.g. `no email address`). */
  reason: string;
}

/** Everything a provider read, gathered from its pages. */
export interface DirectorySnapshot {
  /** Users, in directory order. */
  users: DirectoryUser[];
  /** Groups, in directory order. */
  groups: DirectoryGroup[];
  /** Objects the provider itself could not map. */
  skipped: SkippedEntry[];
}

/** A user the sync will send, after normalisation, filtering and de-duplication. */
export interface SyncUser {
  /** DN or native id, for reports. */
  referenceId: string;
  /** The id sent to Bitwarden. */
  externalId: string;
  /** Trimmed, lowercased email. Null only for a deleted user whose tombstone has no email. */
  email: string | null;
  disabled: boolean;
  deleted: boolean;
}

/** A group the sync will send, with its nested memberships flattened. */
export interface SyncGroup {
  referenceId: string;
  externalId: string;
  name: string;
  /** Flattened user members (transitive), directory order, no duplicates. */
  memberExternalIds: string[];
}

/** A group member reference that matched no synced user or group. */
export interface UnresolvedMember {
  /** The group that lists it. */
  groupReferenceId: string;
  /** The reference as the directory gave it (canonical form). */
  memberRef: string;
}

/** What the engine makes of a snapshot: the users and groups a sync would send. */
export interface SyncData {
  /** Users in directory order. Empty when `sync.users` is off. */
  users: SyncUser[];
  /** Groups in directory order. Empty when `sync.groups` is off. */
  groups: SyncGroup[];
  /** Users and groups left out, with the reason. */
  skipped: SkippedEntry[];
  /** Member references that matched nothing synced. */
  unresolved: UnresolvedMember[];
}

/** A member in an import request (`POST /public/organization/import`). Key order matters for the hash. */
export interface ImportMember {
  email: string | null;
  externalId: string;
  deleted: boolean;
}

/** A group in an import request. Key order matters for the hash. */
export interface ImportGroup {
  name: string;
  externalId: string;
  memberExternalIds: string[];
}

/** One `POST /public/organization/import` body. Key order matters for the hash. */
export interface ImportRequest {
  groups: ImportGroup[];
  members: ImportMember[];
  overwriteExisting: boolean;
  largeImport: boolean;
  inviteUsersAfterProvisioning: boolean;
}
