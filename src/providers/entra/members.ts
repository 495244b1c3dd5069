/**
 * Whole direct member lists of Entra groups, read through `$batch` (`./batch.ts`):
 * `/groups/{id}/members?$select=id&$top=999`, 20 groups per batch, several batches in flight,
 * later member pages fed into later batches. Members that are groups become group references
 * (the engine resolves nesting, cycles included); contacts, devices and service principals are
 * skipped with a reason (`./mapping.ts`). Used by the full read for every group and by the
 * delta read for the groups that changed.
 * @module
 */

import type { DirectoryGroup, SkippedEntry } from "../../engine/types.ts";
import { SourceIncompleteError } from "../../errors.ts";
import { isRecord } from "../../guards.ts";
import { type BatchAnswer, type BatchItem, runBatched } from "./batch.ts";
import { graphError, permissionError } from "./errors.ts";
import type { EntraGraph } from "./graph.ts";
import { GROUP_SELECT, mapGroup, mapMember, MEMBER_SELECT } from "./mapping.ts";

/** The query of a member page: only the ids, Graph's largest page (999). */
export const MEMBERS_PAGE = `$select=${MEMBER_SELECT.join(",")}&$top=999`;

/**
 * Reads the whole direct member lists of `raws` (group id → Graph group, `displayName` maybe
 * missing in a delta) through `$batch`, and maps the groups. Groups that no longer exist
 * (404) are returned in `gone`.
 * @param options.fetchMissingNames Also reads the `displayName` of groups that have none (a
 *   delta's changed groups).
 * @param options.signal Stops the batches. @default none
 * @throws {DirectoryError} when a member list answers 403 (the permission to grant).
 * @throws {SourceIncompleteError} for any other failed or malformed answer.
 */
export async function groupsWithMembers(
  graph: EntraGraph,
  raws: Map<string, Record<string, unknown>>,
  options: { fetchMissingNames: boolean; signal?: AbortSignal },
): Promise<{ groups: DirectoryGroup[]; skipped: SkippedEntry[]; gone: string[] }> {
  const refs = new Map<string, Set<string>>();
  const skipped: SkippedEntry[] = [];
  const gone = new Set<string>();
  const items: BatchItem[] = [];
  for (const [id, raw] of raws) {
    refs.set(id, new Set());
    items.push({
      key: `m:${id}`,
      url: `/groups/${encodeURIComponent(id)}/members?${MEMBERS_PAGE}`,
    });
    if (options.fetchMissingNames && typeof raw.displayName !== "string") {
      items.push({
        key: `g:${id}`,
        url: `/groups/${encodeURIComponent(id)}?$select=${GROUP_SELECT.join(",")}`,
      });
    }
  }
  const onAnswer = (answer: BatchAnswer): BatchItem[] => {
    const kind = answer.item.key.slice(0, 1);
    const id = answer.item.key.slice(2);
    if (answer.status === 404) {
      gone.add(id);
      return [];
    }
    if (answer.status === 403) {
      throw permissionError(
        `GET ${new URL(graph.base).pathname}${answer.item.url.split("?")[0]}`,
        `403 Forbidden`,
      );
    }
    if (answer.status < 200 || answer.status > 299 || !isRecord(answer.body)) {
      throw new SourceIncompleteError(
        `Directory read incomplete: GET ${new URL(graph.base).pathname}${
          answer.item.url.split("?")[0]
        } answered ${answer.status} inside $batch${detailOf(answer.body)}`,
        {
          hint: "Nothing was sent. Run again; if it persists, report it with this message",
          details: { status: answer.status },
        },
      );
    }
    if (kind === "g") {
      const raw = raws.get(id);
      if (raw !== undefined) raw.displayName = answer.body.displayName;
      return [];
    }
    const value = answer.body.value;
    if (!Array.isArray(value)) {
      throw new SourceIncompleteError(
        `Directory read incomplete: a member page of group ${id} has no value array`,
        { hint: "Nothing was sent. Run again; if it persists, report it with this message" },
      );
    }
    const set = refs.get(id) ?? new Set<string>();
    for (const rawMember of value) {
      const member = mapMember(rawMember, id);
      if (member.kind === "skipped") skipped.push(member.entry);
      else set.add(member.ref);
    }
    graph.objects += value.length;
    const next = answer.body["@odata.nextLink"];
    if (next === undefined || next === null) return [];
    if (typeof next !== "string") {
      throw new SourceIncompleteError(
        `Directory read incomplete: a member page of group ${id} has a malformed next link`,
        { hint: "Nothing was sent. Run again; if it persists, report it with this message" },
      );
    }
    return [{ key: answer.item.key, url: relativeToVersion(next, id) }];
  };
  const tuning = graph.options;
  try {
    await runBatched(graph.api, items, {
      graphBase: graph.base,
      onAnswer,
      concurrency: tuning.batchConcurrency ?? 8,
      onWait: () => {
        graph.batchWaits++;
        graph.progress(false);
      },
      ...(tuning.now === undefined ? {} : { now: tuning.now }),
      ...(tuning.sleep === undefined ? {} : { sleep: tuning.sleep }),
      ...(tuning.random === undefined ? {} : { random: tuning.random }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  } catch (error) {
    throw graphError(error, { started: true });
  }
  const groups: DirectoryGroup[] = [];
  for (const [id, raw] of raws) {
    if (gone.has(id)) continue;
    const mapped = mapGroup(raw, [...(refs.get(id) ?? [])]);
    if (mapped.kind === "skipped") skipped.push(mapped.entry);
    else groups.push(mapped.group);
  }
  return { groups, skipped, gone: [...gone] };
}

function detailOf(body: unknown): string {
  const error = isRecord(body) ? body.error : undefined;
  if (isRecord(error) && typeof error.code === "string") {
    return `: ${error.code}${typeof error.message === "string" ? `: ${error.message}` : ""}`;
  }
  return "";
}

/**
 * A next link made relative to the version root, for `$batch` (`https://graph…/v1.0/groups/…`
 * → `/groups/…`).
 * @throws {SourceIncompleteError} for a link that is not a Graph v1.0 URL.
 */
function relativeToVersion(link: string, groupId: string): string {
  const url = URL.canParse(link) ? new URL(link) : null;
  const match = url === null ? null : /^\/v1\.0(\/.*)$/.exec(url.pathname);
  if (url === null || match === null || match[1] === undefined) {
    throw new SourceIncompleteError(
      `Directory read incomplete: a member page of group ${groupId} has the next link ${
        JSON.stringify(link)
      }, which is not a Graph v1.0 URL`,
      { hint: "Nothing was sent. Check directory.entra.graphUrl" },
    );
  }
  return `${match[1]}${url.search}`;
}
