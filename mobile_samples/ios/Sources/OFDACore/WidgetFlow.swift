// The app's whole widget flow, without any UI: start a session, forward callbacks to the backend, and
// pick up where it left off after the app was killed. The same flow as the Kotlin and TypeScript
// samples' WidgetFlow.

import Foundation

/// What the app remembers about an unfinished session across a relaunch: the session id and, while it
/// has not reached the backend yet, the callback URL the widget sent. Never the widget URL: it carries
/// the widget's access token.
public struct PendingSession: Codable, Equatable, Sendable {
    public let sessionID: String
    public let undeliveredCallback: String?

    public init(sessionID: String, undeliveredCallback: String? = nil) {
        self.sessionID = sessionID
        self.undeliveredCallback = undeliveredCallback
    }
}

/// Where `PendingSession` lives: UserDefaults in the app (see the sample's SceneDelegate), memory in tests.
/// Only `WidgetFlow`, an actor, calls it, one call at a time.
public protocol PendingSessionStore: AnyObject, Sendable {
    func load() -> PendingSession?
    func save(_ pending: PendingSession)
    func clear()
}

/// What the screen shows next.
public enum Screen: Sendable {
    /// Open the widget: load `widgetURL` in a WKWebView governed by `policy`. `widgetURL` is the
    /// session's own, or the one `POST .../resume` built from the bank's redirect (App2App); either way
    /// it is on the configured widget origin. It carries the widget's access token: never log it.
    case widget(WidgetSession, widgetURL: String, policy: NavigationPolicy)
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

/// The app's whole widget flow, without any UI: start a session, forward callbacks to the backend,
/// come back from the bank (App2App), and pick up where it left off after the app was killed.
///
/// The app never decides an outcome itself: a callback counts once the backend has verified it
/// (docs/contract.md section 4: a success is accepted after the backend fetched the link from Belvo).
///
/// An actor, and more: each call waits for the one before it to finish. An actor alone lets a second
/// `forward` run while the first awaits the backend, and the two would interleave their reads and
/// writes of the stored session (one could erase the other's undelivered callback).
public actor WidgetFlow {
    private let client: BackendClient
    private let store: PendingSessionStore
    private let widgetOrigin: String
    private let applicationLink: URIParts?
    private var tail: Task<Void, Never>?

    /// `widgetOrigin`: where the widget is served, as the app was built (`https://widget.belvo.io`, or
    /// the backend's own address in emulator mode); no widget URL on another origin is ever loaded.
    /// `applicationLink`: the app's universal link, the backend's `APPLICATION_LINK` (docs/contract.md section 6),
    /// through which the bank sends the user back; nil when the app does not use App2App.
    public init(client: BackendClient, store: PendingSessionStore, widgetOrigin: String, applicationLink: String? = nil) throws {
        guard let origin = URIParts(widgetOrigin).origin else { throw BackendError.malformed("an absolute http(s) widget origin") }
        self.client = client
        self.store = store
        self.widgetOrigin = origin
        self.applicationLink = applicationLink.map(URIParts.init)
    }

    /// Creates a session and remembers its id before the widget opens, so a crash mid-widget can resume.
    public func start(_ request: SessionRequest) async throws -> Screen {
        try await serialised {
            let session = try await self.client.createSession(request)
            let screen = try self.widget(session, widgetURL: session.widgetURL)
            self.store.save(PendingSession(sessionID: session.id))
            return screen
        }
    }

    /// Hands `callbackURL` to the backend for the pending session; the application link (the bank's
    /// redirect arriving inside the WebView, as on a laptop, where it shares the widget's origin) goes
    /// to `POST .../resume`. It is saved first: if the app dies or
    /// the network fails before the backend answers, `resume` sends it again (the backend records a
    /// repeat once).
    public func forward(_ callbackURL: String) async throws -> Screen {
        try await serialised {
            if self.isApplicationLink(callbackURL) { return try await self.backFromBank(callbackURL) }
            return try await self.forwardNow(callbackURL)
        }
    }

    /// After a relaunch: delivers a callback that never reached the backend, then shows what the
    /// backend says. Nil when nothing was pending.
    public func resume() async throws -> Screen? {
        try await serialised { try await self.resumeNow() }
    }

    /// The OS opened the app with `url`, from outside the WebView:
    /// - the application link: the user is back from the bank (App2App, docs/contract.md section 6); the
    ///   backend finds the session (even after a cold start, with nothing stored) and answers with the
    ///   widget URL carrying the bank's query, which the widget needs to finish;
    /// - a URL on the pending session's callbacks: forwarded to the backend;
    /// - any other link resumes the pending session.
    /// With nothing pending, a link other than the application link is ignored (nil): the app never
    /// acts on a deeplink by itself.
    public func openedWith(_ url: String) async throws -> Screen? {
        try await serialised {
            if self.isApplicationLink(url) { return try await self.backFromBank(url) }
            guard let pending = self.store.load() else { return nil }
            let session = try await self.client.getSession(pending.sessionID)
            if !session.isFinished, let callbacks = session.callbackUrls, CallbackMatcher(callbacks).matches(url) {
                return try await self.forwardNow(url)
            }
            return try await self.resumeNow()
        }
    }

    /// Runs `step` after every call started before it has finished.
    private func serialised<T: Sendable>(_ step: @escaping @Sendable () async throws -> T) async throws -> T {
        let previous = tail
        let task = Task { () async throws -> T in
            await previous?.value
            return try await step()
        }
        tail = Task { _ = try? await task.value }
        return try await task.value
    }

    private func forwardNow(_ callbackURL: String) async throws -> Screen {
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

    private func resumeNow() async throws -> Screen? {
        guard let pending = store.load() else { return nil }
        if let callback = pending.undeliveredCallback { return try await forwardNow(callback) }
        let session = try await client.getSession(pending.sessionID)
        return try screen(for: session, lastEvent: nil)
    }

    private func isApplicationLink(_ url: String) -> Bool {
        applicationLink.map { onApplicationLink(URIParts(url), $0) } ?? false
    }

    private func backFromBank(_ url: String) async throws -> Screen {
        let pending = store.load()
        let resumed = try await client.resumeSession(applicationLinkURL: url, sessionID: pending?.sessionID)
        if resumed.session.isFinished { return try screen(for: resumed.session, lastEvent: nil) }
        let screen = try widget(resumed.session, widgetURL: resumed.widgetURL)
        if pending?.sessionID != resumed.session.id { store.save(PendingSession(sessionID: resumed.session.id)) }
        return screen
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
        return try widget(session, widgetURL: session.widgetURL)
    }

    /// The widget at `widgetURL`, which must be on the configured widget origin: the policy is built on it.
    private func widget(_ session: WidgetSession, widgetURL: String?) throws -> Screen {
        guard let widgetURL = widgetURL, let callbacks = session.callbackUrls else {
            throw BackendError.malformed("widget_url and callback_urls on a pending session")
        }
        guard URIParts(widgetURL).origin == widgetOrigin else { throw BackendError.untrustedWidgetURL() }
        return .widget(session, widgetURL: widgetURL, policy: try NavigationPolicy(widgetURL: widgetURL, callbackUrls: callbacks))
    }
}
