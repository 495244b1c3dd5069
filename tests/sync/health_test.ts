import assert from "node:assert/strict";
import { checkReadNotices, checkSourceHealth } from "../../src/sync/health.ts";
import { SourceIncompleteError } from "../../src/errors.ts";

const both = { users: true, groups: true };

Deno.test("checkSourceHealth() refuses a full read with no users where the last had many", () => {
  assert.throws(
    () =>
      checkSourceHealth({ users: 0, groups: 3 }, { users: 120, groups: 3 }, {
        incremental: false,
        read: both,
        allowEmpty: false,
      }),
    (error: unknown) =>
      error instanceof SourceIncompleteError && error.exitCode === 5 &&
      error.message ===
        "Cannot trust the directory read: it returned 0 users (the last successful read had 120)",
  );
});

Deno.test("checkSourceHealth() names both sides when users and groups vanish", () => {
  assert.throws(
    () =>
      checkSourceHealth({ users: 0, groups: 0 }, { users: 9, groups: 7 }, {
        incremental: false,
        read: both,
        allowEmpty: false,
      }),
    /0 users \(the last successful read had 9\) and 0 groups \(the last successful read had 7\)/,
  );
});

Deno.test("checkSourceHealth() accepts empty reads that are expected", () => {
  const previous = { users: 50, groups: 5 };
  const empty = { users: 0, groups: 0 };
  // incremental reads are often empty
  checkSourceHealth(empty, previous, { incremental: true, read: both, allowEmpty: false });
  // the operator confirmed it
  checkSourceHealth(empty, previous, { incremental: false, read: both, allowEmpty: true });
  // no history yet, or a small directory
  checkSourceHealth(empty, undefined, { incremental: false, read: both, allowEmpty: false });
  checkSourceHealth(empty, { users: 2, groups: 1 }, {
    incremental: false,
    read: both,
    allowEmpty: false,
  });
  // a side that is not read cannot be judged
  checkSourceHealth({ users: 0, groups: 5 }, previous, {
    incremental: false,
    read: { users: false, groups: true },
    allowEmpty: false,
  });
});

Deno.test("checkReadNotices() stops a sync that removes members when deleted objects were unreadable", () => {
  const notices = [{
    kind: "notice" as const,
    code: "deletedObjectsUnreadable" as const,
    level: "warn" as const,
    message: "Cannot query deleted users in CN=Deleted Objects,DC=example,DC=com: denied",
  }];
  assert.throws(() => checkReadNotices(notices, { removals: 2 }), (error: unknown) => {
    assert.ok(error instanceof SourceIncompleteError);
    assert.equal(
      error.message,
      "Cannot trust the directory read for removals: Cannot query deleted users in CN=Deleted Objects,DC=example,DC=com: denied",
    );
    return true;
  });
  checkReadNotices(notices, { removals: 0 });
  checkReadNotices([{ ...notices[0]!, code: "referralsNotFollowed" }], { removals: 2 });
});
