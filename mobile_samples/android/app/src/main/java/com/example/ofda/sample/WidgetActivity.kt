package com.example.ofda.sample

import android.annotation.SuppressLint
import android.content.ActivityNotFoundException
import android.content.Intent
import android.net.Uri
import android.os.Build
import android.os.Bundle
import android.view.Gravity
import android.view.ViewGroup
import android.view.WindowManager
import android.webkit.CookieManager
import android.webkit.WebSettings
import android.webkit.WebStorage
import android.webkit.WebView
import android.widget.Button
import android.widget.FrameLayout
import android.widget.LinearLayout
import android.widget.TextView
import android.widget.Toast
import androidx.activity.ComponentActivity
import androidx.activity.enableEdgeToEdge
import androidx.activity.viewModels
import androidx.core.view.ViewCompat
import androidx.core.view.WindowInsetsCompat
import androidx.lifecycle.Lifecycle
import androidx.lifecycle.lifecycleScope
import androidx.lifecycle.repeatOnLifecycle
import com.example.ofda.core.NavigationPolicy
import kotlinx.coroutines.launch

/**
 * Connects a bank account through Belvo's hosted widget: asks the backend for a widget session,
 * shows the widget in a locked-down WebView, hands the callbacks to the backend, sends the user to
 * the bank outside the app (App2App) and reopens the widget when the bank sends them back, and shows
 * the backend's verdict. After the process died (the bank's app took the foreground and Android
 * reclaimed memory, say), it resumes the pending session on the next launch.
 *
 * All decisions live in the plain-Kotlin core (`WidgetFlow`, `NavigationPolicy`) behind
 * [WidgetViewModel]; this class is UI.
 */
class WidgetActivity : ComponentActivity() {
    private val viewModel: WidgetViewModel by viewModels()
    private lateinit var root: FrameLayout
    private var webView: WebView? = null
    private var shownWidgetUrl: String? = null
    private var shownNotice: String? = null

    override fun onCreate(savedInstanceState: Bundle?) {
        // Edge to edge (the default from targetSdk 35): the content is kept clear of the system bars,
        // the display cutout and the keyboard by the insets listener below.
        enableEdgeToEdge()
        super.onCreate(savedInstanceState)
        // The widget shows the user's CPF and bank data: no screenshots, no screen recording, and a
        // blank thumbnail in Recents.
        window.setFlags(WindowManager.LayoutParams.FLAG_SECURE, WindowManager.LayoutParams.FLAG_SECURE)
        root = FrameLayout(this)
        ViewCompat.setOnApplyWindowInsetsListener(root) { view, insets ->
            val bars = insets.getInsets(
                WindowInsetsCompat.Type.systemBars() or WindowInsetsCompat.Type.displayCutout() or WindowInsetsCompat.Type.ime(),
            )
            view.setPadding(bars.left, bars.top, bars.right, bars.bottom)
            WindowInsetsCompat.CONSUMED
        }
        setContentView(root)
        // Android re-delivers the launching intent when it relaunches the task from Recents (even after
        // the process died): that old link must not be handled again.
        val fromHistory = intent.flags and Intent.FLAG_ACTIVITY_LAUNCHED_FROM_HISTORY != 0
        viewModel.launched(intent.data?.toString()?.takeUnless { fromHistory })
        lifecycleScope.launch {
            repeatOnLifecycle(Lifecycle.State.STARTED) { viewModel.ui.collect(::render) }
        }
    }

    // launchMode=singleTask: an App Link or callback the OS delivers while we are open arrives here.
    override fun onNewIntent(intent: Intent) {
        super.onNewIntent(intent)
        setIntent(intent)
        intent.data?.toString()?.let(viewModel::openedWith)
    }

    override fun onDestroy() {
        destroyWebView()
        super.onDestroy()
    }

    private fun render(state: UiState) {
        when (state) {
            UiState.Working, is UiState.Message -> {
                destroyWebView()
                if (state is UiState.Message) showMessage(state.text, state.action) else showMessage("Working…", null)
            }
            is UiState.Widget -> {
                // The same widget URL: keep the page where the user is, only show the notice.
                if (webView == null || shownWidgetUrl != state.widgetUrl) showWidget(state.widgetUrl, state.policy)
                if (state.notice != null && state.notice != shownNotice) Toast.makeText(this, state.notice, Toast.LENGTH_LONG).show()
                shownNotice = state.notice
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
            onCallback = viewModel::forward,
            onExternal = ::openOutside,
            onRendererGone = { destroyWebView(); viewModel.rendererGone() },
        )
        webView = view
        shownWidgetUrl = widgetUrl
        shownNotice = null
        root.removeAllViews()
        root.addView(view, FrameLayout.LayoutParams(ViewGroup.LayoutParams.MATCH_PARENT, ViewGroup.LayoutParams.MATCH_PARENT))
        // A process that died skipped destroyWebView: clear what an earlier session's page stored
        // before this one loads (never logged: the URL carries the widget's access token).
        clearWebData { view.loadUrl(widgetUrl) }
    }

    /**
     * The bank's page (App2App, https://developers.belvo.com/docs/hosted-widget-app2app-ofda): its own
     * app when one handles the link (Android 11+ can ask for a non-browser handler only), otherwise a
     * Custom Tab. Never this WebView: the bank login must not run in an embedded user agent (RFC 8252
     * section 8.12). The bank sends the user back through the application link (onNewIntent).
     */
    private fun openOutside(url: String) {
        val uri = Uri.parse(url)
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.R) {
            val bankApp = Intent(Intent.ACTION_VIEW, uri)
                .addCategory(Intent.CATEGORY_BROWSABLE)
                .addFlags(Intent.FLAG_ACTIVITY_REQUIRE_NON_BROWSER)
            try {
                startActivity(bankApp)
                return
            } catch (e: ActivityNotFoundException) {
                // No bank app for this link: a Custom Tab below.
            }
        }
        openInCustomTab(url, "No browser can open your bank's page.")
    }

    /** The page held the widget's access token: nothing it stored survives the session (docs/security.md G5). */
    private fun destroyWebView() {
        val view = webView ?: return
        webView = null
        shownWidgetUrl = null
        view.stopLoading()
        view.clearHistory()
        view.clearCache(true)
        view.clearFormData()
        clearWebData {}
        (view.parent as? ViewGroup)?.removeView(view)
        view.destroy()
    }

    private fun clearWebData(then: () -> Unit) {
        WebStorage.getInstance().deleteAllData()
        CookieManager.getInstance().removeAllCookies { CookieManager.getInstance().flush(); then() }
    }

    private fun showMessage(text: String, action: Action?) {
        val layout = LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            gravity = Gravity.CENTER
            setPadding(48, 48, 48, 48)
        }
        layout.addView(TextView(this).apply { this.text = text; gravity = Gravity.CENTER })
        if (action != null) {
            layout.addView(Button(this).apply { this.text = action.label; setOnClickListener { viewModel.act(action) } })
        }
        // The easy-to-find way to the user's consents the Open Finance rules ask for, beside "Connect".
        if (action == Action.Connect) {
            layout.addView(
                Button(this).apply {
                    this.text = "Your connections and data sharing"
                    setOnClickListener { startActivity(Intent(this@WidgetActivity, ConsentsActivity::class.java)) }
                },
            )
        }
        root.removeAllViews()
        root.addView(layout)
    }
}
