/**
 * The flow against a stand-in backend (tests/mobile_samples/fake_backend.py) that answers what the
 * real one cannot be made to: the way back from the bank (App2App) with no local state, a resume
 * answer whose widget URL is on another origin, and slow or failing event answers.
 * `OFDA_BASE_URL`, `OFDA_WIDGET_ORIGIN` and `OFDA_APPLICATION_LINK` come from the stand-in.
 */
import assert from "node:assert/strict";
import { test } from "node:test";

import { BackendClient, BackendError } from "../src/backendClient";
import { InMemoryPendingSessionStore, WidgetFlow, type PendingSessionStore } from "../src/widgetFlow";

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value.trim() === "") throw new Error(`environment variable ${name} is required`);
  return value;
}

const client = new BackendClient(requiredEnv("OFDA_BASE_URL"), () => requiredEnv("OFDA_TOKEN"));
const widgetOrigin = requiredEnv("OFDA_WIDGET_ORIGIN");
const applicationLink = requiredEnv("OFDA_APPLICATION_LINK");
const bankQuery = "access_token=from-the-bank&consent_id=9e763d19-6d6d-4b0c-a84d-6cb51a2c0f4d&locale=pt";

async function storeWith(sessionId: string | null): Promise<PendingSessionStore> {
  const store = new InMemoryPendingSessionStore();
  if (sessionId !== null) await store.save({ sessionId, undeliveredCallback: null });
  return store;
}

test("after a cold start, the application link reopens the widget with the bank's query", async () => {
  const store = await storeWith(null);
  const screen = await new WidgetFlow(client, store, { widgetOrigin, applicationLink }).openedWith(
    `${applicationLink}?${bankQuery}`,
  );
  assert.ok(screen?.kind === "widget", `got ${screen?.kind}`);
  assert.equal(screen.widgetUrl, `${widgetOrigin}/?${bankQuery}`);
  assert.deepEqual(screen.policy.decide(screen.widgetUrl), { action: "load" });
  assert.deepEqual(await store.load(), { sessionId: "session-found-by-token", undeliveredCallback: null });
});

test("the pending session goes with the application link, and the host matches in capitals", async () => {
  const flow = new WidgetFlow(client, await storeWith("s-pending"), { widgetOrigin, applicationLink });
  const screen = await flow.openedWith(`${applicationLink.replace("app.example.com", "APP.example.com")}?${bankQuery}`);
  assert.ok(screen?.kind === "widget", `got ${screen?.kind}`);
  assert.equal(screen.session.id, "s-pending");
});

test("the application link caught inside the WebView (a trailing slash too) resumes as well", async () => {
  const flow = new WidgetFlow(client, await storeWith("s-pending"), { widgetOrigin, applicationLink });
  const screen = await flow.forward(`${applicationLink}/?${bankQuery}`);
  assert.ok(screen.kind === "widget", `got ${screen.kind}`);
  assert.equal(screen.widgetUrl, `${widgetOrigin}/?${bankQuery}`);
});

test("a resume answer whose widget URL is on another origin is never loaded", async () => {
  const store = await storeWith("s-pending");
  const flow = new WidgetFlow(client, store, { widgetOrigin, applicationLink });
  await assert.rejects(flow.openedWith(`${applicationLink}?${bankQuery}&hostile=1`), (error: unknown) => {
    assert.ok(error instanceof BackendError);
    assert.equal(error.code, "untrusted_widget_url");
    assert.ok(!error.message.includes("evil"), "the message leaves out the URL");
    return true;
  });
  assert.deepEqual(await store.load(), { sessionId: "s-pending", undeliveredCallback: null });
});

test("without an application link configured, the link only resumes the pending session", async () => {
  const screen = await new WidgetFlow(client, await storeWith("s-pending"), { widgetOrigin }).openedWith(
    `${applicationLink}?${bankQuery}`,
  );
  assert.ok(screen?.kind === "widget", `got ${screen?.kind}`);
  assert.equal(screen.widgetUrl, `${widgetOrigin}/?access_token=first`);
});

test("two callbacks forwarded at once are sent one after the other, and the failed one is kept", async () => {
  const store = await storeWith("s-pending");
  const flow = new WidgetFlow(client, store, { widgetOrigin, applicationLink });
  const slow = flow.forward("ofdaapp://belvo/event?warning=slow");
  const failing = flow.forward("ofdaapp://belvo/event?warning=unavailable");
  assert.equal((await slow).kind, "keep-widget");
  assert.equal((await failing).kind, "retry-later");
  assert.equal((await store.load())?.undeliveredCallback, "ofdaapp://belvo/event?warning=unavailable");
});
