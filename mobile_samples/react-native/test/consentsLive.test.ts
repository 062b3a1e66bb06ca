/**
 * The consent calls against a running `ofda run`: `OFDA_FRESH_LINK_ID` is a recurrent link of the
 * token's user whose consent Belvo has not reported yet, `OFDA_EXPIRED_LINK_ID` one whose consent the
 * emulator expired (`POST /sandbox/_control/consents`).
 */
import assert from "node:assert/strict";
import { test } from "node:test";

import { BackendClient, BackendError, type IdentificationInfo } from "../src/backendClient";
import { consentBadge } from "../src/consents";

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value.trim() === "") throw new Error(`environment variable ${name} is required`);
  return value;
}

const baseUrl = requiredEnv("OFDA_BASE_URL");
const client = new BackendClient(baseUrl, () => requiredEnv("OFDA_TOKEN"));
const fresh = requiredEnv("OFDA_FRESH_LINK_ID");
const expired = requiredEnv("OFDA_EXPIRED_LINK_ID");
const identification: IdentificationInfo = [{ type: "CPF", number: "76109277673", name: "Ralph Bragg" }];

function refusal(error: unknown): string {
  return error instanceof BackendError ? `${error.status} ${error.code}` : String(error);
}

test("GET /v1/links lists the user's links with their status, consent and badge", async () => {
  const links = new Map((await client.listLinks()).map((link) => [link.id, link]));
  const freshLink = links.get(fresh);
  const expiredLink = links.get(expired);
  assert.ok(freshLink !== undefined && expiredLink !== undefined, `expected both links in ${[...links.keys()]}`);
  assert.equal(freshLink.consent, null);
  assert.equal(consentBadge(freshLink), null);
  assert.equal(expiredLink.consent?.status, "expired");
  assert.equal(consentBadge(expiredLink), "expired");
  assert.notEqual(expiredLink.status, null, "Belvo's link status");
});

test("renewal before Belvo reported a consent is 409 consent_not_renewable", async () => {
  await assert.rejects(client.renewConsent(fresh, identification), (error) => {
    assert.equal(refusal(error), "409 consent_not_renewable");
    return true;
  });
});

test("renewal of the expired consent answers the portal in renew mode for that link", async () => {
  const renewal = await client.renewConsent(expired, identification);
  const query = new Map(
    (renewal.url.split("?")[1] ?? "").split("&").map((pair) => [pair.split("=")[0], pair.split("=")[1]] as const),
  );
  assert.equal(query.get("action"), "renew");
  assert.equal(query.get("link_id"), expired);
  assert.ok((query.get("access_token") ?? "") !== "", "expected an access_token in the renew URL");
  assert.notEqual(renewal.expiresAt, null);
});

test("the customised portal URL carries the user's consent_management token", async () => {
  const portal = await client.openConsentPortal(identification);
  assert.ok(portal.url.startsWith(`${baseUrl}/sandbox/portal/`) && portal.url.includes("access_token="));
});

test("another user's link cannot be renewed", async () => {
  const other = new BackendClient(baseUrl, () => requiredEnv("OFDA_OTHER_TOKEN"));
  await assert.rejects(other.renewConsent(expired, identification), (error) => {
    assert.equal(refusal(error), "404 not_found");
    return true;
  });
});
