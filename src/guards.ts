/**
 * Type guards shared by the modules that read untyped data (config files, server answers, KV
 * values, JSON output).
 * @module
 */

/** Whether `value` is a plain object (not null, not an array), so its keys can be read. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
