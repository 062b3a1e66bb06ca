package com.example.ofda.core

import java.net.HttpURLConnection
import java.net.URL

/**
 * The backend client and the app's flow against a running `ofda run` (its embedded emulator):
 * `OFDA_BASE_URL` is the backend, `OFDA_TOKEN` a bearer token from `ofda token USER_ID`.
 */
object LiveBackendTests {
    // A CPF with valid check digits (the contract's example); the emulator accepts any valid one.
    private val SESSION_REQUEST = mapOf(
        "identification_info" to listOf(mapOf("type" to "CPF", "number" to "76109277673", "name" to "Ralph Bragg")),
        "institutions" to listOf("ofmockbank_br_retail"),
    )

    @JvmStatic
    fun main(args: Array<String>) {
        val baseUrl = requiredEnv("OFDA_BASE_URL")
        val token = requiredEnv("OFDA_TOKEN")
        val client = BackendClient(baseUrl, { token })
        // In emulator mode the backend serves the widget itself.
        val widgetOrigin = requiredEnv("OFDA_WIDGET_ORIGIN")
        fun flow(store: PendingSessionStore = InMemoryPendingSessionStore()) = WidgetFlow(client, store, widgetOrigin)
        val checks = Checks()

        checks.check("POST /v1/widget-sessions answers 201 with Cache-Control: no-store") {
            val connection = URL("$baseUrl/v1/widget-sessions").openConnection() as HttpURLConnection
            connection.requestMethod = "POST"
            connection.doOutput = true
            connection.setRequestProperty("Authorization", "Bearer $token")
            connection.setRequestProperty("Content-Type", "application/json")
            connection.outputStream.use { it.write(Json.write(SESSION_REQUEST).toByteArray()) }
            expectEqual(201, connection.responseCode, "status")
            expectEqual("no-store", connection.getHeaderField("Cache-Control"), "Cache-Control")
            connection.disconnect()
        }

        checks.check("a new session opens the widget, whose URL the navigation policy loads") {
            val screen = flow().start(SESSION_REQUEST)
            expectEqual(WidgetSession.PENDING, screen.session.status, "status")
            expectEqual(screen.session.widgetUrl, screen.widgetUrl, "the widget URL to load")
            expectEqual(Navigation.LoadInWebView, screen.policy.decide(screen.widgetUrl), "navigation to the widget URL")
            val callbacks = screen.session.callbackUrls ?: throw CheckFailure("expected callback_urls")
            for ((name, url) in callbacks.named()) {
                expectEqual("forward", (screen.policy.decide(url) as? Navigation.ForwardToBackend)?.let { "forward" }, "the $name callback")
            }
            if ("access_token" in "$screen") throw CheckFailure("expected toString to leave out the widget URL")
        }

        checks.check("an exit callback forwarded to the backend ends the session as exited") {
            val store = InMemoryPendingSessionStore()
            val flow = flow(store)
            val widget = flow.start(SESSION_REQUEST)
            val outcome = flow.forward(exitDeeplink(widget.session))
            outcome as? Screen.Outcome ?: throw CheckFailure("expected an Outcome screen, got $outcome")
            expectEqual("exited", outcome.session.status, "status")
            expectEqual(ExitEvent(error = null, institution = null, step = "abandon-survey"), outcome.event, "event")
            expectEqual(null, store.load(), "pending session after the outcome")
            expectEqual("exited", client.getSession(widget.session.id).status, "status on GET")
        }

        checks.check("a warning keeps the session pending and the widget open") {
            val flow = flow()
            val widget = flow.start(SESSION_REQUEST)
            val event = widget.session.callbackUrls!!.event +
                "?warning=institution_disabled&warning_message=The%20institution%20is%20temporarily%20unavailable."
            val screen = flow.forward(event)
            screen as? Screen.KeepWidget ?: throw CheckFailure("expected KeepWidget, got $screen")
            expectEqual(WidgetSession.PENDING, screen.session.status, "status")
            expectEqual(WarningEvent("institution_disabled", "The institution is temporarily unavailable."), screen.event, "event")
        }

        checks.check("after process death, a callback that never reached the backend is delivered on resume") {
            val session = flow().start(SESSION_REQUEST).session
            // What the SharedPreferences held when the process died: the id and the undelivered callback.
            val store = InMemoryPendingSessionStore().apply { save(PendingSession(session.id, exitDeeplink(session))) }
            val screen = flow(store).resume()
            expectEqual("exited", (screen as? Screen.Outcome)?.session?.status, "status after resume (screen $screen)")
            expectEqual(null, store.load(), "pending session after the outcome")
        }

        checks.check("after process death, a pending session reopens the widget") {
            val session = flow().start(SESSION_REQUEST).session
            val store = InMemoryPendingSessionStore().apply { save(PendingSession(session.id)) }
            val screen = flow(store).resume()
            expectEqual(session.id, (screen as? Screen.Widget)?.session?.id, "reopened session (screen $screen)")
        }

        checks.check("a callback URL the OS opens the app with is forwarded to the backend") {
            val flow = flow()
            val session = flow.start(SESSION_REQUEST).session
            val screen = flow.openedWith(exitDeeplink(session))
            expectEqual("exited", (screen as? Screen.Outcome)?.session?.status, "status (screen $screen)")
        }

        val applicationLink = requiredEnv("OFDA_APPLICATION_LINK")
        // What the bank sends the user back with (docs/contract.md section 6): the session's token, a consent id.
        fun backFromBank(session: WidgetSession): String {
            val token = Regex("[?&]access_token=([^&]+)").find(session.widgetUrl.orEmpty())?.groupValues?.get(1)
                ?: throw CheckFailure("expected an access_token in the widget URL")
            return "$applicationLink?access_token=$token&consent_id=9e763d19-6d6d-4b0c-a84d-6cb51a2c0f4d&locale=pt"
        }

        checks.check("after a cold start, the application link reopens the widget with the bank's query") {
            val session = flow().start(SESSION_REQUEST).session
            val link = backFromBank(session)
            // A new process with nothing stored: the backend finds the session by the link's token.
            val store = InMemoryPendingSessionStore()
            val screen = WidgetFlow(client, store, widgetOrigin, applicationLink).openedWith(link)
            screen as? Screen.Widget ?: throw CheckFailure("expected the widget, got $screen")
            expectEqual(session.id, screen.session.id, "resumed session")
            expectEqual(link.substringAfter('?'), screen.widgetUrl.substringAfter('?'), "the bank's query, passed on")
            expectEqual(Navigation.LoadInWebView, screen.policy.decide(screen.widgetUrl), "navigation to the widget URL")
            expectEqual(PendingSession(session.id), store.load(), "stored session")
        }

        checks.check("the application link of another user's session resumes nothing") {
            val session = flow().start(SESSION_REQUEST).session
            val other = BackendClient(baseUrl, { requiredEnv("OFDA_OTHER_TOKEN") })
            val outcome = runCatching { WidgetFlow(other, InMemoryPendingSessionStore(), widgetOrigin, applicationLink).openedWith(backFromBank(session)) }
            expectEqual("404 not_found", (outcome.exceptionOrNull() as? BackendException)?.let { "${it.status} ${it.code}" }, "refusal ($outcome)")
        }

        checks.check("a widget served on another origin than the app was built for is never loaded") {
            val store = InMemoryPendingSessionStore()
            val error = runCatching { WidgetFlow(client, store, "https://widget.belvo.io").start(SESSION_REQUEST) }.exceptionOrNull()
            expectEqual("untrusted_widget_url", (error as? BackendException)?.code, "refusal ($error)")
        }

        checks.check("any other link the OS opens the app with resumes the pending session") {
            val flow = flow()
            val session = flow.start(SESSION_REQUEST).session
            val screen = flow.openedWith("https://links.example.com/belvo/app2app?state=x")
            expectEqual(session.id, (screen as? Screen.Widget)?.session?.id, "reopened session (screen $screen)")
        }

        checks.check("with nothing pending, a link the OS opens the app with is ignored") {
            val flow = flow()
            expectEqual(null, flow.openedWith("ofdaapp://belvo/exit?meta_data_step=abandon-survey"), "screen")
        }

        checks.check("a malformed callback is refused by the backend with invalid_deeplink") {
            val session = client.createSession(SESSION_REQUEST)
            val malformed = session.callbackUrls!!.success + "?link=not-a-uuid&institution=x"
            val error = runCatching { client.postEvent(session.id, malformed) }.exceptionOrNull()
            expectEqual("422 invalid_deeplink", (error as? BackendException)?.let { "${it.status} ${it.code}" }, "refusal ($error)")
        }

        checks.check("a wrong bearer token is refused with unauthenticated") {
            val error = runCatching { BackendClient(baseUrl, { "not-a-token" }).createSession(SESSION_REQUEST) }.exceptionOrNull()
            expectEqual("401 unauthenticated", (error as? BackendException)?.let { "${it.status} ${it.code}" }, "refusal ($error)")
        }

        checks.finish()
    }

    private fun exitDeeplink(session: WidgetSession): String =
        (session.callbackUrls ?: throw CheckFailure("expected callback_urls")).exit + "?meta_data_step=abandon-survey"
}
