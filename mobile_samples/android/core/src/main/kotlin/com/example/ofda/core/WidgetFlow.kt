package com.example.ofda.core

import java.io.IOException
import java.util.concurrent.locks.ReentrantLock
import kotlin.concurrent.withLock

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
    /**
     * Open the widget: load [widgetUrl] in a WebView governed by [policy]. [widgetUrl] is the session's
     * own, or the one `POST .../resume` built from the bank's redirect (App2App); either way it is on
     * the configured widget origin. `toString` leaves it out: it carries the widget's access token.
     */
    class Widget(val session: WidgetSession, val widgetUrl: String, val policy: NavigationPolicy) : Screen {
        override fun toString() = "Widget(session=$session)"
    }

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
 * forward callbacks to the backend, come back from the bank (App2App), and pick up where it left off
 * after the process died.
 *
 * The app never decides an outcome itself: a callback only counts once the backend has verified it
 * (docs/contract.md section 4: a success is accepted after the backend fetched the link from Belvo).
 *
 * The calls block (they call the backend) and are serialised: two callbacks arriving together (the
 * WebView's and one the OS delivers) must not interleave their reads and writes of the stored
 * session, or one could erase the other's undelivered callback.
 */
class WidgetFlow(
    private val client: BackendClient,
    private val store: PendingSessionStore,
    /**
     * The origin the widget is served from, as the app was built: `https://widget.belvo.io`, or the
     * backend's own address in emulator mode. No widget URL on another origin is ever loaded, whatever
     * the backend (or a link's query) says.
     */
    widgetOrigin: String,
    /**
     * The app's App Link / universal link, the backend's `APPLICATION_LINK` (docs/contract.md section 6): the
     * bank sends the user back to it after they authorised. Null when the app does not use App2App.
     */
    applicationLink: String? = null,
) {
    private val widgetOrigin: String = UriParts.split(widgetOrigin).origin
        ?: throw IllegalArgumentException("expected the widget origin as an absolute http(s) URL")
    private val applicationLink: UriParts? = applicationLink?.let(UriParts::split)
    private val lock = ReentrantLock()

    /** Creates a session and remembers its id before the widget opens, so a crash mid-widget can resume. */
    fun start(request: Map<String, Any?>): Screen.Widget = lock.withLock {
        val session = client.createSession(request)
        widget(session, session.widgetUrl).also { store.save(PendingSession(session.id)) }
    }

    /**
     * Hands [callbackUrl] (a [Navigation.ForwardToBackend] URL, or an App Link the OS delivered) to
     * the backend for the pending session; the application link (the bank's redirect arriving inside
     * the WebView, as on a laptop, where it shares the widget's origin) goes to `POST .../resume`. It is saved first: if the process dies or the network
     * fails before the backend answers, [resume] sends it again (the backend records a repeat once).
     */
    fun forward(callbackUrl: String): Screen = lock.withLock {
        if (isApplicationLink(callbackUrl)) return backFromBank(callbackUrl)
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
        screenFor(verdict.session, verdict.event)
    }

    /**
     * After a relaunch: delivers a callback that never reached the backend, then asks the backend
     * for the session and shows what it says. Returns null when nothing was pending.
     */
    fun resume(): Screen? = lock.withLock {
        val pending = store.load() ?: return null
        pending.undeliveredCallback?.let { return forward(it) }
        screenFor(client.getSession(pending.sessionId), lastEvent = null)
    }

    /**
     * The OS opened the app with [url], from outside the WebView:
     *
     * - the application link: the user is back from the bank (App2App, docs/contract.md section 6). The
     *   backend finds the session (even if this process was started just now, with nothing stored)
     *   and answers with the widget URL carrying the bank's query, which the widget needs to finish;
     * - a URL on the pending session's callbacks (an App Link or the callback scheme): forwarded to
     *   the backend;
     * - any other link resumes the pending session.
     *
     * With nothing pending, a link other than the application link is ignored (returns null): the app
     * never acts on a deeplink by itself (docs/security.md G2).
     */
    fun openedWith(url: String): Screen? = lock.withLock {
        if (isApplicationLink(url)) return backFromBank(url)
        val pending = store.load() ?: return null
        val session = client.getSession(pending.sessionId)
        val callbacks = session.callbackUrls
        if (!session.isFinished && callbacks != null && CallbackMatcher(callbacks).matches(url)) return forward(url)
        resume()
    }

    private fun isApplicationLink(url: String) = applicationLink != null && onApplicationLink(UriParts.split(url), applicationLink)

    private fun backFromBank(url: String): Screen {
        val pending = store.load()
        val resumed = client.resumeSession(url, pending?.sessionId)
        if (resumed.session.isFinished) return screenFor(resumed.session, lastEvent = null)
        val screen = widget(resumed.session, resumed.widgetUrl)
        store.save(pending?.takeIf { it.sessionId == resumed.session.id } ?: PendingSession(resumed.session.id))
        return screen
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
            else -> widget(session, session.widgetUrl)
        }

    /** The widget at [widgetUrl], which must be on the configured widget origin: the policy is built on it. */
    private fun widget(session: WidgetSession, widgetUrl: String?): Screen.Widget {
        widgetUrl ?: throw BackendException.malformed("a widget_url on a pending session")
        val callbacks = session.callbackUrls ?: throw BackendException.malformed("callback_urls on the session")
        if (UriParts.split(widgetUrl).origin != widgetOrigin) throw BackendException.untrustedWidgetUrl()
        return Screen.Widget(session, widgetUrl, NavigationPolicy(widgetUrl, callbacks))
    }
}
