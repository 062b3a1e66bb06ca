/**
 * The backend client and the app's flow against a running `ofda run` (its embedded emulator):
 * `OFDA_BASE_URL` is the backend, `OFDA_TOKEN` a bearer token from `ofda token USER_ID`.
 */
import assert from "node:assert/strict";
import { test } from "node:test";

import { BackendClient, BackendError, type SessionRequest, type WidgetSession } from "../src/backendClient";
import { InMemoryPendingSessionStore, WidgetFlow, type PendingSessionStore } from "../src/widgetFlow";

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value.trim() === "") throw new Error(`environment variable ${name} is required`);
  return value;
}

const baseUrl = requiredEnv("OFDA_BASE_URL");
const token = requiredEnv("OFDA_TOKEN");
const client = new BackendClient(baseUrl, () => token);
// In emulator mode the backend serves the widget itself.
const widgetOrigin = requiredEnv("OFDA_WIDGET_ORIGIN");
const newFlow = (store: PendingSessionStore = new InMemoryPendingSessionStore()): WidgetFlow =>
  new WidgetFlow(client, store, { widgetOrigin });
// A CPF with valid check digits (the contract's example).
const request: SessionRequest = {
  identification_info: [{ type: "CPF", number: "76109277673", name: "Ralph Bragg" }],
  institutions: ["ofmockbank_br_retail"],
};

function exitDeeplink(session: WidgetSession): string {
  assert.ok(session.callbackUrls, "expected callback_urls on the session");
  return `${session.callbackUrls.exit}?meta_data_step=abandon-survey`;
}

test("POST /v1/widget-sessions answers 201 with Cache-Control: no-store", async () => {
  const response = await fetch(`${baseUrl}/v1/widget-sessions`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(request),
  });
  assert.equal(response.status, 201);
  assert.equal(response.headers.get("Cache-Control"), "no-store");
});

test("a new session opens the widget, whose URL the navigation policy loads", async () => {
  const screen = await newFlow().start(request);
  assert.equal(screen.session.status, "pending");
  assert.ok(screen.session.callbackUrls !== null);
  assert.equal(screen.widgetUrl, screen.session.widgetUrl);
  assert.deepEqual(screen.policy.decide(screen.widgetUrl), { action: "load" });
  const { success, exit, event } = screen.session.callbackUrls;
  for (const url of [success, exit, event]) {
    assert.equal(screen.policy.decide(url).action, "forward", url);
  }
});

test("an exit callback forwarded to the backend ends the session as exited", async () => {
  const store = new InMemoryPendingSessionStore();
  const flow = newFlow(store);
  const { session } = await flow.start(request);
  const screen = await flow.forward(exitDeeplink(session));
  assert.equal(screen.kind, "outcome");
  assert.ok(screen.kind === "outcome");
  assert.equal(screen.session.status, "exited");
  assert.deepEqual(screen.event, { type: "exit", error: null, institution: null, step: "abandon-survey", extra: {} });
  assert.equal(await store.load(), null);
  assert.equal((await client.getSession(session.id)).status, "exited");
});

test("a warning keeps the session pending and the widget open", async () => {
  const flow = newFlow();
  const { session } = await flow.start(request);
  assert.ok(session.callbackUrls);
  const screen = await flow.forward(
    `${session.callbackUrls.event}?warning=institution_disabled&warning_message=The%20institution%20is%20temporarily%20unavailable.`,
  );
  assert.ok(screen.kind === "keep-widget", `got ${screen.kind}`);
  assert.equal(screen.session.status, "pending");
  assert.deepEqual(screen.event, {
    type: "warning",
    code: "institution_disabled",
    message: "The institution is temporarily unavailable.",
    extra: {},
  });
});

test("after the app was killed, a callback that never reached the backend is delivered on resume", async () => {
  const { session } = await newFlow().start(request);
  // What AsyncStorage held when the app died: the id and the undelivered callback.
  const store = new InMemoryPendingSessionStore();
  await store.save({ sessionId: session.id, undeliveredCallback: exitDeeplink(session) });
  const screen = await newFlow(store).resume();
  assert.ok(screen?.kind === "outcome", `got ${screen?.kind}`);
  assert.equal(screen.session.status, "exited");
  assert.equal(await store.load(), null);
});

test("after the app was killed, a pending session reopens the widget", async () => {
  const { session } = await newFlow().start(request);
  const store = new InMemoryPendingSessionStore();
  await store.save({ sessionId: session.id, undeliveredCallback: null });
  const screen = await newFlow(store).resume();
  assert.ok(screen?.kind === "widget", `got ${screen?.kind}`);
  assert.equal(screen.session.id, session.id);
});

test("a callback URL the OS opens the app with is forwarded to the backend", async () => {
  const flow = newFlow();
  const { session } = await flow.start(request);
  const screen = await flow.openedWith(exitDeeplink(session));
  assert.ok(screen?.kind === "outcome", `got ${screen?.kind}`);
  assert.equal(screen.session.status, "exited");
});

const applicationLink = requiredEnv("OFDA_APPLICATION_LINK");

/** What the bank sends the user back with (docs/contract.md section 6): the session's token, a consent id. */
function backFromBank(session: WidgetSession): string {
  const token = /[?&]access_token=([^&]+)/.exec(session.widgetUrl ?? "")?.[1];
  assert.ok(token, "expected an access_token in the widget URL");
  return `${applicationLink}?access_token=${token}&consent_id=9e763d19-6d6d-4b0c-a84d-6cb51a2c0f4d&locale=pt`;
}

test("after a cold start, the application link reopens the widget with the bank's query", async () => {
  const { session } = await newFlow().start(request);
  const link = backFromBank(session);
  // A new process with nothing stored: the backend finds the session by the link's token.
  const store = new InMemoryPendingSessionStore();
  const screen = await new WidgetFlow(client, store, { widgetOrigin, applicationLink }).openedWith(link);
  assert.ok(screen?.kind === "widget", `got ${screen?.kind}`);
  assert.equal(screen.session.id, session.id);
  assert.equal(screen.widgetUrl.split("?")[1], link.split("?")[1]);
  assert.deepEqual(screen.policy.decide(screen.widgetUrl), { action: "load" });
  assert.deepEqual(await store.load(), { sessionId: session.id, undeliveredCallback: null });
});

test("the application link of another user's session resumes nothing", async () => {
  const { session } = await newFlow().start(request);
  const other = new BackendClient(baseUrl, () => requiredEnv("OFDA_OTHER_TOKEN"));
  await assert.rejects(
    new WidgetFlow(other, new InMemoryPendingSessionStore(), { widgetOrigin, applicationLink }).openedWith(
      backFromBank(session),
    ),
    (error: unknown) => {
      assert.ok(error instanceof BackendError);
      assert.equal(`${error.status} ${error.code}`, "404 not_found");
      return true;
    },
  );
});

test("a widget served on another origin than the app was built for is never loaded", async () => {
  const foreign = new WidgetFlow(client, new InMemoryPendingSessionStore(), { widgetOrigin: "https://widget.belvo.io" });
  await assert.rejects(foreign.start(request), (error: unknown) => {
    assert.ok(error instanceof BackendError);
    assert.equal(error.code, "untrusted_widget_url");
    return true;
  });
});

test("any other link the OS opens the app with resumes the pending session", async () => {
  const flow = newFlow();
  const { session } = await flow.start(request);
  const screen = await flow.openedWith("https://links.example.com/belvo/app2app?state=x");
  assert.ok(screen?.kind === "widget", `got ${screen?.kind}`);
  assert.equal(screen.session.id, session.id);
});

test("with nothing pending, a link the OS opens the app with is ignored", async () => {
  const flow = newFlow();
  assert.equal(await flow.openedWith("ofdaapp://belvo/exit?meta_data_step=abandon-survey"), null);
});

test("a malformed callback is refused by the backend with invalid_deeplink", async () => {
  const session = await client.createSession(request);
  assert.ok(session.callbackUrls);
  await assert.rejects(
    client.postEvent(session.id, `${session.callbackUrls.success}?link=not-a-uuid&institution=x`),
    (error: unknown) => {
      assert.ok(error instanceof BackendError);
      assert.equal(`${error.status} ${error.code}`, "422 invalid_deeplink");
      return true;
    },
  );
});

test("a wrong bearer token is refused with unauthenticated", async () => {
  await assert.rejects(new BackendClient(baseUrl, () => "not-a-token").createSession(request), (error: unknown) => {
    assert.ok(error instanceof BackendError);
    assert.equal(`${error.status} ${error.code}`, "401 unauthenticated");
    return true;
  });
});
