/**
 * The settings slice of the `entra` source: `directory.entra` and `sync`.
 * @module
 */

import type { Config } from "../../config/schema.ts";

/** The settings slice of the Entra source. */
export interface EntraSettings {
  entra: Config["directory"]["entra"];
  sync: Config["sync"];
}
