import {
  BackendError,
  isFinished,
  malformed,
  untrustedWidgetUrl,
  type BackendClient,
  type SessionRequest,
  type WidgetSession,
} from "./backendClient";
import type { DeeplinkEvent } from "./deeplinks";
import { CallbackMatcher, NavigationPolicy, onApplicationLink, splitUri, type UriParts } from "./navigationPolicy";

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
  /**
   * Open the widget: load `widgetUrl` in a WebView governed by `policy`. `widgetUrl` is the session's
   * own, or the one `POST .../resume` built from the bank's redirect (App2App); either way it is on the
   * configured widget origin. It carries the widget's access token: never log it.
   */
  | {
      readonly kind: "widget";
      readonly session: WidgetSession;
      readonly widgetUrl: string;
      readonly policy: NavigationPolicy;
    }
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

export interface WidgetFlowOptions {
  /**
   * The origin the widget is served from, as the app was built: `https://widget.belvo.io`, or the
   * backend's own address in emulator mode. No widget URL on another origin is ever loaded, whatever
   * the backend (or a link's query) says.
   */
  readonly widgetOrigin: string;
  /**
   * The app's App Link / universal link, the backend's `APPLICATION_LINK` (docs/contract.md section 6): the
   * bank sends the user back to it after they authorised. Absent when the app does not use App2App.
   */
  readonly applicationLink?: string;
}

/**
 * The app's whole widget flow, without any UI: start a session, forward callbacks to the backend,
 * come back from the bank (App2App), and pick up where it left off after the app was killed. The
 * app never decides an outcome itself: a callback counts once the backend has verified it
 * (docs/contract.md section 4).
 *
 * Calls are serialised: two callbacks arriving together (the WebView's and one the OS delivers)
 * must not interleave their reads and writes of the stored session, or one could erase the other's
 * undelivered callback.
 */
export class WidgetFlow {
  private readonly widgetOrigin: string;
  private readonly applicationLink: UriParts | null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly client: BackendClient,
    private readonly store: PendingSessionStore,
    options: WidgetFlowOptions,
  ) {
    const origin = splitUri(options.widgetOrigin).origin;
    if (origin === null) throw new Error("expected the widget origin as an absolute http(s) URL");
    this.widgetOrigin = origin;
    this.applicationLink = options.applicationLink === undefined ? null : splitUri(options.applicationLink);
  }

  /** Creates a session and remembers its id before the widget opens, so a crash mid-widget can resume. */
  start(request: SessionRequest): Promise<Screen & { kind: "widget" }> {
    return this.serialised(async () => {
      const session = await this.client.createSession(request);
      const screen = this.widget(session, session.widgetUrl);
      await this.store.save({ sessionId: session.id, undeliveredCallback: null });
      return screen;
    });
  }

  /**
   * Hands `callbackUrl` to the backend for the pending session; the application link (the bank's
   * redirect arriving inside the WebView, as on a laptop, where it shares the widget's origin) goes to
   * `POST .../resume`. It is saved first: if the app dies or
   * the network fails before the backend answers, `resume` sends it again (the backend records a
   * repeat once).
   */
  forward(callbackUrl: string): Promise<Screen> {
    return this.serialised(() => (this.isApplicationLink(callbackUrl) ? this.backFromBank(callbackUrl) : this.forwardNow(callbackUrl)));
  }

  /** After a relaunch: delivers a callback that never reached the backend, then shows what the backend says. */
  resume(): Promise<Screen | null> {
    return this.serialised(() => this.resumeNow());
  }

  /**
   * The OS opened the app with `url`, from outside the WebView:
   *
   * - the application link: the user is back from the bank (App2App, docs/contract.md section 6). The
   *   backend finds the session (even after a cold start, with nothing stored) and answers with the
   *   widget URL carrying the bank's query, which the widget needs to finish;
   * - a URL on the pending session's callbacks (universal link / App Link or the callback scheme):
   *   forwarded to the backend;
   * - any other link resumes the pending session.
   *
   * With nothing pending, a link other than the application link is ignored (null): the app never
   * acts on a deeplink by itself.
   */
  openedWith(url: string): Promise<Screen | null> {
    return this.serialised(async () => {
      if (this.isApplicationLink(url)) return this.backFromBank(url);
      const pending = await this.store.load();
      if (pending === null) return null;
      const session = await this.client.getSession(pending.sessionId);
      if (
        !isFinished(session) &&
        session.callbackUrls !== null &&
        new CallbackMatcher(session.callbackUrls).matches(url)
      ) {
        return this.forwardNow(url);
      }
      return this.resumeNow();
    });
  }

  /** Runs `step` after every call started before it has finished. */
  private serialised<T>(step: () => Promise<T>): Promise<T> {
    const result = this.queue.then(step);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private async forwardNow(callbackUrl: string): Promise<Screen> {
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

  private async resumeNow(): Promise<Screen | null> {
    const pending = await this.store.load();
    if (pending === null) return null;
    if (pending.undeliveredCallback !== null) return this.forwardNow(pending.undeliveredCallback);
    return this.screenFor(await this.client.getSession(pending.sessionId), null);
  }

  private isApplicationLink(url: string): boolean {
    return this.applicationLink !== null && onApplicationLink(splitUri(url), this.applicationLink);
  }

  private async backFromBank(url: string): Promise<Screen> {
    const pending = await this.store.load();
    const resumed = await this.client.resumeSession(url, pending?.sessionId ?? null);
    if (isFinished(resumed.session)) return this.screenFor(resumed.session, null);
    const screen = this.widget(resumed.session, resumed.widgetUrl);
    const kept = pending !== null && pending.sessionId === resumed.session.id;
    await this.store.save(kept ? pending : { sessionId: resumed.session.id, undeliveredCallback: null });
    return screen;
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
    return this.widget(session, session.widgetUrl);
  }

  /** The widget at `widgetUrl`, which must be on the configured widget origin: the policy is built on it. */
  private widget(session: WidgetSession, widgetUrl: string | null): Screen & { kind: "widget" } {
    if (widgetUrl === null || session.callbackUrls === null)
      throw malformed("widget_url and callback_urls on a pending session");
    if (splitUri(widgetUrl).origin !== this.widgetOrigin) throw untrustedWidgetUrl();
    return { kind: "widget", session, widgetUrl, policy: new NavigationPolicy(widgetUrl, session.callbackUrls) };
  }
}
