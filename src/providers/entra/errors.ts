/**
 * Graph failures → roster's errors, for the Entra ID source.
 *
 * - A 403 `Authorization_RequestDenied` names the application permission the endpoint needs
 *   (`User.Read.All` for users and the recycle bin, `GroupMember.Read.All` for groups and
 *   members, `AdministrativeUnit.Read.All` for administrative units) and says to grant admin
 *   consent: a `DirectoryError` (exit 6) whenever it happens.
 * - A 401 after a fresh token: a `DirectoryError`.
 * - An unreadable `directory.entra.caFile`: a `ConfigError`.
 * - Anything else before the first page of data: a `DirectoryError` naming the endpoint; after
 *   it (a page that keeps failing, a truncated or unparsable page, a broken next link): a
 *   `SourceIncompleteError` (exit 5), never a short directory.
 * @module
 */

import { DirectoryError, RosterError, SourceIncompleteError } from "../../errors.ts";
import {
  apiErrorInfo,
  describeHttpError,
  HttpCaFileError,
  HttpError,
  HttpStatusError,
} from "../../http/mod.ts";
import { caFileError, lastAttemptError } from "../cloud/errors.ts";

/** The application permission an endpoint path (no query, after `/v1.0`) needs. */
export function permissionFor(path: string): string {
  if (/administrativeUnits/i.test(path)) return "AdministrativeUnit.Read.All";
  if (/^\/?(v1\.0\/)?groups|\$batch/i.test(path.replace(/^\/v1\.0/, ""))) {
    return "GroupMember.Read.All";
  }
  return "User.Read.All";
}

/** Whether an error is Graph's answer to an expired or unknown delta link. */
export function isDeltaExpired(error: unknown): boolean {
  const cause = lastAttemptError(error);
  if (!(cause instanceof HttpStatusError)) return false;
  if (cause.status === 410) return true;
  const code = apiErrorInfo(cause.body).code;
  return cause.status === 400 &&
    (code === "syncStateNotFound" || code === "resyncRequired" ||
      code === "Directory_ExpiredPageToken");
}

/** A 403 naming the permission to grant. */
export function permissionError(endpoint: string, detail: string): DirectoryError {
  const path = endpoint.replace(/^[A-Z]+ /, "");
  const permission = permissionFor(path);
  return new DirectoryError(
    `Graph refused ${endpoint}: ${detail}`,
    {
      hint: `Grant the app registration the Microsoft Graph application permission ${permission} ` +
        "(App registrations > <your app> > API permissions > Add a permission > Microsoft Graph > " +
        "Application permissions) and grant admin consent for the tenant",
      details: { endpoint, permission },
    },
  );
}

/**
 * Maps an error of a Graph call. `started`: whether any page of directory data was read
 * already (then a failure is a partial read).
 */
export function graphError(error: unknown, options: { started: boolean }): RosterError {
  if (error instanceof RosterError) return error;
  if (error instanceof HttpCaFileError) {
    return caFileError(error, "entra");
  }
  const last = lastAttemptError(error);
  if (last instanceof HttpStatusError && last.status === 403) {
    const info = apiErrorInfo(last.body);
    if (info.code === "Authorization_RequestDenied" || info.code === null) {
      return permissionError(last.endpoint, describeHttpError(last));
    }
  }
  if (last instanceof HttpStatusError && last.status === 401) {
    return new DirectoryError(`Graph refused the access token: ${describeHttpError(last)}`, {
      hint: "Check directory.entra.identityAuthority and directory.entra.graphUrl: the token " +
        "must be for the Graph host of the tenant's cloud",
      details: { endpoint: last.endpoint },
      cause: error,
    });
  }
  const endpoint = error instanceof HttpError
    ? error.endpoint
    : last instanceof HttpError
    ? last.endpoint
    : "Microsoft Graph";
  if (options.started) {
    return new SourceIncompleteError(
      `Directory read incomplete: ${describeHttpError(error)}`,
      {
        hint: "Nothing was sent. Run again; if it persists, check Microsoft Graph's service " +
          "health and the network path (proxy, directory.entra.caFile)",
        details: { endpoint },
        cause: error,
      },
    );
  }
  return new DirectoryError(`Cannot read Microsoft Graph: ${describeHttpError(error)}`, {
    hint: "Check directory.entra.graphUrl (or directory.entra.identityAuthority), the proxy " +
      "settings and directory.entra.caFile",
    details: { endpoint },
    cause: error,
  });
}
