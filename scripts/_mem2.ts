import { configSchema } from "../src/config/schema.ts";
import { readDirectory } from "../src/sync/read.ts";
import { sourceOf } from "../src/providers/registry.ts";
const mem = (n: string) => {
  const m = Deno.memoryUsage();
  console.log(
    n,
    "heapUsed",
    Math.round(m.heapUsed / 1048576),
    "heapTotal",
    Math.round(m.heapTotal / 1048576),
    "external",
    Math.round(m.external / 1048576),
    "rss",
    Math.round(m.rss / 1048576),
  );
};
const cfg = configSchema.parse(
  JSON.parse(Deno.readTextFileSync("/tmp/pb/cases/ldap100k/config.json")),
);
mem("start");
const provider = sourceOf(cfg).create(cfg, {
  secret: () => Promise.resolve("ReaderPass1!"),
  log: () => {},
});
let n = 0;
for await (const page of provider.read({ users: true, groups: true, mode: "full" })) {
  if (++n % 40 === 0) mem("page " + n + " " + page.kind);
}
mem("end");
