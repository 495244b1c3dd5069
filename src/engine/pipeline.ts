/**
 * The whole engine pass in object form: filter, normalise, de-duplicate, resolve and flatten
 * nesting (see `compact.ts`, which does the work).
 * @module
 */

import { compactSyncData, type EngineOptions, expandSyncData } from "./compact.ts";
import type { DirectorySnapshot, SyncData } from "./types.ts";

export type { EngineOptions } from "./compact.ts";

/**
 * Turns what a provider read into what a sync sends. Users without a usable email are reported
 * in `skipped`, references that match nothing in `unresolved`.
 * @throws {DirectoryDataError} `duplicate_email` or `duplicate_external_id` on duplicates.
 */
export function buildSyncData(snapshot: DirectorySnapshot, options: EngineOptions): SyncData {
  return expandSyncData(compactSyncData(snapshot, options));
}
