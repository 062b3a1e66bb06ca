package com.example.ofda.sample

import android.content.Context
import com.example.ofda.core.PendingSession
import com.example.ofda.core.PendingSessionStore

/**
 * The pending session id (and a callback not yet delivered to the backend) in private
 * SharedPreferences, so the flow can resume after the process died. Never the widget URL: it carries
 * the widget's access token. `commit()` rather than `apply()`: the flow calls this off the main
 * thread, and the write must be on disk before the process can die.
 */
class SharedPreferencesPendingSessionStore(context: Context) : PendingSessionStore {
    private val preferences = context.getSharedPreferences("ofda_widget_session", Context.MODE_PRIVATE)

    override fun load(): PendingSession? {
        val id = preferences.getString(SESSION_ID, null) ?: return null
        return PendingSession(id, preferences.getString(UNDELIVERED_CALLBACK, null))
    }

    override fun save(pending: PendingSession) {
        preferences.edit()
            .putString(SESSION_ID, pending.sessionId)
            .putString(UNDELIVERED_CALLBACK, pending.undeliveredCallback)
            .commit()
    }

    override fun clear() {
        preferences.edit().clear().commit()
    }

    private companion object {
        const val SESSION_ID = "session_id"
        const val UNDELIVERED_CALLBACK = "undelivered_callback"
    }
}
