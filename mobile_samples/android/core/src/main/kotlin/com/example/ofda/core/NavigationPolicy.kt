package com.example.ofda.core

/** What the widget's WebView does with a navigation (docs/security.md G3). */
sealed interface Navigation {
    /** Same origin as the session's widget URL: the widget itself. */
    data object LoadInWebView : Navigation

    /** One of the session's callback URLs: hand it to the backend (`POST .../events`), never act on it here. */
    data class ForwardToBackend(val url: String) : Navigation

    /** An https page of another origin (the bank, App2App): the OS opens it in the bank's app or the browser. */
    data class OpenExternally(val url: String) : Navigation

    /** Anything else (`javascript:`, `data:`, `file:`, `intent:`, cleartext pages, other apps' schemes). */
    data class Block(val reason: String) : Navigation
}

/**
 * Decides, for every navigation the widget's WebView attempts, whether it stays in the WebView, goes
 * to the backend, leaves for the OS, or is dropped. Belvo's own platform snippets (docs/belvo.md §2.2)
 * let any https URL load in the WebView and branch on the URL host alone; this policy is stricter:
 *
 * - only the widget's origin (scheme, host and port of the session's `widget_url`) loads inside;
 * - the session's callback URLs are matched on scheme, host and path (docs/contract.md section 3, rule 1);
 *   a URL on the same custom scheme that matches none is forwarded as well, because Belvo's
 *   examples deliver host-named URLs (`<scheme>://warning?...`, docs/belvo.md §3.5) and the backend, not
 *   the app, decides what they are; it is never handed to the OS, where another app could claim it;
 * - other https pages are the bank's (App2App, docs/belvo.md §2.1): the bank login must not happen in
 *   an embedded WebView (RFC 8252 section 8.12, docs/security.md G6), so they open outside;
 * - everything else is blocked.
 *
 * ```
 * val policy = NavigationPolicy("https://widget.belvo.io/?access_token=t", callbacks)
 * policy.decide("https://widget.belvo.io/consent") == Navigation.LoadInWebView
 * policy.decide("javascript:alert(1)") is Navigation.Block
 * ```
 */
class NavigationPolicy(widgetUrl: String, callbackUrls: CallbackUrls) {
    private val widgetOrigin: String = UriParts.split(widgetUrl).origin
        ?: throw IllegalArgumentException("expected the session's widget_url to be an absolute http(s) URL")
    private val callbacks = CallbackMatcher(callbackUrls)

    fun decide(url: String): Navigation {
        // The characters the parser refuses outright: a URL carrying them is not something to load or forward.
        if (url.isEmpty() || url.length > Deeplinks.MAX_LENGTH || url.any { it.code <= 0x20 || it.code == 0x7f }) {
            return Navigation.Block("not a well-formed URL")
        }
        val parts = UriParts.split(url)
        return when {
            callbacks.matches(parts) -> Navigation.ForwardToBackend(url)
            parts.origin != null && parts.origin == widgetOrigin -> Navigation.LoadInWebView
            parts.scheme == "https" && parts.origin != null -> Navigation.OpenExternally(url)
            else -> Navigation.Block("scheme '${parts.scheme ?: "none"}' is neither the widget's origin, a callback nor https")
        }
    }
}

/**
 * Which URLs go to the backend: those on one of the session's callback URLs (scheme and authority
 * case-insensitively, the path exactly, an empty path equal to "/", the query ignored: contract
 * section 3, rule 1), and any other URL on their custom scheme (Belvo's host-named
 * `<scheme>://warning?...`, which the backend classifies by rule 2). Used for WebView navigations
 * and for URLs the OS opens the app with.
 */
class CallbackMatcher(callbackUrls: CallbackUrls) {
    // The application link too (App2App): on a laptop it shares the widget's origin, so the bank's
    // redirect to it arrives inside the WebView, and it must reach the flow, not load there.
    private val callbacks: List<UriParts> = callbackUrls.named().map { UriParts.split(it.second) }
    private val applicationLink: UriParts? = callbackUrls.applicationLink?.let(UriParts::split)
    private val customSchemes: Set<String> = callbacks.mapNotNull { it.scheme }.filter { it != "http" && it != "https" }.toSet()

    fun matches(url: String): Boolean = matches(UriParts.split(url))

    internal fun matches(parts: UriParts): Boolean =
        parts.scheme in customSchemes || callbacks.any { sameEndpoint(parts, it) } || applicationLink?.let { onApplicationLink(parts, it) } == true
}

/**
 * docs/contract.md section 3, rule 1, for one URL against a configured one: scheme and authority
 * case-insensitively, the path exactly (an empty path equal to "/"), the query ignored.
 */
internal fun sameEndpoint(a: UriParts, b: UriParts): Boolean =
    a.scheme == b.scheme && a.authority?.lowercase() == b.authority?.lowercase() && a.path.ifEmpty { "/" } == b.path.ifEmpty { "/" }

/** [url] is on the application link: as [sameEndpoint], and one trailing slash on the path ignored, as the backend does. */
internal fun onApplicationLink(url: UriParts, link: UriParts): Boolean =
    sameEndpoint(url.copy(path = url.path.removeSuffix("/")), link.copy(path = link.path.removeSuffix("/")))
