/**
 * The user's Open Finance consents (docs/contract.md section 7): the links with their consent, the badge a
 * link shows when its consent needs the user, and My Belvo Portal.
 *
 * A consent lasts 3 to 12 months; once expired the link stops updating and only the user can renew it,
 * in My Belvo Portal (Belvo's "My Belvo Portal" page, https://developers.belvo.com/). The portal is a
 * third-party page: open it in a browser, never in the widget's WebView, and never log its URL (it
 * carries an access token).
 */

/** The public portal: the user identifies themselves there, no token needed. */
export const PUBLIC_PORTAL_URL = "https://meuportal.belvo.com/?mode=landing";

export type ConsentStatus = "active" | "about_to_expire" | "expired" | "revoked";

/** A link's consent as Belvo's consent webhooks last described it. */
export interface LinkConsent {
  readonly status: ConsentStatus;
  readonly consentId: string | null;
  readonly dueDate: string | null;
  readonly institution: string | null;
  readonly institutionDisplayName: string | null;
  readonly updatedAt: string | null;
}

/** One of the user's links (`GET /v1/links`): `status` is Belvo's (`valid`, `invalid`, ...), null when Belvo did not say. */
export interface UserLink {
  readonly id: string;
  readonly institution: string;
  readonly status: string | null;
  readonly consent: LinkConsent | null;
}

/** A My Belvo Portal URL from the backend: it carries an access token, never log or persist it. */
export interface PortalUrl {
  readonly url: string;
  readonly expiresAt: string | null;
}

/** What a link's row shows beside its name when the consent needs the user; both offer renewal. */
export type ConsentBadge = "about_to_expire" | "expired";

/**
 * The badge for `link`, or null when its consent needs nothing from the user: active, revoked (a revoked
 * consent cannot be renewed; the user connects the bank again), or not reported yet.
 */
export function consentBadge(link: UserLink): ConsentBadge | null {
  switch (link.consent?.status) {
    case "about_to_expire":
      return "about_to_expire";
    case "expired":
      return "expired";
    default:
      return null;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function stringOrNull(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

const CONSENT_STATUSES: ReadonlySet<string> = new Set(["active", "about_to_expire", "expired", "revoked"]);

/** Reads one link of `GET /v1/links`; null when it is not a link with an id and an institution. */
export function linkFromJson(value: unknown): UserLink | null {
  if (!isRecord(value) || typeof value.id !== "string" || typeof value.institution !== "string") return null;
  const consent = value.consent;
  return {
    id: value.id,
    institution: value.institution,
    status: stringOrNull(value.status),
    consent:
      isRecord(consent) && typeof consent.status === "string" && CONSENT_STATUSES.has(consent.status)
        ? {
            status: consent.status as ConsentStatus,
            consentId: stringOrNull(consent.consent_id),
            dueDate: stringOrNull(consent.due_date),
            institution: stringOrNull(consent.institution),
            institutionDisplayName: stringOrNull(consent.institution_display_name),
            updatedAt: stringOrNull(consent.updated_at),
          }
        : null,
  };
}
