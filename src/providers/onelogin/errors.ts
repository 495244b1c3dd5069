/**
 * OneLogin failures to roster errors.
 *
 * - Before any data was read (the budget check, the counting calls): `DirectoryError`, exit 6,
 *   naming the endpoint and the fix: the API credential's scope for a 401 that a fresh token
 *   does not cure (or a 403), the API base for a 404, the reset time for a spent budget.
 * - Once the read has begun: `SourceIncompleteError`, exit 5, whatever failed (a page that
 *   kept failing, a truncated or unparsable page, the budget spent by another client, a token
 *   that could not be renewed). Nothing is synced.
 * @module
 */

import {
  ConfigError,
  DirectoryDataError,
  DirectoryError,
  RosterError,
  SourceIncompleteError,
} from "../../errors.ts";
import { describeHttpError, HttpCaFileError, HttpStatusError } from "../../http/mod.ts";
import { caFileError, lastAttemptError } from "../cloud/errors.ts";
import { BudgetExhaustedError, formatIn, formatReset } from "./budget.ts";
import { ONELOGIN_CREDENTIAL_PLACE } from "./token.ts";

/** The scopes of a OneLogin API credential that may read users and roles. */
export const ONELOGIN_READ_SCOPES = "Read users (or Manage users, Read All, Manage All)";

/** The hint for a credential whose scope cannot read users and roles. */
export const SCOPE_HINT = `The API credential needs the ${ONELOGIN_READ_SCOPES} scope; ` +
  `"Authentication Only" cannot list users or roles. In the ${ONELOGIN_CREDENTIAL_PLACE}, ` +
  "create a credential with Read users and set directory.onelogin.clientId and " +
  "directory.onelogin.clientSecret to it";

/** The budget message: what the read needs, what is left, when it resets. */
export function budgetError(
  detail: { needed: number | null; remaining: number; limit: number; resetAt: number },
  now: number,
): DirectoryError {
  const needs = detail.needed === null ? "" : `it needs about ${detail.needed} API calls and `;
  return new DirectoryError(
    `OneLogin's hourly API budget cannot cover this read: ${needs}${detail.remaining} of ` +
      `${detail.limit} are left until the reset at ${formatReset(detail.resetAt)} (in ${
        formatIn(detail.resetAt, now)
      })`,
    {
      code: "directory_rate_limit",
      hint:
        `Nothing was read or sent. Run again after ${
          formatReset(detail.resetAt)
        }, or set directory.onelogin.waitForRateLimit true to wait for the reset; other ` +
        "integrations of the OneLogin account share the same budget",
      details: { ...detail, resetAt: new Date(detail.resetAt).toISOString() },
    },
  );
}

/**
 * Maps an error of a OneLogin read to a roster error.
 *
 * @param started whether any data (a page of a listing) was read already
 * @param now the current time, ms (for the reset time)
 */
export function oneLoginError(error: unknown, started: boolean, now: number): RosterError {
  if (error instanceof HttpCaFileError) {
    return caFileError(error, "onelogin");
  }
  if (error instanceof ConfigError) return error;
  if (error instanceof BudgetExhaustedError) {
    const { state } = error;
    if (!started) {
      return budgetError(
        { needed: null, remaining: state.remaining, limit: state.limit, resetAt: state.resetAt },
        now,
      );
    }
    return new SourceIncompleteError(
      `OneLogin read incomplete: the hourly API budget ran out mid-read (another client of the ` +
        `account may be spending it); it resets at ${formatReset(state.resetAt)} (in ${
          formatIn(state.resetAt, now)
        })`,
      {
        hint: "Nothing was sent. Run again after the reset, or set " +
          "directory.onelogin.waitForRateLimit true to wait for it",
        details: { resetAt: new Date(state.resetAt).toISOString(), limit: state.limit },
        cause: error,
      },
    );
  }
  if (started) {
    const detail = error instanceof RosterError ? error.message : describeHttpError(error);
    return new SourceIncompleteError(`OneLogin read incomplete: ${detail}`, {
      hint: error instanceof RosterError && error.hint !== undefined
        ? `Nothing was sent. ${error.hint}`
        : "Nothing was sent. Run again; with --verbose the failing request is shown",
      cause: error,
    });
  }
  if (error instanceof RosterError) return error;
  const last = lastAttemptError(error);
  if (last instanceof HttpStatusError && (last.status === 401 || last.status === 403)) {
    return new DirectoryError(
      `OneLogin refused to list users with this API credential: ${describeHttpError(error)}`,
      {
        code: "directory_auth",
        hint: SCOPE_HINT,
        details: { endpoint: last.endpoint, status: last.status, scope: ONELOGIN_READ_SCOPES },
        cause: error,
      },
    );
  }
  if (last instanceof HttpStatusError && last.status === 404) {
    return new DirectoryError(`OneLogin API not found: ${describeHttpError(error)}`, {
      hint: "Check directory.onelogin.subdomain (or region, or apiUrl): it must be the OneLogin " +
        "API base, e.g. https://acme.onelogin.com",
      details: { endpoint: last.endpoint, status: 404 },
      cause: error,
    });
  }
  if (error instanceof DirectoryDataError) return error;
  return new DirectoryError(`Cannot read OneLogin: ${describeHttpError(error)}`, {
    hint: "Check directory.onelogin.subdomain (or region, or apiUrl), the network and any " +
      "proxy; OneLogin may be unavailable: run again later",
    cause: error,
  });
}
