// Which navigations of the widget's WKWebView stay inside, go to the backend, leave for the OS, or
// are dropped (docs/security.md G3): the same rules, and the same cases (mobile_samples/navigation_cases.json,
// generated into Tests/OFDACoreTests/NavigationPolicyCasesTests.swift), as the Kotlin and
// TypeScript samples.

import Foundation

/// What the widget's WebView does with a navigation.
public enum Navigation: Equatable, Sendable {
    /// Same origin as the session's widget URL: the widget itself.
    case loadInWebView
    /// One of the session's callback URLs: hand it to the backend, never act on it here.
    case forwardToBackend(String)
    /// An https page of another origin (the bank, App2App): `UIApplication.open` hands it to the bank's app or Safari.
    case openExternally(String)
    /// Anything else (`javascript:`, `data:`, `file:`, cleartext pages, other apps' schemes).
    case block(reason: String)
}

/// A URI split into RFC 3986 components (appendix B), without decoding; scheme and host lowercased.
/// Lenient, unlike the deeplink parser: the policy must classify every URL the WebView tries.
public struct URIParts: Equatable, Sendable {
    public let scheme: String?
    public let authority: String?
    public let host: String?
    public let path: String
    /// `scheme://host:port` with the port always written; nil without a host or with a malformed port.
    public let origin: String?

    private static let defaultPorts = ["http": 80, "https": 443]

    public init(_ uri: String) {
        var rest = Substring(uri)
        // The fragment and the query do not take part in any decision here.
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        var scheme: String?
        if let colon = rest.firstIndex(where: { ":/?".contains($0) }), rest[colon] == ":", colon != rest.startIndex {
            let candidate = rest[..<colon]
            let scalars = Array(candidate.unicodeScalars)
            func isLetter(_ s: Unicode.Scalar) -> Bool { ("a"..."z").contains(s) || ("A"..."Z").contains(s) }
            let valid = scalars.first.map(isLetter) == true
                && scalars.allSatisfy { isLetter($0) || ("0"..."9").contains($0) || "+.-".unicodeScalars.contains($0) }
            // A "scheme" that is not a valid one (e.g. `a b:`) means the whole string is a relative path.
            if valid {
                scheme = candidate.lowercased()
                rest = rest[rest.index(after: colon)...]
            }
        }
        if let query = rest.firstIndex(of: "?") { rest = rest[..<query] }
        var authority: String?
        if rest.hasPrefix("//") {
            rest = rest.dropFirst(2)
            let end = rest.firstIndex(of: "/") ?? rest.endIndex
            authority = String(rest[..<end])
            rest = rest[end...]
        }
        self.scheme = scheme
        self.authority = authority
        path = String(rest)
        // userinfo ends at the last '@' (RFC 3986 section 3.2.1); an IPv6 literal keeps its ':' inside [].
        var host: String?
        var rawPort: String?
        if let authority = authority {
            let hostPort = authority.split(separator: "@", omittingEmptySubsequences: false).last.map(String.init) ?? ""
            let separator: String.Index?
            if hostPort.hasPrefix("[") {
                separator = hostPort.range(of: "]:").map { hostPort.index(after: $0.lowerBound) }
            } else {
                separator = hostPort.lastIndex(of: ":")
            }
            var name = separator.map { String(hostPort[..<$0]) } ?? hostPort
            if name.hasPrefix("[") && name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
            host = name.lowercased()
            rawPort = separator.map { String(hostPort[hostPort.index(after: $0)...]) }
        }
        self.host = host
        // An explicit port is 0-65535 in digits; anything else makes the URL no web origin at all.
        let explicitPort: Int? = rawPort.flatMap { raw in
            raw.unicodeScalars.allSatisfy { ("0"..."9").contains($0) } ? Int(raw).flatMap { $0 <= 65535 ? $0 : nil } : nil
        }
        let portIsValid = rawPort.map { $0.isEmpty || explicitPort != nil } ?? true
        let port = explicitPort ?? scheme.flatMap { Self.defaultPorts[$0] }
        if let scheme = scheme, let host = host, !host.isEmpty, portIsValid {
            origin = "\(scheme)://\(host):\(port.map(String.init) ?? "")"
        } else {
            origin = nil
        }
    }
}

/// Which URLs go to the backend: those on one of the session's callback URLs (scheme and authority
/// case-insensitively, the path exactly, an empty path equal to "/", the query ignored: contract
/// section 3, rule 1), and any other URL on their custom scheme (Belvo's host-named
/// `<scheme>://warning?...`, which the backend classifies by rule 2). Used for WebView navigations and
/// for URLs the OS opens the app with.
public struct CallbackMatcher: Sendable {
    private let callbacks: [URIParts]
    private let customSchemes: Set<String>
    private let applicationLink: URIParts?

    public init(_ callbackUrls: [String: String]) {
        // The application link too (App2App): on a laptop it shares the widget's origin, so the bank's
        // redirect to it arrives inside the WebView, and it must reach the flow, not load there.
        callbacks = ["success", "exit", "event"].compactMap { callbackUrls[$0] }.map(URIParts.init)
        applicationLink = callbackUrls["application_link"].map(URIParts.init)
        customSchemes = Set(callbacks.compactMap(\.scheme).filter { $0 != "http" && $0 != "https" })
    }

    public func matches(_ url: String) -> Bool { matches(URIParts(url)) }

    func matches(_ parts: URIParts) -> Bool {
        if let scheme = parts.scheme, customSchemes.contains(scheme) { return true }
        if let link = applicationLink, onApplicationLink(parts, link) { return true }
        return callbacks.contains { sameEndpoint(parts, $0) }
    }
}

/// `url` is on the application link: as `sameEndpoint`, and one trailing slash on the path ignored, as the backend does.
func onApplicationLink(_ url: URIParts, _ link: URIParts) -> Bool {
    func path(_ parts: URIParts) -> String {
        let path = parts.path.hasSuffix("/") ? String(parts.path.dropLast()) : parts.path
        return path.isEmpty ? "/" : path
    }
    return url.scheme == link.scheme && url.authority?.lowercased() == link.authority?.lowercased() && path(url) == path(link)
}

/// docs/contract.md section 3, rule 1, for one URL against a configured one: scheme and authority
/// case-insensitively, the path exactly (an empty path equal to "/"), the query ignored.
func sameEndpoint(_ a: URIParts, _ b: URIParts) -> Bool {
    a.scheme == b.scheme && a.authority?.lowercased() == b.authority?.lowercased()
        && (a.path.isEmpty ? "/" : a.path) == (b.path.isEmpty ? "/" : b.path)
}

/// Decides, for every navigation the widget's WKWebView attempts, whether it stays in the WebView,
/// goes to the backend, leaves for the OS, or is dropped. Belvo's own iOS snippet (docs/belvo.md §2.2)
/// branches on the URL host alone; this policy is stricter:
///
/// - only the widget's origin (scheme, host and port of the session's `widget_url`) loads inside;
/// - the session's callback URLs, and other URLs on their custom scheme, go to the backend, never to
///   the OS, where another app could claim the scheme;
/// - other https pages are the bank's (App2App, docs/belvo.md §2.1): the bank login must not happen in an
///   embedded WebView (RFC 8252 section 8.12, docs/security.md G6), so they open outside;
/// - everything else is blocked.
public struct NavigationPolicy: Sendable {
    private let widgetOrigin: String
    private let callbacks: CallbackMatcher

    public init(widgetURL: String, callbackUrls: [String: String]) throws {
        guard let origin = URIParts(widgetURL).origin else { throw BackendError.malformed("an absolute http(s) widget_url") }
        widgetOrigin = origin
        callbacks = CallbackMatcher(callbackUrls)
    }

    public func decide(_ url: String) -> Navigation {
        // The characters the parser refuses outright: a URL carrying them is not something to load or forward.
        let malformed = url.unicodeScalars.contains { $0.value <= 0x20 || $0.value == 0x7F }
        if url.isEmpty || url.utf16.count > Deeplinks.maxLength || malformed {
            return .block(reason: "not a well-formed URL")
        }
        let parts = URIParts(url)
        if callbacks.matches(parts) { return .forwardToBackend(url) }
        if let origin = parts.origin, origin == widgetOrigin { return .loadInWebView }
        if parts.scheme == "https", parts.origin != nil { return .openExternally(url) }
        return .block(reason: "scheme '\(parts.scheme ?? "none")' is neither the widget's origin, a callback nor https")
    }
}
