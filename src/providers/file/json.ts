/**
 * JSON files in roster's own simple format (documented in the README):
 * `{"users": [{"id", "email", "disabled", "deleted"}], "groups": [{"id", "name", "members"}]}`,
 * parsed as a stream with @streamparser/json so a large export is never held as text.
 * @module
 */

import { JSONParser } from "@streamparser/json";
import { errorMessage } from "../../errors.ts";
import { dataError, groupItem, IdRegistry, type Item, userItem } from "./records.ts";

const JSON_USER_KEYS = new Set(["id", "email", "name", "disabled", "deleted"]);
const JSON_GROUP_KEYS = new Set(["id", "name", "members"]);
const JSON_FIX = 'The file is {"users":[{"id","email","disabled","deleted"}],' +
  '"groups":[{"id","name","members":[ids]}]}';

function jsonId(value: unknown): string | undefined {
  if (typeof value === "string") return value.trim() === "" ? undefined : value.trim();
  if (typeof value === "number" && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

function jsonRecord(
  section: "users" | "groups",
  index: number,
  value: unknown,
  path: string,
  ids: IdRegistry,
): Item {
  const where = `${section}[${index}]`;
  const details = { path, record: where };
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    dataError(`Invalid record in ${path} at ${where}: it is not an object`, JSON_FIX, details);
  }
  const record = new Map(Object.entries(value));
  const id = jsonId(record.get("id"));
  const label = id === undefined ? where : `${where} (id "${id}")`;
  if (id === undefined) {
    dataError(
      `Invalid record in ${path} at ${where}: id is missing or empty`,
      "Give every user and group a unique id (a string)",
      details,
    );
  }
  const allowed = section === "users" ? JSON_USER_KEYS : JSON_GROUP_KEYS;
  for (const key of record.keys()) {
    if (!allowed.has(key)) {
      dataError(
        `Invalid record in ${path} at ${label}: unknown key "${key}"`,
        `Allowed keys in ${section}: ${[...allowed].join(", ")}`,
        details,
      );
    }
  }
  const first = ids.claim(id, where);
  if (first !== undefined) {
    dataError(
      `Duplicate id "${id}" in ${path} at ${where}: already used at ${first}`,
      "Ids must be unique across users and groups (groups list members by id)",
      details,
    );
  }
  if (section === "users") {
    const email = record.get("email");
    if (email !== undefined && email !== null && typeof email !== "string") {
      dataError(
        `Invalid record in ${path} at ${label}: email is not a string`,
        "Write email as a string, or null when the user has none",
        details,
      );
    }
    const bool = (key: string) => {
      const v = record.get(key);
      if (v === undefined || v === null) return false;
      if (typeof v !== "boolean") {
        dataError(
          `Invalid record in ${path} at ${label}: ${key} is ${
            JSON.stringify(v)
          }, not true or false`,
          `Write ${key} as a JSON boolean (true or false), or leave it out`,
          details,
        );
      }
      return v;
    };
    const name = record.get("name");
    if (name !== undefined && name !== null && typeof name !== "string") {
      dataError(`Invalid record in ${path} at ${label}: name is not a string`, JSON_FIX, details);
    }
    return userItem(
      id,
      typeof email === "string" && email.trim() !== "" ? email : null,
      bool("disabled"),
      bool("deleted"),
    );
  }
  const name = record.get("name");
  if (name !== undefined && name !== null && typeof name !== "string") {
    dataError(`Invalid record in ${path} at ${label}: name is not a string`, JSON_FIX, details);
  }
  const rawMembers = record.get("members") ?? [];
  if (!Array.isArray(rawMembers)) {
    dataError(
      `Invalid record in ${path} at ${label}: members is not an array`,
      'Write members as an array of user and group ids, e.g. "members": ["u1", "g2"]',
      details,
    );
  }
  const members: string[] = [];
  rawMembers.forEach((m: unknown, k: number) => {
    const member = jsonId(m);
    if (member === undefined) {
      dataError(
        `Invalid record in ${path} at ${label}: members[${k}] is not an id`,
        "Each member is the id (a non-empty string) of a user or group",
        details,
      );
    }
    members.push(member);
  });
  return groupItem(id, typeof name === "string" ? name : "", members);
}

/** Reads a JSON export from `stream` (named `path` in errors) and yields its records. */
export async function* jsonItems(
  stream: ReadableStream<Uint8Array>,
  path: string,
): AsyncGenerator<Item> {
  const parser = new JSONParser({ paths: ["$.users.*", "$.groups.*"], keepStack: false });
  const queue: { section: "users" | "groups"; key: unknown; value: unknown }[] = [];
  parser.onValue = (info) => {
    const section = info.stack[1]?.key;
    if (info.stack.length !== 2 || (section !== "users" && section !== "groups")) return;
    queue.push({ section, key: info.key, value: info.value });
  };
  const ids = new IdRegistry();
  let sawStart = false;
  const fail = (error: unknown): never =>
    dataError(`Invalid JSON in ${path}: ${errorMessage(error)}`, JSON_FIX, { path });
  let firstChunk = true;
  for await (const raw of stream) {
    let chunk = raw;
    if (firstChunk && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) {
      chunk = chunk.subarray(3); // UTF-8 byte order mark
    }
    firstChunk = false;
    if (!sawStart) {
      const firstByte = chunk.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
      if (firstByte === undefined) continue;
      sawStart = true;
      if (firstByte !== 0x7b) {
        dataError(
          `Invalid JSON in ${path}: the top level is not an object`,
          `${JSON_FIX}. JSON Lines and bare arrays are not accepted`,
          { path },
        );
      }
    }
    try {
      parser.write(chunk);
    } catch (error) {
      fail(error);
    }
    for (const item of queue.splice(0)) {
      if (typeof item.key !== "number") {
        dataError(
          `Invalid JSON in ${path}: "${item.section}" is not an array`,
          JSON_FIX,
          { path },
        );
      }
      yield jsonRecord(item.section, item.key, item.value, path, ids);
    }
  }
  if (!sawStart) {
    dataError(`Invalid JSON in ${path}: the file is empty`, JSON_FIX, { path });
  }
  try {
    if (!parser.isEnded) parser.end();
  } catch (error) {
    fail(error);
  }
}
