/**
 * The `onelogin` provider: users and roles of a OneLogin account, through the v2 API. This
 * module is the source definition and the provider; the read itself is `read.ts`.
 *
 * The folder, by job:
 *
 * | file             | job                                                                      |
 * | ---------------- | ------------------------------------------------------------------------ |
 * | `mod.ts`         | the provider and the source definition                                   |
 * | `read.ts`        | one read: counting calls, budget checks, roles, users and role members   |
 * | `settings.ts`    | the settings slice, the API base URL                                     |
 * | `token.ts`       | the access token, renewed before expiry                                  |
 * | `budget.ts`      | the hourly budget: estimate, gate on every call                          |
 * | `incremental.ts` | the delta read: when it is possible (counting calls), its state          |
 * | `mapping.ts`     | OneLogin objects to directory users and groups (bwdc's rules)            |
 * | `filter.ts`      | `sync.userFilter`/`groupFilter`: bwdc's sets and query parameters        |
 * | `errors.ts`      | failures to roster errors                                                |
 * @module
 */

import type { SourceDefinition } from "../registry.ts";
import type { DirectoryProvider, ProviderContext } from "../provider.ts";
import { validateOneLoginFilters } from "./filter.ts";
import { type OneLoginProviderOptions, readOneLogin } from "./read.ts";
import {
  describeOneLogin,
  ONELOGIN_SECRET_KEY,
  oneLoginBaseUrl,
  type OneLoginSettings,
} from "./settings.ts";

export type { OneLoginSettings } from "./settings.ts";
export type { OneLoginProviderOptions } from "./read.ts";

/** Creates the `onelogin` provider. */
export function createOneLoginProvider(
  context: ProviderContext<OneLoginSettings>,
  options: OneLoginProviderOptions = {},
): DirectoryProvider {
  return {
    name: "onelogin",
    read: (readOptions) => readOneLogin(context, readOptions, options),
  };
}

/** The `onelogin` source, for the registry. */
export const oneloginSource: SourceDefinition<OneLoginSettings> = {
  type: "onelogin",
  requiredSettings: ["directory.onelogin.clientId", ONELOGIN_SECRET_KEY],
  secretSettings: [ONELOGIN_SECRET_KEY],
  settings: (config) => ({ onelogin: config.directory.onelogin, sync: config.sync }),
  create: (context) => createOneLoginProvider(context),
  // bwdc's include:/exclude: sets are the engine's; the native part after | is sent by the
  // provider as query parameters, so neither side applies a part twice.
  filters: () => "engine",
  validateFilters: (settings) => validateOneLoginFilters(settings.sync),
  validateSettings: ({ onelogin }) => void oneLoginBaseUrl(onelogin),
  describeTarget: describeOneLogin,
  readsDeltas: true,
};
