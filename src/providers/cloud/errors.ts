/**
 * Error mapping every cloud source (Entra ID, Google Workspace, Okta, OneLogin) shares. Each
 * source keeps its own mapping of API answers (its wording, its hints); what is the same for all
 * of them is here:
 * - an unusable `directory.<type>.caFile` is a `ConfigError` naming that setting;
 * - after retries ran out, the answer to map is the last attempt's error.
 * The rule they all follow: a failure before any page of data is a `DirectoryError` (exit 6),
 * one after it a `SourceIncompleteError` (exit 5), so a short directory is never synced.
 * @module
 */

import type { DirectoryType } from "../../config/schema.ts";
import { ConfigError } from "../../errors.ts";
import { type HttpCaFileError, RetryExhaustedError } from "../../http/mod.ts";

/**
 * The `ConfigError` for a CA file (`directory.<type>.caFile`) that cannot be read or holds no
 * certificate: names the setting and the path (`details.setting`, `details.path`).
 */
export function caFileError(error: HttpCaFileError, type: DirectoryType): ConfigError {
  const setting = `directory.${type}.caFile`;
  return new ConfigError(`Cannot use ${setting}: ${error.message}`, {
    hint: `Set ${setting} to a readable PEM file of CA certificates, or unset it`,
    details: { setting, path: error.path },
    cause: error,
  });
}

/** The last attempt's error when `error` is a {@link RetryExhaustedError}, else `error`. */
export function lastAttemptError(error: unknown): unknown {
  return error instanceof RetryExhaustedError ? error.lastError : error;
}
