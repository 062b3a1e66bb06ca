package com.example.ofda.core

/**
 * Belvo's hosted-widget callback deeplinks as typed events: the Kotlin mirror of the backend's
 * Python `deeplinks.parse`, rule for rule, held to the same fixture corpus (`deeplinks/fixtures/`).
 *
 * The app never acts on an event itself (the backend verifies a success against Belvo before it
 * counts, docs/security.md G2); the parser is here so the app can tell what it is forwarding, and so
 * that the rules exist once per platform and are all tested against one corpus.
 *
 * ```
 * Deeplinks.parse("myapp://success?link=CB65F82C-DC93-4D3E-8270-9A27528397F5&institution=ofmockbank_br_retail")
 *     == SuccessEvent("cb65f82c-dc93-4d3e-8270-9a27528397f5", "ofmockbank_br_retail")
 * ```
 */
object Deeplinks {
    /** Longest URL accepted (docs/contract.md section 3): bounds the work one deeplink can cause. */
    const val MAX_LENGTH = 4096

    /**
     * Parses [url]. With [callbackUrls] (the session's, as sent to Belvo) the URL's kind is the
     * callback it is on (docs/contract.md section 3, rule 1); otherwise, or for a URL on one of their
     * schemes that is on none of them, its last non-empty path segment or else its host (rule 2).
     * Throws [DeeplinkException] and nothing else.
     */
    fun parse(url: String, callbackUrls: CallbackUrls? = null): DeeplinkEvent {
        val parts = DeeplinkUrl.split(url, "url")
        val pairs = Query.decode(parts.query)
        val (kind, consumed) = when {
            callbackUrls == null -> kindByName(parts) to emptySet()
            else -> {
                val route = callbackUrls.route(parts, pairs)
                when {
                    route != null -> route.kind to route.keys
                    parts.scheme in callbackUrls.schemes -> kindByName(parts) to emptySet()
                    else -> {
                        val schemes = callbackUrls.schemes.sorted().joinToString()
                        val link = callbackUrls.applicationLink?.let { " or on the application link '$it'" }.orEmpty()
                        unknown("a URL on the callback URLs ($schemes://...)$link, got scheme '${parts.scheme}'")
                    }
                }
            }
        }
        return when (kind) {
            Kind.SUCCESS -> success(pairs, consumed)
            Kind.EXIT -> exit(pairs, consumed)
            Kind.EVENT -> coded(pairs, consumed)
            Kind.RESUME -> resume(parts.query.orEmpty(), pairs)
        }
    }

    internal enum class Kind { SUCCESS, EXIT, EVENT, RESUME }

    // Errors and warnings share the `event` callback and are told apart by their query keys (facts
    // file docs/belvo.md §0.4); a URL named `error` or `warning` is read the same way, because Belvo's own
    // guides register `<scheme>://error` as the event callback (docs/belvo.md §3.5).
    private val KIND_BY_NAME = mapOf(
        "success" to Kind.SUCCESS, "exit" to Kind.EXIT, "event" to Kind.EVENT, "error" to Kind.EVENT, "warning" to Kind.EVENT,
    )

    private fun kindByName(parts: DeeplinkUrl): Kind {
        if (parts.scheme in DeeplinkUrl.NEVER_CALLBACK_SCHEMES) unknown("an app or https deeplink, got scheme '${parts.scheme}'")
        val name = parts.path.trimEnd('/').substringAfterLast('/').ifEmpty { parts.host }
        return KIND_BY_NAME[name] ?: unknown("the last path segment or the host to be success, exit, error, warning or event, got '$name'")
    }

    /** The event's own non-empty values and `extra` (first value wins); an own parameter given twice is invalid. */
    private fun collect(
        pairs: List<Pair<String, String>>,
        known: Set<String>,
        consumed: Set<String>,
    ): Pair<Map<String, String>, Map<String, String>> {
        val values = LinkedHashMap<String, String>()
        val extra = LinkedHashMap<String, String>()
        val seen = HashSet<String>()
        for ((name, value) in pairs) {
            if (name in known || name in consumed) {
                if (!seen.add(name)) invalid("$name once, got it more than once")
                if (value.isNotEmpty()) values[name] = value
            } else {
                extra.putIfAbsent(name, value)
            }
        }
        return values to extra
    }

    private fun success(pairs: List<Pair<String, String>>, consumed: Set<String>): SuccessEvent {
        val (values, extra) = collect(pairs, SuccessEvent.PARAMETERS, consumed)
        val link = values["link"] ?: invalid("a non-empty link on a success deeplink")
        if (!UUID.matches(link)) invalid("link as a UUID like 'cb65f82c-dc93-4d3e-8270-9a27528397f5', got '$link'")
        val institution = values["institution"] ?: invalid("a non-empty institution on a success deeplink")
        return SuccessEvent(link.lowercase(), institution, extra)
    }

    private fun exit(pairs: List<Pair<String, String>>, consumed: Set<String>): ExitEvent {
        val (values, extra) = collect(pairs, ExitEvent.PARAMETERS, consumed)
        val code = values["last_encountered_error_code"]
        val message = values["last_encountered_error_message"]
        // Belvo sends the message only with its code.
        if (code == null && message != null) {
            invalid("last_encountered_error_code with last_encountered_error_message, got only the message")
        }
        return ExitEvent(code?.let { ExitError(it, message) }, values["meta_data_institution_name"], values["meta_data_step"], extra)
    }

    private fun coded(pairs: List<Pair<String, String>>, consumed: Set<String>): DeeplinkEvent {
        val (values, extra) = collect(pairs, EVENT_PARAMETERS, consumed)
        val error = values["error"]
        val warning = values["warning"]
        return when {
            error != null && warning != null -> invalid("either error or warning on an event deeplink, got both")
            error != null -> {
                if ("warning_message" in values) invalid("no warning_message on a deeplink carrying error")
                ErrorEvent(error, values["error_message"], extra)
            }
            warning != null -> {
                if ("error_message" in values) invalid("no error_message on a deeplink carrying warning")
                WarningEvent(warning, values["warning_message"], extra)
            }
            else -> unknown("error or warning on an event deeplink, got parameters ${values.keys.sorted() + extra.keys}")
        }
    }

    // App2App: the bank sent the user back on the application link; the widget reopens with this same query.
    private fun resume(query: String, pairs: List<Pair<String, String>>): ResumeEvent {
        val (values, extra) = collect(pairs, ResumeEvent.PARAMETERS, emptySet())
        if (values["access_token"] == null) invalid("a non-empty access_token in a resume deeplink's query")
        return ResumeEvent(values["consent_id"], values["locale"], query, extra)
    }

    // A UUID with hyphens, ASCII only (no braces, "urn:uuid:" or missing hyphens).
    private val UUID = Regex("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

    internal val EVENT_PARAMETERS = setOf("error", "error_message", "warning", "warning_message")

    internal fun invalid(expected: String): Nothing = throw DeeplinkException(DeeplinkException.INVALID_DEEPLINK, "expected $expected")

    private fun unknown(expected: String): Nothing = throw DeeplinkException(DeeplinkException.UNKNOWN_EVENT, "expected $expected")
}

/** `code` is `invalid_deeplink` or `unknown_event`, as in the backend's error body (docs/contract.md section 2). */
class DeeplinkException(val code: String, message: String) : IllegalArgumentException(message) {
    companion object {
        const val INVALID_DEEPLINK = "invalid_deeplink"
        const val UNKNOWN_EVENT = "unknown_event"
    }
}

/**
 * A URL checked against the deeplink rules and split (scheme and authority lowercased). Written on
 * RFC 3986's grammar rather than java.net.URI or android.net.Uri: those disagree with each other and
 * with the backend on custom-scheme URLs (java.net.URI refuses `_` in a host; android.net.Uri decodes
 * leniently), and the app must read a deeplink exactly as the backend does.
 */
internal class DeeplinkUrl(val scheme: String, val authority: String?, val path: String, val query: String?) {
    val host: String get() = authority.orEmpty().substringBefore(':')

    companion object {
        val NEVER_CALLBACK_SCHEMES = setOf("javascript", "vbscript", "data", "file", "blob", "about", "intent")

        // Characters allowed raw: RFC 3986's unreserved and reserved ones and '%', less '[', ']' (IPv6
        // hosts, never a callback) and '#' (a fragment). Everything else must arrive percent-encoded,
        // as Uri.encode, encodeURIComponent and URLComponents send it.
        private fun allowedRaw(c: Char) = c in 'a'..'z' || c in 'A'..'Z' || c in '0'..'9' || c in "-._~:/?@!$&'()*+,;=%"
        private val SPLIT = Regex("(?:([^:/?]*):)?(?://([^/?]*))?([^?]*)(?:\\?(.*))?", RegexOption.DOT_MATCHES_ALL)
        private val SCHEME = Regex("[A-Za-z][A-Za-z0-9+.\\-]*")
        private val HOST = Regex("[A-Za-z0-9._~\\-]*")
        private val PORT = Regex("[0-9]{1,5}")
        private val DOT_SEGMENTS = setOf(".", "..", "%2e", "%2e%2e", ".%2e", "%2e.")
        private val PORT_SCHEMES = setOf("http", "https")

        fun split(url: String, field: String): DeeplinkUrl {
            fun invalid(expected: String): Nothing = Deeplinks.invalid("$expected ($field)")
            if (url.length > Deeplinks.MAX_LENGTH) invalid("at most ${Deeplinks.MAX_LENGTH} characters, got ${url.length}")
            val bad = url.indexOfFirst { !allowedRaw(it) }
            if (bad >= 0) {
                if (url[bad] == '#') invalid("no fragment ('#...') in a Belvo deeplink")
                invalid("only characters allowed raw in a URL (RFC 3986), got U+%04X at position $bad".format(url[bad].code))
            }
            url.indices.firstOrNull { url[it] == '%' && !(it + 2 < url.length && isHex(url[it + 1]) && isHex(url[it + 2])) }?.let {
                invalid("'%' followed by two hex digits at position $it")
            }
            val m = SPLIT.matchEntire(url) ?: error("every group of the split pattern is optional")
            val rawScheme = m.groups[1]?.value ?: invalid("a URL with a scheme, like 'myapp://success?...'")
            if (!SCHEME.matches(rawScheme)) invalid("a scheme of a letter then letters, digits, '+', '-' or '.', got '$rawScheme'")
            val scheme = rawScheme.lowercase()
            val authority = m.groups[2]?.value?.let { checkAuthority(it, scheme, ::invalid) }
            val path = m.groups[3]?.value.orEmpty()
            if ('.' in path || "%2" in path) {
                if (path.split('/').any { it.lowercase() in DOT_SEGMENTS }) invalid("a path without '.' or '..' segments")
            }
            return DeeplinkUrl(scheme, authority, path, m.groups[4]?.value)
        }

        private fun checkAuthority(authority: String, scheme: String, invalid: (String) -> Nothing): String {
            // `myapp://success@evil` names the host `evil` to RFC 3986 but `success` to a naive reader.
            if ('@' in authority) invalid("no user information ('...@') in the host")
            val host = authority.substringBefore(':')
            if (!HOST.matches(host)) invalid("a host of letters, digits, '.', '_', '~' or '-', got '$host'")
            if (':' in authority) {
                val port = authority.substringAfter(':')
                if (scheme !in PORT_SCHEMES) invalid("a port only on http(s) URLs")
                if (!PORT.matches(port) || port.toInt() > 65535) invalid("a port from 0 to 65535, got '$port'")
            }
            return authority.lowercase()
        }

        internal fun isHex(c: Char) = c in '0'..'9' || c in 'a'..'f' || c in 'A'..'F'
    }
}

/** Query decoding: `&`-separated fields, `+` is a space, percent-decoded exactly once, strict UTF-8. */
internal object Query {
    /**
     * The (name, value) pairs in order. Empty fields are skipped (as Uri, URLSearchParams and
     * parse_qsl do); a field without `=` is a name with an empty value; a value without a name is invalid.
     */
    fun decode(query: String?): List<Pair<String, String>> =
        query.orEmpty().split('&').filter { it.isNotEmpty() }.map { item ->
            val name = item.substringBefore('=')
            if (name.isEmpty()) Deeplinks.invalid("a parameter name before '='")
            val decodedName = component(name, "url")
            decodedName to component(item.substringAfter('=', ""), decodedName)
        }

    fun component(raw: String, field: String): String {
        val text = raw.replace('+', ' ')
        if ('%' !in text) return text
        // Escapes were checked by DeeplinkUrl.split; every other character is ASCII.
        val bytes = java.io.ByteArrayOutputStream(text.length)
        var i = 0
        while (i < text.length) {
            if (text[i] == '%') {
                bytes.write(text.substring(i + 1, i + 3).toInt(16))
                i += 3
            } else {
                bytes.write(text[i].code)
                i++
            }
        }
        val decoded = try {
            Charsets.UTF_8.newDecoder()
                .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
                .decode(java.nio.ByteBuffer.wrap(bytes.toByteArray()))
                .toString()
        } catch (e: java.nio.charset.CharacterCodingException) {
            Deeplinks.invalid("UTF-8 after percent-decoding $field")
        }
        decoded.firstOrNull(::forbiddenText)?.let {
            Deeplinks.invalid("no control or bidi characters in $field, got U+%04X".format(it.code))
        }
        return decoded
    }

    // C0/C1 controls, DEL, bidi overrides and isolates (log injection, display spoofing:
    // docs/security.md E). Lone surrogates cannot come out of the strict UTF-8 decoder above.
    private fun forbiddenText(c: Char) = c.code <= 0x1f || c.code in 0x7f..0x9f || c.code in 0x202a..0x202e || c.code in 0x2066..0x2069
}

/**
 * The session's callback URLs, as the backend sent them to Belvo (`callback_urls`), checked when
 * made. A URL is on one when scheme, authority and path are equal (an empty path equals "/") and it
 * carries every parameter of that callback URL's own query. [applicationLink] (App2App, optional) is
 * the https link the bank sends the user back on; one trailing "/" on it is ignored, as Belvo's
 * App2App page shows the redirect as `.../belvo-widget/?...` for a link written `.../belvo-widget`.
 */
class CallbackUrls(val success: String, val exit: String, val event: String, val applicationLink: String? = null) {
    internal class Route(
        val kind: Deeplinks.Kind,
        val url: String,
        val scheme: String,
        val authority: String,
        val path: String,
        val query: Set<Pair<String, String>>,
    ) {
        val keys: Set<String> get() = query.mapTo(HashSet()) { it.first }
        val place get() = listOf(scheme, authority, path, query)
    }

    internal val routes: List<Route> = listOfNotNull(
        route(Deeplinks.Kind.SUCCESS, "success", success, SuccessEvent.PARAMETERS),
        route(Deeplinks.Kind.EXIT, "exit", exit, ExitEvent.PARAMETERS),
        route(Deeplinks.Kind.EVENT, "event", event, Deeplinks.EVENT_PARAMETERS),
        applicationLink?.let { route(Deeplinks.Kind.RESUME, "application_link", it, ResumeEvent.PARAMETERS) },
    )

    init {
        for ((i, a) in routes.withIndex()) {
            for (b in routes.drop(i + 1)) {
                // Whatever its own query, a callback on the application link's path would take resume URLs.
                val onLink = b.kind == Deeplinks.Kind.RESUME && a.scheme == b.scheme && a.authority == b.authority &&
                    withoutTrailingSlash(a.path) == b.path
                if (a.place == b.place || onLink) {
                    Deeplinks.invalid("distinct callback URLs, ${a.kind.label} and ${b.kind.label} are the same: '${a.url}'")
                }
            }
        }
    }

    /** The schemes of success, exit and event; not the application link's (https URLs elsewhere are no callbacks). */
    internal val schemes: Set<String> get() = routes.filter { it.kind != Deeplinks.Kind.RESUME }.mapTo(LinkedHashSet()) { it.scheme }

    /** The three callbacks the widget's events arrive on (not the application link). */
    fun named(): List<Pair<String, String>> = listOf("success" to success, "exit" to exit, "event" to event)

    fun toJson(): Map<String, Any?> = named().toMap() + listOfNotNull(applicationLink?.let { "application_link" to it })

    /** The callback [parts] is on, or null; the most specific one (whose own query names the most parameters) wins. */
    internal fun route(parts: DeeplinkUrl, pairs: List<Pair<String, String>>): Route? {
        val path = parts.path.ifEmpty { "/" }
        val candidates = routes.filter {
            val samePath = it.path == if (it.kind == Deeplinks.Kind.RESUME) withoutTrailingSlash(path) else path
            it.scheme == parts.scheme && it.authority == parts.authority.orEmpty() && samePath && pairs.containsAll(it.query)
        }
        val best = candidates.maxByOrNull { it.query.size } ?: return null
        candidates.firstOrNull { it !== best && it.query.size == best.query.size }?.let {
            Deeplinks.invalid("the URL on one callback URL, it is on both ${best.kind.label} and ${it.kind.label}")
        }
        return best
    }

    override fun equals(other: Any?) = other is CallbackUrls && toJson() == other.toJson()

    override fun hashCode() = toJson().hashCode()

    override fun toString() = "CallbackUrls(success=$success, exit=$exit, event=$event, applicationLink=$applicationLink)"

    companion object {
        private val Deeplinks.Kind.label get() = if (this == Deeplinks.Kind.RESUME) "application_link" else name.lowercase()

        private fun withoutTrailingSlash(path: String) = if (path.length > 1 && path.endsWith('/')) path.dropLast(1) else path

        private fun route(kind: Deeplinks.Kind, name: String, url: String, reserved: Set<String>): Route {
            val field = "callback_urls.$name"
            val parts = DeeplinkUrl.split(url, field)
            if (parts.scheme in DeeplinkUrl.NEVER_CALLBACK_SCHEMES) {
                Deeplinks.invalid("an app or https callback URL, got scheme '${parts.scheme}' ($field)")
            }
            var path = parts.path.ifEmpty { "/" }
            if (kind == Deeplinks.Kind.RESUME) {
                if (parts.scheme != "https" && parts.scheme != "http" || parts.authority.isNullOrEmpty()) {
                    Deeplinks.invalid("the application link as an https universal link / App Link ($field)")
                }
                // Belvo appends `?access_token=...` to the link as given.
                if (parts.query != null) Deeplinks.invalid("the application link without a query ('?...') ($field)")
                path = withoutTrailingSlash(path)
            }
            val pairs = Query.decode(parts.query)
            val names = pairs.map { it.first }
            val repeated = names.groupingBy { it }.eachCount().filterValues { it > 1 }.keys
            val clash = (names.toSet() intersect reserved).minOrNull() ?: repeated.minOrNull()
            if (clash != null) {
                Deeplinks.invalid(
                    "the $name callback URL's own query to leave Belvo's parameters alone and name each parameter once, got '$clash'",
                )
            }
            return Route(kind, url, parts.scheme, parts.authority.orEmpty(), path, pairs.toSet())
        }

        /** From JSON: an object with exactly the keys success, exit and event, each a string, and optionally application_link (a string or null). */
        fun fromJson(json: Any?): CallbackUrls {
            val map = json as? Map<*, *> ?: Deeplinks.invalid("callback_urls as an object with success, exit, event")
            val kinds = listOf("success", "exit", "event")
            val missing = kinds.filter { it !in map }
            val unknown = map.keys.filter { it !in kinds && it != "application_link" }
            if (missing.isNotEmpty() || unknown.isNotEmpty()) {
                Deeplinks.invalid("callback_urls with the keys success, exit, event (and optionally application_link); missing $missing, unknown $unknown")
            }
            val urls = kinds.map { map[it] as? String ?: Deeplinks.invalid("callback_urls.$it as a string") }
            val link = map["application_link"]
            if (link != null && link !is String) Deeplinks.invalid("callback_urls.application_link as a string")
            return CallbackUrls(urls[0], urls[1], urls[2], link)
        }
    }
}

/** One of the events; [toJson] is the JSON of docs/contract.md sections 3 and 6. */
sealed interface DeeplinkEvent {
    val extra: Map<String, String>

    fun toJson(): Map<String, Any?>

    companion object {
        /** The inverse of [toJson], for the events in the backend's answers. */
        fun fromJson(json: Any?): DeeplinkEvent {
            val map = json as? Map<*, *> ?: throw IllegalArgumentException("expected an event object, got $json")
            fun text(name: String) = map[name] as? String
            fun required(name: String) = text(name) ?: throw IllegalArgumentException("expected a string '$name' in a ${map["type"]} event")
            val extra = (map["extra"] as? Map<*, *>).orEmpty().entries.associate { (k, v) -> k.toString() to v.toString() }
            return when (val type = map["type"]) {
                "success" -> SuccessEvent(required("link_id"), required("institution"), extra)
                "exit" -> ExitEvent(
                    error = (map["error"] as? Map<*, *>)?.let { error ->
                        val code = error["code"] as? String
                            ?: throw IllegalArgumentException("expected a string error.code in an exit event")
                        ExitError(code, error["message"] as? String)
                    },
                    institution = text("institution"),
                    step = text("step"),
                    extra = extra,
                )
                "error" -> ErrorEvent(required("code"), text("message"), extra)
                "warning" -> WarningEvent(required("code"), text("message"), extra)
                "resume" -> ResumeEvent(text("consent_id"), text("locale"), required("query"), extra)
                else -> throw IllegalArgumentException("expected type success, exit, error, warning or resume, got $type")
            }
        }
    }
}

/** The user linked an account: [linkId] (lowercase UUID) at [institution]. */
data class SuccessEvent(val linkId: String, val institution: String, override val extra: Map<String, String> = emptyMap()) : DeeplinkEvent {
    override fun toJson() = mapOf("type" to "success", "link_id" to linkId, "institution" to institution, "extra" to extra)

    companion object {
        internal val PARAMETERS = setOf("link", "institution")
    }
}

/** The last error the user met before leaving: Belvo's code and, when sent, its message. */
data class ExitError(val code: String, val message: String?)

/** The user left the widget: maybe after an [error], at an [institution], at a [step]. */
data class ExitEvent(
    val error: ExitError?,
    val institution: String?,
    val step: String?,
    override val extra: Map<String, String> = emptyMap(),
) : DeeplinkEvent {
    override fun toJson() = mapOf(
        "type" to "exit",
        "error" to error?.let { mapOf("code" to it.code, "message" to it.message) },
        "institution" to institution,
        "step" to step,
        "extra" to extra,
    )

    companion object {
        // The flattened names of Belvo's example URL (docs/belvo.md §3.2, §0.5).
        internal val PARAMETERS = setOf(
            "last_encountered_error_code",
            "last_encountered_error_message",
            "meta_data_institution_name",
            "meta_data_step",
        )
    }
}

/** The widget hit an error it cannot go on from, e.g. `ACCESS_TOKEN_NOT_VALID`. */
data class ErrorEvent(val code: String, val message: String?, override val extra: Map<String, String> = emptyMap()) : DeeplinkEvent {
    override fun toJson() = mapOf("type" to "error", "code" to code, "message" to message, "extra" to extra)
}

/** Something the user should know while the widget stays open, e.g. `institution_disabled`. */
data class WarningEvent(val code: String, val message: String?, override val extra: Map<String, String> = emptyMap()) : DeeplinkEvent {
    override fun toJson() = mapOf("type" to "warning", "code" to code, "message" to message, "extra" to extra)
}

/**
 * App2App: the bank sent the user back to the app's application link. Open Belvo's widget with this
 * same [query] (raw, unchanged: Belvo may add keys) so the widget finishes the flow
 * (https://developers.belvo.com/docs/hosted-widget-app2app-ofda). [query] carries the widget's access
 * token: [toString] leaves it out, so the event can be logged.
 */
data class ResumeEvent(
    val consentId: String?,
    val locale: String?,
    val query: String,
    override val extra: Map<String, String> = emptyMap(),
) : DeeplinkEvent {
    /** The access token the query carries (null only in an event read back without it). */
    val accessToken: String? get() = Query.decode(query).firstOrNull { it.first == "access_token" }?.second?.ifEmpty { null }

    override fun toJson() = mapOf("type" to "resume", "consent_id" to consentId, "locale" to locale, "query" to query, "extra" to extra)

    override fun toString() = "ResumeEvent(consentId=$consentId, locale=$locale, extra=$extra)"

    companion object {
        internal val PARAMETERS = setOf("access_token", "consent_id", "locale")
    }
}
