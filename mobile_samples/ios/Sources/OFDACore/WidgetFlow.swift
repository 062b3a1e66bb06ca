// The app's whole widget flow, without any UI: start a session, forward callbacks to the backend, and
// pick up where it left off after the app was killed. The same flow as the Kotlin and TypeScript
// samples' WidgetFlow.

import Foundation

/// What the app remembers about an unfinished session across a relaunch: the session id and, while it
/// has not reached the backend yet, the callback URL the widget sent. Never the widget URL: it carries
/// the widget's access token.
public struct PendingSession: Codable, Equatable {
    public let sessionID: String
    public let undeliveredCallback: String?

    public init(sessionID: String, undeliveredCallback: String? = nil) {
        self.sessionID = sessionID
        self.undeliveredCallback = undeliveredCallback
    }
}

/// Where `PendingSession` lives: UserDefaults in the app (see the sample's SceneDelegate), memory in tests.
public protocol PendingSessionStore: AnyObject {
    func load() -> PendingSession?
    func save(_ pending: PendingSession)
    func clear()
}

/// What the screen shows next.
public enum Screen {
    /// Open the widget: load the session's widget URL in a WKWebView governed by `policy`.
    case widget(WidgetSession, NavigationPolicy)
    /// The session goes on: keep the widget open. The backend took the callback (`event`, a warning)
    /// or refused it (`refusedCode`, e.g. `invalid_deeplink` or `link_not_owned`).
    case keepWidget(WidgetSession, event: DeeplinkEvent?, refusedCode: String?)
    /// The session is over; show the backend's verdict.
    case outcome(WidgetSession, event: DeeplinkEvent?)
    /// Still pending but it cannot be reopened here (no widget URL came back): start a new one.
    case startAgain(WidgetSession)
    /// The callback could not reach the backend (no network, or the backend is busy); it is kept for `resume`.
    case retryLater(sessionID: String, reason: String)
}

/// The app never decides an outcome itself: a callback counts once the backend has verified it
/// (contract section 4: a success is accepted after the backend fetched the link from Belvo).
public final class WidgetFlow {
    private let client: BackendClient
    private let store: PendingSessionStore

    public init(client: BackendClient, store: PendingSessionStore) {
        self.client = client
        self.store = store
    }

    /// Creates a session and remembers its id before the widget opens, so a crash mid-widget can resume.
    public func start(_ request: [String: Any]) async throws -> Screen {
        let session = try await client.createSession(request)
        store.save(PendingSession(sessionID: session.id))
        return try widget(session)
    }

    /// Hands `callbackURL` to the backend for the pending session. It is saved first: if the app dies or
    /// the network fails before the backend answers, `resume` sends it again (the backend records a
    /// repeat once).
    public func forward(_ callbackURL: String) async throws -> Screen {
        guard let pending = store.load() else { throw BackendError.malformed("a pending session to forward a callback to") }
        store.save(PendingSession(sessionID: pending.sessionID, undeliveredCallback: callbackURL))
        let verdict: EventVerdict
        do {
            verdict = try await client.postEvent(sessionID: pending.sessionID, deeplink: callbackURL)
        } catch let error as BackendError {
            if error.isRetryable { return .retryLater(sessionID: pending.sessionID, reason: "\(error.code) (HTTP \(error.status))") }
            // A final refusal (e.g. link_not_owned, session_expired): the session's state says what now.
            store.save(PendingSession(sessionID: pending.sessionID))
            let session = try await client.getSession(pending.sessionID)
            if session.isFinished { return try screen(for: session, lastEvent: nil) }
            return .keepWidget(session, event: nil, refusedCode: error.code)
        } catch is URLError {
            return .retryLater(sessionID: pending.sessionID, reason: "the backend could not be reached")
        }
        store.save(PendingSession(sessionID: pending.sessionID))
        return try screen(for: verdict.session, lastEvent: verdict.event)
    }

    /// After a relaunch: delivers a callback that never reached the backend, then shows what the
    /// backend says. Nil when nothing was pending.
    public func resume() async throws -> Screen? {
        guard let pending = store.load() else { return nil }
        if let callback = pending.undeliveredCallback { return try await forward(callback) }
        let session = try await client.getSession(pending.sessionID)
        return try screen(for: session, lastEvent: nil)
    }

    /// The OS opened the app with `url`: a universal link or the callback scheme, from outside the
    /// WebView (e.g. Safari after the bank's App2App step, docs/belvo.md §2.1). A URL on the pending
    /// session's callbacks is forwarded to the backend; any other link resumes the pending session.
    /// With nothing pending the link is ignored (nil): the app never acts on a deeplink by itself.
    public func openedWith(_ url: String) async throws -> Screen? {
        guard let pending = store.load() else { return nil }
        let session = try await client.getSession(pending.sessionID)
        if !session.isFinished, let callbacks = session.callbackUrls, CallbackMatcher(callbacks).matches(url) {
            return try await forward(url)
        }
        return try await resume()
    }

    private func screen(for session: WidgetSession, lastEvent: DeeplinkEvent?) throws -> Screen {
        if session.isFinished {
            store.clear()
            return .outcome(session, event: lastEvent ?? session.events.last)
        }
        if let event = lastEvent { return .keepWidget(session, event: event, refusedCode: nil) }
        if session.widgetURL == nil || session.callbackUrls == nil {
            store.clear()
            return .startAgain(session)
        }
        return try widget(session)
    }

    private func widget(_ session: WidgetSession) throws -> Screen {
        guard let widgetURL = session.widgetURL, let callbacks = session.callbackUrls else {
            throw BackendError.malformed("widget_url and callback_urls on a new session")
        }
        return .widget(session, try NavigationPolicy(widgetURL: widgetURL, callbackUrls: callbacks))
    }
}
