/**
 * Users as parallel columns, the form the compact engine keeps them in: one entry per user in
 * each column, by user index, instead of one object per user.
 * @module
 */

/** Bit of a user's flags: the user is disabled. */
export const USER_DISABLED = 1;
/** Bit of a user's flags: the user is deleted. */
export const USER_DELETED = 2;

/** The fields de-duplication reads, as columns by user index. */
export interface UserFields {
  /** DN or native id, for reports. */
  referenceId: readonly string[];
  /** The id sent to Bitwarden. */
  externalId: readonly string[];
  /** {@link USER_DISABLED} and {@link USER_DELETED} bits (other bits are ignored). */
  flags: Uint8Array;
}
