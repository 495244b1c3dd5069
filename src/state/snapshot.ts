/**
 * The last complete directory snapshot of a source that reads deltas, kept so a delta read can
 * be merged into the whole directory (`src/engine/delta.ts`).
 *
 * Snapshots are JSON files `<dataDir>/snapshots/<key>.json` (mode 0600), where the key is a
 * digest of the provider state (e.g. a delta link) the snapshot goes with. A delta read is
 * relative to the provider state it was given, which is the state stored by the last successful
 * sync; the pipeline loads the snapshot of exactly that state, so a `test` or `plan` run that
 * read further (and was never committed) cannot be mistaken for the base. Only sources whose
 * descriptor says `readsDeltas` store snapshots.
 * @module
 */

import type { DirectorySnapshot } from "../engine/types.ts";
import { isRecord } from "../guards.ts";

/** How many snapshots are kept (the committed one and the newest). */
const KEEP = 2;

/** A digest of a provider state: the snapshot file's key. */
export function snapshotKey(state: Readonly<Record<string, string>>): string {
  const text = JSON.stringify(Object.entries(state).sort(([a], [b]) => a < b ? -1 : 1));
  let a = 0x811c9dc5;
  let b = 0x2f1a7c35;
  for (let i = 0; i < text.length; i++) {
    a = Math.imul(a ^ text.charCodeAt(i), 0x01000193) >>> 0;
    b = Math.imul(b ^ text.charCodeAt(i), 0x01000193) >>> 0;
  }
  return `${a.toString(16)}${b.toString(16)}`;
}

function isSnapshot(value: unknown): value is DirectorySnapshot {
  return isRecord(value) && Array.isArray(value["users"]) && Array.isArray(value["groups"]) &&
    Array.isArray(value["skipped"]);
}

/** Snapshots under one data directory. */
export class SnapshotStore {
  readonly #dir: string;

  /** `dataDir`: roster's data directory (the snapshots go in its `snapshots/`). */
  constructor(dataDir: string) {
    this.#dir = `${dataDir}/snapshots`;
  }

  /**
   * The snapshot stored with provider state `state`, or undefined when there is none or it
   * cannot be read back: a file that is not JSON or not a snapshot (cut short by a full disk, or
   * by a crash before it reached the disk) is damaged, reported through `options.onDamaged`
   * with its path and what is wrong, and treated as absent, so the caller reads the whole
   * directory instead of applying a delta to it.
   * @throws the file system's error when the file exists but cannot be read (permissions).
   */
  async load(
    state: Readonly<Record<string, string>>,
    options: { onDamaged?: (path: string, detail: string) => void } = {},
  ): Promise<DirectorySnapshot | undefined> {
    const path = `${this.#dir}/${snapshotKey(state)}.json`;
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      options.onDamaged?.(path, error instanceof Error ? error.message : String(error));
      return undefined;
    }
    if (isSnapshot(value)) return value;
    options.onDamaged?.(
      path,
      "not a directory snapshot (users, groups and skipped lists expected)",
    );
    return undefined;
  }

  /**
   * Stores `snapshot` with provider state `state`; keeps the {@link KEEP} last saved, and
   * never drops the snapshot of `options.committed` (the provider state of the last successful
   * sync), so `test` and `plan` runs cannot push out the base of the next delta read.
   */
  async save(
    state: Readonly<Record<string, string>>,
    snapshot: DirectorySnapshot,
    options: { committed?: Readonly<Record<string, string>> } = {},
  ): Promise<void> {
    await Deno.mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const path = `${this.#dir}/${snapshotKey(state)}.json`;
    await Deno.writeTextFile(`${path}.tmp`, JSON.stringify(snapshot), { mode: 0o600 });
    await Deno.rename(`${path}.tmp`, path);
    // The save order, newest first, in `order.json`: pruning does not depend on file times.
    const orderPath = `${this.#dir}/order.json`;
    let order: string[] = [];
    try {
      const value: unknown = JSON.parse(await Deno.readTextFile(orderPath));
      if (Array.isArray(value)) order = value.filter((v): v is string => typeof v === "string");
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound) && !(error instanceof SyntaxError)) throw error;
    }
    const key = snapshotKey(state);
    const committed = options.committed === undefined ? undefined : snapshotKey(options.committed);
    order = [key, ...order.filter((k) => k !== key)];
    if (committed !== undefined && committed !== key && order.includes(committed)) {
      order = [key, committed, ...order.filter((k) => k !== key && k !== committed)];
    }
    for (const old of order.slice(KEEP)) {
      await Deno.remove(`${this.#dir}/${old}.json`).catch((error: unknown) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    }
    await Deno.writeTextFile(orderPath, JSON.stringify(order.slice(0, KEEP)), { mode: 0o600 });
  }
}
