package com.example.ofda.sample

import android.annotation.SuppressLint
import android.app.Activity
import android.content.ActivityNotFoundException
import android.content.Intent
import android.net.Uri
import android.os.Build
import android.os.Bundle
import android.os.Handler
import android.os.Looper
import android.view.Gravity
import android.view.ViewGroup
import android.webkit.CookieManager
import android.webkit.WebSettings
import android.webkit.WebStorage
import android.webkit.WebView
import android.widget.Button
import android.widget.LinearLayout
import android.widget.TextView
import android.widget.Toast
import com.example.ofda.core.BackendClient
import com.example.ofda.core.BackendException
import com.example.ofda.core.DeeplinkEvent
import com.example.ofda.core.ErrorEvent
import com.example.ofda.core.ExitEvent
import com.example.ofda.core.NavigationPolicy
import com.example.ofda.core.Screen
import com.example.ofda.core.WarningEvent
import com.example.ofda.core.WidgetFlow
import java.io.IOException
import java.util.concurrent.ExecutorService
import java.util.concurrent.Executors

/**
 * Connects a bank account through Belvo's hosted widget: asks the backend for a widget session,
 * shows the widget in a locked-down WebView, hands the callbacks to the backend, and shows the
 * backend's verdict. After the process died (the bank's app took the foreground and Android reclaimed
 * memory, say), it resumes the pending session on the next launch.
 *
 * All decisions live in the plain-Kotlin core (`WidgetFlow`, `NavigationPolicy`); this class is UI.
 */
class WidgetActivity : Activity() {
    private val executor: ExecutorService = Executors.newSingleThreadExecutor()
    private val main = Handler(Looper.getMainLooper())
    private lateinit var flow: WidgetFlow
    private var webView: WebView? = null

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val client = BackendClient(BuildConfig.BACKEND_URL, { BuildConfig.DEV_TOKEN })
        flow = WidgetFlow(client, SharedPreferencesPendingSessionStore(this))
        val link = intent?.data?.toString()
        perform { if (link != null) flow.openedWith(link) else flow.resume() }
    }

    // launchMode=singleTask: an App Link or callback the OS delivers while we are open arrives here.
    override fun onNewIntent(intent: Intent) {
        super.onNewIntent(intent)
        val link = intent.data?.toString() ?: return
        perform { flow.openedWith(link) }
    }

    override fun onDestroy() {
        destroyWebView()
        executor.shutdownNow()
        super.onDestroy()
    }

    /** Runs [step] off the main thread (it calls the backend) and shows what comes back. */
    private fun perform(keepWidget: Boolean = false, step: () -> Screen?) {
        if (!keepWidget) showMessage("Working…", null, null)
        executor.execute {
            val result = runCatching(step)
            main.post { if (!isDestroyed) render(result) }
        }
    }

    private fun render(result: Result<Screen?>) {
        val screen = result.getOrElse { error ->
            // Status and error code only: never a URL, which could carry the widget's token.
            val reason = when (error) {
                is BackendException -> "${error.status} ${error.code}"
                is IOException -> "the backend could not be reached"
                else -> error::class.simpleName ?: "unexpected failure"
            }
            return showMessage("Something went wrong: $reason", "Try again") { perform { flow.resume() } }
        }
        when (screen) {
            null -> showMessage("Connect your bank account through Open Finance.", "Connect") { perform { flow.start(SESSION_REQUEST) } }
            is Screen.Widget -> showWidget(screen.session.widgetUrl ?: return, screen.policy)
            is Screen.KeepWidget -> {
                val text = (screen.event as? WarningEvent)?.let { it.message ?: it.code }
                    ?: screen.refusedCode?.let { "The backend refused the bank's answer ($it)." }
                text?.let { Toast.makeText(this, it, Toast.LENGTH_LONG).show() }
            }
            is Screen.Outcome -> {
                destroyWebView()
                showMessage(outcomeText(screen.session.status, screen.event), "Done") { render(Result.success(null)) }
            }
            is Screen.StartAgain -> {
                destroyWebView()
                showMessage("This connection cannot be resumed.", "Start again") { perform { flow.start(SESSION_REQUEST) } }
            }
            is Screen.RetryLater -> showMessage("Your bank's answer is saved and will be sent again (${screen.reason}).", "Send again") {
                perform { flow.resume() }
            }
        }
    }

    // JavaScript is on because the widget is a JavaScript app; everything else a page could use to reach
    // into the app or the device is off (docs/security.md G4). No addJavascriptInterface, no WebChromeClient
    // (so no file chooser, permission prompts or new windows), no download listener.
    @SuppressLint("SetJavaScriptEnabled")
    private fun showWidget(widgetUrl: String, policy: NavigationPolicy) {
        destroyWebView()
        val view = WebView(this)
        view.settings.apply {
            javaScriptEnabled = true
            domStorageEnabled = true
            allowFileAccess = false
            allowContentAccess = false
            javaScriptCanOpenWindowsAutomatically = false
            setSupportMultipleWindows(false)
            setGeolocationEnabled(false)
            mixedContentMode = WebSettings.MIXED_CONTENT_NEVER_ALLOW
            cacheMode = WebSettings.LOAD_NO_CACHE
            safeBrowsingEnabled = true
        }
        CookieManager.getInstance().setAcceptThirdPartyCookies(view, false)
        WebView.setWebContentsDebuggingEnabled(BuildConfig.DEBUG)
        view.webViewClient = WidgetWebViewClient(
            policy,
            onCallback = { callback -> perform(keepWidget = true) { flow.forward(callback) } },
            onExternal = ::openOutside,
            onRendererGone = { destroyWebView(); perform { flow.resume() } },
        )
        webView = view
        setContentView(view)
        view.loadUrl(widgetUrl) // never logged: the URL carries the widget's access token
    }

    /**
     * The bank's page (App2App, docs/belvo.md §2.1): its own app when one handles the link, otherwise the
     * browser. Never this WebView: the bank login must not run in an embedded user agent (RFC 8252
     * section 8.12, docs/security.md G6).
     */
    private fun openOutside(url: String) {
        val intent = Intent(Intent.ACTION_VIEW, Uri.parse(url)).addCategory(Intent.CATEGORY_BROWSABLE)
        try {
            if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) {
                startActivity(Intent(intent).addFlags(Intent.FLAG_ACTIVITY_REQUIRE_NON_BROWSER))
                return
            }
        } catch (e: ActivityNotFoundException) {
            // No bank app for this link: fall through to the browser.
        }
        try {
            startActivity(intent)
        } catch (e: ActivityNotFoundException) {
            Toast.makeText(this, "No app can open your bank's page.", Toast.LENGTH_LONG).show()
        }
    }

    /** The page held the widget's access token: nothing it stored survives the session (docs/security.md G5). */
    private fun destroyWebView() {
        val view = webView ?: return
        webView = null
        view.stopLoading()
        view.clearHistory()
        view.clearCache(true)
        view.clearFormData()
        WebStorage.getInstance().deleteAllData()
        CookieManager.getInstance().removeAllCookies(null)
        CookieManager.getInstance().flush()
        (view.parent as? ViewGroup)?.removeView(view)
        view.destroy()
    }

    private fun showMessage(text: String, action: String?, onAction: (() -> Unit)?) {
        val layout = LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            gravity = Gravity.CENTER
            setPadding(48, 48, 48, 48)
        }
        layout.addView(TextView(this).apply { this.text = text; gravity = Gravity.CENTER })
        if (action != null && onAction != null) {
            layout.addView(Button(this).apply { this.text = action; setOnClickListener { onAction() } })
        }
        setContentView(layout)
    }

    private fun outcomeText(status: String, event: DeeplinkEvent?): String =
        when (status) {
            "succeeded" -> "Your bank account is connected."
            "exited" -> (event as? ExitEvent)?.error?.let { "You left the connection: ${it.message ?: it.code}" }
                ?: "You left the connection."
            "failed" -> (event as? ErrorEvent)?.let { "The connection failed: ${it.message ?: it.code}" } ?: "The connection failed."
            "expired" -> "The connection took too long and expired."
            else -> "The connection is $status."
        }

    private companion object {
        // A real app takes the CPF and name from its own sign-up; this is the contract's example.
        val SESSION_REQUEST = mapOf(
            "identification_info" to listOf(mapOf("type" to "CPF", "number" to "76109277673", "name" to "Ralph Bragg")),
            "institutions" to listOf("ofmockbank_br_retail"),
        )
    }
}
