/** The launch URL is handed to the flow once: not again after a remount, nor after a relaunch from Recents. */
import assert from "node:assert/strict";
import { test } from "node:test";

import { LaunchLinks, type KeyValueStorage } from "../src/launchLinks";

class MapStorage implements KeyValueStorage {
  readonly values = new Map<string, string>();

  async getItem(key: string): Promise<string | null> {
    return this.values.get(key) ?? null;
  }

  async setItem(key: string, value: string): Promise<void> {
    this.values.set(key, value);
  }
}

const exit = "ofdaapp://belvo/exit?meta_data_step=abandon-survey";

test("a launch URL is handed out until it is handled, then never again in this run", async () => {
  const links = new LaunchLinks(new MapStorage());
  assert.equal(await links.unhandled(exit), exit);
  // React's development mode runs an effect twice before anything is handled: nothing is lost.
  assert.equal(await links.unhandled(exit), exit);
  await links.handled(exit);
  assert.equal(await links.unhandled(exit), null);
  assert.equal(await links.unhandled(null), null);
});

test("after the process died, the same launch URL re-delivered from Recents is not handled again", async () => {
  const storage = new MapStorage();
  await new LaunchLinks(storage).handled(exit);
  const relaunched = new LaunchLinks(storage);
  assert.equal(await relaunched.unhandled(exit), null);
  const another = "ofdaapp://belvo/exit?meta_data_step=consent";
  assert.equal(await relaunched.unhandled(another), another);
});

test("the stored fingerprint does not contain the URL's token", async () => {
  const storage = new MapStorage();
  const link = "https://app.example.com/belvo/return?access_token=secret-token&consent_id=c";
  await new LaunchLinks(storage).handled(link);
  const stored = [...storage.values.values()].join();
  assert.ok(!stored.includes("secret-token"), stored);
  assert.match(stored, /^[0-9a-f]{16}$/);
});
