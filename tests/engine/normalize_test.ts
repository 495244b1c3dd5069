import assert from "node:assert/strict";
import { MAX_EMAIL_LENGTH, normalizeEmail, normalizeUsers } from "../../src/engine/normalize.ts";
import type { DirectoryUser } from "../../src/engine/types.ts";

function user(id: string, email: string | null, extra: Partial<DirectoryUser> = {}): DirectoryUser {
  return { referenceId: id, externalId: id, email, disabled: false, deleted: false, ...extra };
}

Deno.test("normalizeEmail() trims and lowercases a valid email", () => {
  assert.deepEqual(normalizeEmail("  Ann.Lee@Example.COM \t"), {
    ok: true,
    email: "ann.lee@example.com",
  });
});

Deno.test("normalizeEmail() reports a missing or blank email as no email address", () => {
  for (const raw of [null, "", "   "]) {
    assert.deepEqual(normalizeEmail(raw), { ok: false, reason: "no email address" });
  }
});

Deno.test("normalizeEmail() rejects emails that are not one local part @ a dotted domain", () => {
  const invalid = [
    "ann",
    "@example.com",
    "ann@",
    "ann@example",
    "ann@.example",
    "ann@example.",
    "ann@@example.com",
    "ann@b@example.com",
    "ann lee@example.com",
    "ann@exa\tmple.com",
    "ann@exam\u00a0ple.com",
  ];
  for (const raw of invalid) {
    const check = normalizeEmail(raw);
    assert.deepEqual(check, {
      ok: false,
      reason: `invalid email address ${JSON.stringify(raw.trim().toLowerCase())}`,
    }, raw);
  }
});

Deno.test("normalizeEmail() accepts 256 characters and rejects 257", () => {
  const domain = "@example.com";
  const ok = "a".repeat(MAX_EMAIL_LENGTH - domain.length) + domain;
  assert.equal(ok.length, 256);
  assert.deepEqual(normalizeEmail(ok), { ok: true, email: ok });
  assert.deepEqual(normalizeEmail("a" + ok), {
    ok: false,
    reason: "email address longer than 256 characters",
  });
});

Deno.test("normalizeEmail() measures the length after trimming", () => {
  const email = "a".repeat(244) + "@example.com";
  assert.deepEqual(normalizeEmail(`   ${email}   `), { ok: true, email });
});

Deno.test("normalizeUsers() skips unusable emails with the reason, in input order", () => {
  const result = normalizeUsers([
    user("cn=a", "A@Example.com"),
    user("cn=b", null),
    user("cn=c", "not-an-email"),
    user("cn=d", "x".repeat(300) + "@example.com"),
    user("cn=e", "e@example.com", { disabled: true }),
  ]);
  assert.deepEqual(result.users.map((u) => u.user), [
    {
      referenceId: "cn=a",
      externalId: "cn=a",
      email: "a@example.com",
      disabled: false,
      deleted: false,
    },
    {
      referenceId: "cn=e",
      externalId: "cn=e",
      email: "e@example.com",
      disabled: true,
      deleted: false,
    },
  ]);
  assert.deepEqual(result.skipped, [
    { referenceId: "cn=b", kind: "user", reason: "no email address" },
    { referenceId: "cn=c", kind: "user", reason: 'invalid email address "not-an-email"' },
    { referenceId: "cn=d", kind: "user", reason: "email address longer than 256 characters" },
  ]);
});

Deno.test("normalizeUsers() keeps a deleted user without a usable email, with email null", () => {
  const result = normalizeUsers([
    user("tomb1", null, { deleted: true }),
    user("tomb2", "garbage", { deleted: true }),
    user("tomb3", " Old@Example.com ", { deleted: true }),
  ]);
  assert.deepEqual(result.skipped, []);
  assert.deepEqual(result.users.map((u) => [u.user.referenceId, u.user.email]), [
    ["tomb1", null],
    ["tomb2", null],
    ["tomb3", "old@example.com"],
  ]);
});

Deno.test("normalizeUsers() keeps the source record next to the normalised user", () => {
  const source = user("cn=a", "A@EXAMPLE.COM", { refs: ["cn=a", "uid:a"] });
  const [first] = normalizeUsers([source]).users;
  assert.equal(first?.source, source);
});
