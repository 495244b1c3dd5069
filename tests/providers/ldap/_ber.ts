/**
 * Test helper: LDAP messages as BER bytes, and the requests in flight ldapts' MessageParser
 * needs to read search results, for feeding a parser by hand.
 * @module
 */

import { Buffer } from "node:buffer";
import { BerWriter, type MessageParser, PresenceFilter, SearchRequest } from "ldapts";

/** An attribute value as text (written as UTF-8) or as raw bytes. */
export type Value = string | Uint8Array;

/**
 * The BER of a SearchResultEntry message with the given attributes, in order, and a control
 * with the OID `control` when given.
 */
export function message(
  messageId: number,
  dn: string,
  attributes: [string, Value[]][],
  control?: string,
): Buffer {
  const w = new BerWriter();
  w.startSequence();
  w.writeInt(messageId);
  w.startSequence(0x64);
  w.writeString(dn);
  w.startSequence();
  for (const [type, values] of attributes) {
    w.startSequence();
    w.writeString(type);
    w.startSequence(0x31);
    for (const value of values) {
      if (typeof value === "string") w.writeString(value);
      else w.writeBuffer(Buffer.from(value), 0x04);
    }
    w.endSequence();
    w.endSequence();
  }
  w.endSequence();
  w.endSequence();
  if (control !== undefined) {
    w.startSequence(0xa0);
    w.startSequence();
    w.writeString(control);
    w.endSequence();
    w.endSequence();
  }
  w.endSequence();
  return w.buffer;
}

/** ldapts' requests in flight, as its client keeps them: a search for each message ID here. */
export function searchesInFlight(...messageIds: number[]): Parameters<MessageParser["read"]>[1] {
  const details: Parameters<MessageParser["read"]>[1] = new Map();
  for (const messageId of messageIds) {
    const filter = new PresenceFilter({ attribute: "objectClass" });
    details.set(String(messageId), {
      message: new SearchRequest({ messageId, baseDN: "", filter }),
    });
  }
  return details;
}
