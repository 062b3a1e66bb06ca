/** The badge a link's row shows (a pure function of the link), for every consent status and none. */
import assert from "node:assert/strict";
import { test } from "node:test";

import { consentBadge, linkFromJson, type ConsentStatus, type UserLink } from "../src/consents";

function link(consentStatus: ConsentStatus | null, status: string | null = "valid"): UserLink {
  return {
    id: "8848bd0c-9c7e-4f53-a732-ec896b11d4c4",
    institution: "ofmockbank_br_retail",
    status,
    consent:
      consentStatus === null
        ? null
        : {
            status: consentStatus,
            consentId: "c-1",
            dueDate: "2026-12-26T10:45:58.000Z",
            institution: "ofmockbank_br_retail",
            institutionDisplayName: "OF Mockbank",
            updatedAt: null,
          },
  };
}

test("a consent about to expire is badged, to renew before the link stops updating", () => {
  assert.equal(consentBadge(link("about_to_expire")), "about_to_expire");
});

test("an expired consent is badged, whatever Belvo's link status says", () => {
  assert.equal(consentBadge(link("expired")), "expired");
  assert.equal(consentBadge(link("expired", "invalid")), "expired");
});

test("an active consent, a revoked one (not renewable) and none reported yet show no badge", () => {
  for (const status of ["active", "revoked", null] as const) assert.equal(consentBadge(link(status)), null, String(status));
});

test("a link, read from GET /v1/links, keeps its status and consent", () => {
  const parsed = linkFromJson({
    id: "l-1",
    institution: "ofmockbank_br_retail",
    status: "valid",
    access_mode: "recurrent",
    consent: {
      status: "about_to_expire",
      consent_id: "c-1",
      due_date: "2026-12-26T10:45:58.000Z",
      institution: "ofmockbank_br_retail",
      institution_display_name: "OF Mockbank",
      institution_icon_logo: null,
      resources_issue: null,
      updated_at: "2026-12-19T10:45:58Z",
    },
  });
  assert.ok(parsed !== null);
  assert.equal(parsed.status, "valid");
  assert.equal(consentBadge(parsed), "about_to_expire");
  assert.equal(parsed.consent?.institutionDisplayName, "OF Mockbank");
});

test("a consent status the app does not know reads as no consent, so it shows no badge", () => {
  const parsed = linkFromJson({ id: "l-1", institution: "x", status: null, consent: { status: "paused" } });
  assert.equal(parsed?.consent, null);
});
