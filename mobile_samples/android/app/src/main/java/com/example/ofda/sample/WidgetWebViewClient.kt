package com.example.ofda.sample

import android.graphics.Bitmap
import android.webkit.RenderProcessGoneDetail
import android.webkit.WebResourceRequest
import android.webkit.WebView
import android.webkit.WebViewClient
import com.example.ofda.core.Navigation
import com.example.ofda.core.NavigationPolicy

/**
 * Every navigation of the widget's WebView goes through [policy] (docs/security.md G3). Belvo's own
 * snippet lets any https URL load inside and calls `view.loadUrl(url)` for the rest (docs/belvo.md §2.2,
 * docs/security.md G3); here only the widget's origin loads, the session's callbacks go to the
 * backend, the bank opens outside (App2App), and everything else is dropped.
 */
class WidgetWebViewClient(
    private val policy: NavigationPolicy,
    private val onCallback: (String) -> Unit,
    private val onExternal: (String) -> Unit,
    private val onRendererGone: () -> Unit,
) : WebViewClient() {
    override fun shouldOverrideUrlLoading(view: WebView, request: WebResourceRequest): Boolean {
        val decision = policy.decide(request.url.toString())
        // A frame inside the widget may load from the widget's origin only; it never leaves the app.
        if (!request.isForMainFrame) return decision != Navigation.LoadInWebView
        return when (decision) {
            Navigation.LoadInWebView -> false
            is Navigation.ForwardToBackend -> true.also { onCallback(decision.url) }
            is Navigation.OpenExternally -> true.also { onExternal(decision.url) }
            // Dropped without a log line: the URL may carry tokens or personal data.
            is Navigation.Block -> true
        }
    }

    // shouldOverrideUrlLoading is not called for POST navigations (form submissions): a page that
    // starts loading anywhere but the widget's origin is stopped here as well.
    override fun onPageStarted(view: WebView, url: String, favicon: Bitmap?) {
        if (policy.decide(url) != Navigation.LoadInWebView) view.stopLoading()
    }

    // TLS errors are not overridden: WebViewClient's default cancels the load, which is what we want.

    override fun onRenderProcessGone(view: WebView, detail: RenderProcessGoneDetail): Boolean {
        // The renderer died (crash or low memory): drop this WebView and let the flow resume the session.
        onRendererGone()
        return true
    }
}
