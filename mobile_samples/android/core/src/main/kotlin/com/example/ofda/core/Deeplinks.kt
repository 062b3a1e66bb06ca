package com.example.ofda.core

/**
 * Belvo's hosted-widget callback deeplinks as typed events: the Kotlin mirror of the backend's
 * Python `deeplinks.parse`, held to the same fixture corpus (`deeplinks/fixtures/`).
 *
 * The app never acts on these itself (the backend verifies a success against Belvo before anything
 * counts); the sample parses only to show the user something sensible while the backend answers, and
 * so that the rules are written down once per platform and tested against one corpus.
 *
 * ```
 * Deeplinks.parse("myapp://success?link=CB65F82C-DC93-4D3E-8270-9A27528397F5&institution=ofmockbank_br_retail")
 *     == SuccessEvent("cb65f82c-dc93-4d3e-8270-9a27528397f5", "ofmockbank_br_retail")
 * ```
 */
object Deeplinks {
    const val MAX_LENGTH = 4096

    // Query parameter names as Belvo sends them (facts file section 3.1-3.4; exit uses the flattened
    // names of Belvo's example URL, decision 5).
    private val SUCCESS_PARAMS = setOf("link", "institution")
    private val EXIT_PARAMS = setOf(
        "last_encountered_error_code", "last_encountered_error_message", "meta_data_institution_name", "meta_data_step",
    )
    private val ERROR_PARAMS = setOf("error", "error_message")
    private val WARNING_PARAMS = setOf("warning", "warning_message")
    private val KNOWN_PARAMS = SUCCESS_PARAMS + EXIT_PARAMS + ERROR_PARAMS + WARNING_PARAMS

    private val UUID = Regex("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

    /** Parses [url]; with [callbackUrls] (the session's, as sent to Belvo) rule 1 of contract section 3 applies. */
    fun parse(url: String, callbackUrls: CallbackUrls? = null): DeeplinkEvent {
        if (url.length > MAX_LENGTH) invalid("a deeplink of at most $MAX_LENGTH characters, got ${url.length}")
        url.indexOfFirst(::isForbiddenRaw).takeIf { it >= 0 }?.let {
            invalid("no raw control character or whitespace, found U+%04X at index $it".format(url[it].code))
        }
        val parts = UriParts.split(url)
        if (parts.scheme == null) invalid("an absolute URL with a scheme, got none")
        val params = Query.decode(parts.query.orEmpty())
        params.groupingBy { it.first }.eachCount().entries.firstOrNull { (name, count) -> name in KNOWN_PARAMS && count > 1 }
            ?.let { (name, count) -> invalid("parameter '$name' at most once, got it $count times") }
        val values = params.toMap()
        return when (val kind = kindOf(parts, values, callbackUrls)) {
            Kind.SUCCESS -> success(values)
            Kind.EXIT -> ExitEvent(
                error = if ("last_encountered_error_code" in values || "last_encountered_error_message" in values) {
                    ExitError(values["last_encountered_error_code"], values["last_encountered_error_message"])
                } else null,
                institution = values["meta_data_institution_name"],
                step = values["meta_data_step"],
                extra = extra(params, EXIT_PARAMS),
            )
            Kind.ERROR -> ErrorEvent(
                code = values["error"] ?: invalid("an 'error' parameter on an error deeplink, got none"),
                message = values["error_message"],
                extra = extra(params, ERROR_PARAMS),
            )
            Kind.WARNING -> WarningEvent(
                code = values["warning"] ?: invalid("a 'warning' parameter on a warning deeplink, got none"),
                message = values["warning_message"],
                extra = extra(params, WARNING_PARAMS),
            )
            Kind.UNKNOWN -> throw DeeplinkException(DeeplinkException.UNKNOWN_EVENT, "a success, exit, error or warning deeplink, got ${describe(kind, parts)}")
        }
    }

    private enum class Kind { SUCCESS, EXIT, ERROR, WARNING, UNKNOWN }

    private fun kindOf(parts: UriParts, values: Map<String, String>, callbackUrls: CallbackUrls?): Kind {
        if (callbackUrls != null) {
            for ((name, callback) in callbackUrls.named()) {
                if (sameEndpoint(parts, UriParts.split(callback))) return kindNamed(name, values)
            }
            // Belvo's own examples use host-named URLs (`<scheme>://warning?...`) on the same scheme as the
            // configured callbacks (facts file 3.5), so those fall through to rule 2; other schemes are foreign.
            if (callbackUrls.named().none { (_, callback) -> UriParts.split(callback).scheme == parts.scheme }) return Kind.UNKNOWN
        }
        val name = parts.path.split('/').lastOrNull { it.isNotEmpty() } ?: parts.host.orEmpty()
        return kindNamed(name.lowercase(), values)
    }

    private fun kindNamed(name: String, values: Map<String, String>): Kind =
        when (name) {
            "success" -> Kind.SUCCESS
            "exit" -> Kind.EXIT
            "error" -> Kind.ERROR
            "warning" -> Kind.WARNING
            // Errors and warnings share the `event` callback; the query keys tell them apart (decision 4).
            "event" -> when {
                "error" in values -> Kind.ERROR
                "warning" in values -> Kind.WARNING
                else -> Kind.UNKNOWN
            }
            else -> Kind.UNKNOWN
        }

    /** Scheme, host and path equal, scheme and host compared case-insensitively (contract section 3, rule 1). */
    fun sameEndpoint(a: UriParts, b: UriParts): Boolean =
        a.scheme == b.scheme && a.authority?.lowercase() == b.authority?.lowercase() && a.path == b.path

    private fun success(values: Map<String, String>): SuccessEvent {
        val link = values["link"] ?: invalid("a 'link' parameter on a success deeplink, got none")
        if (!UUID.matches(link)) invalid("'link' to be a UUID, got '$link'")
        val institution = values["institution"] ?: invalid("an 'institution' parameter on a success deeplink, got none")
        return SuccessEvent(link.lowercase(), institution, extraOf(values, SUCCESS_PARAMS))
    }

    private fun extraOf(values: Map<String, String>, known: Set<String>) = values.filterKeys { it !in known }

    private fun extra(params: List<Pair<String, String>>, known: Set<String>) = extraOf(params.toMap(), known)

    private fun describe(kind: Kind, parts: UriParts) = "'${parts.scheme}://${parts.host.orEmpty()}${parts.path}' (${kind.name.lowercase()})"

    // Raw control characters (category Cc) and every character Python's str.isspace() accepts: the
    // backend rejects these, so the app must too, or app and backend would disagree about an event.
    private fun isForbiddenRaw(c: Char): Boolean =
        c.code <= 0x20 || c.code in 0x7f..0xa0 || c == '\u1680' || c.code in 0x2000..0x200a ||
            c == '\u2028' || c == '\u2029' || c == '\u202f' || c == '\u205f' || c == '\u3000'

    internal fun invalid(expected: String): Nothing = throw DeeplinkException(DeeplinkException.INVALID_DEEPLINK, "expected $expected")
}

/** The session's three callback URLs, exactly as the backend sent them to Belvo (`callback_urls`). */
data class CallbackUrls(val success: String, val exit: String, val event: String) {
    fun named(): List<Pair<String, String>> = listOf("success" to success, "exit" to exit, "event" to event)

    fun toJson(): Map<String, Any?> = mapOf("success" to success, "exit" to exit, "event" to event)

    companion object {
        fun fromJson(json: Any?): CallbackUrls {
            val map = json as? Map<*, *> ?: throw IllegalArgumentException("expected callback_urls to be an object, got $json")
            fun field(name: String) = map[name] as? String ?: throw IllegalArgumentException("expected callback_urls.$name to be a string")
            return CallbackUrls(field("success"), field("exit"), field("event"))
        }
    }
}

/** `code` is `invalid_deeplink` or `unknown_event`, as in the backend's error body (contract section 2). */
class DeeplinkException(val code: String, message: String) : IllegalArgumentException(message) {
    companion object {
        const val INVALID_DEEPLINK = "invalid_deeplink"
        const val UNKNOWN_EVENT = "unknown_event"
    }
}

/** One of the four events; [toJson] is contract section 3's JSON. */
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
                    error = (map["error"] as? Map<*, *>)?.let { ExitError(it["code"] as? String, it["message"] as? String) },
                    institution = text("institution"),
                    step = text("step"),
                    extra = extra,
                )
                "error" -> ErrorEvent(required("code"), text("message"), extra)
                "warning" -> WarningEvent(required("code"), text("message"), extra)
                else -> throw IllegalArgumentException("expected type success, exit, error or warning, got $type")
            }
        }
    }
}

data class SuccessEvent(val linkId: String, val institution: String, override val extra: Map<String, String> = emptyMap()) : DeeplinkEvent {
    override fun toJson() = mapOf("type" to "success", "link_id" to linkId, "institution" to institution, "extra" to extra)
}

data class ExitError(val code: String?, val message: String?)

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
}

data class ErrorEvent(val code: String, val message: String?, override val extra: Map<String, String> = emptyMap()) : DeeplinkEvent {
    override fun toJson() = mapOf("type" to "error", "code" to code, "message" to message, "extra" to extra)
}

data class WarningEvent(val code: String, val message: String?, override val extra: Map<String, String> = emptyMap()) : DeeplinkEvent {
    override fun toJson() = mapOf("type" to "warning", "code" to code, "message" to message, "extra" to extra)
}

/** Query-string decoding as Belvo's URLs need it: `&`-separated, `+` is a space, percent-decoded once, strict UTF-8. */
internal object Query {
    fun decode(query: String): List<Pair<String, String>> =
        query.split('&').filter { it.isNotEmpty() }.map { field ->
            val name = field.substringBefore('=')
            val value = field.substringAfter('=', "")
            component(name) to component(value)
        }

    private fun component(raw: String): String {
        val bytes = java.io.ByteArrayOutputStream(raw.length)
        var i = 0
        while (i < raw.length) {
            val c = raw[i]
            when (c) {
                '+' -> bytes.write(' '.code)
                '%' -> {
                    val hex = raw.substring(i + 1, minOf(i + 3, raw.length))
                    val byte = hex.takeIf { it.length == 2 && it.all(::isHex) }?.toInt(16)
                        ?: Deeplinks.invalid("a percent escape of two hex digits, got '%$hex'")
                    bytes.write(byte)
                    i += 2
                }
                else -> {
                    // Raw non-ASCII text is taken as it is; a surrogate pair is one code point.
                    val end = if (c.isHighSurrogate() && i + 1 < raw.length) i + 2 else i + 1
                    bytes.write(raw.substring(i, end).toByteArray(Charsets.UTF_8))
                    i = end - 1
                }
            }
            i++
        }
        return strictUtf8(bytes.toByteArray())
    }

    private fun isHex(c: Char) = c in '0'..'9' || c in 'a'..'f' || c in 'A'..'F'

    private fun strictUtf8(bytes: ByteArray): String =
        try {
            Charsets.UTF_8.newDecoder()
                .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
                .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
                .decode(java.nio.ByteBuffer.wrap(bytes))
                .toString()
        } catch (e: java.nio.charset.CharacterCodingException) {
            Deeplinks.invalid("percent escapes that decode to UTF-8, got invalid bytes")
        }
}
