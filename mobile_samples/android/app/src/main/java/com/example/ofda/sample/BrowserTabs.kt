package com.example.ofda.sample

import android.app.Activity
import android.content.ActivityNotFoundException
import android.net.Uri
import android.widget.Toast
import androidx.browser.customtabs.CustomTabsIntent

/**
 * Opens a third-party page (the bank's, My Belvo Portal) in a Custom Tab: the user's browser, with its
 * address bar and their own sessions, shown over the app; never a WebView of the app (RFC 8252 section
 * 8.12, https://developer.chrome.com/docs/android/custom-tabs). The URL can carry an access token: it is
 * never logged or shown.
 */
internal fun Activity.openInCustomTab(url: String, unavailable: String) {
    try {
        CustomTabsIntent.Builder().setShowTitle(true).build().launchUrl(this, Uri.parse(url))
    } catch (e: ActivityNotFoundException) {
        Toast.makeText(this, unavailable, Toast.LENGTH_LONG).show()
    }
}
