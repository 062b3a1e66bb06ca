package com.example.ofda.sample

import androidx.lifecycle.ViewModel
import androidx.lifecycle.viewModelScope
import com.example.ofda.core.BackendClient
import com.example.ofda.core.BackendException
import com.example.ofda.core.ConsentPortal
import com.example.ofda.core.PortalUrl
import com.example.ofda.core.UserLink
import java.io.IOException
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.receiveAsFlow
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext

/** What the consents screen shows. */
sealed interface ConsentsState {
    data object Loading : ConsentsState

    data class Links(val links: List<UserLink>, val notice: String? = null) : ConsentsState

    data class Failed(val reason: String) : ConsentsState
}

/**
 * The user's links with their consents, and the way to My Belvo Portal. The portal URLs the backend
 * answers carry an access token: they go to [portalToOpen] once, to be opened in a Custom Tab, and are
 * never kept in the state, logged or saved.
 */
class ConsentsViewModel : ViewModel() {
    private val client = BackendClient(BuildConfig.BACKEND_URL, { BuildConfig.DEV_TOKEN })
    private val state = MutableStateFlow<ConsentsState>(ConsentsState.Loading)
    val ui: StateFlow<ConsentsState> = state.asStateFlow()
    private val portals = Channel<String>(Channel.BUFFERED)
    val portalToOpen: Flow<String> = portals.receiveAsFlow()

    /** Reads the links again (also when the user comes back from the portal, where they may have renewed). */
    fun refresh() {
        viewModelScope.launch {
            val result = runCatching { withContext(Dispatchers.IO) { client.listLinks() } }
            state.value = result.fold({ ConsentsState.Links(it) }, { ConsentsState.Failed(reason(it)) })
        }
    }

    /**
     * "Manage my data sharing": the portal showing this user's consents. Should the backend not answer,
     * the public portal, where the user signs in themselves, is still the way to their consents.
     */
    fun managePortal() {
        viewModelScope.launch {
            val portal = runCatching { withContext(Dispatchers.IO) { client.openConsentPortal(SampleUser.IDENTIFICATION_INFO) } }
            portals.send(portal.map(PortalUrl::url).getOrDefault(ConsentPortal.PUBLIC_URL))
        }
    }

    /** The portal in renew mode for [link]'s consent; a refusal (e.g. `409 consent_not_renewable`) is shown. */
    fun renew(link: UserLink) {
        viewModelScope.launch {
            val renewal = runCatching { withContext(Dispatchers.IO) { client.renewConsent(link.id, SampleUser.IDENTIFICATION_INFO) } }
            renewal.fold(
                { portals.send(it.url) },
                { error ->
                    val shown = state.value as? ConsentsState.Links
                    state.value = shown?.copy(notice = "This consent cannot be renewed (${reason(error)}).") ?: ConsentsState.Failed(reason(error))
                },
            )
        }
    }

    // Status and error code only: never a URL, which could carry a token.
    private fun reason(error: Throwable): String = when (error) {
        is BackendException -> "${error.status} ${error.code}"
        is IOException -> "the backend could not be reached"
        else -> error::class.simpleName ?: "unexpected failure"
    }
}
