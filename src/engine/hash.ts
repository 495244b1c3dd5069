/**
 * The change hash (the Bitwarden Directory Connector's, bwdc's, "last sync hash"), computed without building the whole JSON text.
 *
 * `hash = base64(sha256(apiUrl + orgId + json))` and `legacyHash = base64(sha256(apiUrl +
 * json))`, where `json = JSON.stringify(requests.length === 1 ? requests[0] : requests)`. The
 * JSON is streamed into both digests piece by piece, byte-identical to `JSON.stringify`, so a
 * request with hundreds of thousands of members never exists as one string.
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import type { ImportGroup, ImportMember, ImportRequest } from "./types.ts";

/** Where the requests go; both are part of the hash. */
export interface HashTarget {
  /** The API base URL, as bwdc derives it. */
  apiUrl: string;
  /** The organization id. */
  orgId: string;
}

/** The current and the legacy change hash (both accepted as "unchanged"). */
export interface ChangeHash {
  /** `base64(sha256(apiUrl + orgId + json))`. */
  hash: string;
  /** `base64(sha256(apiUrl + json))`, bwdc's older form. */
  legacyHash: string;
}

const FLUSH_AT = 1 << 16;

class JsonDigest {
  #pending = "";
  constructor(readonly digests: readonly Hash[]) {}

  write(text: string): void {
    this.#pending += text;
    if (this.#pending.length >= FLUSH_AT) this.flush();
  }

  flush(): void {
    if (this.#pending === "") return;
    for (const digest of this.digests) digest.update(this.#pending, "utf8");
    this.#pending = "";
  }
}

function writeMember(out: JsonDigest, m: ImportMember): void {
  out.write(
    `{"email":${m.email === null ? "null" : JSON.stringify(m.email)},"externalId":${
      JSON.stringify(m.externalId)
    },"deleted":${m.deleted}}`,
  );
}

function writeGroup(out: JsonDigest, g: ImportGroup): void {
  out.write(
    `{"name":${JSON.stringify(g.name)},"externalId":${
      JSON.stringify(g.externalId)
    },"memberExternalIds":[`,
  );
  g.memberExternalIds.forEach((id, i) =>
    out.write(i === 0 ? JSON.stringify(id) : `,${JSON.stringify(id)}`)
  );
  out.write("]}");
}

function writeRequest(out: JsonDigest, r: ImportRequest): void {
  out.write('{"groups":[');
  r.groups.forEach((g, i) => {
    if (i > 0) out.write(",");
    writeGroup(out, g);
  });
  out.write('],"members":[');
  r.members.forEach((m, i) => {
    if (i > 0) out.write(",");
    writeMember(out, m);
  });
  out.write(
    `],"overwriteExisting":${r.overwriteExisting},"largeImport":${r.largeImport},"inviteUsersAfterProvisioning":${r.inviteUsersAfterProvisioning}}`,
  );
}

/**
 * Computes the change hash of the requests for one server and organization, as bwdc
 * does, so a hash stored by either tool is recognised by the other.
 */
export function changeHash(requests: readonly ImportRequest[], target: HashTarget): ChangeHash {
  const current = createHash("sha256").update(target.apiUrl + target.orgId, "utf8");
  const legacy = createHash("sha256").update(target.apiUrl, "utf8");
  const out = new JsonDigest([current, legacy]);
  const only = requests.length === 1 ? requests[0] : undefined;
  if (only !== undefined) {
    writeRequest(out, only);
  } else {
    out.write("[");
    requests.forEach((r, i) => {
      if (i > 0) out.write(",");
      writeRequest(out, r);
    });
    out.write("]");
  }
  out.flush();
  return { hash: current.digest("base64"), legacyHash: legacy.digest("base64") };
}
