/**
 * The Google Workspace source (`directory.type google`): users, groups and memberships from the
 * Admin SDK Directory API, read as a service account with domain-wide delegation that
 * impersonates `directory.google.adminUser`. This module is the source definition and the
 * provider; the read is in `./read.ts`, the settings and endpoints in `./settings.ts`, the
 * credential in `./key.ts` and `./token.ts`, the per-user quota pacing in `./quota.ts`, the
 * mapping in `./mapping.ts`, the filters in `./filter.ts`, the errors in `./errors.ts`.
 * @module
 */

import type { SourceDefinition } from "../registry.ts";
import type { DirectoryProvider, ProviderContext } from "../provider.ts";
import { parseGoogleFilter } from "./filter.ts";
import { checkServiceAccountKey, parseServiceAccountKey } from "./key.ts";
import { type GoogleReadTuning, readGoogle } from "./read.ts";
import { googleEndpoints, type GoogleSettings } from "./settings.ts";

export type { GoogleSettings } from "./settings.ts";
export type { GoogleReadTuning } from "./read.ts";

/**
 * Creates the Google Workspace provider.
 * @param context Its settings slice (`directory.google`, `sync`), the secret resolver, the log
 *   and the progress reporter.
 * @param tuning Concurrency, quota, retry bounds and clock (tests). @default production values
 */
export function createGoogleProvider(
  context: ProviderContext<GoogleSettings>,
  tuning: GoogleReadTuning = {},
): DirectoryProvider {
  return {
    name: "google",
    read: (options) => readGoogle(context, options, tuning),
  };
}

/**
 * The registry definition of `directory.type google` (`src/providers/registry.ts` wraps it with
 * `defineSource`; a type-only import keeps the two modules free of an import cycle).
 */
export const googleSource: SourceDefinition<GoogleSettings> = {
  type: "google",
  // clientEmail is required only with a bare PEM key: see missingSettings.
  requiredSettings: ["directory.google.adminUser", "directory.google.privateKey"],
  secretSettings: ["directory.google.privateKey"],
  settings: (config) => ({ google: config.directory.google, sync: config.sync }),
  create: (context) => createGoogleProvider(context),
  // The key is checked here, so that config validate names a secret that is not a key instead
  // of asking for clientEmail.
  missingSettings: async ({ google }, secret) => {
    const key = await secret("directory.google.privateKey");
    if (key === undefined) return [];
    if (google.clientEmail !== undefined) {
      parseServiceAccountKey(key, { clientEmail: google.clientEmail });
      return [];
    }
    return checkServiceAccountKey(key) ? ["directory.google.clientEmail"] : [];
  },
  filters: () => "engine",
  validateFilters: ({ sync }) => {
    parseGoogleFilter(sync.userFilter, "sync.userFilter");
    parseGoogleFilter(sync.groupFilter, "sync.groupFilter");
  },
  validateSettings: ({ google }) => void googleEndpoints(google),
  describeTarget: ({ google }) => {
    if (google.adminUser === undefined) return null;
    const where = google.domain ??
      (google.customer === "my_customer" ? "every domain" : `customer ${google.customer}`);
    return `Google Workspace as ${google.adminUser} (${where})`;
  },
};
