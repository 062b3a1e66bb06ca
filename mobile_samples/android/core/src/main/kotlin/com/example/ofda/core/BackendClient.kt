package com.example.ofda.core

import java.net.HttpURLConnection
import java.net.URL
import java.net.URLEncoder

/**
 * The app's side of the backend's widget-session API (docs/contract.md section 4). Blocking calls: on
 * Android, call them off the main thread (the sample's activity uses an executor).
 *
 * HttpURLConnection rather than java.net.http.HttpClient because Android has no java.net.http.
 */
class BackendClient(
    baseUrl: String,
    /** The app user's bearer token; asked for on every call so a refreshed token is picked up. */
    private val bearerToken: () -> String,
    private val timeoutMillis: Int = 15_000,
) {
    private val base = baseUrl.trimEnd('/')

    /** `POST /v1/widget-sessions`: [request] is the contract's body (`identification_info` and optional fields). */
    fun createSession(request: Map<String, Any?>): WidgetSession =
        WidgetSession.fromJson(call("POST", "/v1/widget-sessions", request))

    /** `GET /v1/widget-sessions/{id}`: the session's status and the events the backend received. */
    fun getSession(id: String): WidgetSession = WidgetSession.fromJson(call("GET", "/v1/widget-sessions/${segment(id)}", null))

    /** `POST /v1/widget-sessions/{id}/events`: the backend parses, verifies and records [deeplink]. */
    fun postEvent(sessionId: String, deeplink: String): EventVerdict {
        val body = call("POST", "/v1/widget-sessions/${segment(sessionId)}/events", mapOf("url" to deeplink)) as? Map<*, *>
            ?: throw BackendException.malformed("an object with 'event' and 'session'")
        return EventVerdict(
            event = DeeplinkEvent.fromJson(body["event"]),
            session = WidgetSession.fromJson(body["session"]),
        )
    }

    /**
     * `POST /v1/widget-sessions/resume` (docs/contract.md section 6): [applicationLinkUrl] is the App Link the
     * bank sent the user back with; [sessionId] the pending session, when the app still knows it (the
     * backend uses it when no session matches the link's token). The answer's `event` (the backend's
     * reading of the link) is not needed to reopen the widget, so it is not read.
     */
    fun resumeSession(applicationLinkUrl: String, sessionId: String?): ResumedSession {
        val request = mapOf("url" to applicationLinkUrl) + (sessionId?.let { mapOf("session_id" to it) } ?: emptyMap())
        val body = call("POST", "/v1/widget-sessions/resume", request) as? Map<*, *>
            ?: throw BackendException.malformed("an object with 'session' and 'widget_url'")
        return ResumedSession(
            session = WidgetSession.fromJson(body["session"]),
            widgetUrl = body["widget_url"] as? String ?: throw BackendException.malformed("a 'widget_url' to resume with"),
        )
    }

    /** `GET /v1/links`: the user's links, each with Belvo's status and its consent (docs/contract.md section 7). */
    fun listLinks(): List<UserLink> {
        val body = call("GET", "/v1/links", null) as? Map<*, *> ?: throw BackendException.malformed("an object with 'links'")
        return (body["links"] as? List<*> ?: throw BackendException.malformed("a 'links' list")).map(UserLink::fromJson)
    }

    /**
     * `POST /v1/consent-portal`: My Belvo Portal already showing this person's consents.
     * [identificationInfo] is the contract's `identification_info` (as for widget sessions).
     */
    fun openConsentPortal(identificationInfo: List<Map<String, Any?>>): PortalUrl =
        portalUrl(call("POST", "/v1/consent-portal", mapOf("identification_info" to identificationInfo)), "portal_url")

    /**
     * `POST /v1/links/{id}/consent-renewal`: the portal in renew mode for this link's consent;
     * `409 consent_not_renewable` before Belvo reported a consent, or once it was revoked.
     */
    fun renewConsent(linkId: String, identificationInfo: List<Map<String, Any?>>): PortalUrl = portalUrl(
        call("POST", "/v1/links/${segment(linkId)}/consent-renewal", mapOf("identification_info" to identificationInfo)),
        "renew_url",
    )

    private fun portalUrl(json: Any?, key: String): PortalUrl {
        val body = json as? Map<*, *> ?: throw BackendException.malformed("an object with '$key'")
        return PortalUrl(body[key] as? String ?: throw BackendException.malformed("a '$key'"), body["expires_at"] as? String)
    }

    // The String overload: URLEncoder.encode(String, Charset) exists on Android from API 33 only.
    private fun segment(id: String) = URLEncoder.encode(id, "UTF-8").replace("+", "%20")

    private fun call(method: String, path: String, body: Any?): Any? {
        val connection = URL(base + path).openConnection() as HttpURLConnection
        try {
            connection.requestMethod = method
            connection.connectTimeout = timeoutMillis
            connection.readTimeout = timeoutMillis
            connection.instanceFollowRedirects = false
            connection.setRequestProperty("Accept", "application/json")
            connection.setRequestProperty("Authorization", "Bearer ${bearerToken()}")
            if (body != null) {
                connection.doOutput = true
                connection.setRequestProperty("Content-Type", "application/json")
                connection.outputStream.use { it.write(Json.write(body).toByteArray(Charsets.UTF_8)) }
            }
            val status = connection.responseCode
            val stream = if (status >= 400) connection.errorStream else connection.inputStream
            val text = stream?.use { it.readBytes().toString(Charsets.UTF_8) }.orEmpty()
            val json = try {
                if (text.isEmpty()) null else Json.parse(text)
            } catch (e: JsonException) {
                throw BackendException(status, "invalid_response", "expected a JSON body from $method $path: ${e.message}", null, null)
            }
            if (status !in 200..299) {
                val requestId = connection.getHeaderField("X-Request-Id")
                throw BackendException.fromErrorBody(status, json, requestId, connection.getHeaderField("Retry-After"))
            }
            return json
        } finally {
            connection.disconnect()
        }
    }
}

/** The session as the backend reports it. `toString` leaves out [widgetUrl]: it carries the widget's access token. */
class WidgetSession(
    val id: String,
    val status: String,
    val widgetUrl: String?,
    val expiresAt: String?,
    val callbackUrls: CallbackUrls?,
    val events: List<DeeplinkEvent>,
) {
    /** `succeeded`, `exited`, `failed` and `expired` end the session (docs/contract.md section 4); `pending` does not. */
    val isFinished: Boolean get() = status != PENDING

    override fun toString() = "WidgetSession(id=$id, status=$status, expiresAt=$expiresAt, events=${events.size})"

    companion object {
        const val PENDING = "pending"

        fun fromJson(json: Any?): WidgetSession {
            val map = json as? Map<*, *> ?: throw BackendException.malformed("a widget session object")
            return WidgetSession(
                id = map["id"] as? String ?: throw BackendException.malformed("a session 'id'"),
                status = map["status"] as? String ?: throw BackendException.malformed("a session 'status'"),
                widgetUrl = map["widget_url"] as? String,
                expiresAt = map["expires_at"] as? String,
                callbackUrls = map["callback_urls"]?.let(CallbackUrls::fromJson),
                // Each recorded event is either the event JSON itself or an object holding it under "event".
                events = (map["events"] as? List<*>).orEmpty().map { item ->
                    val event = (item as? Map<*, *>)?.let { if ("type" in it) it else it["event"] }
                    DeeplinkEvent.fromJson(event)
                },
            )
        }
    }
}

/** `POST .../resume`'s answer. `toString` leaves out [widgetUrl]: it carries the widget's access token. */
class ResumedSession(val session: WidgetSession, val widgetUrl: String) {
    override fun toString() = "ResumedSession(session=$session)"
}

/** `POST .../events`'s answer: the backend's reading of the deeplink, and the session after it. */
data class EventVerdict(val event: DeeplinkEvent, val session: WidgetSession)

/**
 * A non-2xx answer, with the contract's first error (section 2); [retryAfterSeconds] comes from
 * `Retry-After`. Network failures stay java.io.IOException.
 */
class BackendException(
    val status: Int,
    val code: String,
    message: String,
    val requestId: String?,
    val retryAfterSeconds: Long?,
) : RuntimeException("HTTP $status $code: $message" + (requestId?.let { " (request $it)" } ?: "")) {
    /** Worth trying again later (Belvo or the backend is busy or down); a 4xx answer is final. */
    val isRetryable: Boolean get() = status == 429 || status >= 500

    companion object {
        internal fun malformed(expected: String) =
            BackendException(200, "invalid_response", "expected $expected in the backend's answer", null, null)

        /** A widget URL the app will not load: it is not on the widget origin the app was built with. */
        internal fun untrustedWidgetUrl() =
            BackendException(200, "untrusted_widget_url", "expected a widget_url on the configured widget origin", null, null)

        internal fun fromErrorBody(status: Int, json: Any?, requestIdHeader: String?, retryAfter: String?): BackendException {
            val body = json as? Map<*, *>
            val first = (body?.get("errors") as? List<*>)?.firstOrNull() as? Map<*, *>
            return BackendException(
                status = status,
                code = first?.get("code") as? String ?: "http_$status",
                message = first?.get("message") as? String ?: "no error body",
                requestId = body?.get("request_id") as? String ?: requestIdHeader,
                retryAfterSeconds = retryAfter?.trim()?.toLongOrNull(),
            )
        }
    }
}
