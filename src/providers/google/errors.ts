/**
 * What the Google Workspace source's failures mean, as roster errors that name the fix.
 *
 * - Refusals of the credentials or the delegation, before or during the read, are
 *   {@link DirectoryError} (exit 6): nothing can be read until an admin changes something.
 *   Token endpoint: `unauthorized_client` (the client id is not authorised for domain-wide
 *   delegation, or not for every scope asked), `invalid_grant` "Invalid email or User ID" (the
 *   admin user does not exist), other `invalid_grant`s (a key that is not the account's, a clock
 *   that is off). Directory API: 403 `forbidden` "Not Authorized to access this resource/api"
 *   (the impersonated user is no administrator, or the customer / domain is not its account's),
 *   403 `insufficientPermissions` (a scope missing from the token), 401 (a token refused twice).
 * - A 400 on the first page of a listing with a native query is Google refusing the query:
 *   {@link ConfigError} naming the filter setting.
 * - Any other failure before the first page of data (unreachable, retries spent) is a
 *   {@link DirectoryError} naming the endpoint; after it, a {@link SourceIncompleteError}
 *   (exit 5): nothing is sent on a partial read.
 * @module
 */

import { ConfigError, DirectoryError, RosterError, SourceIncompleteError } from "../../errors.ts";
import {
  apiErrorInfo,
  describeHttpError,
  HttpCaFileError,
  HttpNetworkError,
  HttpStatusError,
  PagingError,
  RetryExhaustedError,
} from "../../http/mod.ts";
import { caFileError, lastAttemptError } from "../cloud/errors.ts";
import { GOOGLE_SCOPES, GoogleTokenError } from "./token.ts";

/** Who roster signs in as: for the hints. */
export interface GoogleIdentity {
  /** The service account's email. */
  clientEmail: string;
  /** The OAuth client id (from the JSON key file), or null when unknown. */
  clientId: string | null;
  /** `directory.google.adminUser`. */
  subject: string;
}

/** What a listing was doing when it failed. */
export interface FailureContext {
  identity: GoogleIdentity;
  /** `users`, `deleted users`, `groups` or `members of <group>`. */
  listing: string;
  /** The scope the listing needs. */
  scope: string;
  /** True once any page of directory data was read. */
  started: boolean;
  /** True when the failing request carried a page token (a later page of its listing). */
  laterPage: boolean;
  /** The filter setting whose native query the listing sent, if any. */
  query?: { setting: "sync.userFilter" | "sync.groupFilter"; text: string };
}

const CONSOLE_PATH =
  "the Google Admin console (admin.google.com): Security > Access and data control > " +
  "API controls > Domain-wide delegation";

/** The Admin-console instruction for domain-wide delegation. */
export function delegationHint(identity: GoogleIdentity): string {
  const client = identity.clientId === null
    ? `the client ID of ${identity.clientEmail} (Google Cloud console: IAM & Admin > Service ` +
      "accounts > the account > Details > Unique ID; or set the whole JSON key file with " +
      "roster config set directory.google.privateKey --secret-file key.json, which names it)"
    : `client ID ${identity.clientId} (service account ${identity.clientEmail})`;
  return `In ${CONSOLE_PATH}, add or edit ${client} with exactly these OAuth scopes: ${
    GOOGLE_SCOPES.join(",")
  }`;
}

function adminHint(identity: GoogleIdentity): string {
  return `Set directory.google.adminUser to a super administrator's email (it is ${identity.subject}), ` +
    "or give that user an admin role with the Users > Read and Groups > Read privileges " +
    "(Admin console: Account > Admin roles); and check that directory.google.customer and " +
    "directory.google.domain name that administrator's own account";
}

/** Maps a failure of the token endpoint. */
export function tokenFailure(error: GoogleTokenError, identity: GoogleIdentity): RosterError {
  const cause = error.cause;
  const last = lastAttemptError(cause);
  const where = `Google token endpoint ${error.url}`;
  if (last instanceof HttpCaFileError) return caFileError(last, "google");
  if (last instanceof HttpStatusError) {
    const info = apiErrorInfo(last.body);
    const detail = describeHttpError(cause);
    const description = info.message ?? "";
    if (info.code === "unauthorized_client") {
      return new DirectoryError(
        `Google refused domain-wide delegation for ${identity.clientEmail}: ${detail}`,
        {
          code: "google_delegation",
          hint: delegationHint(identity),
          details: { endpoint: error.url, clientEmail: identity.clientEmail },
        },
      );
    }
    if (info.code === "invalid_grant" && /email or user id/i.test(description)) {
      return new DirectoryError(
        `Google does not know the admin user ${identity.subject}: ${detail}`,
        {
          code: "google_admin_user",
          hint: "Set directory.google.adminUser to the primary email of an active administrator " +
            "of the Google Workspace account",
          details: { endpoint: error.url, setting: "directory.google.adminUser" },
        },
      );
    }
    if (info.code === "invalid_grant" && /short-lived|timeframe|iat|exp/i.test(description)) {
      return new DirectoryError(`Google refused the signed token request: ${detail}`, {
        code: "google_clock",
        hint: "The system clock is off: synchronise it (NTP) and run again",
        details: { endpoint: error.url },
      });
    }
    if (info.code === "invalid_grant" || info.code === "invalid_client") {
      return new DirectoryError(
        `Google refused the key of service account ${identity.clientEmail}: ${detail}`,
        {
          code: "google_key",
          hint: "The key is not (or no longer) a key of that service account: create a JSON key " +
            "(Google Cloud console: IAM & Admin > Service accounts > Keys > Add key > JSON) and " +
            "set it with roster config set directory.google.privateKey --secret-file key.json",
          details: { endpoint: error.url },
        },
      );
    }
    return new DirectoryError(`Cannot get a Google access token from ${where}: ${detail}`, {
      hint: "Check directory.google.tokenUrl (unset it for Google's own endpoint)",
      details: { endpoint: error.url, status: last.status },
    });
  }
  const detail = cause === null ? error.message : describeHttpError(cause);
  return new DirectoryError(`Cannot get a Google access token from ${where}: ${detail}`, {
    hint: last instanceof HttpNetworkError
      ? "Check the network, the proxy settings (HTTPS_PROXY, NO_PROXY) and directory.google.tokenUrl"
      : "Check directory.google.tokenUrl (unset it for Google's own endpoint)",
    details: { endpoint: error.url },
  });
}

/** Maps a failure of a Directory API listing (or of the token fetched for it). */
export function apiFailure(error: unknown, context: FailureContext): RosterError {
  if (error instanceof RosterError) return error;
  if (error instanceof GoogleTokenError) return tokenFailure(error, context.identity);
  if (error instanceof HttpCaFileError) return caFileError(error, "google");
  const last = lastAttemptError(error);
  if (last instanceof HttpCaFileError) return caFileError(last, "google");
  const detail = describeHttpError(error);
  const retriesSpent = error instanceof RetryExhaustedError;
  if (last instanceof HttpStatusError && !retriesSpent) {
    const reason = apiErrorInfo(last.body).code;
    if (last.status === 403 && reason === "insufficientPermissions") {
      return new DirectoryError(
        `Google refused to list ${context.listing}: the token lacks the scope ${context.scope}: ${detail}`,
        {
          code: "google_scope",
          hint: delegationHint(context.identity),
          details: { scope: context.scope },
        },
      );
    }
    if (last.status === 403) {
      return new DirectoryError(
        `Google refused to list ${context.listing} as ${context.identity.subject}: ${detail}`,
        { code: "google_forbidden", hint: adminHint(context.identity) },
      );
    }
    if (last.status === 401) {
      return new DirectoryError(
        `Google refused the access token for ${context.identity.subject}: ${detail}`,
        { code: "google_token_refused", hint: delegationHint(context.identity) },
      );
    }
    if (last.status === 400 && context.query !== undefined && !context.laterPage) {
      const { setting, text } = context.query;
      return new ConfigError(`Google refused the query of ${setting} "${text}": ${detail}`, {
        hint: `Change the part of ${setting} after | to Google's search syntax (e.g. ${
          setting === "sync.userFilter" ? "orgUnitPath='/Sales' isSuspended=false" : "email:team*"
        }), or remove it`,
        details: { setting, clause: text },
      });
    }
    if ((last.status === 400 || last.status === 404) && !context.started) {
      return new DirectoryError(`Cannot list Google ${context.listing}: ${detail}`, {
        hint: "Check directory.google.customer, directory.google.domain and " +
          "directory.google.apiUrl (unset it for Google's own endpoint)",
      });
    }
  }
  if (context.started || (error instanceof PagingError && error.pages > 0)) {
    return new SourceIncompleteError(
      `Google directory read incomplete: listing ${context.listing} failed: ${detail}`,
      {
        hint: "Nothing was sent. Run again later; if it keeps failing, run with --verbose to see " +
          "the failing request",
        details: { listing: context.listing },
      },
    );
  }
  return new DirectoryError(`Cannot read the Google directory: ${detail}`, {
    hint: last instanceof HttpNetworkError
      ? "Check the network, the proxy settings (HTTPS_PROXY, NO_PROXY) and directory.google.apiUrl"
      : "Google kept failing or throttling: run again later",
    details: { listing: context.listing },
  });
}
