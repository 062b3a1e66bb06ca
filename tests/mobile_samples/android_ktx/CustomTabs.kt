// Declarations only (see README.md): androidx.browser:browser.
package androidx.browser.customtabs

import android.content.Context
import android.net.Uri

class CustomTabsIntent private constructor() {
    fun launchUrl(context: Context, url: Uri): Unit = throw NotImplementedError()

    class Builder {
        fun setShowTitle(showTitle: Boolean): Builder = throw NotImplementedError()

        fun build(): CustomTabsIntent = throw NotImplementedError()
    }
}
