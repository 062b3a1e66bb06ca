// Belvo's hosted-widget callback deeplinks as typed events: the Swift mirror of the backend's Python
// `deeplinks.parse`, rule for rule, with the same fixture corpus generated into
// Tests/OFDACoreTests/DeeplinkCorpusTests.swift.
//
// The app never acts on an event itself (the backend verifies a success against Belvo before it
// counts, docs/security.md G2); the parser is here so the app can tell what it is forwarding, and so that
// the rules exist once per platform and are all tested against one corpus.
//
// Written on Unicode scalars and bytes, not on Foundation's URL/URLComponents: those split and
// decode custom-scheme URLs differently from the backend (URLComponents decodes leniently and
// String comparison is by canonical equivalence), and the app must read a deeplink as the backend does.

import Foundation

/// `code` is `invalid_deeplink` or `unknown_event`, as in the backend's error body (docs/contract.md section 2).
public struct DeeplinkError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable { case invalidDeeplink = "invalid_deeplink", unknownEvent = "unknown_event" }

    public let code: Code
    public let message: String

    public var description: String { "\(code.rawValue): \(message)" }

    static func invalid(_ expected: String) -> DeeplinkError { DeeplinkError(code: .invalidDeeplink, message: "expected \(expected)") }

    static func unknown(_ expected: String) -> DeeplinkError { DeeplinkError(code: .unknownEvent, message: "expected \(expected)") }
}

/// The last error the user met before leaving: Belvo's code and, when sent, its message.
public struct ExitError: Equatable, Sendable {
    public let code: String
    public let message: String?
}

/// One of the events; `json` is the JSON of docs/contract.md sections 3 and 6.
public enum DeeplinkEvent: Equatable, Sendable {
    /// The user linked an account: `linkId` (lowercase UUID) at `institution`.
    case success(linkId: String, institution: String, extra: [String: String])
    /// The user left the widget: maybe after an `error`, at an `institution`, at a `step`.
    case exit(error: ExitError?, institution: String?, step: String?, extra: [String: String])
    /// The widget hit an error it cannot go on from, e.g. `ACCESS_TOKEN_NOT_VALID`.
    case error(code: String, message: String?, extra: [String: String])
    /// Something the user should know while the widget stays open, e.g. `institution_disabled`.
    case warning(code: String, message: String?, extra: [String: String])
    /// App2App: the bank sent the user back to the app's application link. Open Belvo's widget with
    /// this same `query` (raw, unchanged: Belvo may add keys) so the widget finishes the flow
    /// (https://developers.belvo.com/docs/hosted-widget-app2app-ofda). `query` carries the widget's
    /// access token: never log it.
    case resume(consentId: String?, locale: String?, query: String, extra: [String: String])

    /// The access token of a `.resume` event's query (nil for other events, or one read back without it).
    public var accessToken: String? {
        guard case let .resume(_, _, query, _) = self,
              let token = (try? Query.decode(query))?.first(where: { $0.0 == "access_token" })?.1, !token.isEmpty
        else { return nil }
        return token
    }

    public var json: [String: Any] {
        switch self {
        case let .success(linkId, institution, extra):
            return ["type": "success", "link_id": linkId, "institution": institution, "extra": extra]
        case let .exit(error, institution, step, extra):
            let errorJSON: Any = error.map { ["code": $0.code, "message": orNull($0.message)] as [String: Any] } ?? NSNull()
            return ["type": "exit", "error": errorJSON, "institution": orNull(institution), "step": orNull(step), "extra": extra]
        case let .error(code, message, extra):
            return ["type": "error", "code": code, "message": orNull(message), "extra": extra]
        case let .warning(code, message, extra):
            return ["type": "warning", "code": code, "message": orNull(message), "extra": extra]
        case let .resume(consentId, locale, query, extra):
            return ["type": "resume", "consent_id": orNull(consentId), "locale": orNull(locale), "query": query, "extra": extra]
        }
    }

    /// JSON's null for a missing value, as JSONSerialization reads and writes it.
    private func orNull(_ value: String?) -> Any { value.map { $0 as Any } ?? NSNull() }

    /// The inverse of `json`, for the events in the backend's answers.
    public init(json: Any?) throws {
        guard let map = json as? [String: Any] else { throw BackendError.malformed("an event object") }
        func text(_ name: String) -> String? { map[name] as? String }
        func required(_ name: String) throws -> String {
            guard let value = text(name) else { throw BackendError.malformed("a string '\(name)' in an event") }
            return value
        }
        let extra = map["extra"] as? [String: String] ?? [:]
        switch map["type"] as? String {
        case "success":
            self = .success(linkId: try required("link_id"), institution: try required("institution"), extra: extra)
        case "exit":
            let error = try (map["error"] as? [String: Any]).map { error -> ExitError in
                guard let code = error["code"] as? String else { throw BackendError.malformed("a string error.code in an exit event") }
                return ExitError(code: code, message: error["message"] as? String)
            }
            self = .exit(error: error, institution: text("institution"), step: text("step"), extra: extra)
        case "error":
            self = .error(code: try required("code"), message: text("message"), extra: extra)
        case "warning":
            self = .warning(code: try required("code"), message: text("message"), extra: extra)
        case "resume":
            self = .resume(consentId: text("consent_id"), locale: text("locale"), query: try required("query"), extra: extra)
        default:
            throw BackendError.malformed("type success, exit, error, warning or resume")
        }
    }
}

extension DeeplinkEvent: CustomStringConvertible, CustomDebugStringConvertible {
    /// The event's JSON without a resume's `query`, which carries the widget's access token: safe to log.
    public var description: String {
        var fields = json
        fields.removeValue(forKey: "query")
        return "DeeplinkEvent(\(fields))"
    }

    public var debugDescription: String { description }
}

public enum Deeplinks {
    /// Longest URL accepted (docs/contract.md section 3): bounds the work one deeplink can cause.
    public static let maxLength = 4096

    /// Parses `url`. With `callbackUrls` (the session's, as sent to Belvo) the URL's kind is the
    /// callback it is on (docs/contract.md section 3, rule 1); otherwise, or for a URL on one of their schemes
    /// that is on none of them, its last non-empty path segment or else its host (rule 2). Throws
    /// `DeeplinkError` and nothing else.
    public static func parse(_ url: String, callbackUrls: CallbackUrls? = nil) throws -> DeeplinkEvent {
        let parts = try DeeplinkURL.split(url, field: "url")
        let pairs = try Query.decode(parts.query)
        let kind: Kind
        var consumed: Set<String> = []
        if let callbacks = callbackUrls {
            if let route = try callbacks.route(parts, pairs) {
                kind = route.kind
                consumed = route.keys
            } else if callbacks.schemes.contains(parts.scheme) {
                kind = try kindByName(parts)
            } else {
                let schemes = callbacks.schemes.sorted().joined(separator: ", ")
                let link = callbacks.applicationLink.map { " or on the application link '\($0)'" } ?? ""
                throw DeeplinkError.unknown("a URL on the callback URLs (\(schemes)://...)\(link), got scheme '\(parts.scheme)'")
            }
        } else {
            kind = try kindByName(parts)
        }
        switch kind {
        case .success: return try successEvent(pairs, consumed)
        case .exit: return try exitEvent(pairs, consumed)
        case .event: return try codedEvent(pairs, consumed)
        case .resume: return try resumeEvent(parts.query ?? "", pairs)
        }
    }

    enum Kind: String { case success, exit, event, resume = "application_link" }

    static let successParameters: Set<String> = ["link", "institution"]
    // The flattened names of Belvo's example URL (docs/belvo.md §3.2, §0.5).
    static let exitParameters: Set<String> = [
        "last_encountered_error_code", "last_encountered_error_message", "meta_data_institution_name", "meta_data_step",
    ]
    static let eventParameters: Set<String> = ["error", "error_message", "warning", "warning_message"]
    static let resumeParameters: Set<String> = ["access_token", "consent_id", "locale"]

    // Errors and warnings share the `event` callback and are told apart by their query keys (facts
    // file docs/belvo.md §0.4); a URL named `error` or `warning` is read the same way, because Belvo's own
    // guides register `<scheme>://error` as the event callback (docs/belvo.md §3.5).
    private static let kindNames: [String: Kind] = [
        "success": .success, "exit": .exit, "event": .event, "error": .event, "warning": .event,
    ]

    private static func kindByName(_ parts: DeeplinkURL) throws -> Kind {
        if DeeplinkURL.neverCallbackSchemes.contains(parts.scheme) {
            throw DeeplinkError.unknown("an app or https deeplink, got scheme '\(parts.scheme)'")
        }
        var path = Substring(parts.path)
        while path.hasSuffix("/") { path = path.dropLast() }
        let segment = path.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? ""
        let name = segment.isEmpty ? parts.host : segment
        // Compared by scalars, not by Swift's canonical String equality, as the other platforms do.
        guard let kind = kindNames.first(where: { Array($0.key.unicodeScalars) == Array(name.unicodeScalars) })?.value else {
            throw DeeplinkError.unknown("the last path segment or the host to be success, exit, error, warning or event, got '\(name)'")
        }
        return kind
    }

    /// The event's own non-empty values and `extra` (first value wins); an own parameter given twice is invalid.
    private static func collect(
        _ pairs: [(String, String)], _ known: Set<String>, _ consumed: Set<String>
    ) throws -> ([String: String], [String: String]) {
        var values: [String: String] = [:]
        var extra: [String: String] = [:]
        var seen: Set<String> = []
        for (name, value) in pairs {
            if known.contains(name) || consumed.contains(name) {
                if !seen.insert(name).inserted { throw DeeplinkError.invalid("\(name) once, got it more than once") }
                if !value.isEmpty { values[name] = value }
            } else if extra[name] == nil {
                extra[name] = value
            }
        }
        return (values, extra)
    }

    private static func successEvent(_ pairs: [(String, String)], _ consumed: Set<String>) throws -> DeeplinkEvent {
        let (values, extra) = try collect(pairs, successParameters, consumed)
        guard let link = values["link"] else { throw DeeplinkError.invalid("a non-empty link on a success deeplink") }
        guard isUUID(link) else { throw DeeplinkError.invalid("link as a UUID like 'cb65f82c-dc93-4d3e-8270-9a27528397f5', got '\(link)'") }
        guard let institution = values["institution"] else { throw DeeplinkError.invalid("a non-empty institution on a success deeplink") }
        return .success(linkId: link.lowercased(), institution: institution, extra: extra)
    }

    private static func exitEvent(_ pairs: [(String, String)], _ consumed: Set<String>) throws -> DeeplinkEvent {
        let (values, extra) = try collect(pairs, exitParameters, consumed)
        let code = values["last_encountered_error_code"]
        let message = values["last_encountered_error_message"]
        // Belvo sends the message only with its code.
        if code == nil && message != nil {
            throw DeeplinkError.invalid("last_encountered_error_code with last_encountered_error_message, got only the message")
        }
        return .exit(
            error: code.map { ExitError(code: $0, message: message) },
            institution: values["meta_data_institution_name"],
            step: values["meta_data_step"],
            extra: extra
        )
    }

    private static func codedEvent(_ pairs: [(String, String)], _ consumed: Set<String>) throws -> DeeplinkEvent {
        let (values, extra) = try collect(pairs, eventParameters, consumed)
        switch (values["error"], values["warning"]) {
        case (.some, .some):
            throw DeeplinkError.invalid("either error or warning on an event deeplink, got both")
        case let (.some(error), nil):
            if values["warning_message"] != nil { throw DeeplinkError.invalid("no warning_message on a deeplink carrying error") }
            return .error(code: error, message: values["error_message"], extra: extra)
        case let (nil, .some(warning)):
            if values["error_message"] != nil { throw DeeplinkError.invalid("no error_message on a deeplink carrying warning") }
            return .warning(code: warning, message: values["warning_message"], extra: extra)
        case (nil, nil):
            let names = values.keys.sorted() + extra.keys.sorted()
            throw DeeplinkError.unknown("error or warning on an event deeplink, got parameters \(names)")
        }
    }

    // App2App: the bank sent the user back on the application link; the widget reopens with this same query.
    private static func resumeEvent(_ query: String, _ pairs: [(String, String)]) throws -> DeeplinkEvent {
        let (values, extra) = try collect(pairs, resumeParameters, [])
        guard values["access_token"] != nil else { throw DeeplinkError.invalid("a non-empty access_token in a resume deeplink's query") }
        return .resume(consentId: values["consent_id"], locale: values["locale"], query: query, extra: extra)
    }

    /// A UUID with hyphens, ASCII only (no braces, "urn:uuid:" or missing hyphens).
    private static func isUUID(_ value: String) -> Bool {
        let scalars = Array(value.unicodeScalars)
        guard scalars.count == 36 else { return false }
        return scalars.enumerated().allSatisfy { index, scalar in
            [8, 13, 18, 23].contains(index) ? scalar == "-" : DeeplinkURL.isHex(scalar)
        }
    }
}

/// A URL checked against the deeplink rules and split (scheme and authority lowercased).
struct DeeplinkURL {
    let scheme: String
    let authority: String?
    let path: String
    let query: String?

    var host: String { String((authority ?? "").split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? "") }

    static let neverCallbackSchemes: Set<String> = ["javascript", "vbscript", "data", "file", "blob", "about", "intent"]
    private static let portSchemes: Set<String> = ["http", "https"]
    private static let dotSegments: Set<String> = [".", "..", "%2e", "%2e%2e", ".%2e", "%2e."]

    static func isHex(_ s: Unicode.Scalar) -> Bool { ("0"..."9").contains(s) || ("a"..."f").contains(s) || ("A"..."F").contains(s) }

    private static func isAlphaNumeric(_ s: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(s) || ("A"..."Z").contains(s) || ("0"..."9").contains(s)
    }

    // Characters allowed raw: RFC 3986's unreserved and reserved ones and '%', less '[', ']' (IPv6
    // hosts, never a callback) and '#' (a fragment). Everything else must arrive percent-encoded.
    private static func allowedRaw(_ s: Unicode.Scalar) -> Bool { isAlphaNumeric(s) || "-._~:/?@!$&'()*+,;=%".unicodeScalars.contains(s) }

    static func split(_ url: String, field: String) throws -> DeeplinkURL {
        func invalid(_ expected: String) -> DeeplinkError { DeeplinkError.invalid("\(expected) (\(field))") }
        let scalars = Array(url.unicodeScalars)
        if scalars.count > Deeplinks.maxLength { throw invalid("at most \(Deeplinks.maxLength) characters, got \(scalars.count)") }
        if let bad = scalars.firstIndex(where: { !allowedRaw($0) }) {
            if scalars[bad] == "#" { throw invalid("no fragment ('#...') in a Belvo deeplink") }
            let code = String(scalars[bad].value, radix: 16, uppercase: true)
            throw invalid("only characters allowed raw in a URL (RFC 3986), got U+\(code) at position \(bad)")
        }
        for (i, s) in scalars.enumerated() where s == "%" {
            if !(i + 2 < scalars.count && isHex(scalars[i + 1]) && isHex(scalars[i + 2])) {
                throw invalid("'%' followed by two hex digits at position \(i)")
            }
        }
        // RFC 3986 appendix B, without the fragment (refused above): scheme ':' ['//' authority] path ['?' query].
        var rest = Substring(url)
        guard let colon = rest.firstIndex(where: { ":/?".contains($0) }), rest[colon] == ":" else {
            throw invalid("a URL with a scheme, like 'myapp://success?...'")
        }
        let rawScheme = String(rest[..<colon])
        let schemeScalars = Array(rawScheme.unicodeScalars)
        guard let first = schemeScalars.first, ("a"..."z").contains(first) || ("A"..."Z").contains(first),
              schemeScalars.allSatisfy({ isAlphaNumeric($0) || "+.-".unicodeScalars.contains($0) })
        else { throw invalid("a scheme of a letter then letters, digits, '+', '-' or '.', got '\(rawScheme)'") }
        let scheme = rawScheme.lowercased()
        rest = rest[rest.index(after: colon)...]
        var authority: String?
        if rest.hasPrefix("//") {
            rest = rest.dropFirst(2)
            let end = rest.firstIndex(where: { "/?".contains($0) }) ?? rest.endIndex
            authority = try checkAuthority(String(rest[..<end]), scheme: scheme, invalid)
            rest = rest[end...]
        }
        let queryStart = rest.firstIndex(of: "?")
        let path = String(rest[..<(queryStart ?? rest.endIndex)])
        let query = queryStart.map { String(rest[rest.index(after: $0)...]) }
        if path.contains(".") || path.contains("%2") {
            let segments = path.split(separator: "/", omittingEmptySubsequences: false)
            if segments.contains(where: { dotSegments.contains($0.lowercased()) }) { throw invalid("a path without '.' or '..' segments") }
        }
        return DeeplinkURL(scheme: scheme, authority: authority, path: path, query: query)
    }

    private static func checkAuthority(_ authority: String, scheme: String, _ invalid: (String) -> DeeplinkError) throws -> String {
        // `myapp://success@evil` names the host `evil` to RFC 3986 but `success` to a naive reader.
        if authority.contains("@") { throw invalid("no user information ('...@') in the host") }
        let pieces = authority.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let host = pieces[0]
        if !host.unicodeScalars.allSatisfy({ isAlphaNumeric($0) || "._~-".unicodeScalars.contains($0) }) {
            throw invalid("a host of letters, digits, '.', '_', '~' or '-', got '\(host)'")
        }
        if pieces.count == 2 {
            let port = pieces[1]
            if !portSchemes.contains(scheme) { throw invalid("a port only on http(s) URLs") }
            let digits = port.unicodeScalars.allSatisfy { ("0"..."9").contains($0) }
            guard (1...5).contains(port.count), digits, let number = Int(port), number <= 65535 else {
                throw invalid("a port from 0 to 65535, got '\(port)'")
            }
        }
        return authority.lowercased()
    }
}

/// Query decoding: `&`-separated fields, `+` is a space, percent-decoded exactly once, strict UTF-8.
enum Query {
    /// The (name, value) pairs in order. Empty fields are skipped; a field without `=` is a name with
    /// an empty value; a value without a name is invalid.
    static func decode(_ query: String?) throws -> [(String, String)] {
        guard let query = query else { return [] }
        return try query.split(separator: "&", omittingEmptySubsequences: true).map { item -> (String, String) in
            let pieces = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            if pieces[0].isEmpty { throw DeeplinkError.invalid("a parameter name before '='") }
            let name = try component(String(pieces[0]), field: "url")
            return (name, try component(pieces.count == 2 ? String(pieces[1]) : "", field: name))
        }
    }

    static func component(_ raw: String, field: String) throws -> String {
        // Escapes were checked by DeeplinkURL.split; every other character is ASCII.
        let ascii = Array(raw.utf8).map { $0 == UInt8(ascii: "+") ? UInt8(ascii: " ") : $0 }
        guard ascii.contains(UInt8(ascii: "%")) else { return String(decoding: ascii, as: UTF8.self) }
        var bytes: [UInt8] = []
        var i = 0
        while i < ascii.count {
            if ascii[i] == UInt8(ascii: "%"), let byte = UInt8(String(decoding: ascii[(i + 1)...(i + 2)], as: UTF8.self), radix: 16) {
                bytes.append(byte)
                i += 3
            } else {
                bytes.append(ascii[i])
                i += 1
            }
        }
        guard let decoded = strictUTF8(bytes) else { throw DeeplinkError.invalid("UTF-8 after percent-decoding \(field)") }
        if let bad = decoded.unicodeScalars.first(where: forbiddenText) {
            throw DeeplinkError.invalid("no control or bidi characters in \(field), got U+\(String(bad.value, radix: 16, uppercase: true))")
        }
        return decoded
    }

    // C0/C1 controls, DEL, bidi overrides and isolates (log injection, display spoofing:
    // docs/security.md E). Lone surrogates cannot come out of the strict UTF-8 decoder below.
    private static func forbiddenText(_ s: Unicode.Scalar) -> Bool {
        s.value <= 0x1F || (0x7F...0x9F).contains(s.value) || (0x202A...0x202E).contains(s.value) || (0x2066...0x2069).contains(s.value)
    }

    /// Well-formed UTF-8 only (Unicode table 3-7: no overlong forms, surrogates or values past U+10FFFF); nil otherwise.
    static func strictUTF8(_ bytes: [UInt8]) -> String? {
        var scalars = String.UnicodeScalarView()
        var i = 0
        while i < bytes.count {
            let b0 = UInt32(bytes[i])
            let lead: (length: Int, minimum: UInt32, bits: UInt32)
            switch b0 {
            case 0x00...0x7F: lead = (1, 0, b0)
            case 0xC2...0xDF: lead = (2, 0x80, b0 & 0x1F)
            case 0xE0...0xEF: lead = (3, 0x800, b0 & 0x0F)
            case 0xF0...0xF4: lead = (4, 0x10000, b0 & 0x07)
            default: return nil
            }
            let length = lead.length
            guard i + length <= bytes.count else { return nil }
            var value = lead.bits
            for k in 1..<length {
                let b = UInt32(bytes[i + k])
                guard b & 0xC0 == 0x80 else { return nil }
                value = (value << 6) | (b & 0x3F)
            }
            guard value >= lead.minimum, let scalar = Unicode.Scalar(value) else { return nil }
            scalars.append(scalar)
            i += length
        }
        return String(scalars)
    }
}

/// The session's callback URLs, as the backend sent them to Belvo (`callback_urls`), checked when made.
/// A URL is on one when scheme, authority and path are equal (an empty path equals "/") and it carries
/// every parameter of that callback URL's own query. `applicationLink` (App2App, optional) is the https
/// link the bank sends the user back on; one trailing "/" on it is ignored, as Belvo's App2App page shows
/// the redirect as `.../belvo-widget/?...` for a link written `.../belvo-widget`.
public struct CallbackUrls: Equatable, Sendable {
    public let success: String
    public let exit: String
    public let event: String
    public let applicationLink: String?

    struct Route {
        let kind: Deeplinks.Kind
        let url: String
        let scheme: String
        let authority: String
        let path: String
        let query: [(String, String)]

        var keys: Set<String> { Set(query.map { $0.0 }) }

        func samePlace(as other: Route) -> Bool {
            scheme == other.scheme && authority == other.authority && path == other.path
                && query.count == other.query.count && query.allSatisfy { pair in other.query.contains { $0 == pair } }
        }
    }

    let routes: [Route]

    public init(success: String, exit: String, event: String, applicationLink: String? = nil) throws {
        self.success = success
        self.exit = exit
        self.event = event
        self.applicationLink = applicationLink
        var routes = [
            try Self.route(.success, success, Deeplinks.successParameters),
            try Self.route(.exit, exit, Deeplinks.exitParameters),
            try Self.route(.event, event, Deeplinks.eventParameters),
        ]
        if let link = applicationLink { routes.append(try Self.route(.resume, link, Deeplinks.resumeParameters)) }
        self.routes = routes
        for (i, a) in routes.enumerated() {
            // Whatever its own query, a callback on the application link's path would take resume URLs.
            for b in routes[(i + 1)...] where a.samePlace(as: b) || (
                b.kind == .resume && a.scheme == b.scheme && a.authority == b.authority && Self.withoutTrailingSlash(a.path) == b.path
            ) {
                throw DeeplinkError.invalid("distinct callback URLs, \(a.kind) and \(b.kind) are the same: '\(a.url)'")
            }
        }
    }

    /// From JSON: an object with exactly the keys success, exit and event, each a string, and optionally
    /// application_link (a string or null).
    public init(json: Any?) throws {
        guard let map = json as? [String: Any] else { throw DeeplinkError.invalid("callback_urls as an object with success, exit, event") }
        let kinds = ["success", "exit", "event"]
        let missing = kinds.filter { map[$0] == nil }
        let unknown = map.keys.filter { !kinds.contains($0) && $0 != "application_link" }.sorted()
        if !missing.isEmpty || !unknown.isEmpty {
            throw DeeplinkError.invalid(
                "callback_urls with the keys success, exit, event (and optionally application_link); missing \(missing), unknown \(unknown)"
            )
        }
        let urls = try kinds.map { kind -> String in
            guard let url = map[kind] as? String else { throw DeeplinkError.invalid("callback_urls.\(kind) as a string") }
            return url
        }
        let link = map["application_link"]
        if let link = link, !(link is String), !(link is NSNull) {
            throw DeeplinkError.invalid("callback_urls.application_link as a string")
        }
        try self.init(success: urls[0], exit: urls[1], event: urls[2], applicationLink: link as? String)
    }

    public var json: [String: String] {
        var json = ["success": success, "exit": exit, "event": event]
        if let link = applicationLink { json["application_link"] = link }
        return json
    }

    /// The schemes of success, exit and event; not the application link's (https URLs elsewhere are no callbacks).
    var schemes: Set<String> { Set(routes.filter { $0.kind != .resume }.map(\.scheme)) }

    static func withoutTrailingSlash(_ path: String) -> String { path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path }

    public static func == (a: CallbackUrls, b: CallbackUrls) -> Bool { a.json == b.json }

    private static func route(_ kind: Deeplinks.Kind, _ url: String, _ reserved: Set<String>) throws -> Route {
        let field = "callback_urls.\(kind.rawValue)"
        let parts = try DeeplinkURL.split(url, field: field)
        if DeeplinkURL.neverCallbackSchemes.contains(parts.scheme) {
            throw DeeplinkError.invalid("an app or https callback URL, got scheme '\(parts.scheme)' (\(field))")
        }
        var path = parts.path.isEmpty ? "/" : parts.path
        if kind == .resume {
            guard ["https", "http"].contains(parts.scheme), !(parts.authority ?? "").isEmpty else {
                throw DeeplinkError.invalid("the application link as an https universal link / App Link (\(field))")
            }
            // Belvo appends `?access_token=...` to the link as given.
            if parts.query != nil { throw DeeplinkError.invalid("the application link without a query ('?...') (\(field))") }
            path = withoutTrailingSlash(path)
        }
        let pairs = try Query.decode(parts.query)
        let names = pairs.map { $0.0 }
        let repeated = Set(names.filter { name in names.filter { $0 == name }.count > 1 })
        if let clash = Set(names).intersection(reserved).sorted().first ?? repeated.sorted().first {
            throw DeeplinkError.invalid(
                "the \(kind) callback URL's own query to leave Belvo's parameters alone and name each parameter once, got '\(clash)'"
            )
        }
        return Route(kind: kind, url: url, scheme: parts.scheme, authority: parts.authority ?? "", path: path, query: pairs)
    }

    /// The callback `parts` is on, or nil; the most specific one (whose own query names the most parameters) wins.
    func route(_ parts: DeeplinkURL, _ pairs: [(String, String)]) throws -> Route? {
        let path = parts.path.isEmpty ? "/" : parts.path
        let candidates = routes.filter { route in
            route.scheme == parts.scheme && route.authority == (parts.authority ?? "")
                && route.path == (route.kind == .resume ? Self.withoutTrailingSlash(path) : path)
                && route.query.allSatisfy { wanted in pairs.contains { $0 == wanted } }
        }
        guard var best = candidates.first else { return nil }
        for candidate in candidates.dropFirst() where candidate.query.count > best.query.count { best = candidate }
        if let tied = candidates.first(where: { $0.kind != best.kind && $0.query.count == best.query.count }) {
            throw DeeplinkError.invalid("the URL on one callback URL, it is on both \(best.kind) and \(tied.kind)")
        }
        return best
    }
}
