/**
 * Reading error bodies from Bitwarden, Vaultwarden and whatever proxy stands in front of them.
 *
 * Bodies come in many shapes: the Public API's
 * `{"object":"error","message","errors"}`, the internal `validationErrors`, Vaultwarden's
 * `errorModel` and its `{"error":{"code","reason","description"}}` catcher, OAuth's
 * `{"error","error_description"}`, empty bodies, and HTML pages from nginx or Cloudflare.
 * {@link parseErrorBody} turns any of them into one {@link ServerError}. Keys are matched
 * case-insensitively, as bwdc does.
 * @module
 */

import { isRecord } from "../guards.ts";
import { statusText } from "../http/describe.ts";

/** One entry of an `errors`/`validationErrors` map: the key (a C# path) and its messages. */
export interface FieldError {
  /** The key as the server sent it: `Members[3].Email`, `$.members[0].deleted`, or `""`. */
  key: string;
  messages: string[];
}

/** What an error body said, whatever its shape. */
export interface ServerError {
  /** HTTP status. */
  status: number;
  /** The human message (`message`, `errorModel.message`, VW `error.description`), if any. */
  message: string | null;
  /** Field errors from `errors` and `validationErrors`, in body order, duplicates merged. */
  fieldErrors: FieldError[];
  /** OAuth `error` code (`invalid_client`, …) when present and not blank. */
  oauthError: string | null;
  /** OAuth `error_description`, when present and not blank. */
  oauthDescription: string | null;
  /** A one-line excerpt of a non-JSON body (the HTML title, or its text), else null. */
  excerpt: string | null;
  /** True when the body was JSON. */
  json: boolean;
  /** True when the body was HTML. */
  html: boolean;
}

type JsonObject = Record<string, unknown>;

/** Returns `object[key]`, matching the key case-insensitively. */
export function getIgnoreCase(object: JsonObject, key: string): unknown {
  if (key in object) return object[key];
  const wanted = key.toLowerCase();
  for (const [name, value] of Object.entries(object)) {
    if (name.toLowerCase() === wanted) return value;
  }
  return undefined;
}

function nonBlankString(value: unknown): string | null {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : null;
}

function readFieldErrors(value: unknown, into: Map<string, string[]>): void {
  if (!isRecord(value)) return;
  for (const [key, raw] of Object.entries(value)) {
    const list = Array.isArray(raw) ? raw : [raw];
    const messages = list.filter((m): m is string => typeof m === "string" && m.trim() !== "");
    if (messages.length === 0) continue;
    const existing = into.get(key) ?? [];
    for (const message of messages) if (!existing.includes(message)) existing.push(message);
    into.set(key, existing);
  }
}

/** Collapses whitespace and cuts `text` to `max` characters. */
export function oneLine(text: string, max = 160): string {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function htmlExcerpt(text: string): string {
  const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(text)?.[1];
  const decode = (s: string) =>
    s.replace(/&nbsp;/g, " ").replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">")
      .replace(/&quot;/g, '"').replace(/&#39;/g, "'");
  if (title !== undefined && title.trim() !== "") return oneLine(decode(title));
  const body = text.replace(/<(script|style)[\s\S]*?<\/\1>/gi, " ").replace(/<[^>]+>/g, " ");
  return oneLine(decode(body));
}

/**
 * Parses an error response body of any shape.
 *
 * @param status the HTTP status
 * @param body the raw body text (may be empty)
 */
export function parseErrorBody(status: number, body: string): ServerError {
  const result: ServerError = {
    status,
    message: null,
    fieldErrors: [],
    oauthError: null,
    oauthDescription: null,
    excerpt: null,
    json: false,
    html: false,
  };
  const text = body.trim();
  if (text === "") return result;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    result.html = /^<(!doctype|html|head|body|\?xml)|<\/?(html|title|body|h1)\b/i.test(text);
    result.excerpt = result.html ? htmlExcerpt(text) : oneLine(text);
    return result;
  }
  result.json = true;
  if (!isRecord(parsed)) {
    result.excerpt = oneLine(text);
    return result;
  }
  const fields = new Map<string, string[]>();
  result.message = nonBlankString(getIgnoreCase(parsed, "message"));
  const errorModel = getIgnoreCase(parsed, "errorModel");
  if (isRecord(errorModel)) {
    result.message ??= nonBlankString(getIgnoreCase(errorModel, "message"));
    readFieldErrors(getIgnoreCase(errorModel, "errors"), fields);
    readFieldErrors(getIgnoreCase(errorModel, "validationErrors"), fields);
  }
  readFieldErrors(getIgnoreCase(parsed, "errors"), fields);
  readFieldErrors(getIgnoreCase(parsed, "validationErrors"), fields);
  const error = getIgnoreCase(parsed, "error");
  if (isRecord(error)) {
    // Vaultwarden's catcher: {"error":{"code":404,"reason":"Not Found","description":"…"}}
    result.message ??= nonBlankString(getIgnoreCase(error, "description")) ??
      nonBlankString(getIgnoreCase(error, "reason"));
  } else {
    result.oauthError = nonBlankString(error);
    result.oauthDescription = nonBlankString(getIgnoreCase(parsed, "error_description"));
  }
  result.fieldErrors = [...fields].map(([key, messages]) => ({ key, messages }));
  return result;
}

export { statusText };

/** Strips one trailing period (house style: messages end without one). */
export function withoutPeriod(text: string): string {
  return text.replace(/\.\s*$/, "");
}

/**
 * A one-line summary of an error response: the status, then the server's message, OAuth
 * error or HTML excerpt, e.g. `502 Bad Gateway: 502 Bad Gateway` or
 * `400 Bad Request: Seat limit has been reached`.
 */
export function describeServerError(error: ServerError): string {
  const detail = error.message ??
    (error.oauthError === null
      ? null
      : error.oauthDescription === null
      ? error.oauthError
      : `${error.oauthError}: ${error.oauthDescription}`) ??
    error.excerpt;
  const head = statusText(error.status);
  if (detail === null) return `${head} with an empty body`;
  const prefix = error.html ? "HTML page " : "";
  return `${head}: ${prefix}${withoutPeriod(oneLine(detail))}`;
}

/** Every message of an error: the main one, then the field errors' messages. */
export function allMessages(error: ServerError): string[] {
  const out: string[] = [];
  if (error.message !== null) out.push(error.message);
  for (const field of error.fieldErrors) out.push(...field.messages);
  return out;
}
