// The app's side of the backend's widget-session API (docs/contract.md sections 4 and 6), on URLSession.

import Foundation
#if canImport(FoundationNetworking)
    // On Linux, URLSession lives in FoundationNetworking (swift-corelibs-foundation).
    import FoundationNetworking
#endif

/// A non-2xx answer, with the contract's first error (section 2); or an answer that is not what the
/// contract promises. Network failures stay URLError.
public struct BackendError: Error, Sendable, CustomStringConvertible {
    public let status: Int
    public let code: String
    public let message: String
    public let requestID: String?
    public let retryAfterSeconds: Int?

    /// Worth trying again later (Belvo or the backend is busy or down); a 4xx answer is final.
    public var isRetryable: Bool { status == 429 || status >= 500 }

    public var description: String { "HTTP \(status) \(code): \(message)" + (requestID.map { " (request \($0))" } ?? "") }

    static func malformed(_ expected: String) -> BackendError {
        BackendError(
            status: 200, code: "invalid_response", message: "expected \(expected) in the backend's answer",
            requestID: nil, retryAfterSeconds: nil
        )
    }

    /// A widget URL the app will not load: it is not on the widget origin the app was built with.
    static func untrustedWidgetURL() -> BackendError {
        BackendError(
            status: 200, code: "untrusted_widget_url", message: "expected a widget_url on the configured widget origin",
            requestID: nil, retryAfterSeconds: nil
        )
    }
}

/// The session as the backend reports it (decoded with `Codable`). `widgetURL` carries the widget's
/// access token: never log it, never persist it; `description` leaves it out.
public struct WidgetSession: Decodable, Sendable, CustomStringConvertible {
    public let id: String
    public let status: String
    public let widgetURL: String?
    public let expiresAt: String?
    public let callbackUrls: [String: String]?
    public let events: [DeeplinkEvent]

    /// `succeeded`, `exited`, `failed` and `expired` end the session (docs/contract.md section 4); `pending` does not.
    public var isFinished: Bool { status != "pending" }

    public var description: String { "WidgetSession(id: \(id), status: \(status), events: \(events.count))" }

    enum CodingKeys: String, CodingKey {
        case id, status, events
        case widgetURL = "widget_url", expiresAt = "expires_at", callbackUrls = "callback_urls"
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        status = try container.decode(String.self, forKey: .status)
        widgetURL = try container.decodeIfPresent(String.self, forKey: .widgetURL)
        expiresAt = try container.decodeIfPresent(String.self, forKey: .expiresAt)
        // application_link may be null (App2App off for this session): only the strings are kept.
        callbackUrls = try container.decodeIfPresent([String: String?].self, forKey: .callbackUrls)?.compactMapValues { $0 }
        // Each recorded event is either the event JSON itself or an object holding it under "event";
        // the parser's DeeplinkEvent reads the JSON object.
        events = try (container.decodeIfPresent([JSONValue].self, forKey: .events) ?? []).map { item in
            let object = item.object as? [String: Any]
            return try DeeplinkEvent(json: object?["type"] != nil ? object : object?["event"])
        }
    }
}

/// Any JSON value, for the parts of an answer that the parser's `DeeplinkEvent(json:)` reads.
enum JSONValue: Decodable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// As JSONSerialization would give it.
    var object: Any? {
        switch self {
        case .null: return nil
        case let .bool(value): return value
        case let .number(value): return value
        case let .string(value): return value
        case let .array(values): return values.map { $0.object as Any }
        case let .object(values): return values.compactMapValues { $0.object }
        }
    }
}

/// The contract's error body (section 2).
private struct ErrorBody: Decodable {
    struct Item: Decodable {
        let code: String?
        let message: String?
    }

    let errors: [Item]?
    let requestID: String?

    enum CodingKeys: String, CodingKey {
        case errors, requestID = "request_id"
    }
}

private struct EventAnswer: Decodable {
    let event: JSONValue
    let session: WidgetSession
}

private struct ResumeAnswer: Decodable {
    let session: WidgetSession
    let widgetURL: String

    enum CodingKeys: String, CodingKey {
        case session, widgetURL = "widget_url"
    }
}

/// `POST .../events`'s answer: the backend's reading of the deeplink, and the session after it.
public struct EventVerdict: Sendable {
    public let event: DeeplinkEvent
    public let session: WidgetSession
}

/// `POST /v1/widget-sessions`'s body (docs/contract.md section 4): the user's identification and, optionally,
/// what to ask Belvo for. A request that names no `institutions` lets the widget show its bank picker.
public struct SessionRequest: Encodable, Sendable {
    public struct Identification: Encodable, Sendable {
        public let type: String
        public let number: String
        public let name: String

        public init(type: String, number: String, name: String) {
            self.type = type
            self.number = number
            self.name = name
        }
    }

    public let identificationInfo: [Identification]
    public let institutions: [String]?
    public let locale: String?

    public init(identificationInfo: [Identification], institutions: [String]? = nil, locale: String? = nil) {
        self.identificationInfo = identificationInfo
        self.institutions = institutions
        self.locale = locale
    }

    enum CodingKeys: String, CodingKey {
        case identificationInfo = "identification_info", institutions, locale
    }
}

/// `POST .../resume`'s answer: the session, and the widget URL carrying the bank's query. `description`
/// leaves the URL out: it carries the widget's access token.
public struct ResumedSession: Sendable, CustomStringConvertible {
    public let session: WidgetSession
    public let widgetURL: String

    public var description: String { "ResumedSession(session: \(session))" }
}

/// Immutable, so it is shared between actors (`Sendable`) as it is.
public final class BackendClient: Sendable {
    private let baseURL: String
    private let bearerToken: @Sendable () async throws -> String
    private let session: URLSession

    /// `bearerToken` is asked for on every call, so a refreshed token is picked up.
    public init(baseURL: String, bearerToken: @escaping @Sendable () async throws -> String, timeout: TimeInterval = 15) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.bearerToken = bearerToken
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.urlCache = nil
        session = URLSession(configuration: configuration)
    }

    /// `POST /v1/widget-sessions`: `request` is the contract's body (`identification_info` and optional fields).
    public func createSession(_ request: SessionRequest) async throws -> WidgetSession {
        try await call("POST", "/v1/widget-sessions", body: try JSONEncoder().encode(request))
    }

    /// `GET /v1/widget-sessions/{id}`: the session's status and the events the backend received.
    public func getSession(_ id: String) async throws -> WidgetSession {
        try await call("GET", "/v1/widget-sessions/\(Self.segment(id))", body: nil)
    }

    /// `POST /v1/widget-sessions/{id}/events`: the backend parses, verifies and records `deeplink`.
    public func postEvent(sessionID: String, deeplink: String) async throws -> EventVerdict {
        let answer: EventAnswer = try await call(
            "POST", "/v1/widget-sessions/\(Self.segment(sessionID))/events", body: try JSONEncoder().encode(["url": deeplink])
        )
        return EventVerdict(event: try DeeplinkEvent(json: answer.event.object), session: answer.session)
    }

    /// `POST /v1/widget-sessions/resume` (docs/contract.md section 6): `applicationLinkURL` is the universal link
    /// the bank sent the user back with; `sessionID` the pending session, when the app still knows it
    /// (the backend uses it when no session matches the link's token). The answer's `event` (the
    /// backend's reading of the link) is not needed to reopen the widget, so it is not read.
    public func resumeSession(applicationLinkURL: String, sessionID: String?) async throws -> ResumedSession {
        var body = ["url": applicationLinkURL]
        if let sessionID = sessionID { body["session_id"] = sessionID }
        let answer: ResumeAnswer = try await call("POST", "/v1/widget-sessions/resume", body: try JSONEncoder().encode(body))
        return ResumedSession(session: answer.session, widgetURL: answer.widgetURL)
    }

    /// `GET /v1/links`: the user's links, each with Belvo's status and its consent (docs/contract.md section 7).
    public func listLinks() async throws -> [UserLink] {
        let answer: LinkList = try await call("GET", "/v1/links", body: nil)
        return answer.links
    }

    /// `POST /v1/consent-portal`: My Belvo Portal already showing this person's consents.
    public func openConsentPortal(identificationInfo: [SessionRequest.Identification]) async throws -> PortalURL {
        let body = try JSONEncoder().encode(PortalRequest(identificationInfo: identificationInfo))
        let answer: PortalAnswer = try await call("POST", "/v1/consent-portal", body: body)
        guard let url = answer.portalURL else { throw BackendError.malformed("a portal_url") }
        return PortalURL(url: url, expiresAt: answer.expiresAt)
    }

    /// `POST /v1/links/{id}/consent-renewal`: the portal in renew mode for this link's consent;
    /// `409 consent_not_renewable` before Belvo reported a consent, or once it was revoked.
    public func renewConsent(linkID: String, identificationInfo: [SessionRequest.Identification]) async throws -> PortalURL {
        let body = try JSONEncoder().encode(PortalRequest(identificationInfo: identificationInfo))
        let answer: PortalAnswer = try await call("POST", "/v1/links/\(Self.segment(linkID))/consent-renewal", body: body)
        guard let url = answer.renewURL else { throw BackendError.malformed("a renew_url") }
        return PortalURL(url: url, expiresAt: answer.expiresAt)
    }

    private static func segment(_ id: String) -> String {
        id.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_"))) ?? id
    }

    private func call<Answer: Decodable>(_ method: String, _ path: String, body: Data?) async throws -> Answer {
        guard let url = URL(string: baseURL + path) else { throw BackendError.malformed("a valid backend URL") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        let token = try await bearerToken()
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let body = body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = body
        }
        let (data, response) = try await session.data(for: request)
        guard let http = response as? HTTPURLResponse else { throw BackendError.malformed("an HTTP response") }
        guard (200..<300).contains(http.statusCode) else {
            let error = try? JSONDecoder().decode(ErrorBody.self, from: data)
            let first = error?.errors?.first
            throw BackendError(
                status: http.statusCode,
                code: first?.code ?? "http_\(http.statusCode)",
                message: first?.message ?? "no error body",
                requestID: error?.requestID ?? http.value(forHTTPHeaderField: "X-Request-Id"),
                retryAfterSeconds: http.value(forHTTPHeaderField: "Retry-After").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            )
        }
        do {
            return try JSONDecoder().decode(Answer.self, from: data)
        } catch {
            // What was expected, not the body: it can carry the widget's access token.
            throw BackendError.malformed("a JSON \(Answer.self) from \(method) \(path)")
        }
    }
}
