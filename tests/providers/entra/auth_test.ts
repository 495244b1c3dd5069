import assert from "node:assert/strict";
import { ConfigError, DirectoryError } from "../../../src/errors.ts";
import { createEntraProvider } from "../../../src/providers/entra/mod.ts";
import { entraEndpoints } from "../../../src/providers/entra/hosts.ts";
import { createTokenSource } from "../../../src/providers/entra/token.ts";
import { createHttpClient } from "../../../src/http/mod.ts";
import { configSchema } from "../../../src/config/schema.ts";
import { readDirectory } from "../../../src/sync/read.ts";
import { makeCertificate, withEntra } from "./_env.ts";
import { ID, TENANT } from "./_tenant.ts";

async function rejects(
  promise: Promise<unknown>,
  type: typeof ConfigError | typeof DirectoryError,
): Promise<{ message: string; hint: string }> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    return { message: error.message, hint: error.hint ?? "" };
  }
  assert.fail("expected the read to fail");
}

Deno.test("entra read() signs in with a certificate (signed client assertion) instead of a secret", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const app = await makeCertificate(dir, "app");
    const other = await makeCertificate(dir, "other");
    await Deno.writeTextFile(`${dir}/app.pem`, `${app.cert}\n${app.key}`);
    await Deno.writeTextFile(`${dir}/other.pem`, `${other.key}\n${other.cert}`);
    await Deno.writeTextFile(`${dir}/mixed.pem`, `${app.cert}\n${other.key}`);
    await withEntra({ tenant: TENANT, app: { certificates: [app.cert] } }, async (env) => {
      const result = await env.read({
        config: env.config({ entra: { certificatePath: `${dir}/app.pem` } }),
        secret: undefined,
      });
      assert.equal(result.snapshot.groups.length, 3);
      assert.equal(env.fake.counters().tokenRequests, 1);

      const notUploaded = await rejects(
        env.read({ config: env.config({ entra: { certificatePath: `${dir}/other.pem` } }) }),
        DirectoryError,
      );
      assert.match(
        notUploaded.message,
        /^Entra ID refused the token request for tenant .+: AADSTS700027: /,
      );
      assert.match(
        notUploaded.hint,
        /^Upload the certificate of directory\.entra\.certificatePath/,
      );

      env.fake.resetCounters();
      const mixed = await rejects(
        env.read({ config: env.config({ entra: { certificatePath: `${dir}/mixed.pem` } }) }),
        ConfigError,
      );
      assert.equal(
        mixed.message,
        `Cannot use the certificate ${dir}/mixed.pem: the private key does not belong to the certificate`,
      );
      const missing = await rejects(
        env.read({ config: env.config({ entra: { certificatePath: `${dir}/none.pem` } }) }),
        ConfigError,
      );
      assert.match(missing.message, /^Cannot use the certificate .*none\.pem: /);
      assert.equal(env.fake.counters().requests, 0);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("entra read() names the setting to fix for a bad tenant, application id or secret", async () => {
  await withEntra({ tenant: TENANT }, async (env) => {
    const tenant = await rejects(
      env.read({ config: env.config({ entra: { tenant: "fabrikam.example" } }) }),
      DirectoryError,
    );
    assert.match(tenant.message, /for tenant fabrikam\.example at 127\.0\.0\.1:\d+: AADSTS90002: /);
    assert.match(
      tenant.hint,
      /^Tenant fabrikam\.example was not found in this cloud: set directory\.entra\.tenant/,
    );

    const app = await rejects(
      env.read({
        config: env.config({ entra: { applicationId: "11111111-2222-4333-8444-555555555555" } }),
      }),
      DirectoryError,
    );
    assert.match(
      app.hint,
      /^No application 11111111-2222-4333-8444-555555555555 in tenant .+: set directory\.entra\.applicationId/,
    );

    const secret = await rejects(env.read({ secret: "wrong" }), DirectoryError);
    assert.match(secret.message, /AADSTS7000215: Invalid client secret provided/);
    assert.match(secret.hint, /roster config set directory\.entra\.key --secret-env VAR$/);

    env.fake.resetCounters();
    const none = await rejects(env.read({ secret: undefined }), ConfigError);
    assert.equal(
      none.message,
      "Directory configuration incomplete: neither directory.entra.key nor directory.entra.certificatePath is set",
    );
    assert.equal(env.fake.counters().requests, 0);
  });
});

Deno.test("entra read() signs in to the US Government and China clouds with their own Graph scope", async () => {
  for (
    const [cloud, authority] of [
      ["usgov", "login.microsoftonline.us"],
      ["china", "login.chinacloudapi.cn"],
    ] as const
  ) {
    await withEntra({ tenant: TENANT, cloud }, async (env) => {
      const result = await env.read({
        config: env.config({ entra: { identityAuthority: authority } }),
      });
      assert.equal(result.snapshot.users.length, 6);
      const wrong = await rejects(env.read(), DirectoryError);
      assert.match(wrong.message, /AADSTS500011: /);
      assert.match(wrong.hint, /^Set directory\.entra\.identityAuthority to the cloud/);
    });
  }
});

Deno.test("entra read() sends a national cloud's calls to its own hosts when no URL is overridden", async () => {
  const seen: { url: string; body: string }[] = [];
  const stub: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const url = request.url;
    seen.push({ url, body: request.method === "POST" ? await request.text() : "" });
    if (url.endsWith("/oauth2/v2.0/token")) {
      return Response.json({ token_type: "Bearer", expires_in: 3599, access_token: "t" });
    }
    const body: Record<string, unknown> = { value: [] };
    if (url.includes("/delta?")) body["@odata.deltaLink"] = `${url.split("?")[0]}?$deltatoken=x`;
    if (url.includes("$batch")) body["responses"] = [];
    return Response.json(body);
  };
  const config = configSchema.parse({
    directory: {
      type: "entra",
      entra: {
        tenant: "contoso.onmicrosoft.us",
        applicationId: ID.alice,
        identityAuthority: "login.microsoftonline.us",
      },
    },
  });
  const provider = createEntraProvider({
    settings: { entra: config.directory.entra, sync: config.sync },
    secret: () => Promise.resolve("s"),
    log: () => {},
  }, { fetch: stub });
  const result = await readDirectory(provider, { users: true, groups: true, mode: "full" });
  assert.deepEqual(result.snapshot, { users: [], groups: [], skipped: [] });
  assert.equal(
    seen[0]?.url,
    "https://login.microsoftonline.us/contoso.onmicrosoft.us/oauth2/v2.0/token",
  );
  assert.equal(
    new URLSearchParams(seen[0]?.body).get("scope"),
    "https://graph.microsoft.us/.default",
  );
  assert.deepEqual(
    [...new Set(seen.slice(1).map((s) => new URL(s.url).origin))],
    ["https://graph.microsoft.us"],
  );
});

Deno.test("entra read() names the missing permission and admin consent on a 403", async () => {
  await withEntra({ tenant: TENANT, app: { permissions: ["User.Read.All"] } }, async (env) => {
    const groups = await rejects(env.read(), DirectoryError);
    assert.match(groups.message, /^Graph refused GET \/v1\.0\/groups\/delta: /);
    assert.match(
      groups.hint,
      /^Grant the app registration the Microsoft Graph application permission GroupMember\.Read\.All .* and grant admin consent for the tenant$/,
    );
    env.fake.setPermissions(["GroupMember.Read.All"]);
    const users = await rejects(env.read(), DirectoryError);
    assert.match(users.hint, /permission User\.Read\.All /);
    env.fake.setPermissions(["GroupMember.Read.All", "User.Read.All"]);
    const units = await rejects(
      env.read({
        config: env.config({ sync: { groupFilter: `includeAdministrativeUnit:${ID.unit}` } }),
      }),
      DirectoryError,
    );
    assert.match(units.message, /administrativeUnits/);
    assert.match(units.hint, /permission AdministrativeUnit\.Read\.All /);
  });
});

Deno.test("entra read() renews the access token when Graph refuses it mid-read", async () => {
  await withEntra({ tenant: TENANT }, async (env) => {
    let expired = false;
    const result = await env.read({
      provider: {
        fetch: (input, init) => {
          const url = new Request(input, init).url;
          if (!expired && url.includes("/v1.0/users?")) {
            expired = true;
            env.fake.expireTokens();
          }
          return fetch(input, init);
        },
      },
    });
    assert.equal(result.snapshot.users.length, 6);
    assert.equal(env.fake.counters().tokenRequests, 2);
  });
});

Deno.test("entra read() refuses an unreadable caFile as a ConfigError naming the setting", async () => {
  await withEntra({ tenant: TENANT }, async (env) => {
    const error = await rejects(
      env.read({ config: env.config({ entra: { caFile: "/nonexistent/ca.pem" } }) }),
      ConfigError,
    );
    assert.match(error.message, /^Cannot use directory\.entra\.caFile: /);
    assert.equal(env.fake.counters().requests, 0);
  });
});

Deno.test("createTokenSource() caches the token and renews it 5 minutes before it expires", async () => {
  await withEntra({ tenant: TENANT, tokenLifetimeSeconds: 3600 }, async (env) => {
    const http = createHttpClient();
    try {
      const tokens = createTokenSource(http, {
        endpoints: entraEndpoints({
          identityAuthority: "login.microsoftonline.com",
          tenant: env.fake.tenantId,
          authorityUrl: env.fake.authorityUrl,
          graphUrl: env.fake.graphUrl,
        }),
        tenant: env.fake.tenantId,
        clientId: env.fake.credentials.clientId,
        credential: { kind: "secret", secret: env.fake.credentials.secret },
        now: env.clock.now,
      });
      const first = await tokens.token();
      assert.equal(await tokens.token(), first);
      env.clock.advance((3600 - 301) * 1000);
      assert.equal(await tokens.token(), first);
      assert.equal(env.fake.counters().tokenRequests, 1);
      env.clock.advance(2000);
      const second = await tokens.token();
      assert.notEqual(second, first);
      assert.equal(env.fake.counters().tokenRequests, 2);
      tokens.invalidate();
      assert.notEqual(await tokens.token(), second);
      assert.equal(env.fake.counters().tokenRequests, 3);
    } finally {
      http.close();
    }
  });
});
