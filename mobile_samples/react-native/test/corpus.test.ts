/**
 * The TypeScript parser against the deeplink fixture corpus the Python parser is tested against
 * (`OFDA_FIXTURES_DIR`, every `*.json` in it), and the navigation policy against the cases shared by
 * the three mobile samples (`OFDA_NAVIGATION_CASES`).
 */
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";

import { eventFromJson } from "../src/backendClient";
import { CallbackUrls, DeeplinkError, accessToken, parse, strictUtf8 } from "../src/deeplinks";
import { NavigationPolicy, type Navigation } from "../src/navigationPolicy";

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value.trim() === "") throw new Error(`environment variable ${name} is required`);
  return value;
}

interface CorpusCase {
  readonly name: string;
  readonly url: string;
  readonly callback_urls?: unknown;
  readonly expect?: unknown;
  readonly expect_error?: string;
}

interface NavigationGroup {
  readonly name: string;
  readonly widget_url: string;
  readonly callback_urls: { success: string; exit: string; event: string };
  readonly cases: ReadonlyArray<{ readonly name: string; readonly url: string; readonly expect: Navigation["action"] }>;
}

const fixturesDir = requiredEnv("OFDA_FIXTURES_DIR");
const fixtureFiles = readdirSync(fixturesDir)
  .filter((f) => f.endsWith(".json"))
  .sort();

test("the corpus directory holds *.json fixture files", () => {
  assert.ok(fixtureFiles.length > 0, `expected fixture files in ${fixturesDir}`);
});

for (const file of fixtureFiles) {
  const cases = JSON.parse(readFileSync(join(fixturesDir, file), "utf8")) as CorpusCase[];
  describe(file, () => {
    cases.forEach((c, index) => {
      test(`[${index}] ${c.name}`, () => {
        let outcome: unknown;
        try {
          // Malformed callback URLs are the parser's to refuse too, so they are read inside the try.
          const callbacks = c.callback_urls === undefined ? null : CallbackUrls.fromJson(c.callback_urls);
          outcome = parse(c.url, callbacks);
        } catch (error) {
          if (!(error instanceof DeeplinkError)) throw error;
          outcome = { error: error.code, message: error.message };
        }
        if ("expect" in c) assert.deepStrictEqual(outcome, c.expect);
        else if ("expect_error" in c)
          assert.equal((outcome as { error?: string }).error, c.expect_error, `got ${JSON.stringify(outcome)}`);
        else assert.fail("expected the case to have 'expect' or 'expect_error'");
      });
      if ("expect" in c) {
        test(`[${index}] ${c.name} (the backend's event JSON reads back unchanged)`, () => {
          assert.deepStrictEqual(eventFromJson(c.expect), c.expect);
        });
      }
    });
  });
}

const navigation = JSON.parse(readFileSync(requiredEnv("OFDA_NAVIGATION_CASES"), "utf8")) as NavigationGroup[];
for (const group of navigation) {
  describe(`navigation: ${group.name}`, () => {
    const policy = new NavigationPolicy(group.widget_url, group.callback_urls);
    for (const c of group.cases) {
      test(c.name, () => {
        const decision = policy.decide(c.url);
        assert.equal(decision.action, c.expect);
        if (decision.action === "forward" || decision.action === "external") assert.equal(decision.url, c.url);
      });
    }
  });
}

describe("strict UTF-8", () => {
  const cases: ReadonlyArray<readonly [string, readonly number[], string | null]> = [
    ["ASCII and a two-byte letter", [0x61, 0xc3, 0xa3], "aã"],
    ["a four-byte emoji becomes a surrogate pair", [0xf0, 0x9f, 0x98, 0x80], "\u{1f600}"],
    ["an overlong '/'", [0xc0, 0xaf], null],
    ["an encoded surrogate", [0xed, 0xa0, 0x80], null],
    ["past U+10FFFF", [0xf4, 0x90, 0x80, 0x80], null],
    ["a truncated sequence", [0xe2, 0x82], null],
    ["a lone continuation byte", [0x80], null],
  ];
  for (const [name, bytes, expected] of cases) {
    test(name, () => assert.equal(strictUtf8(bytes), expected));
  }
});

describe("resume", () => {
  const callbacks = new CallbackUrls({
    success: "myapp://belvo/success",
    exit: "myapp://belvo/exit",
    event: "myapp://belvo/event",
    application_link: "https://app.example.com/belvo-widget",
  });
  test("the access token is decoded from the query the event carries unchanged", () => {
    const event = parse("https://app.example.com/belvo-widget/?access_token=tok%2B1.x&locale=pt", callbacks);
    assert.equal(event.type, "resume");
    if (event.type !== "resume") return;
    assert.equal(event.query, "access_token=tok%2B1.x&locale=pt");
    assert.equal(accessToken(event), "tok+1.x");
  });
});
