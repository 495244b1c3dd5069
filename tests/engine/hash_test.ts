import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { changeHash } from "../../src/engine/hash.ts";
import type { ImportRequest } from "../../src/engine/types.ts";

const TARGET = {
  apiUrl: "https://api.bitwarden.com",
  orgId: "6a1f9c1e-0000-4000-8000-000000000001",
};

/** bwdc's definition, literally: hash the whole JSON text at once. */
function naive(requests: ImportRequest[], target: { apiUrl: string; orgId: string }) {
  const json = JSON.stringify(requests.length === 1 ? requests[0] : requests);
  const sha = (text: string) => createHash("sha256").update(text, "utf8").digest("base64");
  return { hash: sha(target.apiUrl + target.orgId + json), legacyHash: sha(target.apiUrl + json) };
}

function request(partial: Partial<ImportRequest>): ImportRequest {
  return {
    groups: [],
    members: [],
    overwriteExisting: false,
    largeImport: false,
    inviteUsersAfterProvisioning: false,
    ...partial,
  };
}

const TRICKY = [
  "plain",
  "Zoë Ünïcødé",
  "emoji 🚀👩‍👩‍👧",
  'quote " and backslash \\',
  "new\nline\ttab\r\u0000\u0001\u001f",
  "line sep \u2028 para \u2029",
  "lone surrogates \ud800 and \udfff",
  "</script>&<>'",
  "",
  "cn=Doe\\, John,ou=Users,dc=corp",
];

// Vectors computed outside JavaScript (Python's hashlib over json.dumps with compact
// separators), so they do not share code with either implementation.
Deno.test("changeHash() matches independently computed vectors", () => {
  const single = request({
    groups: [{
      name: "Blue Team",
      externalId: "cn=Blue Team,dc=bitwarden,dc=com",
      memberExternalIds: ["cn=Loella Mak,ou=Payroll,dc=bitwarden,dc=com"],
    }],
    members: [
      {
        email: "dyker@bitwarden.com",
        externalId: "cn=Roland Dyke,ou=Human Resources,dc=bitwarden,dc=com",
        deleted: false,
      },
      { email: null, externalId: "tomb", deleted: true },
    ],
  });
  assert.deepEqual(changeHash([single], TARGET), {
    hash: "K8mcx7VZJdQ5YG3XapTbPWoHJnQo0YpoUOf/vCXJYpU=",
    legacyHash: "LpDQyrAjNMfcckoSZROXLJ+89B2GkC1pDkQLS/yJbnA=",
  });
  assert.deepEqual(changeHash([], TARGET), {
    hash: "1oyAI8oeJYe/zkAtv87572fIC12NjdywOUQjy2WzDbE=",
    legacyHash: "8fIp5xmzS5FG/FtL/tJ77MnoiYu2Lcqe5svmLk0FJAE=",
  });
  const odd = 'Zoë "Z" Ünïcødé 🚀\\';
  const two = [
    request({
      members: [{ email: "zoë@exämple.com", externalId: odd, deleted: false }],
      largeImport: true,
      inviteUsersAfterProvisioning: true,
    }),
    request({
      groups: [{ name: "Ops ☕", externalId: "g-1", memberExternalIds: [odd] }],
      largeImport: true,
      inviteUsersAfterProvisioning: true,
    }),
  ];
  assert.deepEqual(changeHash(two, TARGET), {
    hash: "gQYZc9BM3PXy0R+jIZjrxZmFVzqgghvjc6ygz7hXf5w=",
    legacyHash: "wbGJhqkXFw57EGz6oid3NcgNgKV6Ch6FsbrkjW7YTYg=",
  });
});

Deno.test("changeHash() equals hashing JSON.stringify of the requests on tricky strings", () => {
  const requests = [
    request({
      groups: TRICKY.map((name, i) => ({
        name,
        externalId: `g${i}-${name}`,
        memberExternalIds: i % 3 === 0 ? [] : TRICKY.slice(0, i),
      })),
      members: TRICKY.map((text, i) => ({
        email: i % 2 === 0 ? null : `${text}@x.com`,
        externalId: text,
        deleted: i % 3 === 0,
      })),
      overwriteExisting: true,
      inviteUsersAfterProvisioning: true,
    }),
  ];
  assert.deepEqual(changeHash(requests, TARGET), naive(requests, TARGET));
  const several = [...requests, request({ largeImport: true }), request({ members: [] })];
  assert.deepEqual(changeHash(several, TARGET), naive(several, TARGET));
});

Deno.test("changeHash() equals the naive hash on a request far larger than one flush", () => {
  const members = Array.from({ length: 50_000 }, (_, i) => ({
    email: i % 7 === 0 ? null : `user.${i}@例え.jp`,
    externalId: `cn=User ${i} “quoted”,ou=People,dc=example,dc=com`,
    deleted: i % 11 === 0,
  }));
  const groups = Array.from({ length: 500 }, (_, i) => ({
    name: `Group ${i} 🚀`,
    externalId: `g${i}`,
    memberExternalIds: members.slice(i * 50, i * 50 + 500).map((m) => m.externalId),
  }));
  const requests = [request({ members, groups })];
  assert.deepEqual(changeHash(requests, TARGET), naive(requests, TARGET));
});

Deno.test("changeHash() depends on the organization but the legacy hash does not", () => {
  const requests = [request({ members: [{ email: "a@x.com", externalId: "a", deleted: false }] })];
  const one = changeHash(requests, TARGET);
  const other = changeHash(requests, { ...TARGET, orgId: "another" });
  assert.notEqual(one.hash, other.hash);
  assert.equal(one.legacyHash, other.legacyHash);
});

Deno.test("changeHash() is stable for equal input and changes with any field", () => {
  const base =
    () => [request({ members: [{ email: "a@x.com", externalId: "a", deleted: false }] })];
  assert.deepEqual(changeHash(base(), TARGET), changeHash(base(), TARGET));
  const changed = base();
  const member = changed[0]?.members[0];
  if (member !== undefined) member.deleted = true;
  assert.notEqual(changeHash(changed, TARGET).hash, changeHash(base(), TARGET).hash);
});
