/**
 * The roster version, read from `deno.json` so that there is one place to bump it.
 * @module
 */

import manifest from "../deno.json" with { type: "json" };

/** The version of roster, e.g. `0.1.0` (the `version` field of `deno.json`). */
export const VERSION: string = manifest.version;
