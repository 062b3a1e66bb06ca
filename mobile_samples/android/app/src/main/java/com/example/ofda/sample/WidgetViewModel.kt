package com.example.ofda.sample

import android.app.Application
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.SavedStateHandle
import androidx.lifecycle.viewModelScope
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
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

/** What the activity shows. */
sealed interface UiState {
    data object Working : UiState

    /** A message, and the button that goes on from it ([action] null: none). */
    data class Message(val text: String, val action: Action?) : UiState

    /** The widget at [widgetUrl] (it carries the access token: never logged, never saved), with a [notice] to show over it. */
    class Widget(val widgetUrl: String, val policy: NavigationPolicy, val notice: String? = null) : UiState {
        override fun toString() = "Widget(notice=$notice)"
    }
}

/** What a message's button does. */
enum class Action(val label: String) { Connect("Connect"), Retry("Try again"), SendAgain("Send again"), StartAgain("Start again"), Done("Done") }

/**
 * The widget flow behind the screen. It outlives configuration changes; the WebView itself survives
 * rotation because the activity handles those changes (AndroidManifest.xml). The flow's calls block
 * on the network, so they run on [Dispatchers.IO]; the flow serialises them itself.
 *
 * [SavedStateHandle] keeps whether this screen already handled the link it was launched with: it
 * survives process death, so a screen Android recreates afterwards resumes the pending session
 * instead of forwarding the same link again. Nothing else is saved there: the widget URL carries
 * the widget's access token.
 */
class WidgetViewModel(application: Application, private val savedState: SavedStateHandle) : AndroidViewModel(application) {
    private val flow = WidgetFlow(
        BackendClient(BuildConfig.BACKEND_URL, { BuildConfig.DEV_TOKEN }),
        SharedPreferencesPendingSessionStore(application),
        widgetOrigin = BuildConfig.WIDGET_ORIGIN,
        applicationLink = BuildConfig.APPLICATION_LINK.ifEmpty { null },
    )
    private val state = MutableStateFlow<UiState>(UiState.Working)
    val ui: StateFlow<UiState> = state.asStateFlow()
    private var launched = false
    private var widget: UiState.Widget? = null

    /**
     * The screen started, launched with [link] (an App Link, the application link back from the bank,
     * or a callback URL; null for a plain launch or a relaunch from Recents). Only the first call per
     * screen acts.
     */
    fun launched(link: String?) {
        if (launched) return
        launched = true
        val fresh = LAUNCH_HANDLED !in savedState
        savedState[LAUNCH_HANDLED] = true
        perform { if (fresh && link != null) flow.openedWith(link) else flow.resume() }
    }

    /** A link the OS delivered while the screen was open (launchMode singleTask: onNewIntent). */
    fun openedWith(link: String) = perform { flow.openedWith(link) }

    /** A callback the widget navigated to: the widget stays on screen while the backend answers. */
    fun forward(callbackUrl: String) = perform(keepWidget = true) { flow.forward(callbackUrl) }

    /** The WebView's renderer died: reopen the session. */
    fun rendererGone() = perform { flow.resume() }

    fun act(action: Action) = when (action) {
        Action.Connect, Action.StartAgain -> perform { flow.start(SESSION_REQUEST) }
        Action.Retry, Action.SendAgain -> perform { flow.resume() }
        Action.Done -> state.value = connectMessage()
    }

    private fun perform(keepWidget: Boolean = false, step: () -> Screen?) {
        if (!keepWidget) state.value = UiState.Working
        viewModelScope.launch {
            val result = runCatching { withContext(Dispatchers.IO) { step() } }
            state.value = result.fold(::uiFor) { error ->
                // Status and error code only: never a URL, which could carry the widget's token.
                val reason = when (error) {
                    is BackendException -> "${error.status} ${error.code}"
                    is IOException -> "the backend could not be reached"
                    else -> error::class.simpleName ?: "unexpected failure"
                }
                UiState.Message("Something went wrong: $reason", Action.Retry)
            }
        }
    }

    private fun uiFor(screen: Screen?): UiState = when (screen) {
        null -> connectMessage()
        is Screen.Widget -> UiState.Widget(screen.widgetUrl, screen.policy).also { widget = it }
        is Screen.KeepWidget -> {
            val notice = (screen.event as? WarningEvent)?.let { it.message ?: it.code }
                ?: screen.refusedCode?.let { "The backend refused the bank's answer ($it)." }
            // The widget as it was opened: after App2App its URL is not the session's first one.
            widget?.let { UiState.Widget(it.widgetUrl, it.policy, notice) } ?: UiState.Message(notice ?: "Working…", Action.Retry)
        }
        is Screen.Outcome -> UiState.Message(outcomeText(screen.session.status, screen.event), Action.Done)
        is Screen.StartAgain -> UiState.Message("This connection cannot be resumed.", Action.StartAgain)
        is Screen.RetryLater -> UiState.Message("Your bank's answer is saved and will be sent again (${screen.reason}).", Action.SendAgain)
    }

    private fun connectMessage() = UiState.Message("Connect your bank account through Open Finance.", Action.Connect)

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
        const val LAUNCH_HANDLED = "launch_link_handled"

        // It names no bank: the widget shows its bank picker (and the sandbox's down, busy and disabled banks).
        val SESSION_REQUEST = mapOf("identification_info" to SampleUser.IDENTIFICATION_INFO)
    }
}
