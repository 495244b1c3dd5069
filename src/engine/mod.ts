/**
 * The pure engine: from a directory snapshot to import requests, their change hash, reports and
 * the sync plan. No I/O, no clock, no randomness.
 *
 * @example
 * ```ts
 * import { buildImportRequests, buildSyncData, changeHash } from "./mod.ts";
 *
 * const data = buildSyncData(
 *   {
 *     users: [{ referenceId: "u1", externalId: "u1", email: " Ann@Example.com ", disabled: false, deleted: false }],
 *     groups: [{ referenceId: "g1", externalId: "g1", name: "Staff", memberRefs: ["u1"] }],
 *     skipped: [],
 *   },
 *   { syncUsers: true, syncGroups: true, removeDisabled: false },
 * );
 * const requests = buildImportRequests(data, {
 *   overwriteExisting: false,
 *   largeImport: false,
 *   removeDisabled: false,
 *   inviteUsersAfterProvisioning: true,
 * });
 * const { hash } = changeHash(requests, { apiUrl: "https://api.bitwarden.com", orgId: "org" });
 * ```
 * @module
 */

export * from "./types.ts";
export * from "./normalize.ts";
export * from "./filter.ts";
export * from "./nesting.ts";
export * from "./dedupe.ts";
export * from "./compact.ts";
export * from "./pipeline.ts";
export * from "./batches.ts";
export * from "./hash.ts";
export * from "./report.ts";
export * from "./plan.ts";
export * from "./guard.ts";
export * from "./import_rules.ts";
export * from "./sort.ts";
