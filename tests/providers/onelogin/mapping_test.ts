import assert from "node:assert/strict";
import { DirectoryDataError } from "../../../src/errors.ts";
import { applySetFilters } from "../../../src/engine/filter.ts";
import {
  mapOneLoginRole,
  mapOneLoginUser,
  oneLoginEmail,
  type OneLoginUserRecord,
  parseOneLoginRole,
  parseOneLoginUser,
} from "../../../src/providers/onelogin/mapping.ts";
import {
  generateOneLoginAccount,
  ONELOGIN_STATUSES,
  startFakeOneLogin,
} from "../../fakes/onelogin.ts";

function record(fields: Partial<OneLoginUserRecord> = {}): OneLoginUserRecord {
  return {
    id: 1000,
    username: "ann",
    email: "ann@example.com",
    status: 1,
    updatedAt: null,
    ...fields,
  };
}

Deno.test("mapOneLoginUser() sends the numeric id as its decimal text and marks only status 2 disabled", () => {
  assert.deepEqual(mapOneLoginUser(record()), {
    kind: "mapped",
    value: {
      referenceId: "1000",
      externalId: "1000",
      email: "ann@example.com",
      disabled: false,
      deleted: false,
      refs: ["user:1000"],
    },
  });
  const disabled = ONELOGIN_STATUSES.map((status) => {
    const mapped = mapOneLoginUser(record({ status }));
    return mapped.kind === "mapped" && mapped.value.disabled;
  });
  assert.deepEqual(disabled, [false, false, true, false, false, false, false, false]);
});

Deno.test("oneLoginEmail() takes email, else an email-shaped username, else username plus the suffix", () => {
  assert.deepEqual(oneLoginEmail(record({ email: "ann@example.com", username: "x@y.z" })), {
    email: "ann@example.com",
  });
  assert.deepEqual(oneLoginEmail(record({ email: "ann", username: "ann@corp.example" })), {
    email: "ann@corp.example",
  });
  assert.deepEqual(
    oneLoginEmail(record({ email: null, username: "ann" }), {
      useEmailPrefixSuffix: true,
      emailSuffix: "@corp.example",
    }),
    { email: "ann@corp.example" },
  );
  assert.deepEqual(
    oneLoginEmail(record({ email: "ann@localhost", username: "ann" }), {
      emailSuffix: "@corp.example",
    }),
    { reason: 'no email address (email "ann@localhost", username "ann")' },
  );
  assert.deepEqual(
    oneLoginEmail(record({ email: null, username: "ann" }), { useEmailPrefixSuffix: true }),
    {
      reason:
        'no email address (no email, username "ann"; sync.useEmailPrefixSuffix is on but sync.emailSuffix is not set)',
    },
  );
  assert.deepEqual(
    oneLoginEmail(record({ email: null, username: "ann" }), {
      useEmailPrefixSuffix: true,
      emailSuffix: "corp",
    }),
    { reason: 'no email address (no email; "anncorp" is not an address)' },
  );
  assert.deepEqual(
    oneLoginEmail(record({ email: null, username: null }), {
      useEmailPrefixSuffix: true,
      emailSuffix: "@corp.example",
    }),
    { reason: "no email address (no email, no username)" },
  );
});

Deno.test("mapOneLoginUser() skips a user without an address with the reason", () => {
  assert.deepEqual(mapOneLoginUser(record({ email: null, username: "svc" })), {
    kind: "skipped",
    entry: {
      referenceId: "1000",
      kind: "user",
      reason: 'no email address (no email, username "svc")',
    },
  });
});

Deno.test("parseOneLoginUser() and parseOneLoginRole() accept numeric ids and refuse others with a DirectoryDataError", () => {
  assert.deepEqual(
    parseOneLoginUser({
      id: 42,
      username: " ann ",
      email: "",
      status: 2,
      updated_at: "2026-01-01T00:00:00.000Z",
    }),
    { id: 42, username: "ann", email: null, status: 2, updatedAt: "2026-01-01T00:00:00.000Z" },
  );
  assert.equal(parseOneLoginUser({ id: "43" }).id, 43);
  assert.throws(() => parseOneLoginUser({ id: 1.5 }), DirectoryDataError);
  assert.throws(() => parseOneLoginUser({ id: -1 }), DirectoryDataError);
  assert.throws(() => parseOneLoginUser({ username: "x" }), DirectoryDataError);
  assert.deepEqual(parseOneLoginRole({ id: 7, name: "Admins", users: [1] }), {
    id: 7,
    name: "Admins",
  });
  assert.throws(
    () => parseOneLoginRole(null),
    (error: unknown) =>
      error instanceof DirectoryDataError &&
      error.message === "OneLogin returned a malformed role (no numeric id): null",
  );
});

Deno.test("mapOneLoginRole() makes a group whose members reference users, never a role with the same id", () => {
  assert.deepEqual(mapOneLoginRole({ id: 1000, name: "Admins" }, [1000, 1001]), {
    kind: "mapped",
    value: {
      referenceId: "1000",
      externalId: "1000",
      name: "Admins",
      memberRefs: ["user:1000", "user:1001"],
      refs: ["role:1000"],
    },
  });
  assert.deepEqual(mapOneLoginRole({ id: 5, name: null }, []), {
    kind: "skipped",
    entry: { referenceId: "5", kind: "group", reason: "no role name" },
  });
  const users = [mapOneLoginUser(record({ id: 1000 })), mapOneLoginUser(record({ id: 1002 }))]
    .flatMap((m) => (m.kind === "mapped" ? [m.value] : []));
  const role = mapOneLoginRole({ id: 1000, name: "Admins" }, [1000]);
  assert.equal(role.kind, "mapped");
  const kept = applySetFilters(users, role.kind === "mapped" ? [role.value] : [], {
    groups: "include:admins",
    removeDisabled: false,
  });
  assert.deepEqual(kept.users.map((u) => u.externalId), ["1000"]);
});

Deno.test("mapping the fake account's users and role members read over HTTP", async () => {
  const account = generateOneLoginAccount({ users: 310, roles: 1 });
  const fake = startFakeOneLogin(account);
  try {
    const tokenResponse = await fetch(`${fake.apiUrl}/auth/oauth2/v2/token`, {
      method: "POST",
      headers: {
        authorization: `Basic ${btoa(`${fake.clientId}:${fake.clientSecret}`)}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ grant_type: "client_credentials" }),
    });
    const { access_token: token } = await tokenResponse.json();
    const list = async (path: string) => {
      const items: unknown[] = [];
      let cursor: string | null = null;
      do {
        const response: Response = await fetch(
          `${fake.apiUrl}${path}?limit=100${cursor === null ? "" : `&cursor=${cursor}`}`,
          { headers: { authorization: `Bearer ${token}` } },
        );
        items.push(...await response.json());
        cursor = response.headers.get("after-cursor");
      } while (cursor !== null);
      return items;
    };
    const mapped = (await list("/api/2/users")).map((item) =>
      mapOneLoginUser(parseOneLoginUser(item), { useEmailPrefixSuffix: false })
    );
    const skipped = mapped.flatMap((m) => (m.kind === "skipped" ? [m.entry.referenceId] : []));
    assert.deepEqual(
      skipped,
      account.users.filter((u) => !(u.username ?? "").includes("@")).map((u) => String(u.id)),
    );
    const users = mapped.flatMap((m) => (m.kind === "mapped" ? [m.value] : []));
    assert.deepEqual(
      users.filter((u) => u.disabled).map((u) => u.externalId),
      account.users.filter((u) => u.status === 2).map((u) => String(u.id)),
    );
    const role = account.roles[0];
    const members = (await list(`/api/2/roles/${role?.id}/users`)).map((item) =>
      parseOneLoginUser(item).id
    );
    const group = mapOneLoginRole({ id: role?.id ?? 0, name: role?.name ?? null }, members);
    assert.deepEqual(
      group.kind === "mapped" ? group.value.memberRefs : [],
      [...(role?.users ?? [])].sort((a, b) => a - b).map((id) => `user:${id}`),
    );
  } finally {
    await fake.close();
  }
});
