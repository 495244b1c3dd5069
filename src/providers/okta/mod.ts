/**
 * The `okta` source: users, groups and memberships from the Okta Management API with an API
 * token (`SSWS`). This module is the source definition and the provider; the read, full and
 * delta, is `./read.ts`, the delta state `./state.ts`, the settings `./settings.ts`, the
 * mapping `./mapping.ts`, the filters `./filter.ts` and the errors `./errors.ts`.
 * @module
 */

import type { DirectoryProvider, ProviderContext } from "../provider.ts";
import type { SourceDefinition } from "../registry.ts";
import { type OktaProviderOptions, readOkta } from "./read.ts";
import { OKTA_TOKEN_KEY, oktaBaseUrl, oktaFilters, type OktaSettings } from "./settings.ts";

export { OKTA_TOKEN_KEY, type OktaSettings } from "./settings.ts";
export type { OktaProviderOptions } from "./read.ts";

/**
 * Creates the `okta` provider. Its reads throw:
 * - `ConfigError` (exit 2) for a bad `directory.okta.orgUrl`, a missing token, a malformed
 *   filter (before any request) or an unreadable `directory.okta.caFile`;
 * - `DirectoryError` (exit 6) when Okta refuses the token (401 E0000011), the token's admin
 *   lacks the role (403 E0000006), or the org cannot be read before any data arrived;
 * - `SourceIncompleteError` (exit 5) when a page fails after retries, is cut short or cannot
 *   be parsed once the read has begun;
 * - `DirectoryDataError` (exit 7) for an object without an id.
 */
export function createOktaProvider(
  context: ProviderContext<OktaSettings>,
  options: OktaProviderOptions = {},
): DirectoryProvider {
  return { name: "okta", read: (read) => readOkta(context, read, options) };
}

/** The `okta` source's registry definition (`defineSource(oktaSource)` in the registry). */
export const oktaSource: SourceDefinition<OktaSettings> = {
  type: "okta",
  requiredSettings: ["directory.okta.orgUrl", OKTA_TOKEN_KEY],
  secretSettings: [OKTA_TOKEN_KEY],
  settings: (config) => ({ okta: config.directory.okta, sync: config.sync }),
  create: (context) => createOktaProvider(context),
  filters: () => "engine",
  validateFilters: (settings) => void oktaFilters(settings.sync),
  validateSettings: ({ okta }) => {
    if (okta.orgUrl !== undefined) oktaBaseUrl(okta.orgUrl);
  },
  describeTarget: ({ okta }) => okta.orgUrl ?? null,
  readsDeltas: true,
};
