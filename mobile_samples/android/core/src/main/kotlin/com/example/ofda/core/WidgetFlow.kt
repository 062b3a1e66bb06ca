package com.example.ofda.core

import java.io.IOException

/**
 * What the app remembers about an unfinished session across process death: the session id and, while
 * it has not reached the backend yet, the callback URL the widget sent. Never the widget URL: it
 * carries the widget's access token (docs/security.md H3).
 */
data class PendingSession(val sessionId: String, val undeliveredCallback: String? = null)

/** Where [PendingSession] lives: SharedPreferences on Android, UserDefaults on iOS, a map in tests. */
interface PendingSessionStore {
    fun load(): PendingSession?

    fun save(pending: PendingSession)

    fun clear()
}

class InMemoryPendingSessionStore : PendingSessionStore {
    private var pending: PendingSession? = null

    override fun load() = pending

    override fun save(pending: PendingSession) {
        this.pending = pending
    }

    override fun clear() {
        pending = null
    }
}

/** What the screen shows next. */
sealed interface Screen {
    /** Open the widget: load [session]'s widget URL in a WebView governed by [policy]. */
    data class Widget(val session: WidgetSession, val policy: NavigationPolicy) : Screen

    /**
     * The session goes on: keep the widget open. Either the backend took the callback ([event], a
     * warning) or it refused it ([refusedCode], e.g. `invalid_deeplink` or `link_not_owned`).
     */
    data class KeepWidget(val session: WidgetSession, val event: DeeplinkEvent?, val refusedCode: String? = null) : Screen

    /** The session is over; show the backend's verdict. [event] is the backend's reading of the last callback. */
    data class Outcome(val session: WidgetSession, val event: DeeplinkEvent?) : Screen

    /** The session is still pending but cannot be reopened here (no widget URL came back): start a new one. */
    data class StartAgain(val session: WidgetSession) : Screen

    /** The callback could not reach the backend (no network, or the backend is busy); it is kept for [WidgetFlow.resume]. */
    data class RetryLater(val sessionId: String, val reason: String) : Screen
}

/**
 * The app's whole widget flow, without any UI: start a session, route the WebView's navigations,
 * forward callbacks to the backend, and pick up where it left off after the process died.
 *
 * The app never decides an outcome itself: a callback only counts once the backend has verified it
 * (contract section 4: a success is accepted after the backend fetched the link from Belvo).
 */
class WidgetFlow(
    private val client: BackendClient,
    private val store: PendingSessionStore,
) {
    /** Creates a session and remembers its id before the widget opens, so a crash mid-widget can resume. */
    fun start(request: Map<String, Any?>): Screen.Widget {
        val session = client.createSession(request)
        store.save(PendingSession(session.id))
        return widget(session)
    }

    /**
     * Hands [callbackUrl] (a [Navigation.ForwardToBackend] URL, or an App Link the OS delivered) to
     * the backend for the pending session. It is saved first: if the process dies or the network
     * fails before the backend answers, [resume] sends it again (the backend records a repeat once).
     */
    fun forward(callbackUrl: String): Screen {
        val pending = store.load() ?: throw IllegalStateException("expected a pending session to forward a callback to, found none")
        store.save(pending.copy(undeliveredCallback = callbackUrl))
        val verdict = try {
            client.postEvent(pending.sessionId, callbackUrl)
        } catch (e: BackendException) {
            if (e.isRetryable) return Screen.RetryLater(pending.sessionId, "${e.code} (HTTP ${e.status})")
            // A final refusal (e.g. link_not_owned, session_expired): the session's state says what now.
            store.save(pending.copy(undeliveredCallback = null))
            val session = client.getSession(pending.sessionId)
            return if (session.isFinished) screenFor(session, lastEvent = null) else Screen.KeepWidget(session, null, e.code)
        } catch (e: IOException) {
            return Screen.RetryLater(pending.sessionId, "the backend could not be reached")
        }
        store.save(pending.copy(undeliveredCallback = null))
        return screenFor(verdict.session, verdict.event)
    }

    /**
     * After a relaunch: delivers a callback that never reached the backend, then asks the backend
     * for the session and shows what it says. Returns null when nothing was pending.
     */
    fun resume(): Screen? {
        val pending = store.load() ?: return null
        pending.undeliveredCallback?.let { return forward(it) }
        return screenFor(client.getSession(pending.sessionId), lastEvent = null)
    }

    /**
     * The OS opened the app with [url]: an App Link / universal link or the callback scheme, from
     * outside the WebView (e.g. the browser after the bank's App2App step, docs/belvo.md §2.1). A URL on
     * the pending session's callbacks is forwarded to the backend; any other link resumes the pending
     * session. With nothing pending the link is ignored (returns null): the app never acts on a
     * deeplink by itself (docs/security.md G2).
     */
    fun openedWith(url: String): Screen? {
        val pending = store.load() ?: return null
        val session = client.getSession(pending.sessionId)
        val callbacks = session.callbackUrls
        if (!session.isFinished && callbacks != null && CallbackMatcher(callbacks).matches(url)) return forward(url)
        return resume()
    }

    private fun screenFor(session: WidgetSession, lastEvent: DeeplinkEvent?): Screen =
        when {
            session.isFinished -> {
                store.clear()
                Screen.Outcome(session, lastEvent ?: session.events.lastOrNull())
            }
            lastEvent != null -> Screen.KeepWidget(session, lastEvent)
            session.widgetUrl == null || session.callbackUrls == null -> {
                store.clear()
                Screen.StartAgain(session)
            }
            else -> widget(session)
        }

    private fun widget(session: WidgetSession): Screen.Widget {
        val widgetUrl = session.widgetUrl ?: throw BackendException.malformed("a widget_url on a new session")
        val callbacks = session.callbackUrls ?: throw BackendException.malformed("callback_urls on the session")
        return Screen.Widget(session, NavigationPolicy(widgetUrl, callbacks))
    }
}
