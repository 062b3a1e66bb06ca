package com.example.ofda.core

/**
 * A URI split into its RFC 3986 components (appendix B's regular expression), without decoding.
 *
 * The sample does its own splitting instead of using java.net.URI or android.net.Uri because the
 * three platforms' libraries disagree on custom-scheme URLs (java.net.URI refuses `_` in a host,
 * android.net.Uri decodes leniently, WHATWG URL in React Native treats `myapp://x` as opaque): the
 * parser must classify a deeplink exactly as the backend's Python parser does, on every platform.
 *
 * ```
 * UriParts.split("com.example.ofda://belvo/success?link=x").host == "belvo"
 * UriParts.split("HTTPS://User@Widget.Example:8443/a").origin == "https://widget.example:8443"
 * ```
 */
data class UriParts(
    /** Lowercased, or null for a relative reference. */
    val scheme: String?,
    /** The raw authority (userinfo, host, port), or null when the URI has no `//`. */
    val authority: String?,
    val path: String,
    val query: String?,
    val fragment: String?,
) {
    // userinfo ends at the last '@' (RFC 3986 section 3.2.1); an IPv6 literal keeps its ':' inside [].
    private val hostPort: String? = authority?.substringAfterLast('@')
    private val portSeparator: Int = when {
        hostPort == null -> -1
        hostPort.startsWith("[") -> hostPort.indexOf("]:").let { if (it < 0) -1 else it + 1 }
        else -> hostPort.lastIndexOf(':')
    }
    private val rawPort: String? = if (portSeparator < 0) null else hostPort!!.substring(portSeparator + 1)

    /** The lowercased host without userinfo, port or IPv6 brackets; "" for an empty authority. */
    val host: String? = hostPort
        ?.let { if (portSeparator < 0) it else it.substring(0, portSeparator) }
        ?.removeSurrounding("[", "]")
        ?.lowercase()

    // An explicit port is 0-65535 in digits; anything else makes the URL no web origin at all.
    private val explicitPort: Int? = rawPort?.takeIf { PORT.matches(it) }?.toIntOrNull()?.takeIf { it <= 65535 }
    private val portIsValid: Boolean = rawPort.isNullOrEmpty() || explicitPort != null

    /** The explicit port, else the scheme's default (80/443 for http/https); null when neither. */
    val port: Int? = explicitPort ?: DEFAULT_PORTS[scheme]

    /** `scheme://host:port`, to compare web origins; null without a host or with a malformed port. */
    val origin: String? = if (scheme == null || host.isNullOrEmpty() || !portIsValid) null else "$scheme://$host:${port ?: ""}"

    companion object {
        private val RFC3986 = Regex("^(?:([^:/?#]+):)?(?://([^/?#]*))?([^?#]*)(?:\\?([^#]*))?(?:#(.*))?$", RegexOption.DOT_MATCHES_ALL)
        private val SCHEME = Regex("[A-Za-z][A-Za-z0-9+.-]*")
        private val PORT = Regex("[0-9]*")
        private val DEFAULT_PORTS = mapOf("http" to 80, "https" to 443)

        fun split(uri: String): UriParts {
            val m = RFC3986.matchEntire(uri) ?: error("the RFC 3986 pattern matches every string")
            val scheme = m.groups[1]?.value?.takeIf { SCHEME.matches(it) }
            // A "scheme" that is not a valid one (e.g. `a b:`) means the whole string is a relative path.
            if (m.groups[1] != null && scheme == null) return UriParts(null, null, uri, null, null)
            return UriParts(
                scheme = scheme?.lowercase(),
                authority = m.groups[2]?.value,
                path = m.groups[3]?.value ?: "",
                query = m.groups[4]?.value,
                fragment = m.groups[5]?.value,
            )
        }
    }
}
