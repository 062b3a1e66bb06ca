import { linkFromJson, type PortalUrl, type UserLink } from "./consents";
import type { CallbackUrlsJson, DeeplinkEvent } from "./deeplinks";

/** Who the user is (docs/contract.md section 4): their CPF or CNPJ and name, from the app's own sign-up. */
export type IdentificationInfo = ReadonlyArray<{
  readonly type: "CPF" | "CNPJ";
  readonly number: string;
  readonly name: string;
}>;

/** `POST /v1/widget-sessions`'s body (docs/contract.md section 4): `identification_info` and optional fields. */
export interface SessionRequest {
  readonly identification_info: IdentificationInfo;
  readonly access_mode?: "single" | "recurrent";
  readonly institutions?: readonly string[];
  readonly institution_types?: readonly string[];
  readonly resources?: readonly string[];
  readonly fetch_resources?: readonly string[];
  readonly stale_in?: string;
  readonly purpose?: string;
  readonly locale?: string;
}

export type SessionStatus = "pending" | "succeeded" | "exited" | "failed" | "expired";

/**
 * The session as the backend reports it. `widgetUrl` carries the widget's access token: never log
 * it, never persist it (docs/security.md H3).
 */
export interface WidgetSession {
  readonly id: string;
  readonly status: SessionStatus;
  readonly widgetUrl: string | null;
  readonly expiresAt: string | null;
  readonly callbackUrls: CallbackUrlsJson | null;
  readonly events: readonly DeeplinkEvent[];
}

/** `POST .../events`'s answer: the backend's reading of the deeplink, and the session after it. */
export interface EventVerdict {
  readonly event: DeeplinkEvent;
  readonly session: WidgetSession;
}

/** `POST .../resume`'s answer: the session, and the widget URL carrying the bank's query (it carries a token: never log it). */
export interface ResumedSession {
  readonly session: WidgetSession;
  readonly widgetUrl: string;
}

/** A non-2xx answer, with the contract's first error (section 2). Network failures stay `TypeError`s from fetch. */
export class BackendError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | null,
    readonly retryAfterSeconds: number | null,
  ) {
    super(`HTTP ${status} ${code}: ${message}${requestId === null ? "" : ` (request ${requestId})`}`);
    this.name = "BackendError";
  }

  /** Worth trying again later (Belvo or the backend is busy or down); a 4xx answer is final. */
  get retryable(): boolean {
    return this.status === 429 || this.status >= 500;
  }
}

const FINISHED: ReadonlySet<string> = new Set(["succeeded", "exited", "failed", "expired"]);

export function isFinished(session: WidgetSession): boolean {
  return FINISHED.has(session.status);
}

/** A widget URL the app will not load: it is not on the widget origin the app was built with. */
export function untrustedWidgetUrl(): BackendError {
  return new BackendError(200, "untrusted_widget_url", "expected a widget_url on the configured widget origin", null, null);
}

export function malformed(expected: string): BackendError {
  return new BackendError(200, "invalid_response", `expected ${expected} in the backend's answer`, null, null);
}

function failMalformed(expected: string): never {
  throw malformed(expected);
}

function portalUrl(body: unknown, key: "portal_url" | "renew_url"): PortalUrl {
  const url = isRecord(body) ? body[key] : undefined;
  if (!isRecord(body) || typeof url !== "string") throw malformed(`an object with ${key}`);
  return { url, expiresAt: typeof body.expires_at === "string" ? body.expires_at : null };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Reads the backend's event JSON (docs/contract.md section 3) after checking its shape. */
export function eventFromJson(value: unknown): DeeplinkEvent {
  if (!isRecord(value) || !["success", "exit", "error", "warning", "resume"].includes(String(value.type))) {
    throw malformed("an event with type success, exit, error, warning or resume");
  }
  return value as unknown as DeeplinkEvent;
}

export function sessionFromJson(value: unknown): WidgetSession {
  if (!isRecord(value) || typeof value.id !== "string" || typeof value.status !== "string")
    throw malformed("a widget session with id and status");
  const callbacks = value.callback_urls;
  const events = Array.isArray(value.events) ? value.events : [];
  return {
    id: value.id,
    status: value.status as SessionStatus,
    widgetUrl: typeof value.widget_url === "string" ? value.widget_url : null,
    expiresAt: typeof value.expires_at === "string" ? value.expires_at : null,
    callbackUrls: isRecord(callbacks) ? (callbacks as unknown as CallbackUrlsJson) : null,
    // Each recorded event is either the event JSON itself or an object holding it under "event".
    events: events.map((item: unknown) => eventFromJson(isRecord(item) && !("type" in item) ? item.event : item)),
  };
}

/** The app's side of the backend's widget-session API (docs/contract.md section 4), on `fetch`. */
export class BackendClient {
  private readonly base: string;

  constructor(
    baseUrl: string,
    /** The app user's bearer token; asked for on every call so a refreshed token is picked up. */
    private readonly bearerToken: () => string | Promise<string>,
    private readonly timeoutMs = 15_000,
  ) {
    this.base = baseUrl.replace(/\/+$/, "");
  }

  async createSession(request: SessionRequest): Promise<WidgetSession> {
    return sessionFromJson(await this.call("POST", "/v1/widget-sessions", request));
  }

  async getSession(id: string): Promise<WidgetSession> {
    return sessionFromJson(await this.call("GET", `/v1/widget-sessions/${encodeURIComponent(id)}`));
  }

  /** The backend parses, verifies and records `deeplink` for the session. */
  async postEvent(sessionId: string, deeplink: string): Promise<EventVerdict> {
    const body = await this.call("POST", `/v1/widget-sessions/${encodeURIComponent(sessionId)}/events`, {
      url: deeplink,
    });
    if (!isRecord(body)) throw malformed("an object with event and session");
    return { event: eventFromJson(body.event), session: sessionFromJson(body.session) };
  }

  /**
   * `POST /v1/widget-sessions/resume` (docs/contract.md section 6): `applicationLinkUrl` is the App Link /
   * universal link the bank sent the user back with; `sessionId` the pending session, when the app
   * still knows it (the backend uses it when no session matches the link's token). The answer's
   * `event` (the backend's reading of the link) is not needed to reopen the widget, so it is not read.
   */
  async resumeSession(applicationLinkUrl: string, sessionId: string | null): Promise<ResumedSession> {
    const body = await this.call(
      "POST",
      "/v1/widget-sessions/resume",
      sessionId === null ? { url: applicationLinkUrl } : { url: applicationLinkUrl, session_id: sessionId },
    );
    if (!isRecord(body) || typeof body.widget_url !== "string") throw malformed("an object with session and widget_url");
    return { session: sessionFromJson(body.session), widgetUrl: body.widget_url };
  }

  /** `GET /v1/links`: the user's links, each with Belvo's status and its consent (docs/contract.md section 7). */
  async listLinks(): Promise<UserLink[]> {
    const body = await this.call("GET", "/v1/links");
    if (!isRecord(body) || !Array.isArray(body.links)) throw malformed("an object with a links list");
    return body.links.map((item: unknown) => linkFromJson(item) ?? failMalformed("a link with id and institution"));
  }

  /** `POST /v1/consent-portal`: My Belvo Portal already showing this person's consents. */
  async openConsentPortal(identificationInfo: IdentificationInfo): Promise<PortalUrl> {
    return portalUrl(await this.call("POST", "/v1/consent-portal", { identification_info: identificationInfo }), "portal_url");
  }

  /**
   * `POST /v1/links/{id}/consent-renewal`: the portal in renew mode for this link's consent;
   * `409 consent_not_renewable` before Belvo reported a consent, or once it was revoked.
   */
  async renewConsent(linkId: string, identificationInfo: IdentificationInfo): Promise<PortalUrl> {
    const path = `/v1/links/${encodeURIComponent(linkId)}/consent-renewal`;
    return portalUrl(await this.call("POST", path, { identification_info: identificationInfo }), "renew_url");
  }

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = {
      Accept: "application/json",
      Authorization: `Bearer ${await this.bearerToken()}`,
    };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    try {
      const response = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? null : JSON.stringify(body),
        signal: controller.signal,
      });
      const text = await response.text();
      let json: unknown = null;
      try {
        json = text === "" ? null : JSON.parse(text);
      } catch {
        throw new BackendError(
          response.status,
          "invalid_response",
          `expected a JSON body from ${method} ${path}`,
          null,
          null,
        );
      }
      if (!response.ok) {
        const first = isRecord(json) && Array.isArray(json.errors) && isRecord(json.errors[0]) ? json.errors[0] : {};
        const retryAfter = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
        throw new BackendError(
          response.status,
          typeof first.code === "string" ? first.code : `http_${response.status}`,
          typeof first.message === "string" ? first.message : "no error body",
          isRecord(json) && typeof json.request_id === "string"
            ? json.request_id
            : response.headers.get("X-Request-Id"),
          Number.isNaN(retryAfter) ? null : retryAfter,
        );
      }
      return json;
    } finally {
      clearTimeout(timer);
    }
  }
}
