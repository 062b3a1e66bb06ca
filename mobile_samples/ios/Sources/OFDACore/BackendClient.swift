// The app's side of the backend's widget-session API (contract section 4), on URLSession.

import Foundation

/// A non-2xx answer, with the contract's first error (section 2); or an answer that is not what the
/// contract promises. Network failures stay URLError.
public struct BackendError: Error, CustomStringConvertible {
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
}

/// The session as the backend reports it. `widgetURL` carries the widget's access token: never log
/// it, never persist it (docs/security.md H3); `description` leaves it out.
public struct WidgetSession: CustomStringConvertible {
    public let id: String
    public let status: String
    public let widgetURL: String?
    public let expiresAt: String?
    public let callbackUrls: [String: String]?
    public let events: [DeeplinkEvent]

    /// `succeeded`, `exited`, `failed` and `expired` end the session (contract section 4); `pending` does not.
    public var isFinished: Bool { status != "pending" }

    public var description: String { "WidgetSession(id: \(id), status: \(status), events: \(events.count))" }

    init(json: Any?) throws {
        guard let map = json as? [String: Any], let id = map["id"] as? String, let status = map["status"] as? String else {
            throw BackendError.malformed("a widget session with id and status")
        }
        self.id = id
        self.status = status
        widgetURL = map["widget_url"] as? String
        expiresAt = map["expires_at"] as? String
        callbackUrls = map["callback_urls"] as? [String: String]
        // Each recorded event is either the event JSON itself or an object holding it under "event".
        events = try (map["events"] as? [Any] ?? []).map { item -> DeeplinkEvent in
            let object = item as? [String: Any]
            let event: Any?
            if object?["type"] != nil { event = object } else { event = object?["event"] }
            return try DeeplinkEvent(json: event)
        }
    }
}

/// `POST .../events`'s answer: the backend's reading of the deeplink, and the session after it.
public struct EventVerdict {
    public let event: DeeplinkEvent
    public let session: WidgetSession
}

public final class BackendClient {
    private let baseURL: String
    private let bearerToken: () async throws -> String
    private let session: URLSession

    /// `bearerToken` is asked for on every call, so a refreshed token is picked up.
    public init(baseURL: String, bearerToken: @escaping () async throws -> String, timeout: TimeInterval = 15) {
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
    public func createSession(_ request: [String: Any]) async throws -> WidgetSession {
        try WidgetSession(json: try await call("POST", "/v1/widget-sessions", body: request))
    }

    /// `GET /v1/widget-sessions/{id}`: the session's status and the events the backend received.
    public func getSession(_ id: String) async throws -> WidgetSession {
        try WidgetSession(json: try await call("GET", "/v1/widget-sessions/\(Self.segment(id))", body: nil))
    }

    /// `POST /v1/widget-sessions/{id}/events`: the backend parses, verifies and records `deeplink`.
    public func postEvent(sessionID: String, deeplink: String) async throws -> EventVerdict {
        let body = try await call("POST", "/v1/widget-sessions/\(Self.segment(sessionID))/events", body: ["url": deeplink])
        guard let map = body as? [String: Any] else { throw BackendError.malformed("an object with event and session") }
        return EventVerdict(event: try DeeplinkEvent(json: map["event"]), session: try WidgetSession(json: map["session"]))
    }

    private static func segment(_ id: String) -> String {
        id.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_"))) ?? id
    }

    private func call(_ method: String, _ path: String, body: [String: Any]?) async throws -> Any? {
        guard let url = URL(string: baseURL + path) else { throw BackendError.malformed("a valid backend URL") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        let token = try await bearerToken()
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        if let body = body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
        }
        let (data, response) = try await session.data(for: request)
        guard let http = response as? HTTPURLResponse else { throw BackendError.malformed("an HTTP response") }
        var json: Any?
        if !data.isEmpty { json = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) }
        guard (200..<300).contains(http.statusCode) else {
            let map = json as? [String: Any]
            let first = (map?["errors"] as? [[String: Any]])?.first
            throw BackendError(
                status: http.statusCode,
                code: first?["code"] as? String ?? "http_\(http.statusCode)",
                message: first?["message"] as? String ?? "no error body",
                requestID: map?["request_id"] as? String ?? http.value(forHTTPHeaderField: "X-Request-Id"),
                retryAfterSeconds: http.value(forHTTPHeaderField: "Retry-After").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            )
        }
        return json
    }
}
