package com.example.ofda.core

import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit

/**
 * The flow against a stand-in backend (tests/mobile_samples/fake_backend.py) that answers what the
 * real one cannot be made to: the way back from the bank (App2App) with no local state, a resume
 * answer whose widget URL is on another origin, and slow or failing event answers.
 * `OFDA_BASE_URL`, `OFDA_WIDGET_ORIGIN` and `OFDA_APPLICATION_LINK` come from the stand-in.
 */
object ResumeTests {
    @JvmStatic
    fun main(args: Array<String>) {
        val client = BackendClient(requiredEnv("OFDA_BASE_URL"), { requiredEnv("OFDA_TOKEN") })
        val widgetOrigin = requiredEnv("OFDA_WIDGET_ORIGIN")
        val applicationLink = requiredEnv("OFDA_APPLICATION_LINK")
        fun flow(store: PendingSessionStore) = WidgetFlow(client, store, widgetOrigin, applicationLink)
        val bankQuery = "access_token=from-the-bank&consent_id=9e763d19-6d6d-4b0c-a84d-6cb51a2c0f4d&locale=pt"
        val checks = Checks()

        checks.check("after a cold start, the application link reopens the widget with the bank's query") {
            val store = InMemoryPendingSessionStore()
            val screen = flow(store).openedWith("$applicationLink?$bankQuery")
            screen as? Screen.Widget ?: throw CheckFailure("expected the widget, got $screen")
            expectEqual("$widgetOrigin/?$bankQuery", screen.widgetUrl, "widget URL")
            expectEqual(Navigation.LoadInWebView, screen.policy.decide(screen.widgetUrl), "navigation to it")
            expectEqual(PendingSession("session-found-by-token"), store.load(), "stored session")
            if ("from-the-bank" in "$screen") throw CheckFailure("expected toString to leave out the widget URL")
        }

        checks.check("the pending session goes with the application link, and the host matches in capitals") {
            val store = InMemoryPendingSessionStore().apply { save(PendingSession("s-pending")) }
            val screen = flow(store).openedWith(applicationLink.replace("app.example.com", "APP.example.com") + "?$bankQuery")
            expectEqual("s-pending", (screen as? Screen.Widget)?.session?.id, "resumed session ($screen)")
        }

        checks.check("the application link caught inside the WebView (a trailing slash too) resumes as well") {
            val store = InMemoryPendingSessionStore().apply { save(PendingSession("s-pending")) }
            val screen = flow(store).forward("$applicationLink/?$bankQuery")
            expectEqual("$widgetOrigin/?$bankQuery", (screen as? Screen.Widget)?.widgetUrl, "widget URL ($screen)")
        }

        checks.check("a resume answer whose widget URL is on another origin is never loaded") {
            val store = InMemoryPendingSessionStore().apply { save(PendingSession("s-pending")) }
            val outcome = runCatching { flow(store).openedWith("$applicationLink?$bankQuery&hostile=1") }
            val error = outcome.exceptionOrNull() as? BackendException ?: throw CheckFailure("expected a refusal, got $outcome")
            expectEqual("untrusted_widget_url", error.code, "refusal")
            if ("evil" in error.message.orEmpty()) throw CheckFailure("expected the message to leave out the URL")
            expectEqual(PendingSession("s-pending"), store.load(), "stored session")
        }

        checks.check("without an application link configured, the link only resumes the pending session") {
            val store = InMemoryPendingSessionStore().apply { save(PendingSession("s-pending")) }
            val screen = WidgetFlow(client, store, widgetOrigin).openedWith("$applicationLink?$bankQuery")
            expectEqual("$widgetOrigin/?access_token=first", (screen as? Screen.Widget)?.widgetUrl, "widget URL ($screen)")
        }

        checks.check("two callbacks forwarded at once are sent one after the other, and the failed one is kept") {
            val store = InMemoryPendingSessionStore().apply { save(PendingSession("s-pending")) }
            val flow = flow(store)
            val pool = Executors.newFixedThreadPool(2)
            val slow = pool.submit<Screen> { flow.forward("ofdaapp://belvo/event?warning=slow") }
            Thread.sleep(200)
            val failing = pool.submit<Screen> { flow.forward("ofdaapp://belvo/event?warning=unavailable") }
            expectEqual(true, slow.get(10, TimeUnit.SECONDS) is Screen.KeepWidget, "the slow one's screen")
            expectEqual(true, failing.get(10, TimeUnit.SECONDS) is Screen.RetryLater, "the failing one's screen")
            pool.shutdown()
            expectEqual("ofdaapp://belvo/event?warning=unavailable", store.load()?.undeliveredCallback, "kept for resume")
        }

        checks.finish()
    }
}
