import { BackendError, isFinished, type BackendClient, type SessionRequest, type WidgetSession } from "./backendClient";
import type { DeeplinkEvent } from "./deeplinks";
import { CallbackMatcher, NavigationPolicy } from "./navigationPolicy";

/**
 * What the app remembers about an unfinished session across process death: the session id and,
 * while it has not reached the backend yet, the callback URL the widget sent. Never the widget URL:
 * it carries the widget's access token.
 */
export interface PendingSession {
  readonly sessionId: string;
  readonly undeliveredCallback: string | null;
}

/** Where `PendingSession` lives: AsyncStorage in the app, a variable in tests. */
export interface PendingSessionStore {
  load(): Promise<PendingSession | null>;
  save(pending: PendingSession): Promise<void>;
  clear(): Promise<void>;
}

export class InMemoryPendingSessionStore implements PendingSessionStore {
  private pending: PendingSession | null = null;

  async load(): Promise<PendingSession | null> {
    return this.pending;
  }

  async save(pending: PendingSession): Promise<void> {
    this.pending = pending;
  }

  async clear(): Promise<void> {
    this.pending = null;
  }
}

/** What the screen shows next. */
export type Screen =
  /** Open the widget: load the session's widget URL in a WebView governed by `policy`. */
  | { readonly kind: "widget"; readonly session: WidgetSession; readonly policy: NavigationPolicy }
  /** The session goes on: keep the widget open. The backend took the callback (`event`, a warning) or refused it (`refusedCode`). */
  | {
      readonly kind: "keep-widget";
      readonly session: WidgetSession;
      readonly event: DeeplinkEvent | null;
      readonly refusedCode: string | null;
    }
  /** The session is over; show the backend's verdict. */
  | { readonly kind: "outcome"; readonly session: WidgetSession; readonly event: DeeplinkEvent | null }
  /** Still pending but it cannot be reopened here (no widget URL came back): start a new one. */
  | { readonly kind: "start-again"; readonly session: WidgetSession }
  /** The callback could not reach the backend (no network, or the backend is busy); it is kept for `resume`. */
  | { readonly kind: "retry-later"; readonly sessionId: string; readonly reason: string };

/**
 * The app's whole widget flow, without any UI: start a session, forward callbacks to the backend,
 * and pick up where it left off after the app was killed. The app never decides an outcome itself:
 * a callback counts once the backend has verified it (contract section 4).
 */
export class WidgetFlow {
  constructor(
    private readonly client: BackendClient,
    private readonly store: PendingSessionStore,
  ) {}

  /** Creates a session and remembers its id before the widget opens, so a crash mid-widget can resume. */
  async start(request: SessionRequest): Promise<Screen & { kind: "widget" }> {
    const session = await this.client.createSession(request);
    await this.store.save({ sessionId: session.id, undeliveredCallback: null });
    return widget(session);
  }

  /**
   * Hands `callbackUrl` to the backend for the pending session. It is saved first: if the app dies or
   * the network fails before the backend answers, `resume` sends it again (the backend records a
   * repeat once).
   */
  async forward(callbackUrl: string): Promise<Screen> {
    const pending = await this.store.load();
    if (pending === null) throw new Error("expected a pending session to forward a callback to, found none");
    await this.store.save({ ...pending, undeliveredCallback: callbackUrl });
    let verdict;
    try {
      verdict = await this.client.postEvent(pending.sessionId, callbackUrl);
    } catch (error) {
      if (!(error instanceof BackendError))
        return { kind: "retry-later", sessionId: pending.sessionId, reason: "the backend could not be reached" };
      if (error.retryable)
        return { kind: "retry-later", sessionId: pending.sessionId, reason: `${error.code} (HTTP ${error.status})` };
      // A final refusal (e.g. link_not_owned, session_expired): the session's state says what now.
      await this.store.save({ ...pending, undeliveredCallback: null });
      const session = await this.client.getSession(pending.sessionId);
      return isFinished(session)
        ? this.screenFor(session, null)
        : { kind: "keep-widget", session, event: null, refusedCode: error.code };
    }
    await this.store.save({ ...pending, undeliveredCallback: null });
    return this.screenFor(verdict.session, verdict.event);
  }

  /** After a relaunch: delivers a callback that never reached the backend, then shows what the backend says. */
  async resume(): Promise<Screen | null> {
    const pending = await this.store.load();
    if (pending === null) return null;
    if (pending.undeliveredCallback !== null) return this.forward(pending.undeliveredCallback);
    return this.screenFor(await this.client.getSession(pending.sessionId), null);
  }

  /**
   * The OS opened the app with `url`: a universal link / App Link or the callback scheme, from outside
   * the WebView (e.g. the browser after the bank's App2App step, docs/belvo.md §2.1). A URL on the pending
   * session's callbacks is forwarded to the backend; any other link resumes the pending session. With
   * nothing pending the link is ignored (null): the app never acts on a deeplink by itself.
   */
  async openedWith(url: string): Promise<Screen | null> {
    const pending = await this.store.load();
    if (pending === null) return null;
    const session = await this.client.getSession(pending.sessionId);
    if (
      !isFinished(session) &&
      session.callbackUrls !== null &&
      new CallbackMatcher(session.callbackUrls).matches(url)
    ) {
      return this.forward(url);
    }
    return this.resume();
  }

  private async screenFor(session: WidgetSession, lastEvent: DeeplinkEvent | null): Promise<Screen> {
    if (isFinished(session)) {
      await this.store.clear();
      return { kind: "outcome", session, event: lastEvent ?? session.events.at(-1) ?? null };
    }
    if (lastEvent !== null) return { kind: "keep-widget", session, event: lastEvent, refusedCode: null };
    if (session.widgetUrl === null || session.callbackUrls === null) {
      await this.store.clear();
      return { kind: "start-again", session };
    }
    return widget(session);
  }
}

function widget(session: WidgetSession): Screen & { kind: "widget" } {
  if (session.widgetUrl === null || session.callbackUrls === null) {
    throw new BackendError(
      200,
      "invalid_response",
      "expected widget_url and callback_urls on a new session",
      null,
      null,
    );
  }
  return { kind: "widget", session, policy: new NavigationPolicy(session.widgetUrl, session.callbackUrls) };
}
