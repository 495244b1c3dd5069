/**
 * `sent.ts`: the binary form of the deletion guard's record of what the last sync sent
 * ({@link SentSnapshot}): compact enough for 500,000 users in many groups (8 bytes per group
 * membership, plus each group's externalId and name).
 *
 * Layout (little-endian): the magic `RSG1`, the group count (u32), then per group: externalId
 * and name as UTF-8 with a u32 byte length each, the member count (u32), and the sorted member
 * hashes as float64 (53-bit integers). Anything that does not parse decodes to null (the guard
 * then has no baseline, as before a first sync).
 * @module
 */

import type { SentGroup, SentSnapshot } from "../engine/guard.ts";

const MAGIC = [0x52, 0x53, 0x47, 0x31];
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Encodes a record of what was sent. */
export function encodeSnapshot(snapshot: SentSnapshot): Uint8Array {
  const parts: { id: Uint8Array; name: Uint8Array; members: Float64Array }[] = [];
  let size = 8;
  for (const group of snapshot.groups.values()) {
    const id = encoder.encode(group.externalId);
    const name = encoder.encode(group.name);
    parts.push({ id, name, members: group.members });
    size += 12 + id.length + name.length + group.members.length * 8;
  }
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  view.setUint32(4, parts.length, true);
  let offset = 8;
  for (const part of parts) {
    view.setUint32(offset, part.id.length, true);
    bytes.set(part.id, offset + 4);
    offset += 4 + part.id.length;
    view.setUint32(offset, part.name.length, true);
    bytes.set(part.name, offset + 4);
    offset += 4 + part.name.length;
    view.setUint32(offset, part.members.length, true);
    offset += 4;
    for (const hash of part.members) {
      view.setFloat64(offset, hash, true);
      offset += 8;
    }
  }
  return bytes;
}

/** Decodes {@link encodeSnapshot}'s bytes; null when they are not such a record. */
export function decodeSnapshot(bytes: Uint8Array): SentSnapshot | null {
  if (bytes.length < 8 || MAGIC.some((b, i) => bytes[i] !== b)) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const groups = new Map<string, SentGroup>();
  try {
    const count = view.getUint32(4, true);
    let offset = 8;
    const text = (): string => {
      const length = view.getUint32(offset, true);
      if (offset + 4 + length > bytes.length) throw new RangeError("truncated");
      const value = decoder.decode(bytes.subarray(offset + 4, offset + 4 + length));
      offset += 4 + length;
      return value;
    };
    for (let g = 0; g < count; g++) {
      const externalId = text();
      const name = text();
      const n = view.getUint32(offset, true);
      offset += 4;
      if (offset + n * 8 > bytes.length) return null;
      const members = new Float64Array(n);
      for (let i = 0; i < n; i++) members[i] = view.getFloat64(offset + i * 8, true);
      offset += n * 8;
      groups.set(externalId, { externalId, name, members });
    }
    if (offset !== bytes.length) return null;
  } catch {
    return null;
  }
  return { groups };
}
