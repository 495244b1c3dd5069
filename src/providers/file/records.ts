/**
 * What the `file` provider's format readers yield ({@link Item}), and the record helpers the
 * CSV and JSON readers share: booleans, data errors, the id namespace, user and group items.
 * @module
 */

import type { DirectoryGroup, DirectoryUser, SkippedEntry } from "../../engine/types.ts";
import { DirectoryDataError } from "../../errors.ts";
import type { NoticeCode } from "../provider.ts";

/** One record parsed from a file, before paging. */
export type Item =
  | { kind: "user"; user: DirectoryUser }
  | { kind: "group"; group: DirectoryGroup }
  | { kind: "skipped"; entry: SkippedEntry }
  | { kind: "notice"; code: NoticeCode; level: "info" | "warn"; message: string };

export const BOOLEANS: Record<string, boolean> = {
  true: true,
  false: false,
  "1": true,
  "0": false,
  yes: true,
  no: false,
  "": false,
};

/** Throws a `DirectoryDataError` with `hint` and `details`. */
export function dataError(message: string, hint: string, details: Record<string, unknown>): never {
  throw new DirectoryDataError(message, { hint, details });
}

/** Tracks ids across users and groups: ids share one namespace (member lists mix them). */
export class IdRegistry {
  private readonly ids = new Map<string, string>();
  /** Returns where the id was first seen, or undefined (and records it). */
  claim(id: string, where: string): string | undefined {
    const first = this.ids.get(id);
    if (first !== undefined) return first;
    this.ids.set(id, where);
    return undefined;
  }
}

/** A user item whose id is both referenceId and externalId. */
export function userItem(
  id: string,
  email: string | null,
  disabled: boolean,
  deleted: boolean,
): Item {
  return {
    kind: "user",
    user: { referenceId: id, externalId: id, email, disabled, deleted, refs: [id] },
  };
}

/** A group item, or a skipped entry when it has no name. */
export function groupItem(id: string, name: string, members: string[]): Item {
  if (name.trim() === "") {
    return { kind: "skipped", entry: { referenceId: id, kind: "group", reason: "no group name" } };
  }
  return {
    kind: "group",
    group: {
      referenceId: id,
      externalId: id,
      name: name.trim(),
      memberRefs: [...new Set(members)],
      refs: [id],
    },
  };
}
