/**
 * Maps the HTTP layer's errors to roster's errors for the `okta` source:
 * - the token refused (401 `E0000011`): `DirectoryError` (exit 6) naming `directory.okta.token`;
 * - the token's owner lacks the permission (403 `E0000006`): `DirectoryError` naming the admin
 *   role it needs (the read-only administrator role is enough to list users and groups);
 * - the CA file unreadable: `ConfigError` naming `directory.okta.caFile`;
 * - anything else before the first page of data (the org cannot be reached, retries ran out):
 *   `DirectoryError` naming the endpoint;
 * - anything else once data has been read (a page that fails after retries, a body cut short or
 *   unparsable, a paged read that cannot be followed): `SourceIncompleteError` (exit 5), so a
 *   short directory is never returned.
 * @module
 */

import { DirectoryError, type RosterError, SourceIncompleteError } from "../../errors.ts";
import {
  apiErrorInfo,
  describeHttpError,
  HttpCaFileError,
  HttpStatusError,
} from "../../http/mod.ts";
import { caFileError, lastAttemptError } from "../cloud/errors.ts";

/** The role an API token's owner needs to read users and groups. */
export const OKTA_ROLE_HINT =
  "the token's admin needs an Okta admin role that can read users and groups: Read-only " +
  "Administrator is enough (Security → Administrators → Add administrator), then create the " +
  "token as that admin (Security → API → Tokens)";

function statusError(error: unknown): HttpStatusError | null {
  const last = lastAttemptError(error);
  return last instanceof HttpStatusError ? last : null;
}

/**
 * The roster error for `error`, thrown while reading `what` (e.g. `users`, `members of group
 * Sales (00g…)`). `started`: whether any page of data was read before it.
 */
export function oktaError(
  error: unknown,
  options: { what: string; started: boolean; orgUrl: string },
): RosterError {
  if (error instanceof HttpCaFileError) {
    return caFileError(error, "okta");
  }
  const described = describeHttpError(error);
  const status = statusError(error);
  const code = status === null ? null : apiErrorInfo(status.body).code;
  if (status?.status === 401 || code === "E0000011") {
    return new DirectoryError(`Okta refused the API token: ${described}`, {
      hint: "Create an API token in the Okta Admin Console (Security → API → Tokens) and " +
        "set it with: roster config set directory.okta.token --secret-env OKTA_TOKEN; " +
        `check directory.okta.orgUrl (${options.orgUrl}) is the token's org`,
      code: "okta_token_refused",
      details: { setting: "directory.okta.token", oktaCode: code ?? "E0000011" },
    });
  }
  if (status?.status === 403 || code === "E0000006") {
    return new DirectoryError(`Okta denied reading ${options.what}: ${described}`, {
      hint: `The API token (directory.okta.token) lacks the permission: ${OKTA_ROLE_HINT}`,
      code: "okta_permission_denied",
      details: { setting: "directory.okta.token", oktaCode: code ?? "E0000006" },
    });
  }
  if (!options.started) {
    return new DirectoryError(`Cannot read ${options.what} from Okta: ${described}`, {
      hint: status?.status === 400
        ? "Okta refused the query: check the part after | in sync.userFilter and " +
          "sync.groupFilter"
        : `Check directory.okta.orgUrl (${options.orgUrl}), the network and any proxy, ` +
          "then run roster test again",
      code: "okta_unavailable",
      ...(code === null ? {} : { details: { oktaCode: code } }),
    });
  }
  return new SourceIncompleteError(
    `Okta read incomplete: reading ${options.what} failed: ${described}`,
    {
      hint: "Nothing was sent. Run again later; with --verbose the failing request is shown",
      details: { what: options.what },
    },
  );
}
