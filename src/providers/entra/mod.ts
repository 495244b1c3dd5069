/**
 * The `entra` source: Microsoft Entra ID through Microsoft Graph v1.0. This module is the
 * source definition and the provider; a read starts in `read.ts`.
 *
 * The folder, by job:
 *
 * | file                | job                                                                   |
 * | ------------------- | --------------------------------------------------------------------- |
 * | `mod.ts`            | the source definition and the provider                                |
 * | `settings.ts`       | the settings slice                                                    |
 * | `read.ts`           | one read: settings check, credential choice, then delta or full read  |
 * | `full_read.ts`      | the full read: users, the recycle bin, groups with their members      |
 * | `delta_read.ts`     | the delta read (`users/delta`, `groups/delta`) and fresh delta links  |
 * | `members.ts`        | whole member lists of groups, through `$batch`                        |
 * | `batch.ts`          | Graph `$batch`: up to 20 requests a batch, several batches in flight  |
 * | `graph.ts`          | one read's Graph client: token, paced session, listings, progress     |
 * | `hosts.ts`          | the national clouds' hosts and the endpoint URL settings              |
 * | `token.ts`          | the access token: client secret or certificate                        |
 * | `mapping.ts`        | Graph objects to directory users and groups (bwdc's rules)            |
 * | `filter.ts`         | `sync.userFilter`/`groupFilter`: parsing, who applies them, checks    |
 * | `filter_members.ts` | group and administrative-unit members for provider-side filters       |
 * | `errors.ts`         | Graph failures to roster errors                                       |
 * @module
 */

import type { DirectoryProvider, ProviderContext } from "../provider.ts";
import type { SourceDefinition } from "../registry.ts";
import { entraFilterHandling, validateEntraFilters } from "./filter.ts";
import type { EntraProviderOptions } from "./graph.ts";
import { readEntra } from "./read.ts";
import { entraEndpoints } from "./hosts.ts";
import type { EntraSettings } from "./settings.ts";

export type { EntraSettings } from "./settings.ts";
export type { EntraProviderOptions } from "./graph.ts";

/** The registry descriptor of the `entra` source. */
export const entraSource: SourceDefinition<EntraSettings> = {
  type: "entra",
  requiredSettings: ["directory.entra.tenant", "directory.entra.applicationId"],
  secretSettings: ["directory.entra.key"],
  settings: (config) => ({ entra: config.directory.entra, sync: config.sync }),
  create: (context) => createEntraProvider(context),
  // The client secret, unless a certificate credential (certificatePath) takes its place.
  missingSettings: async ({ entra }, secret) =>
    entra.certificatePath !== undefined || await secret("directory.entra.key") !== undefined
      ? []
      : ["directory.entra.key"],
  filters: (settings) => entraFilterHandling(settings.sync),
  validateFilters: (settings) => validateEntraFilters(settings.sync),
  // The endpoint URLs; an unset tenant is reported by requiredSettings, so a stand-in is used.
  validateSettings: ({ entra }) =>
    void entraEndpoints({ ...entra, tenant: entra.tenant ?? "organizations" }),
  describeTarget: ({ entra }) =>
    entra.tenant === undefined ? null : `${entra.tenant} (${entra.identityAuthority})`,
  readsDeltas: true,
};

/**
 * Makes the Entra provider. Nothing is requested before {@link DirectoryProvider.read}.
 * Reads throw `ConfigError` (exit 2) for settings and filters, `DirectoryError` (exit 6) when
 * the token or the first Graph call is refused (naming the setting or permission to fix),
 * `SourceIncompleteError` (exit 5) for any failure once data has been read.
 */
export function createEntraProvider(
  context: ProviderContext<EntraSettings>,
  options: EntraProviderOptions = {},
): DirectoryProvider {
  return { name: "entra", read: (readOptions) => readEntra(context, options, readOptions) };
}
