import assert from "node:assert/strict";
import { join } from "node:path";
import {
  bwdcDataCandidates,
  type BwdcMigration,
  mapBwdcData,
  parseBwdcData,
} from "../../src/migrate/bwdc.ts";
import { ConfigError } from "../../src/errors.ts";
import { REPO_ROOT } from "../_helpers.ts";

const ORG = "6f1d2c3b-4a59-4e8f-9b21-0c7d5e3a9f10";
const ACCOUNT = `organization.${ORG}`;
const LEGACY_SETTINGS = `${ACCOUNT}.directorySettings`;
const LEGACY_CONFIGS = `${ACCOUNT}.directoryConfigurations`;

async function fixture(name: string): Promise<BwdcMigration> {
  const file = join(REPO_ROOT, "tests", "migrate", "testdata", `${name}.json`);
  return parseBwdcData(await Deno.readTextFile(file));
}

/** `key=value`, with ` (bwdc default)` when the file had no value. */
function settingsOf(migration: BwdcMigration): string[] {
  return migration.settings.map((setting) =>
    `${setting.key}=${String(setting.value)}${setting.bwdcDefault ? " (bwdc default)" : ""}`
  );
}

function secretsOf(migration: BwdcMigration): string[] {
  return migration.secrets.map((secret) =>
    `${secret.key} ${secret.source}${secret.value === undefined ? "" : ` ${secret.value}`}`
  );
}

function stateOf(migration: BwdcMigration): string[] {
  return migration.state.map((item) => `${item.item}=${item.value}`);
}

function skippedOf(migration: BwdcMigration): string[] {
  return migration.notMigrated.map((item) => item.from);
}

const LDAP_ONLY = [
  "userPath",
  "groupPath",
  "userObjectClass",
  "groupObjectClass",
  "userEmailAttribute",
  "groupNameAttribute",
  "memberAttribute",
];
const LDAP_ONLY_TAIL = ["emailPrefixAttribute", "revisionDateAttribute", "creationDateAttribute"];

Deno.test("mapBwdcData() maps a flat OpenLDAP data.json with plain-text secrets", async () => {
  const migration = await fixture("flat-ldap-plaintext");
  assert.equal(migration.layout, "flat");
  assert.equal(migration.stateVersion, 8);
  assert.equal(migration.directoryType, "ldap");
  assert.deepEqual(settingsOf(migration), [
    "server.url=https://vault.example.test",
    "directory.type=ldap",
    "directory.ldap.hostname=ldap.example.test",
    "directory.ldap.port=1389",
    "directory.ldap.ssl=false",
    "directory.ldap.startTls=false",
    "directory.ldap.sslAllowUnauthorized=false",
    "directory.ldap.rootPath=dc=example,dc=test",
    "directory.ldap.username=cn=admin,dc=example,dc=test",
    "directory.ldap.ad=false",
    "directory.ldap.pagedSearch=false",
    "directory.ldap.currentUser=false",
    "sync.users=true",
    "sync.groups=true",
    "sync.interval=10",
    "sync.removeDisabled=false",
    "sync.overwriteExisting=false",
    "sync.largeImport=false",
    "sync.inviteUsersAfterProvisioning=true",
    "sync.userFilter=(objectClass=inetOrgPerson)",
    "sync.groupFilter=(cn=*)",
    "sync.userPath=ou=People",
    "sync.groupPath=ou=Groups",
    "sync.userObjectClass=inetOrgPerson",
    "sync.groupObjectClass=groupOfNames",
    "sync.userEmailAttribute=mail",
    "sync.groupNameAttribute=cn",
    "sync.memberAttribute=member",
    "sync.useEmailPrefixSuffix=false",
  ]);
  assert.deepEqual(secretsOf(migration), ["directory.ldap.password plaintext s3cret-bind"]);
  assert.deepEqual(stateOf(migration), [
    "lastUserSync=2026-11-02T08:15:30.123Z",
    "lastGroupSync=2026-11-02T08:15:30.123Z",
    "lastSyncHash=q7cJ0m9r3oXkq2YH1x6oJ0qz1Yb8C2m8sQ3Wf4tP5vE=",
  ]);
  assert.deepEqual(migration.login, {
    organizationId: ORG,
    clientId: `organization.${ORG}`,
    clientSecret: "Xc9vB2nM4kL7pQ1wE5rT8yU3iO6aS0",
  });
  assert.deepEqual(migration.notMigrated, [
    {
      from: "environmentUrls.webVault",
      value: "https://vault.example.test/web",
      reason: "roster talks only to the API and identity servers; it has no setting for this URL",
    },
    {
      from: "directoryLdap.startTls",
      value: true,
      reason:
        "bwdc ignores startTls while ssl is false, so it connected without TLS; roster would use StartTLS: set directory.ldap.startTls true once the server supports it",
    },
    {
      from: "directoryLdap.id",
      value: "3f2a9c1e-7b6d-4e5f-8a9b-0c1d2e3f4a5b",
      reason:
        "bwdc's keychain scoping id for the secret; roster keeps secrets by setting name in its state store",
    },
  ]);
});

Deno.test("mapBwdcData() maps a flat Active Directory data.json with keychain secrets", async () => {
  const migration = await fixture("flat-ad-keychain");
  assert.deepEqual(settingsOf(migration), [
    "server.url=https://vault.bitwarden.eu",
    "directory.type=ldap",
    "directory.ldap.hostname=dc01.corp.example.test",
    "directory.ldap.port=636",
    "directory.ldap.ssl=true",
    "directory.ldap.startTls=false",
    "directory.ldap.sslAllowUnauthorized=false",
    "directory.ldap.sslCaPath=C:\\certs\\corp-root.pem",
    "directory.ldap.rootPath=DC=corp,DC=example,DC=test",
    "directory.ldap.username=svc-bwdc@corp.example.test",
    "directory.ldap.ad=true",
    "directory.ldap.pagedSearch=true",
    "directory.ldap.currentUser=false",
    "directory.ldap.domain=corp.example.test",
    "sync.users=true",
    "sync.groups=true",
    "sync.interval=60",
    "sync.removeDisabled=true",
    "sync.overwriteExisting=false",
    "sync.largeImport=true",
    "sync.inviteUsersAfterProvisioning=false",
    "sync.userFilter=(&(objectCategory=person)(memberOf=CN=Vault Users,CN=Users,DC=corp,DC=example,DC=test))",
    "sync.userPath=CN=Users",
    "sync.groupPath=CN=Users",
    "sync.userObjectClass=person",
    "sync.groupObjectClass=group",
    "sync.userEmailAttribute=mail",
    "sync.groupNameAttribute=name",
    "sync.memberAttribute=member",
    "sync.useEmailPrefixSuffix=true",
    "sync.emailPrefixAttribute=sAMAccountName",
    "sync.emailSuffix=@corp.example.test",
    "sync.revisionDateAttribute=whenChanged",
    "sync.creationDateAttribute=whenCreated",
  ]);
  assert.deepEqual(secretsOf(migration), ["directory.ldap.password keychain"]);
  assert.equal(migration.secrets[0]?.env, "LDAP_PASSWORD");
  assert.deepEqual(stateOf(migration), [
    "lastUserSync=2026-10-30T22:00:04.512Z",
    "lastGroupSync=2026-10-30T22:00:04.512Z",
    "lastSyncHash=mJ1s0Wm3YV0Zb2nLk8pXr5tQ9cE4dF7gH6jK1lA2sD8=",
  ]);
  assert.deepEqual(migration.login, {
    organizationId: ORG,
    clientId: `organization.${ORG}`,
    clientSecret: undefined,
  });
  // The empty Okta configuration (only its id) is not worth a line.
  assert.deepEqual(skippedOf(migration), ["directoryLdap.id"]);
});

Deno.test("mapBwdcData() maps a flat Entra ID data.json with its delta link", async () => {
  const migration = await fixture("flat-entra-keychain");
  assert.deepEqual(settingsOf(migration), [
    "directory.type=entra",
    "directory.entra.identityAuthority=login.microsoftonline.com",
    "directory.entra.tenant=contoso-test.onmicrosoft.com",
    "directory.entra.applicationId=11111111-2222-4333-8444-555555555555",
    "sync.users=true",
    "sync.groups=true",
    "sync.interval=5",
    "sync.removeDisabled=false",
    "sync.overwriteExisting=false",
    "sync.largeImport=false",
    "sync.inviteUsersAfterProvisioning=true",
    "sync.userFilter=includeGroup:8a1b2c3d-0000-4000-8000-000000000001|exclude:guest@contoso.test",
    "sync.groupFilter=include:Vault Users,Vault Admins",
  ]);
  assert.deepEqual(secretsOf(migration), ["directory.entra.key keychain"]);
  assert.deepEqual(stateOf(migration), [
    "lastUserSync=2026-11-03T10:00:00.000Z",
    "lastGroupSync=2026-11-03T10:00:00.000Z",
    "lastSyncHash=Hk2b9Z0x7Yq1Wm4Nn3Vr6Tt8Ss5Rr2Qq1Pp0Oo9Ii8U=",
    "providerState.usersDeltaLink=https://graph.microsoft.com/v1.0/users/delta?$deltatoken=Aa1Bb2Cc3Dd4Ee5Ff6Gg7Hh8",
  ]);
  assert.deepEqual(skippedOf(migration), [
    "directoryEntra.id",
    "directoryLdap",
    ...[...LDAP_ONLY, ...LDAP_ONLY_TAIL].map((field) => `sync.${field}`),
    "groupDeltaToken",
  ]);
  const reasons = new Map(migration.notMigrated.map((item) => [item.from, item.reason]));
  assert.equal(
    reasons.get("directoryLdap"),
    "bwdc ignores it: the directory type is entra, not ldap",
  );
  assert.equal(reasons.get("sync.userPath"), "bwdc uses it only for ldap, not for entra");
  assert.equal(reasons.get("groupDeltaToken"), "bwdc never reads the group delta link");
});

Deno.test("mapBwdcData() maps a flat Google Workspace data.json with a plain-text key", async () => {
  const migration = await fixture("flat-gsuite-plaintext");
  assert.deepEqual(settingsOf(migration), [
    "server.url=https://bw.example.test",
    "server.api=https://bw-api.example.test",
    "server.identity=https://bw-identity.example.test",
    "directory.type=google",
    "directory.google.clientEmail=bwdc-sync@example-project.iam.gserviceaccount.com",
    "directory.google.domain=example.test",
    "directory.google.adminUser=admin@example.test",
    "directory.google.customer=C01abcd23",
    "sync.users=true",
    "sync.groups=true",
    "sync.interval=30",
    "sync.removeDisabled=true",
    "sync.overwriteExisting=false",
    "sync.largeImport=false",
    "sync.inviteUsersAfterProvisioning=true",
    "sync.userFilter=|orgUnitPath='/Staff'",
    "sync.groupFilter=exclude:Contractors",
  ]);
  // The `\n` escapes of a pasted JSON key file become line breaks.
  assert.deepEqual(secretsOf(migration), [
    "directory.google.privateKey plaintext -----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAfakefakefake\n-----END PRIVATE KEY-----\n",
  ]);
  assert.deepEqual(stateOf(migration), []);
  assert.equal(migration.login.clientSecret, "Gs4uIt3PlAiNtExTsEcReT0");
  assert.deepEqual(skippedOf(migration), [
    "directoryGsuite.id",
    ...[...LDAP_ONLY, ...LDAP_ONLY_TAIL].map((field) => `sync.${field}`),
  ]);
});

Deno.test("mapBwdcData() maps a flat Okta data.json with a keychain token", async () => {
  const migration = await fixture("flat-okta-keychain");
  assert.deepEqual(settingsOf(migration), [
    "server.url=https://vault.example.test",
    "directory.type=okta",
    "directory.okta.orgUrl=https://example-test.okta.com",
    "sync.users=true",
    "sync.groups=false",
    "sync.interval=15",
    "sync.removeDisabled=false",
    "sync.overwriteExisting=false",
    "sync.largeImport=false",
    "sync.inviteUsersAfterProvisioning=true",
    'sync.userFilter=exclude:joe@example.test|profile.department eq "Engineering"',
  ]);
  assert.deepEqual(secretsOf(migration), ["directory.okta.token keychain"]);
  assert.deepEqual(stateOf(migration), [
    "lastUserSync=2026-11-01T12:30:00.000Z",
    "lastSyncHash=Ok7aHa5hVaLuE3oF9tHe2lAsT1sYnC0hAsH4eXaMpLe=",
  ]);
  assert.equal(migration.login.clientSecret, undefined);
  assert.deepEqual(skippedOf(migration), [
    "directoryOkta.id",
    ...[...LDAP_ONLY, ...LDAP_ONLY_TAIL].map((field) => `sync.${field}`),
  ]);
});

Deno.test("mapBwdcData() maps a flat OneLogin data.json with a plain-text secret", async () => {
  const migration = await fixture("flat-onelogin-plaintext");
  assert.deepEqual(settingsOf(migration), [
    "directory.type=onelogin",
    "directory.onelogin.clientId=0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071",
    "directory.onelogin.region=eu",
    "sync.users=true",
    "sync.groups=true",
    "sync.removeDisabled=false",
    "sync.overwriteExisting=true",
    "sync.largeImport=false",
    "sync.inviteUsersAfterProvisioning=false",
    "sync.groupFilter=include:Vault",
    "sync.useEmailPrefixSuffix=true",
    "sync.emailSuffix=@example.test",
  ]);
  assert.deepEqual(secretsOf(migration), [
    "directory.onelogin.clientSecret plaintext 0n3L0g1nS3cr3tV4lu3",
  ]);
  assert.deepEqual(stateOf(migration), [
    "lastUserSync=2026-11-04T06:00:00.000Z",
    "lastGroupSync=2026-11-04T06:00:00.000Z",
    "lastSyncHash=0nElOgInHaSh2bAsE64eNcOdEdVaLuE1234567890Ab=",
  ]);
  // bwdc's secure storage keeps JSON text: the quoted secret is read back.
  assert.equal(migration.login.clientSecret, "QuOtEdClIeNtSeCrEt9");
  assert.deepEqual(skippedOf(migration), [
    "environmentUrls.base",
    "directoryOnelogin.id",
    "sync.interval",
    ...[...LDAP_ONLY, ...LDAP_ONLY_TAIL].map((field) => `sync.${field}`),
  ]);
  const reasons = new Map(migration.notMigrated.map((item) => [item.from, item.reason]));
  assert.equal(
    reasons.get("environmentUrls.base"),
    "the US cloud, roster's default: server.url stays unset",
  );
  assert.equal(
    reasons.get("sync.interval"),
    "no schedule in bwdc; roster syncs on its own only under roster daemon, every sync.interval minutes (default 5)",
  );
});

Deno.test("mapBwdcData() maps a legacy (state version 3) LDAP data.json", async () => {
  const migration = await fixture("legacy-ldap-keychain");
  assert.equal(migration.layout, "legacy");
  assert.equal(migration.stateVersion, 3);
  assert.deepEqual(settingsOf(migration), [
    "server.url=https://bitwarden.example.test",
    "directory.type=ldap",
    "directory.ldap.hostname=ldap.example.test",
    "directory.ldap.port=389",
    "directory.ldap.ssl=true",
    "directory.ldap.startTls=true",
    "directory.ldap.sslAllowUnauthorized=false",
    "directory.ldap.tlsCaPath=/etc/ssl/ldap-ca.pem",
    "directory.ldap.rootPath=ou=Corp,dc=example,dc=test",
    "directory.ldap.username=cn=reader,dc=example,dc=test",
    "directory.ldap.ad=false",
    "directory.ldap.pagedSearch=true",
    "directory.ldap.currentUser=false",
    "sync.users=true",
    "sync.groups=true",
    "sync.interval=5",
    "sync.removeDisabled=false",
    "sync.overwriteExisting=false",
    "sync.largeImport=false",
    "sync.inviteUsersAfterProvisioning=true (bwdc default)",
    "sync.userPath=ou=People",
    "sync.groupPath=ou=Groups",
    "sync.userObjectClass=person",
    "sync.groupObjectClass=posixGroup",
    "sync.userEmailAttribute=mail",
    "sync.groupNameAttribute=cn",
    "sync.memberAttribute=memberUid",
    "sync.useEmailPrefixSuffix=false",
  ]);
  assert.deepEqual(migration.settings[1]?.from, `${LEGACY_SETTINGS}.directoryType`);
  assert.deepEqual(migration.settings[2]?.from, `${LEGACY_CONFIGS}.ldap.hostname`);
  assert.deepEqual(secretsOf(migration), ["directory.ldap.password keychain"]);
  assert.deepEqual(stateOf(migration), [
    "lastUserSync=2024-03-05T09:10:11.000Z",
    "lastGroupSync=2024-03-05T09:10:11.000Z",
    "lastSyncHash=LeGaCyLdApHaSh0123456789abcdefghijklmnopqrs=",
  ]);
  assert.deepEqual(migration.login, {
    organizationId: ORG,
    clientId: `organization.${ORG}`,
    clientSecret: undefined,
  });
  assert.deepEqual(skippedOf(migration), []);
});

Deno.test("mapBwdcData() maps a legacy (state version 4) Active Directory data.json", async () => {
  const migration = await fixture("legacy-ad-plaintext");
  assert.deepEqual(settingsOf(migration), [
    "directory.type=ldap",
    "directory.ldap.hostname=ad.corp.example.test",
    "directory.ldap.port=389",
    "directory.ldap.ssl=false",
    "directory.ldap.startTls=false",
    "directory.ldap.sslAllowUnauthorized=false",
    "directory.ldap.rootPath=DC=corp,DC=example,DC=test",
    "directory.ldap.username=CORP\\svc-bwdc",
    "directory.ldap.ad=true",
    "directory.ldap.pagedSearch=true",
    "directory.ldap.currentUser=false",
    "directory.ldap.domain=corp",
    "sync.users=true",
    "sync.groups=true",
    "sync.interval=120",
    "sync.removeDisabled=true",
    "sync.overwriteExisting=false",
    "sync.largeImport=false",
    "sync.inviteUsersAfterProvisioning=true (bwdc default)",
    "sync.groupFilter=(cn=Vault*)",
    "sync.userPath=CN=Users",
    "sync.groupPath=CN=Users",
    "sync.userObjectClass=person",
    "sync.groupObjectClass=group",
    "sync.userEmailAttribute=mail",
    "sync.groupNameAttribute=name",
    "sync.memberAttribute=member",
    "sync.useEmailPrefixSuffix=false",
    "sync.emailPrefixAttribute=sAMAccountName",
    "sync.revisionDateAttribute=whenChanged",
    "sync.creationDateAttribute=whenCreated",
  ]);
  assert.deepEqual(secretsOf(migration), ["directory.ldap.password plaintext AdP@ssw0rd!"]);
  assert.deepEqual(stateOf(migration), [
    "lastUserSync=2024-01-15T00:00:00.000Z",
    "lastGroupSync=2024-01-14T23:59:00.000Z",
    "lastSyncHash=LeGaCyAdHaSh0123456789abcdefghijklmnopqrstu=",
  ]);
  assert.deepEqual(migration.login, {
    organizationId: ORG,
    clientId: `organization.${ORG}`,
    clientSecret: "LeGaCyClIeNtSeCrEt42",
  });
  assert.deepEqual(skippedOf(migration), []);
});

Deno.test("mapBwdcData() maps a legacy Azure AD data.json to Entra ID, delta link included", async () => {
  const migration = await fixture("legacy-azure-plaintext");
  assert.deepEqual(settingsOf(migration), [
    "server.url=https://vault.example.gov.test",
    "server.api=https://api.vault.example.gov.test",
    "server.identity=https://id.vault.example.gov.test",
    "directory.type=entra",
    "directory.entra.identityAuthority=login.microsoftonline.us",
    "directory.entra.tenant=9b8a7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
    "directory.entra.applicationId=aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
    "sync.users=true",
    "sync.groups=true",
    "sync.interval=5",
    "sync.removeDisabled=false",
    "sync.overwriteExisting=false",
    "sync.largeImport=false",
    "sync.inviteUsersAfterProvisioning=true (bwdc default)",
    "sync.userFilter=exclude:svc@example.test",
  ]);
  assert.equal(migration.settings[4]?.from, `${LEGACY_CONFIGS}.azure.identityAuthority`);
  assert.deepEqual(secretsOf(migration), ["directory.entra.key plaintext AzUrEkEy~0123456789"]);
  assert.deepEqual(stateOf(migration), [
    "lastUserSync=2024-02-01T12:00:00.000Z",
    "lastGroupSync=2024-02-01T12:00:00.000Z",
    "lastSyncHash=LeGaCyAzUrEhAsH0123456789abcdefghijklmnopq=",
    "providerState.usersDeltaLink=https://graph.microsoft.com/v1.0/users/delta?$deltatoken=LegacyDelta123",
  ]);
  assert.equal(migration.state[3]?.from, `${LEGACY_SETTINGS}.userDelta`);
  assert.equal(migration.login.clientSecret, "AzUrEcLiEnTsEcReT7");
  assert.deepEqual(skippedOf(migration), [`${LEGACY_CONFIGS}.ldap`]);
});

Deno.test("mapBwdcData() maps a legacy Google Workspace data.json with a keychain key", async () => {
  const migration = await fixture("legacy-gsuite-keychain");
  assert.deepEqual(settingsOf(migration), [
    "directory.type=google",
    "directory.google.clientEmail=sync@legacy-project.iam.gserviceaccount.com",
    "directory.google.domain=legacy.example.test",
    "directory.google.adminUser=it-admin@legacy.example.test",
    "sync.users=true",
    "sync.groups=false",
    "sync.interval=5",
    "sync.removeDisabled=false",
    "sync.overwriteExisting=false",
    "sync.largeImport=false",
    "sync.inviteUsersAfterProvisioning=true (bwdc default)",
  ]);
  assert.deepEqual(secretsOf(migration), ["directory.google.privateKey keychain"]);
  assert.deepEqual(stateOf(migration), []);
  assert.deepEqual(skippedOf(migration), []);
});

Deno.test("mapBwdcData() maps a legacy Okta data.json with a plain-text token", async () => {
  const migration = await fixture("legacy-okta-plaintext");
  assert.deepEqual(settingsOf(migration), [
    "server.url=https://okta-vault.example.test",
    "directory.type=okta",
    "directory.okta.orgUrl=https://legacy-example.oktapreview.com",
    "sync.users=true",
    "sync.groups=true",
    "sync.interval=5",
    "sync.removeDisabled=true",
    "sync.overwriteExisting=false",
    "sync.largeImport=false",
    "sync.inviteUsersAfterProvisioning=true (bwdc default)",
    "sync.groupFilter=include:Vault Users",
  ]);
  assert.deepEqual(secretsOf(migration), [
    "directory.okta.token plaintext 00OkTaSsWsToKeN-abcdefghijklmnop",
  ]);
  assert.deepEqual(stateOf(migration), [
    "lastUserSync=2024-04-10T04:00:00.000Z",
    "lastGroupSync=2024-04-10T04:00:00.000Z",
    "lastSyncHash=LeGaCyOkTaHaSh0123456789abcdefghijklmnopqr=",
  ]);
  // Directory secrets in plain text, but no API key in the file: login remains.
  assert.equal(migration.login.clientSecret, undefined);
  assert.deepEqual(skippedOf(migration), []);
});

Deno.test("mapBwdcData() maps a legacy OneLogin data.json with a keychain secret", async () => {
  const migration = await fixture("legacy-onelogin-keychain");
  assert.deepEqual(settingsOf(migration), [
    "directory.type=onelogin",
    "directory.onelogin.clientId=fedcba9876543210fedcba9876543210fedcba9876543210",
    "directory.onelogin.region=us",
    "sync.users=true",
    "sync.groups=true",
    "sync.interval=5",
    "sync.removeDisabled=false",
    "sync.overwriteExisting=false",
    "sync.largeImport=false",
    "sync.inviteUsersAfterProvisioning=true (bwdc default)",
    "sync.userFilter=include:alice@example.test,bob@example.test",
    "sync.useEmailPrefixSuffix=false",
  ]);
  assert.deepEqual(secretsOf(migration), ["directory.onelogin.clientSecret keychain"]);
  assert.equal(migration.secrets[0]?.env, "ONELOGIN_SECRET");
  assert.deepEqual(stateOf(migration), [
    "lastUserSync=2024-05-20T18:45:00.000Z",
    "lastGroupSync=2024-05-20T18:45:00.000Z",
    "lastSyncHash=LeGaCyOnElOgInHaSh0123456789abcdefghijklmn=",
  ]);
  assert.deepEqual(skippedOf(migration), []);
});

Deno.test("mapBwdcData() lists values roster would reject, with roster's reason", () => {
  const migration = mapBwdcData({
    stateVersion: 8,
    directoryType: 1,
    directoryEntra: {
      identityAuthority: "login.partner.microsoftonline.cn",
      tenant: "t",
      applicationId: "a",
      key: null,
    },
    sync: { users: "yes", groups: true, interval: 3, extraOption: 1 },
  });
  assert.deepEqual(settingsOf(migration), [
    "directory.type=entra",
    "directory.entra.tenant=t",
    "directory.entra.applicationId=a",
    "sync.groups=true",
    "sync.removeDisabled=false (bwdc default)",
    "sync.overwriteExisting=false (bwdc default)",
    "sync.largeImport=false (bwdc default)",
    "sync.inviteUsersAfterProvisioning=false (bwdc default)",
  ]);
  assert.deepEqual(migration.notMigrated, [
    {
      from: "directoryEntra.identityAuthority",
      value: "login.partner.microsoftonline.cn",
      reason:
        'roster would reject it: Invalid value for directory.entra.identityAuthority: "login.partner.microsoftonline.cn" is not one of login.microsoftonline.com, login.microsoftonline.us, login.chinacloudapi.cn (Give one of login.microsoftonline.com, login.microsoftonline.us, login.chinacloudapi.cn, e.g. roster config set directory.entra.identityAuthority login.microsoftonline.com)',
    },
    {
      from: "sync.users",
      value: "yes",
      reason: "not true or false; set sync.users with roster config set",
    },
    {
      from: "sync.interval",
      value: 3,
      reason:
        'roster would reject it: Invalid value for sync.interval: "3" is not an integer from 5 to 525600 (Give an integer from 5 to 525600, e.g. roster config set sync.interval 5)',
    },
    { from: "sync.extraOption", value: 1, reason: "roster has no such sync option" },
  ]);
  assert.deepEqual(secretsOf(migration), ["directory.entra.key missing"]);
});

Deno.test("mapBwdcData() takes bwdc's defaults for missing sync options (users and groups off)", () => {
  const migration = mapBwdcData({ stateVersion: 8, directoryType: 3, directoryOkta: {} });
  assert.deepEqual(settingsOf(migration), [
    "directory.type=okta",
    "sync.users=false (bwdc default)",
    "sync.groups=false (bwdc default)",
    "sync.removeDisabled=false (bwdc default)",
    "sync.overwriteExisting=false (bwdc default)",
    "sync.largeImport=false (bwdc default)",
    "sync.inviteUsersAfterProvisioning=false (bwdc default)",
  ]);
  assert.deepEqual(secretsOf(migration), ["directory.okta.token missing"]);
  assert.deepEqual(migration.login, {
    organizationId: undefined,
    clientId: undefined,
    clientSecret: undefined,
  });
});

Deno.test("mapBwdcData() says when no directory type is set, and migrates the rest", () => {
  const migration = mapBwdcData({
    stateVersion: 8,
    environmentUrls: { base: "https://vault.example.test" },
    directoryType: null,
    sync: { users: true, groups: true },
  });
  assert.equal(migration.directoryType, undefined);
  assert.deepEqual(migration.notMigrated[0], {
    from: "directoryType",
    value: null,
    reason: "no directory type in bwdc: set directory.type and its settings with roster config set",
  });
  assert.equal(settingsOf(migration)[0], "server.url=https://vault.example.test");
  assert.deepEqual(migration.secrets, []);
});

Deno.test("mapBwdcData() refuses an API key of another organization and asks for a login", () => {
  const migration = mapBwdcData({
    stateVersion: 8,
    directoryType: 3,
    organizationId: ORG,
    apiKeyClientId: "organization.00000000-0000-4000-8000-000000000000",
    apiKeyClientSecret: "secret",
  });
  assert.deepEqual(migration.login, {
    organizationId: ORG,
    clientId: `organization.${ORG}`,
    clientSecret: undefined,
  });
  assert.equal(
    migration.notMigrated.at(-1)?.reason,
    `the API key is not for organization ${ORG}; run roster login with that organization's key`,
  );
});

Deno.test("mapBwdcData() never shows a secret it cannot use", () => {
  const migration = mapBwdcData({
    stateVersion: 8,
    directoryType: 0,
    directoryLdap: { hostname: "h", password: ["not", "text"] },
    apiKeyClientSecret: "orphan-secret",
  });
  const shown = JSON.stringify(migration.notMigrated);
  assert.equal(shown.includes("orphan-secret"), false);
  assert.deepEqual(
    migration.notMigrated.map((item) => [item.from, item.value]),
    [["directoryLdap.password", "********"], ["apiKeyClientSecret", "********"]],
  );
});

Deno.test("parseBwdcData() refuses state versions below 3 with bwdc's advice", () => {
  assert.throws(() => parseBwdcData('{"stateVersion": 2}'), (error) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(
      error.message,
      "Cannot read the bwdc data file: state version 2 is older than bwdc can migrate (3)",
    );
    return true;
  });
});

Deno.test("parseBwdcData() refuses text that is not a bwdc data.json", () => {
  for (
    const [text, message] of [
      ["{", /^Cannot read the bwdc data file: it is not JSON/],
      ["[]", /^Cannot read the bwdc data file: it is not a JSON object$/],
      ["{}", /^Cannot read the bwdc data file: it has no stateVersion$/],
      [
        '{"stateVersion": 8, "sync": "x"}',
        /^Cannot read the bwdc data file: unexpected content for state version 8: sync: /,
      ],
      [
        '{"stateVersion": 4, "a": {"directorySettings": {}}, "b": {"directorySettings": {}}}',
        /^Cannot read the bwdc data file: several accounts \(a, b\) and no activeUserId$/,
      ],
    ] as const
  ) {
    assert.throws(() => parseBwdcData(text), (error) => {
      assert.ok(error instanceof ConfigError, text);
      assert.match(error.message, message);
      return true;
    });
  }
});

Deno.test("parseBwdcData() reads a file that starts with a byte-order mark", () => {
  const migration = parseBwdcData('\uFEFF{"stateVersion": 8, "directoryType": 3}');
  assert.equal(migration.directoryType, "okta");
});

Deno.test("bwdcDataCandidates() follows bwdc's data directory order on each OS", () => {
  const env = (values: Record<string, string>) => (name: string) => values[name];
  assert.deepEqual(
    bwdcDataCandidates({
      os: "linux",
      env: env({
        BITWARDENCLI_CONNECTOR_APPDATA_DIR: "/srv/bwdc",
        BITWARDEN_CONNECTOR_APPDATA_DIR: "/srv/other",
        XDG_CONFIG_HOME: "/home/ann/.xdg",
        HOME: "/home/ann",
      }),
    }),
    [
      "/srv/bwdc/data.json",
      "/srv/other/data.json",
      "/home/ann/.xdg/Bitwarden Directory Connector/data.json",
      "/home/ann/.config/Bitwarden Directory Connector/data.json",
    ],
  );
  assert.deepEqual(bwdcDataCandidates({ os: "darwin", env: env({ HOME: "/Users/ann" }) }), [
    "/Users/ann/Library/Application Support/Bitwarden Directory Connector/data.json",
    "/Users/ann/.config/Bitwarden Directory Connector/data.json",
  ]);
  assert.deepEqual(
    bwdcDataCandidates({
      os: "windows",
      env: env({ APPDATA: "C:\\Users\\ann\\AppData\\Roaming", USERPROFILE: "C:\\Users\\ann" }),
    }),
    [
      "C:\\Users\\ann\\AppData\\Roaming\\Bitwarden Directory Connector\\data.json",
      "C:\\Users\\ann\\.config\\Bitwarden Directory Connector\\data.json",
    ],
  );
  assert.deepEqual(bwdcDataCandidates({ os: "linux", env: env({}) }), []);
});
