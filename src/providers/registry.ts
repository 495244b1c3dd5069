/**
 * The provider registry: one explicit table from `directory.type` to the factory that reads
 * it. Adding a source means adding one line here (no discovery).
 * @module
 */

import { DIRECTORY_TYPES, type DirectoryType } from "../config/schema.ts";
import { ConfigError } from "../errors.ts";
import { createFileProvider } from "./file.ts";
import { createLdapProvider } from "./ldap.ts";
import type { DirectoryProvider, ProviderContext, ProviderFactory } from "./provider.ts";

/** Every directory type and its factory; `undefined` means not supported yet. */
export const PROVIDERS: Readonly<Record<DirectoryType, ProviderFactory | undefined>> = {
  ldap: createLdapProvider,
  entra: undefined,
  google: undefined,
  okta: undefined,
  onelogin: undefined,
  file: createFileProvider,
};

/** The directory types roster can read today. */
export const SUPPORTED_TYPES: readonly DirectoryType[] = DIRECTORY_TYPES.filter((type) =>
  PROVIDERS[type] !== undefined
);

/**
 * Creates the provider for `context.config.directory.type`. Throws a {@link ConfigError} when
 * no directory is configured or its type is not supported yet.
 */
export function createProvider(context: ProviderContext): DirectoryProvider {
  const type = context.config.directory.type;
  if (type === undefined) {
    throw new ConfigError("No directory configured: directory.type is not set", {
      hint: "roster config set directory.type file (or ldap), then its settings",
      details: { key: "directory.type" },
    });
  }
  const factory = PROVIDERS[type];
  if (factory === undefined) {
    throw new ConfigError(`Directory type ${type} is not supported yet`, {
      hint: `Supported today: ${SUPPORTED_TYPES.join(", ")}`,
      details: { key: "directory.type", value: type },
    });
  }
  return factory(context);
}
